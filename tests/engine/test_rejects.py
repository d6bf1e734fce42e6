"""Every reject reason: one `rejected` event, no trade, the book untouched."""

from __future__ import annotations

import math

import pytest

from engine import events as ev
from engine.config import EngineConfig
from engine.events import key_of, topic_of
from engine.matching import Matcher
from orderbook_platform.contracts import Order
from tests.engine.helpers import book_picture, cancel, limit, market, modify, run

pytestmark = pytest.mark.unit

# Resting before each case: a bid 100.00 x 10 (b1, trader T1) and an ask 101.00 x 10 (a1).
SETUP = [limit("b1", 100.0, 10, trader="T1"), limit("a1", 101.0, -10, trader="T2")]

CASES = [
    ("unknown_order_type", Order("x", "stop", price=100.0, quantity=1), ev.UNKNOWN_ORDER_TYPE),
    ("unknown_tif", limit("x", 100.0, 1, tif="DAY"), ev.UNKNOWN_TIME_IN_FORCE),
    ("missing_quantity", limit("x", 100.0, None), ev.MISSING_QUANTITY),
    ("zero_quantity", limit("x", 100.0, 0), ev.ZERO_QUANTITY),
    ("negative_zero_quantity", limit("x", 100.0, -0.0), ev.ZERO_QUANTITY),
    ("fractional_quantity", limit("x", 100.0, 1.5), ev.INVALID_QUANTITY),
    ("nan_quantity", limit("x", 100.0, math.nan), ev.INVALID_QUANTITY),
    ("inf_quantity", limit("x", 100.0, -math.inf), ev.INVALID_QUANTITY),
    ("bool_quantity", limit("x", 100.0, True), ev.INVALID_QUANTITY),
    ("market_zero_quantity", market("x", 0), ev.ZERO_QUANTITY),
    ("missing_price", limit("x", None, 1), ev.MISSING_PRICE),
    ("nan_price", limit("x", math.nan, 1), ev.INVALID_PRICE),
    ("inf_price", limit("x", math.inf, 1), ev.INVALID_PRICE),
    ("zero_price", limit("x", 0.0, 1), ev.NON_POSITIVE_PRICE),
    ("negative_price", limit("x", -100.0, 1), ev.NON_POSITIVE_PRICE),
    ("off_tick_price", limit("x", 100.005, 1), ev.OFF_TICK_PRICE),
    ("huge_price", limit("x", 1e300, 1), ev.PRICE_OUT_OF_RANGE),
    ("empty_order_id", limit("", 100.0, 1), ev.INVALID_ORDER_ID),
    ("duplicate_of_resting", limit("b1", 99.0, 1), ev.DUPLICATE_ORDER_ID),
    ("post_only_crossing", limit("x", 101.0, 1, post_only=True), ev.POST_ONLY_WOULD_CROSS),
    ("post_only_market", Order("x", "market", quantity=1, post_only=True), ev.POST_ONLY_MARKET),
    ("cancel_unknown", cancel("nope"), ev.UNKNOWN_ORDER),
    ("cancel_other_trader", cancel("b1", trader="T9"), ev.TRADER_MISMATCH),
    ("modify_unknown", modify("nope", price=100.0), ev.UNKNOWN_ORDER),
    ("modify_nothing", modify("b1"), ev.NOTHING_TO_MODIFY),
    ("modify_side_change", modify("b1", quantity=-5), ev.SIDE_CHANGE),
    ("modify_zero_quantity", modify("b1", quantity=0), ev.ZERO_QUANTITY),
    ("modify_fractional_quantity", modify("b1", quantity=2.5), ev.INVALID_QUANTITY),
    ("modify_off_tick", modify("b1", price=100.001), ev.OFF_TICK_PRICE),
    ("modify_negative_price", modify("b1", price=-1.0), ev.NON_POSITIVE_PRICE),
    ("modify_other_trader", modify("b1", price=99.0, trader="T9"), ev.TRADER_MISMATCH),
    # Numbers the outputs cannot hold (int64 in the lake): at most 10**6 lots either way,
    # a time of 0 .. 2**63 - 1 ns.
    ("quantity_1e30", limit("x", 100.0, 10**30), ev.QUANTITY_OUT_OF_RANGE),
    ("float_quantity_1e30", limit("x", 100.0, 1e30), ev.QUANTITY_OUT_OF_RANGE),
    ("quantity_past_bound", limit("x", 100.0, 10**6 + 1), ev.QUANTITY_OUT_OF_RANGE),
    ("sell_quantity_past_bound", limit("x", 100.0, -(10**6) - 1), ev.QUANTITY_OUT_OF_RANGE),
    ("sell_quantity_2_pow_63", limit("x", 100.0, -(2**63)), ev.QUANTITY_OUT_OF_RANGE),
    ("market_quantity_1e30", market("x", 10**30), ev.QUANTITY_OUT_OF_RANGE),
    ("modify_quantity_1e30", modify("b1", quantity=10**30), ev.QUANTITY_OUT_OF_RANGE),
    ("modify_quantity_past_bound", modify("b1", quantity=10**6 + 1), ev.QUANTITY_OUT_OF_RANGE),
    ("modify_float_quantity_1e30", modify("b1", quantity=1e30), ev.QUANTITY_OUT_OF_RANGE),
    ("time_1e30", limit("x", 100.0, 1, time=10**30), ev.TIME_OUT_OF_RANGE),
    ("time_2_pow_63", limit("x", 100.0, 1, time=2**63), ev.TIME_OUT_OF_RANGE),
    ("negative_time", limit("x", 100.0, 1, time=-1), ev.TIME_OUT_OF_RANGE),
    ("market_negative_time", market("x", 1, time=-(10**30)), ev.TIME_OUT_OF_RANGE),
    ("cancel_time_1e30", cancel("b1", time=10**30), ev.TIME_OUT_OF_RANGE),
    ("modify_negative_time", modify("b1", quantity=5, time=-5), ev.TIME_OUT_OF_RANGE),
    ("unknown_type_time_1e30", Order("x", "stop", time=10**30), ev.TIME_OUT_OF_RANGE),
    # Strings the engine would keep: ids of at most 256 characters (a UUID is 36).
    ("order_id_of_257_chars", limit("x" * 257, 100.0, 1), ev.INVALID_ORDER_ID),
    ("order_id_of_60000_chars", market("x" * 60_000, 1), ev.INVALID_ORDER_ID),
    ("trader_id_of_257_chars", limit("x", 100.0, 1, trader="t" * 257), ev.INVALID_TRADER_ID),
    ("market_trader_id_too_long", market("x", 1, trader="t" * 60_000), ev.INVALID_TRADER_ID),
]


