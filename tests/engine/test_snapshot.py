"""Snapshots: canonical bytes, restore, per-symbol evict/load, and their guards."""

from __future__ import annotations

import json

import pytest

from engine.config import EngineConfig
from engine.matching import Matcher
from orderbook_platform.contracts import encode
from tests.engine.helpers import book_picture, cancel, limit, market, modify, run

pytestmark = pytest.mark.unit

HISTORY = [
    limit("b1", 100.0, 5, trader="T1", symbol="AAA"),
    limit("b2", 100.0, 3, trader="T2", symbol="AAA"),
    limit("a1", 101.0, -4, trader="T3", symbol="AAA", post_only=True),
    limit("s1", 100.0, -2, trader="T3", symbol="AAA"),
    limit("x1", 50.0, 1, symbol="BBB"),
    cancel("b2", symbol="AAA"),
    limit("b3", 102.0, 1, symbol="AAA"),  # crosses a1, taker fill count 1
    modify("a1", quantity=-2, symbol="AAA"),
]
FUTURE = [
    market("m1", -4, symbol="AAA", trader="T9"),
    limit("b4", 100.5, 2, symbol="AAA"),
    modify("a1", price=100.5, symbol="AAA"),
    limit("x2", 50.0, -1, symbol="BBB"),
    limit("b1", 90.0, 1, symbol="AAA"),  # duplicate: the seen-id set must survive restore
]


def encoded(events) -> list[tuple[str, str, bytes]]:
    return [(topic, key, encode(message)) for topic, key, message in events]


def test_snapshot_is_canonical_json_with_sorted_seen_ids_and_queue_order() -> None:
    matcher = Matcher()
    run(matcher, HISTORY)
    state = json.loads(matcher.snapshot())
    assert state["version"] == 1
    assert [book["symbol"] for book in state["books"]] == ["AAA", "BBB"]
    aaa = state["books"][0]
    assert aaa["seen_ids"] == sorted(aaa["seen_ids"])
    assert aaa["tick_size"] == "0.01"
    # b1 rests with 3 of 5 open (s1 took 2); a1 rests 2 after the modify, b3 took 1 before.
    assert aaa["bids"] == [[10000, [["b1", "T1", 3, 2, 0, False]]]]
    assert aaa["asks"] == [[10100, [["a1", "T3", 2, 1, 0, True]]]]


def test_restore_then_continue_matches_an_uninterrupted_run_exactly() -> None:
    straight = Matcher()
    run(straight, HISTORY)
    expected = encoded(run(straight, FUTURE))

    interrupted = Matcher()
    run(interrupted, HISTORY)
    restored = Matcher.restore(interrupted.snapshot())
    assert restored.state_hash() == interrupted.state_hash()
    assert encoded(run(restored, FUTURE)) == expected
    assert restored.state_hash() == straight.state_hash()


def test_the_same_state_reached_in_two_runs_hashes_the_same() -> None:
    first, second = Matcher(), Matcher()
    run(first, HISTORY)
    run(second, HISTORY)
    assert first.snapshot() == second.snapshot()
    assert first.state_hash() == second.state_hash()
    second.process(limit("extra", 10.0, 1, symbol="AAA"))
    assert first.state_hash() != second.state_hash()


def test_a_symbol_can_be_evicted_and_loaded_back_without_changing_its_future() -> None:
    straight = Matcher()
    run(straight, HISTORY)
    expected = encoded(run(straight, FUTURE))

    moving = Matcher()
    run(moving, HISTORY)
    record = moving.evict_symbol("AAA")
    assert record is not None
    assert moving.symbols() == ["BBB"]
    other_replica = Matcher()
    assert other_replica.load_symbol(record) == "AAA"
    other_replica.load_symbol(moving.evict_symbol("BBB"))
    assert encoded(run(other_replica, FUTURE)) == expected


def test_snapshot_symbol_is_the_same_record_that_the_full_snapshot_embeds() -> None:
    matcher = Matcher()
    run(matcher, HISTORY)
    full = json.loads(matcher.snapshot())
    assert json.loads(matcher.snapshot_symbol("AAA")) == full["books"][0]


def test_evicting_an_unknown_symbol_returns_none() -> None:
    assert Matcher().evict_symbol("NOPE") is None


def test_restore_refuses_a_snapshot_counted_in_another_tick_size() -> None:
    matcher = Matcher()
    run(matcher, HISTORY)
    with pytest.raises(ValueError, match="tick"):
        Matcher.restore(matcher.snapshot(), EngineConfig(tick_size="0.05"))


def test_restore_refuses_a_symbol_outside_the_allow_list() -> None:
    matcher = Matcher()
    run(matcher, HISTORY)
    with pytest.raises(ValueError, match="not allowed"):
        Matcher.restore(matcher.snapshot(), EngineConfig(symbols=["AAA"]))


def test_restore_refuses_a_crossed_book() -> None:
    matcher = Matcher()
    run(matcher, [limit("b", 100.0, 1), limit("a", 101.0, -1)])
    state = json.loads(matcher.snapshot())
    state["books"][0]["asks"][0][0] = 9000
    with pytest.raises(ValueError, match="crossed"):
        Matcher.restore(json.dumps(state).encode())


def test_restore_refuses_an_unsupported_version() -> None:
    with pytest.raises(ValueError, match="version"):
        Matcher.restore(b'{"version": 99, "books": []}')


def test_cancelled_orders_still_queued_are_not_part_of_the_state() -> None:
    with_cancel, without = Matcher(), Matcher()
    run(with_cancel, [limit("a", 100.0, 1), limit("b", 100.0, 1), cancel("a")])
    run(without, [limit("b", 100.0, 1)])
    assert book_picture(with_cancel) == book_picture(without)
    state = json.loads(with_cancel.snapshot())["books"][0]
    assert state["bids"] == [[10000, [["b", None, 1, 0, 0, False]]]]
