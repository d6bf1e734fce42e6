"""Matching semantics, one behaviour per test. Expected values are worked out by hand."""

from __future__ import annotations

import pytest

from engine import events as ev
from engine.config import EngineConfig
from engine.events import key_of, topic_of
from engine.matching import Matcher
from orderbook_platform.contracts import BookLevel, encode
from tests.engine.helpers import (
    book_picture,
    cancel,
    depths,
    kinds,
    limit,
    market,
    modify,
    order_events,
    prices,
    run,
    trades,
)

pytestmark = pytest.mark.unit


def fills(events) -> list[tuple[str, str, int, float]]:
    return [(t.left_order_id, t.right_order_id, t.quantity, t.price) for t in trades(events)]


# ------------------------------------------------------------------ resting and priority


def test_limit_orders_that_do_not_cross_rest_on_their_side() -> None:
    matcher = Matcher()
    events = run(matcher, [limit("b", 99.5, 3), limit("a", 100.5, -4)])
    assert trades(events) == []
    assert book_picture(matcher) == {"bids": [(9950, [("b", 3)])], "asks": [(10050, [("a", 4)])]}


def test_better_priced_resting_orders_fill_first() -> None:
    matcher = Matcher()
    run(matcher, [limit("a1", 101.0, -5), limit("a2", 100.0, -5), limit("a3", 100.5, -5)])
    events = matcher.process(limit("t", 101.0, 12))
    assert fills(events) == [("a2", "t", 5, 100.0), ("a3", "t", 5, 100.5), ("a1", "t", 2, 101.0)]


def test_at_one_price_the_oldest_resting_order_fills_first() -> None:
    matcher = Matcher()
    run(matcher, [limit("b1", 100.0, 2), limit("b2", 100.0, 2), limit("b3", 100.0, 2)])
    events = matcher.process(limit("t", 100.0, -5))
    assert fills(events) == [("b1", "t", 2, 100.0), ("b2", "t", 2, 100.0), ("b3", "t", 1, 100.0)]


def test_a_fill_executes_at_the_resting_price_not_the_incoming_limit() -> None:
    matcher = Matcher()
    matcher.process(limit("a", 100.0, -1))
    [trade] = trades(matcher.process(limit("t", 105.0, 1)))
    assert trade.price == 100.0


def test_a_partially_filled_resting_order_keeps_its_place_in_the_queue() -> None:
    matcher = Matcher()
    run(matcher, [limit("b1", 100.0, 5), limit("b2", 100.0, 5), limit("t1", 100.0, -3)])
    assert book_picture(matcher)["bids"] == [(10000, [("b1", 2), ("b2", 5)])]
    events = matcher.process(limit("t2", 100.0, -4))
    assert fills(events) == [("b1", "t2", 2, 100.0), ("b2", "t2", 2, 100.0)]


# ------------------------------------------------------------------ time in force


def test_gtc_limit_rests_its_remainder_after_sweeping_what_crosses() -> None:
    matcher = Matcher()
    matcher.process(limit("a", 100.0, -3))
    events = matcher.process(limit("t", 100.5, 10))
    assert fills(events) == [("a", "t", 3, 100.0)]
    assert book_picture(matcher) == {"bids": [(10050, [("t", 7)])], "asks": []}
    assert order_events(events, "expired") == []


def test_ioc_remainder_expires_and_never_rests() -> None:
    matcher = Matcher()
    matcher.process(limit("a", 100.0, -3))
    events = matcher.process(limit("t", 100.5, 10, tif="IOC"))
    assert fills(events) == [("a", "t", 3, 100.0)]
    [expired] = order_events(events, "expired")
    assert (expired.order_id, expired.reason, expired.filled, expired.remaining) == (
        "t",
        ev.IMMEDIATE_OR_CANCEL,
        3,
        7,
    )
    assert book_picture(matcher) == {"bids": [], "asks": []}


def test_ioc_that_fills_completely_is_filled_not_expired() -> None:
    matcher = Matcher()
    matcher.process(limit("a", 100.0, -3))
    events = matcher.process(limit("t", 100.0, 3, tif="IOC"))
    assert [e.event for e in order_events(events) if e.order_id == "t"] == ["accepted", "filled"]


