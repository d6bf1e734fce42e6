"""The suite's verdict counts what it claims to: lost, duplicated, unexpected, reordered."""

from __future__ import annotations

import orjson
import pytest

from tests.faults.harness import count_trade_faults

pytestmark = pytest.mark.unit


def trades(*ids: str) -> list[bytes]:
    return [orjson.dumps({"trade_id": trade_id}) for trade_id in ids]


def test_the_same_trades_in_the_same_order_count_nothing() -> None:
    assert count_trade_faults(trades("a", "b", "c"), trades("a", "b", "c")) == (0, 0, 0, 0)


def test_a_missing_trade_is_lost() -> None:
    assert count_trade_faults(trades("a", "c"), trades("a", "b", "c")) == (1, 0, 0, 0)


def test_a_trade_published_twice_is_duplicated_once() -> None:
    assert count_trade_faults(trades("a", "b", "b", "c"), trades("a", "b", "c")) == (0, 1, 0, 0)


def test_a_trade_the_replay_never_made_is_unexpected() -> None:
    assert count_trade_faults(trades("a", "x", "b"), trades("a", "b")) == (0, 0, 1, 0)


def test_a_trade_published_after_a_later_one_is_reordered() -> None:
    assert count_trade_faults(trades("b", "a", "c"), trades("a", "b", "c")) == (0, 0, 0, 1)
    assert count_trade_faults(trades("c", "a", "b"), trades("a", "b", "c")) == (0, 0, 0, 2)
