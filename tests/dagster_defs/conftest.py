"""Fixtures of the data platform tests: a published hour of market data on the session stack."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "orderbook_platform" / "kafka"))

from market_data import HourOfMarket, build_hour, past_hour, publish
from private_broker import private_broker

from orderbook_platform.config import Settings


@pytest.fixture(scope="session")
def known_hour(settings: Settings) -> HourOfMarket:
    """A complete past hour (inside the topics' 7-day retention), published once."""
    market = build_hour(past_hour(4), symbols=("DPA", "DPB"))
    publish(settings, market)
    return market


@pytest.fixture(scope="session")
def own_broker() -> Iterator[Settings]:
    """A broker of these tests' own (no S3: local lakes only), for tests that delete records
    or publish bytes that are not messages: the session stack's topics are everyone's."""
    with private_broker() as settings:
        yield settings