def test_fok_that_cannot_fill_completely_trades_nothing_and_expires() -> None:
    matcher = Matcher()
    run(matcher, [limit("a1", 100.0, -3), limit("a2", 100.5, -3), limit("a3", 101.0, -9)])
    before = book_picture(matcher)
    events = matcher.process(limit("t", 100.5, 7, tif="FOK"))  # only 6 up to 100.5
    assert trades(events) == []
    assert kinds(events) == ["accepted:t", "expired:t"]
    assert order_events(events, "expired")[0].reason == ev.FILL_OR_KILL
    assert book_picture(matcher) == before


def test_fok_that_can_fill_completely_sweeps_several_levels() -> None:
    matcher = Matcher()
    run(matcher, [limit("a1", 100.0, -3), limit("a2", 100.5, -3), limit("a3", 101.0, -9)])
    events = matcher.process(limit("t", 100.5, 6, tif="FOK"))
    assert fills(events) == [("a1", "t", 3, 100.0), ("a2", "t", 3, 100.5)]
    assert order_events(events)[-1].event == "filled"


def test_fok_on_an_empty_book_expires() -> None:
    events = Matcher().process(limit("t", 100.0, 1, tif="FOK"))
    assert kinds(events) == ["accepted:t", "expired:t"]


# ------------------------------------------------------------------ market orders


def test_market_order_takes_liquidity_at_any_price_and_expires_the_rest() -> None:
    matcher = Matcher()
    run(matcher, [limit("b1", 100.0, 2), limit("b2", 50.0, 2)])
    events = matcher.process(market("m", -6))
    assert fills(events) == [("b1", "m", 2, 100.0), ("b2", "m", 2, 50.0)]
    [expired] = order_events(events, "expired")
    assert (expired.reason, expired.filled, expired.remaining) == (ev.MARKET_REMAINDER, 4, 2)
    assert book_picture(matcher) == {"bids": [], "asks": []}


def test_market_order_on_an_empty_book_expires_without_resting() -> None:
    matcher = Matcher()
    events = matcher.process(market("m", 5))
    assert kinds(events) == ["accepted:m", "expired:m"]
    assert matcher.book("XYZ").orders == {}


def test_market_fok_is_all_or_nothing() -> None:
    matcher = Matcher()
    matcher.process(limit("a", 100.0, -3))
    assert trades(matcher.process(market("m1", 4, tif="FOK"))) == []
    assert fills(matcher.process(market("m2", 3, tif="FOK"))) == [("a", "m2", 3, 100.0)]


def test_market_order_ignores_any_price_it_carries() -> None:
    matcher = Matcher()
    matcher.process(limit("a", 100.0, -1))
    order = market("m", 1)
    order.price = 1.0
    assert fills(matcher.process(order)) == [("a", "m", 1, 100.0)]


# ------------------------------------------------------------------ post-only


def test_post_only_that_does_not_cross_rests_like_a_limit() -> None:
    matcher = Matcher()
    run(matcher, [limit("a", 100.0, -1), limit("p", 99.99, 5, post_only=True)])
    assert book_picture(matcher)["bids"] == [(9999, [("p", 5)])]


def test_post_only_that_would_cross_is_rejected_without_trading() -> None:
    matcher = Matcher()
    matcher.process(limit("a", 100.0, -1))
    events = matcher.process(limit("p", 100.0, 5, post_only=True))
    assert kinds(events) == ["rejected:p"]
    assert book_picture(matcher)["asks"] == [(10000, [("a", 1)])]


# ------------------------------------------------------------------ cancel


def test_cancel_removes_the_resting_order_and_reports_what_was_open() -> None:
    matcher = Matcher()
    run(matcher, [limit("b", 100.0, 5), limit("s", 100.0, -2)])
    events = matcher.process(cancel("b"))
    [cancelled] = order_events(events, "cancelled")
    assert (cancelled.order_id, cancelled.reason) == ("b", ev.CANCEL_REQUEST)
    assert (cancelled.quantity, cancelled.filled, cancelled.remaining) == (5, 2, 3)
    assert book_picture(matcher) == {"bids": [], "asks": []}


def test_cancel_by_the_owner_or_without_trader_id_is_allowed() -> None:
    matcher = Matcher()
    run(matcher, [limit("a", 100.0, 5, trader="T1"), limit("b", 100.0, 5, trader="T1")])
    assert order_events(matcher.process(cancel("a", trader="T1")))[0].event == "cancelled"
    assert order_events(matcher.process(cancel("b")))[0].event == "cancelled"


