"""Fixtures of the data platform tests: a published hour of market data on the session stack."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from market_data import HourOfMarket, build_hour, past_hour, publish

from orderbook_platform.config import Settings


@pytest.fixture(scope="session")
def known_hour(settings: Settings) -> HourOfMarket:
    """A complete past hour (inside the topics' 7-day retention), published once."""
    market = build_hour(past_hour(4), symbols=("DPA", "DPB"))
    publish(settings, market)
    return market