@pytest.mark.parametrize(("order", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_input_is_rejected_with_its_reason_and_changes_nothing(
    order: Order, reason: str
) -> None:
    matcher = Matcher()
    run(matcher, SETUP)
    before = book_picture(matcher)
    seen_before = matcher.book("XYZ").window_ids()

    events = matcher.process(order)

    assert len(events) == 1
    message = events[0]
    assert (topic_of(message), key_of(message)) == ("order_events", "XYZ")
    assert message.event == "rejected"
    assert message.reason == reason
    assert message.order_id == order.order_id
    assert message.order_type == order.order_type
    # A reject carries the order's time only if it is one the outputs can hold.
    assert message.time == (None if reason == ev.TIME_OUT_OF_RANGE else order.time)
    assert book_picture(matcher) == before
    assert matcher.book("XYZ").window_ids() == seen_before


def test_every_reject_reason_in_the_catalogue_is_exercised_here() -> None:
    exercised = {c[2] for c in CASES} | {ev.UNKNOWN_SYMBOL, ev.INVALID_SYMBOL, ev.ORDER_NOT_RESTING}
    assert exercised == set(ev.REJECT_REASONS)


@pytest.mark.parametrize("quantity", [10**6, -(10**6), 1e6, -1e6])
def test_a_quantity_of_a_million_lots_either_way_is_accepted(quantity: float) -> None:
    [accepted, *_] = Matcher().process(limit("x", 100.0, quantity))
    assert (accepted.event, accepted.quantity) == ("accepted", 10**6)


@pytest.mark.parametrize("time", [0, 1, 2**63 - 1])
def test_a_time_from_0_to_2_pow_63_minus_1_is_accepted_and_carried(time: int) -> None:
    events = Matcher().process(limit("x", 100.0, 1, time=time))
    assert events[0].event == "accepted"
    assert {message.time for message in events} == {time}


def test_ids_of_256_characters_and_a_symbol_of_64_are_accepted() -> None:
    events = Matcher().process(limit("o" * 256, 100.0, 1, trader="t" * 256, symbol="S" * 64))
    assert (events[0].event, events[0].order_id, events[0].symbol) == (
        "accepted",
        "o" * 256,
        "S" * 64,
    )


def test_a_symbol_of_more_than_64_characters_is_invalid_and_opens_no_book() -> None:
    matcher = Matcher()
    [message] = matcher.process(limit("x", 100.0, 1, symbol="S" * 65))
    assert (key_of(message), message.symbol, message.reason) == ("", None, ev.INVALID_SYMBOL)
    assert matcher.symbols() == []


def test_a_reject_for_a_bad_symbol_drops_a_time_out_of_range_too() -> None:
    [message] = Matcher().process(limit("x", 100.0, 1, symbol="", time=-1))
    assert (message.reason, message.time) == (ev.INVALID_SYMBOL, None)
    [message] = Matcher().process(limit("x", 100.0, 1, symbol="", time=7))
    assert (message.reason, message.time) == (ev.INVALID_SYMBOL, 7)


def test_integral_float_quantity_is_accepted_as_its_integer() -> None:
    events = Matcher().process(limit("x", 100.0, 2.0))
    assert events[0].event == "accepted"
    assert events[0].quantity == 2


def test_unknown_symbol_is_rejected_when_an_allow_list_is_configured() -> None:
    matcher = Matcher(EngineConfig(symbols=["AAA"]))
    [message] = matcher.process(limit("x", 100.0, 1, symbol="ZZZ"))
    assert (topic_of(message), key_of(message), message.event, message.reason) == (
        "order_events",
        "ZZZ",
        "rejected",
        ev.UNKNOWN_SYMBOL,
    )
    assert message.sequence is None  # no book, hence no sequence
    assert matcher.symbols() == []


def test_default_symbol_outside_the_allow_list_is_rejected_too() -> None:
    matcher = Matcher(EngineConfig(symbols=["AAA"]))
    [message] = matcher.process(limit("x", 100.0, 1))
    assert message.reason == ev.UNKNOWN_SYMBOL


def test_empty_symbol_is_invalid() -> None:
    [message] = Matcher().process(limit("x", 100.0, 1, symbol=""))
    assert (key_of(message), message.symbol, message.reason) == ("", None, ev.INVALID_SYMBOL)


def test_order_id_stays_taken_after_its_order_is_filled_or_cancelled() -> None:
    matcher = Matcher()
    run(matcher, [limit("a", 100.0, 5), limit("b", 100.0, -5), limit("c", 99.0, 1), cancel("c")])
    for reused in ("a", "b", "c"):
        [message] = matcher.process(limit(reused, 90.0, 1))
        assert message.reason == ev.DUPLICATE_ORDER_ID


def test_a_rejected_order_id_can_be_used_again() -> None:
    matcher = Matcher()
    matcher.process(limit("a", 100.001, 5))
    assert matcher.process(limit("a", 100.0, 5))[0].event == "accepted"


def test_cancel_of_an_order_that_no_longer_rests_says_so() -> None:
    matcher = Matcher()
    run(matcher, [limit("a", 100.0, 5), cancel("a")])
    [message] = matcher.process(cancel("a"))
    assert message.reason == ev.ORDER_NOT_RESTING
    [message] = matcher.process(modify("a", quantity=1))
    assert message.reason == ev.ORDER_NOT_RESTING


def test_cancel_looks_in_the_book_of_its_own_symbol() -> None:
    matcher = Matcher()
    matcher.process(limit("a", 100.0, 5, symbol="AAA"))
    [message] = matcher.process(cancel("a", symbol="BBB"))
    assert message.reason == ev.UNKNOWN_ORDER


def test_post_only_modify_that_would_cross_is_rejected_and_the_order_stays() -> None:
    matcher = Matcher()
    run(matcher, [limit("a", 101.0, -5), limit("p", 100.0, 3, post_only=True)])
    before = book_picture(matcher)
    [message] = matcher.process(modify("p", price=101.0))
    assert message.reason == ev.POST_ONLY_WOULD_CROSS
    assert book_picture(matcher) == before


def test_rejects_consume_a_sequence_number_of_their_symbol() -> None:
    matcher = Matcher()
    first = matcher.process(limit("x", 100.001, 1))
    second = matcher.process(limit("y", 100.001, 1))
    assert (first[0].sequence, second[0].sequence) == (1, 2)


# ---------------------------------------------------------------- the duplicate-id window


def windowed(window: int) -> Matcher:
    return Matcher(EngineConfig(duplicate_id_window=window))


def test_an_id_within_the_window_is_a_duplicate_even_when_it_no_longer_rests() -> None:
    matcher = windowed(3)
    # "a" filled, "c" cancelled; with "b" that is three acceptances: all in the window.
    run(matcher, [limit("a", 100.0, 5), limit("b", 100.0, -5), limit("c", 99.0, 1), cancel("c")])
    for reused in ("a", "b", "c"):
        [message] = matcher.process(limit(reused, 90.0, 1))
        assert message.reason == ev.DUPLICATE_ORDER_ID


def test_an_id_older_than_the_window_that_no_longer_rests_is_accepted_again() -> None:
    matcher = windowed(2)
    run(matcher, [limit("a", 100.0, 1), cancel("a"), limit("b", 90.0, 1), limit("c", 90.0, 1)])
    # "a" left the book and two ids were accepted after it: it is free again.
    events = matcher.process(limit("a", 91.0, 2))
    assert (events[0].event, events[0].order_id) == ("accepted", "a")
    assert book_picture(matcher)["bids"][0] == (9100, [("a", 2)])
    # ... and now it is the newest id of the window again.
    [message] = matcher.process(limit("a", 92.0, 1))
    assert message.reason == ev.DUPLICATE_ORDER_ID


def test_a_resting_id_older_than_the_window_is_still_a_duplicate() -> None:
    matcher = windowed(2)
    run(matcher, [limit("old", 95.0, 4), limit("x", 90.0, 1), limit("y", 90.0, 1)])
    assert "old" not in matcher.book("XYZ").recent_set  # really outside the window
    [message] = matcher.process(limit("old", 96.0, 1))
    assert message.reason == ev.DUPLICATE_ORDER_ID
    [message] = matcher.process(market("old", -1))
    assert message.reason == ev.DUPLICATE_ORDER_ID
    # It can still be cancelled: it rests.
    assert matcher.process(cancel("old"))[0].event == "cancelled"


def test_a_window_of_zero_rejects_only_resting_ids() -> None:
    matcher = windowed(0)
    run(matcher, [limit("a", 100.0, 1), limit("b", 101.0, -1)])
    [message] = matcher.process(limit("a", 100.0, 1))
    assert message.reason == ev.DUPLICATE_ORDER_ID
    matcher.process(cancel("a"))
    assert matcher.process(limit("a", 100.0, 1))[0].event == "accepted"


def test_cancel_and_modify_say_not_resting_inside_the_window_and_unknown_outside() -> None:
    matcher = windowed(2)
    run(matcher, [limit("a", 100.0, 1), cancel("a"), limit("b", 90.0, 1)])
    for request in (cancel("a"), modify("a", quantity=2)):
        [message] = matcher.process(request)
        assert message.reason == ev.ORDER_NOT_RESTING
    matcher.process(limit("c", 90.0, 1))  # "a" leaves the window
    for request in (cancel("a"), modify("a", quantity=2)):
        [message] = matcher.process(request)
        assert message.reason == ev.UNKNOWN_ORDER


def test_rejected_orders_do_not_move_the_window() -> None:
    matcher = windowed(2)
    run(matcher, [limit("a", 100.0, 1), cancel("a"), limit("b", 90.0, 1)])
    # Rejects (off tick, duplicate, post-only cross) are not acceptances.
    run(matcher, [limit("z", 90.001, 1), limit("b", 90.0, 1), limit("a", 80.0, 0)])
    [message] = matcher.process(limit("a", 80.0, 1))
    assert message.reason == ev.DUPLICATE_ORDER_ID


def test_a_negative_window_is_refused() -> None:
    with pytest.raises(ValueError, match="duplicate_id_window"):
        EngineConfig(duplicate_id_window=-1)