def test_cancelled_order_no_longer_matches() -> None:
    matcher = Matcher()
    run(matcher, [limit("b1", 100.0, 5), limit("b2", 100.0, 5), cancel("b1")])
    assert fills(matcher.process(limit("t", 100.0, -5))) == [("b2", "t", 5, 100.0)]


# ------------------------------------------------------------------ modify


def test_modify_quantity_decrease_keeps_time_priority() -> None:
    matcher = Matcher()
    run(matcher, [limit("b1", 100.0, 5), limit("b2", 100.0, 5), modify("b1", quantity=2)])
    assert book_picture(matcher)["bids"] == [(10000, [("b1", 2), ("b2", 5)])]
    assert fills(matcher.process(limit("t", 100.0, -3))) == [
        ("b1", "t", 2, 100.0),
        ("b2", "t", 1, 100.0),
    ]


def test_modify_quantity_increase_loses_time_priority() -> None:
    matcher = Matcher()
    run(matcher, [limit("b1", 100.0, 5), limit("b2", 100.0, 5), modify("b1", quantity=8)])
    assert book_picture(matcher)["bids"] == [(10000, [("b2", 5), ("b1", 8)])]


def test_modify_price_change_loses_time_priority_even_back_to_the_same_price() -> None:
    matcher = Matcher()
    run(
        matcher,
        [
            limit("b1", 100.0, 5),
            limit("b2", 100.0, 5),
            modify("b1", price=99.0),
            modify("b1", price=100.0),
        ],
    )
    assert book_picture(matcher)["bids"] == [(10000, [("b2", 5), ("b1", 5)])]


def test_modify_quantity_is_the_new_remaining_and_is_signed_like_the_order() -> None:
    matcher = Matcher()
    run(matcher, [limit("s", 100.0, -10), limit("t", 100.0, 4)])  # s: 4 filled, 6 open
    events = matcher.process(modify("s", quantity=-3))
    [modified] = order_events(events, "modified")
    assert (modified.quantity, modified.filled, modified.remaining) == (7, 4, 3)
    assert book_picture(matcher)["asks"] == [(10000, [("s", 3)])]


def test_modify_with_the_same_price_and_quantity_changes_nothing_but_reports_it() -> None:
    matcher = Matcher()
    run(matcher, [limit("b1", 100.0, 5), limit("b2", 100.0, 5)])
    events = matcher.process(modify("b1", price=100.0, quantity=5))
    assert kinds(events) == ["modified:b1"]
    assert book_picture(matcher)["bids"] == [(10000, [("b1", 5), ("b2", 5)])]


def test_modify_to_a_crossing_price_trades_as_the_taker_then_rests_the_rest() -> None:
    matcher = Matcher()
    run(matcher, [limit("a", 101.0, -2), limit("b", 100.0, 5)])
    events = matcher.process(modify("b", price=101.0))
    assert kinds(events)[:3] == ["modified:b", "trade:a/b", "filled:a"]
    [trade] = trades(events)
    assert (trade.trade_id, trade.price, trade.quantity, trade.action, trade.status) == (
        "b-1",
        101.0,
        2,
        "Buy",
        "partial",
    )
    assert book_picture(matcher) == {"bids": [(10100, [("b", 3)])], "asks": []}


def test_trade_ids_of_an_order_continue_across_a_crossing_modify() -> None:
    matcher = Matcher()
    run(matcher, [limit("a1", 100.0, -1), limit("a2", 102.0, -1)])
    first = matcher.process(limit("b", 101.0, 3))  # b-1 against a1, 2 rest at 101
    second = matcher.process(modify("b", price=102.0))  # b-2 against a2
    assert [t.trade_id for t in trades(first + second)] == ["b-1", "b-2"]
    assert book_picture(matcher)["bids"] == [(10200, [("b", 1)])]


def test_modify_that_fills_completely_emits_filled_for_the_order() -> None:
    matcher = Matcher()
    run(matcher, [limit("a", 101.0, -5), limit("b", 100.0, 5)])
    events = matcher.process(modify("b", price=101.0))
    [filled_b] = [e for e in order_events(events, "filled") if e.order_id == "b"]
    assert (filled_b.filled, filled_b.remaining) == (5, 0)
    assert matcher.book("XYZ").orders == {}


# ------------------------------------------------------------------ self-trade prevention


