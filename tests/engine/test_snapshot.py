"""Snapshots: canonical bytes, restore, per-symbol evict/load, and their guards."""

from __future__ import annotations

import json
import random

import pytest

from engine.config import EngineConfig
from engine.events import key_of, topic_of
from engine.matching import Matcher
from orderbook_platform.contracts import Order, encode
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
    return [(topic_of(message), key_of(message), encode(message)) for message in events]


def test_snapshot_is_canonical_json_with_the_id_window_and_queue_order() -> None:
    matcher = Matcher()
    run(matcher, HISTORY)
    state = json.loads(matcher.snapshot())
    assert state["version"] == 1
    assert [book["symbol"] for book in state["books"]] == ["AAA", "BBB"]
    aaa = state["books"][0]
    # The duplicate-id window in acceptance order, oldest first (not sorted).
    assert aaa["seen_ids"] == ["b1", "b2", "a1", "s1", "b3"]
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


# ---------------------------------------------------------------- the duplicate-id window

WINDOW = 6


def reusing_stream(seed: int, size: int) -> list[Order]:
    """Orders over a small pool of ids per symbol, so ids leave the window and come back.

    New orders, cancels and modifies all pick from the same 14 ids, so a run meets
    duplicates inside the window, ids accepted again once they left it, and cancels of
    ids both inside (`order_not_resting`) and outside (`unknown_order`) the window.
    """
    rng = random.Random(seed)
    orders = []
    for i in range(size):
        symbol = rng.choice(("AAA", "BBB"))
        order_id = f"{symbol}-{rng.randrange(14)}"
        roll = rng.random()
        if roll < 0.2:
            orders.append(cancel(order_id, symbol=symbol))
        elif roll < 0.3:
            orders.append(
                modify(order_id, price=rng.randint(95, 105) / 1, quantity=None, symbol=symbol)
            )
        elif roll < 0.38:
            orders.append(market(order_id, rng.choice((-1, 1)) * rng.randint(1, 4), symbol=symbol))
        else:
            buy = rng.random() < 0.5
            price = 100 + (-rng.randint(0, 5) if buy else rng.randint(0, 5))
            orders.append(
                Order(order_id, "limit", price=float(price), time=i, symbol=symbol,
                      quantity=(1 if buy else -1) * rng.randint(1, 4),
                      time_in_force=rng.choice((None, None, "IOC")))
            )  # fmt: skip
    return orders


def test_the_stream_for_the_window_tests_really_exercises_the_window() -> None:
    orders = reusing_stream(5, 600)
    accepted_before: set[tuple[str, str]] = set()
    reaccepted = 0
    seen_reasons: set[str] = set()
    for message in run(Matcher(EngineConfig(duplicate_id_window=WINDOW)), orders):
        key = key_of(message)
        if getattr(message, "event", None) == "accepted":
            reaccepted += (key, message.order_id) in accepted_before
            accepted_before.add((key, message.order_id))
        if getattr(message, "event", None) == "rejected":
            seen_reasons.add(message.reason)
    assert reaccepted > 20
    assert {"duplicate_order_id", "order_not_resting", "unknown_order"} <= seen_reasons


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_restore_anywhere_while_the_window_evicts_gives_the_same_bytes(seed: int) -> None:
    config = EngineConfig(duplicate_id_window=WINDOW)
    orders = reusing_stream(seed, 400)
    straight = Matcher(config)
    expected = encoded(run(straight, orders))
    assert all(len(straight.book(s).window_ids()) == WINDOW for s in ("AAA", "BBB"))
    for cut in range(0, len(orders) + 1, 23):
        first = Matcher(config)
        head = encoded(run(first, orders[:cut]))
        second = Matcher.restore(first.snapshot(), config)
        assert second.snapshot() == first.snapshot()
        tail = encoded(run(second, orders[cut:]))
        assert head + tail == expected, f"cut at {cut}"
        assert second.state_hash() == straight.state_hash()


def test_evict_and_load_of_one_symbol_keeps_its_window() -> None:
    config = EngineConfig(duplicate_id_window=WINDOW)
    orders = reusing_stream(8, 300)
    straight = Matcher(config)
    expected = encoded(run(straight, orders))
    moving = Matcher(config)
    head = encoded(run(moving, orders[:150]))
    other = Matcher(config)
    for symbol in moving.symbols():
        other.load_symbol(moving.evict_symbol(symbol))
    assert head + encoded(run(other, orders[150:])) == expected


def test_a_smaller_configured_window_keeps_the_newest_ids_on_restore() -> None:
    matcher = Matcher(EngineConfig(duplicate_id_window=5))
    run(matcher, [limit(f"o{i}", 90.0 + i, 1) for i in range(5)])
    restored = Matcher.restore(matcher.snapshot(), EngineConfig(duplicate_id_window=2))
    assert restored.book("XYZ").window_ids() == ["o3", "o4"]
    # Every order still rests, so none of the ids may be reused anyway.
    for i in range(5):
        assert restored.process(limit(f"o{i}", 50.0, 1))[0].reason == "duplicate_order_id"


def test_a_record_of_the_unbounded_format_still_loads() -> None:
    # Before the window, `seen_ids` held every id ever accepted, sorted.
    record = (
        b'{"symbol":"XYZ","tick_size":"0.01","sequence":7,"bids":[[9000,[["b",null,1,0,0,false]]]],'
        b'"asks":[],"seen_ids":["a","b","c"]}'
    )
    matcher = Matcher(EngineConfig(duplicate_id_window=2))
    matcher.load_symbol(record)
    assert matcher.book("XYZ").window_ids() == ["b", "c"]
    assert matcher.process(limit("a", 80.0, 1))[0].event == "accepted"
    assert matcher.process(limit("c", 80.0, 1))[0].reason == "duplicate_order_id"


def test_restore_refuses_a_window_that_repeats_an_id() -> None:
    record = (
        b'{"symbol":"XYZ","tick_size":"0.01","sequence":2,"bids":[],"asks":[],'
        b'"seen_ids":["a","b","a"]}'
    )
    with pytest.raises(ValueError, match="repeats an id"):
        Matcher().load_symbol(record)


def test_the_next_order_acts_on_a_book_loaded_or_evicted_in_its_place() -> None:
    # The matcher remembers the book of the previous input; loading or evicting a
    # symbol must not leave the next order on the replaced book.
    matcher = Matcher()
    run(matcher, [limit("a", 100.0, 5)])
    saved = matcher.snapshot_symbol("XYZ")
    run(matcher, [limit("b", 99.0, 5)])

    matcher.load_symbol(saved)
    assert matcher.process(cancel("b"))[0].reason == "unknown_order"
    assert matcher.process(cancel("a"))[0].event == "cancelled"

    run(matcher, [limit("c", 98.0, 5)])
    matcher.evict_symbol("XYZ")
    events = matcher.process(limit("d", 97.0, 5))
    assert events[0].event == "accepted"
    assert book_picture(matcher) == book_picture(run_fresh([limit("d", 97.0, 5)]))


def run_fresh(orders: list[Order]) -> Matcher:
    matcher = Matcher()
    run(matcher, orders)
    return matcher