def test_self_trade_prevention_cancels_the_resting_order_and_continues() -> None:
    matcher = Matcher()
    run(
        matcher,
        [limit("own", 100.0, -3, trader="T1"), limit("other", 100.0, -3, trader="T2")],
    )
    events = matcher.process(limit("t", 100.0, 4, trader="T1"))
    assert kinds(events)[:3] == ["accepted:t", "cancelled:own", "trade:other/t"]
    assert order_events(events, "cancelled")[0].reason == ev.SELF_TRADE_PREVENTION
    assert fills(events) == [("other", "t", 3, 100.0)]
    assert book_picture(matcher) == {"bids": [(10000, [("t", 1)])], "asks": []}


def test_without_self_trade_prevention_a_trader_can_trade_with_itself() -> None:
    matcher = Matcher(EngineConfig(self_trade_prevention=False))
    run(matcher, [limit("own", 100.0, -3, trader="T1")])
    assert fills(matcher.process(limit("t", 100.0, 3, trader="T1"))) == [("own", "t", 3, 100.0)]


def test_orders_without_trader_id_never_trigger_self_trade_prevention() -> None:
    matcher = Matcher()
    matcher.process(limit("a", 100.0, -3))
    assert fills(matcher.process(limit("t", 100.0, 3))) == [("a", "t", 3, 100.0)]


def test_fok_does_not_count_its_own_resting_orders_as_liquidity() -> None:
    matcher = Matcher()
    run(matcher, [limit("own", 100.0, -3, trader="T1"), limit("x", 100.0, -3, trader="T2")])
    before = book_picture(matcher)
    events = matcher.process(limit("t", 100.0, 4, tif="FOK", trader="T1"))
    assert kinds(events) == ["accepted:t", "expired:t"]  # and own order not cancelled either
    assert book_picture(matcher) == before


# ------------------------------------------------------------------ events: order, ids, sequence


def test_events_of_a_sweep_come_in_the_documented_order() -> None:
    matcher = Matcher()
    run(matcher, [limit("a1", 100.0, -2), limit("a2", 100.0, -2), limit("a3", 101.0, -5)])
    events = matcher.process(limit("t", 101.0, 6))
    assert kinds(events) == [
        "accepted:t",
        "trade:a1/t",
        "filled:a1",
        "trade:a2/t",
        "filled:a2",
        "trade:a3/t",
        "filled:t",
        "prices",
        "book",
    ]


def test_trades_carry_ids_status_action_and_both_traders() -> None:
    matcher = Matcher()
    run(matcher, [limit("a1", 100.0, -2, trader="M1"), limit("a2", 100.0, -2, trader="M2")])
    events = matcher.process(limit("t", 100.0, 4, trader="T", time=77))
    first, second = trades(events)
    assert (first.trade_id, first.status, first.action) == ("t-1", "partial", "Buy")
    assert (second.trade_id, second.status) == ("t-2", "filled")
    assert (first.maker_trader_id, first.taker_trader_id) == ("M1", "T")
    assert (first.symbol, first.time) == ("XYZ", 77)


def test_sell_taker_trades_have_action_sell() -> None:
    matcher = Matcher()
    matcher.process(limit("b", 100.0, 1))
    assert trades(matcher.process(limit("s", 100.0, -1)))[0].action == "Sell"


def test_every_output_carries_the_input_time() -> None:
    matcher = Matcher()
    matcher.process(limit("a", 100.0, -2, time=5))
    events = matcher.process(limit("t", 100.0, 3, time=123456789))
    assert {message.time for message in events} == {123456789}


def test_sequence_numbers_count_all_outputs_of_a_symbol_without_gaps() -> None:
    matcher = Matcher()
    events = run(
        matcher,
        [
            limit("a", 100.0, -2, symbol="AAA"),
            limit("b", 50.0, 1, symbol="BBB"),
            limit("c", 100.0, 3, symbol="AAA"),
            limit("d", 100.5, 1, symbol="AAA", post_only=True),
            cancel("b", symbol="BBB"),
        ],
    )
    for symbol in ("AAA", "BBB"):
        mine = [m.sequence for m in events if key_of(m) == symbol]
        assert mine == list(range(1, len(mine) + 1))
    assert {message.symbol for message in events} == {"AAA", "BBB"}


def test_the_same_input_gives_byte_identical_output() -> None:
    orders = [
        limit("a", 100.0, -2, trader="X"),
        limit("b", 100.5, -2, trader="Y"),
        market("m", 3, trader="Z"),
        modify("b", quantity=-5),
        cancel("b"),
    ]
    outputs = []
    for _ in range(2):
        outputs.append([(topic_of(m), encode(m)) for m in run(Matcher(), orders)])
    assert outputs[0] == outputs[1]


def test_output_keys_are_the_symbol_as_str() -> None:
    events = Matcher().process(limit("a", 100.0, 1, symbol="AAA"))
    assert {key_of(message) for message in events} == {"AAA"}


# ------------------------------------------------------------------ L1 / L2 publication


def test_price_is_published_when_the_best_price_or_size_changes() -> None:
    matcher = Matcher()
    first = matcher.process(limit("b1", 100.0, 5))
    [price] = prices(first)
    assert (price.mid_price, price.best_bid, price.bid_size, price.best_ask) == (
        None,
        100.0,
        5,
        None,
    )
    [price] = prices(matcher.process(limit("b2", 100.0, 1)))  # same price, bigger size
    assert price.bid_size == 6
    [price] = prices(matcher.process(limit("a1", 100.25, -2)))
    assert (price.mid_price, price.best_ask, price.ask_size) == (100.125, 100.25, 2)


def test_no_price_is_published_when_the_top_of_book_is_unchanged() -> None:
    matcher = Matcher()
    run(matcher, [limit("b1", 100.0, 5), limit("a1", 101.0, -5)])
    assert prices(matcher.process(limit("b2", 99.0, 5))) == []
    assert prices(matcher.process(cancel("b2"))) == []


def test_mid_price_is_null_while_either_side_is_empty() -> None:
    matcher = Matcher()
    run(matcher, [limit("b", 100.0, 1), limit("a", 101.0, -1)])
    [price] = prices(matcher.process(cancel("a")))
    assert price.mid_price is None and price.best_ask is None and price.best_bid == 100.0


def test_book_depth_lists_the_top_levels_with_sizes_and_order_counts() -> None:
    matcher = Matcher()
    events = run(
        matcher,
        [limit("b1", 100.0, 5), limit("b2", 100.0, 2), limit("b3", 99.5, 1), limit("a", 101.0, -4)],
    )
    last = depths(events)[-1]
    assert last.symbol == "XYZ"
    assert last.bids == [BookLevel(100.0, 7, 2), BookLevel(99.5, 1, 1)]
    assert last.asks == [BookLevel(101.0, 4, 1)]


def test_book_depth_is_published_only_when_the_top_n_levels_change() -> None:
    matcher = Matcher(EngineConfig(depth=2))
    run(matcher, [limit("b1", 100.0, 1), limit("b2", 99.0, 1)])
    assert depths(matcher.process(limit("b3", 98.0, 1))) == []  # third level: outside top 2
    assert depths(matcher.process(cancel("b3"))) == []
    [depth] = depths(matcher.process(limit("b4", 99.5, 1)))  # enters the top 2
    assert [level.price for level in depth.bids] == [100.0, 99.5]
    [depth] = depths(matcher.process(cancel("b1")))  # 99.0 moves up into the top 2
    assert [level.price for level in depth.bids] == [99.5, 99.0]


def test_depth_zero_turns_book_messages_off_but_keeps_prices() -> None:
    matcher = Matcher(EngineConfig(depth=0))
    events = run(matcher, [limit("b", 100.0, 1), limit("a", 101.0, -1)])
    assert depths(events) == [] and len(prices(events)) == 2


def test_a_reject_publishes_neither_price_nor_book() -> None:
    matcher = Matcher()
    matcher.process(limit("b", 100.0, 1))
    assert kinds(matcher.process(limit("x", 100.001, 1))) == ["rejected:x"]


def test_symbols_have_independent_books_and_tick_sizes() -> None:
    matcher = Matcher(EngineConfig(tick_sizes={"BIG": "0.5"}))
    events = run(
        matcher,
        [limit("a", 100.25, 1, symbol="SMALL"), limit("b", 100.25, 1, symbol="BIG")],
    )
    assert [e.reason for e in order_events(events)] == [None, ev.OFF_TICK_PRICE]
    matcher.process(limit("c", 100.5, -1, symbol="BIG"))
    assert book_picture(matcher, "SMALL")["bids"] == [(10025, [("a", 1)])]
