"""Trader state and accounting: exact inventory, cash and FIFO PnL; the order life cycle."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.traders.helpers import T0, event, fill, market_with
from traders.base import BUY, LIVE, SELL, Position, Trader

pytestmark = pytest.mark.unit

fills = st.lists(
    st.tuples(st.sampled_from([BUY, SELL]), st.integers(1, 50), st.integers(1, 20_000)),
    max_size=60,
)


@given(fills, st.integers(1, 20_000))
def test_inventory_cash_and_pnl_reconcile_exactly_for_any_fills(sequence, mark):
    position = Position()
    for side, quantity, price in sequence:
        position.apply(side, quantity, price)
    assert position.inventory == sum(side * q for side, q, _ in sequence)
    assert position.cash == -sum(side * q * p for side, q, p in sequence)
    assert position.bought - position.sold == position.inventory
    # realised + unrealised is the mark-to-market value of everything done.
    assert (
        position.realised + position.unrealised(mark) == position.cash + position.inventory * mark
    )
    # Open lots hold exactly the inventory, all on one side.
    assert sum(q for q, _ in position.lots) == position.inventory
    assert all((q > 0) == (position.inventory > 0) for q, _ in position.lots)


def test_realised_pnl_is_fifo():
    position = Position()
    position.apply(BUY, 10, 100)
    position.apply(BUY, 10, 110)
    position.apply(SELL, 15, 120)  # closes 10 @100 (+200) and 5 @110 (+50)
    assert position.realised == 250
    assert position.inventory == 5
    assert list(position.lots) == [[5, 110]]
    position.apply(SELL, 10, 100)  # closes 5 @110 (-50), opens a short of 5 @100
    assert position.realised == 200
    assert list(position.lots) == [[-5, 100]]
    assert position.unrealised(90) == 50


def test_a_trader_books_a_fill_as_maker_or_taker_on_the_right_side():
    trader = Trader("t1", ["XYZ"], seed=1)
    trader.on_trade(fill("t1", "other", "t1:1", "o:9", 3, 10_000, taker_buys=True), 0.01)
    assert trader.inventory("XYZ") == -3  # our resting sell was lifted
    trader.on_trade(fill("other", "t1", "o:8", "t1:2", 5, 10_002, taker_buys=True), 0.01)
    assert trader.inventory("XYZ") == 2
    assert trader.position("XYZ").cash == 3 * 10_000 - 5 * 10_002
    trader.on_trade(fill("a", "b", "a:1", "b:1", 7, 10_000, taker_buys=False), 0.01)
    assert trader.inventory("XYZ") == 2  # not ours
    assert trader.fills == 2


def test_order_ids_are_the_trader_id_and_a_counter():
    market = market_with()
    view = market.view("XYZ")
    trader = Trader("swarm.noise-4", ["XYZ"], seed=1)
    first = trader.limit(view, BUY, 1, 9_990, T0)
    second = trader.market(view, SELL, 2, T0)
    assert (first.order_id, second.order_id) == ("swarm.noise-4:1", "swarm.noise-4:2")
    assert first.price == 99.9 and first.quantity == 1 and first.trader_id == "swarm.noise-4"
    assert second.quantity == -2 and second.order_type == "market"


def test_the_life_cycle_follows_order_events():
    market = market_with()
    view = market.view("XYZ")
    trader = Trader("t", ["XYZ"], seed=1)
    order = trader.limit(view, BUY, 4, 9_990, T0)
    trader.on_order_event(event(order.order_id, "accepted", "t", remaining=4), 0.01)
    assert trader.open_orders[order.order_id].state == LIVE
    trader.modify(view, trader.open_orders[order.order_id], T0, price=9_991)
    assert trader.open_orders[order.order_id].busy
    trader.on_order_event(event(order.order_id, "modified", "t", price=99.91, remaining=4), 0.01)
    open_order = trader.open_orders[order.order_id]
    assert (open_order.price, open_order.busy) == (9_991, False)
    # A rejected modify leaves a resting order in place.
    trader.modify(view, open_order, T0, price=10_001)
    trader.on_order_event(
        event(order.order_id, "rejected", "t", reason="post_only_would_cross", order_type="modify"),
        0.01,
    )
    assert order.order_id in trader.open_orders and not open_order.busy
    trader.on_trade(fill("other", "t", "x", order.order_id, 4, 9_991, taker_buys=True), 0.01)
    assert order.order_id not in trader.open_orders  # fully filled


def test_terminal_events_close_orders_and_cancel_all_cancels_what_rests():
    market = market_with()
    view = market.view("XYZ")
    trader = Trader("t", ["XYZ"], seed=1)
    resting = [trader.limit(view, BUY, 1, 9_990 - i, T0) for i in range(3)]
    ioc = trader.limit(view, BUY, 1, 10_001, T0, "IOC")
    trader.on_order_event(event(ioc.order_id, "expired", "t"), 0.01)
    trader.on_order_event(event(resting[0].order_id, "cancelled", "t"), 0.01)
    cancels = trader.cancel_all(T0)
    assert [c.order_id for c in cancels] == [resting[1].order_id, resting[2].order_id]
    assert all(c.order_type == "cancel" for c in cancels)
    assert trader.cancel_all(T0) == []  # already being cancelled


def test_unacknowledged_orders_are_forgotten_after_the_horizon():
    market = market_with()
    trader = Trader("t", ["XYZ"], seed=1)
    trader.limit(market.view("XYZ"), BUY, 1, 9_990, T0)
    assert trader.forget_stale(T0 + 5, older_than_ns=10) == 0
    assert trader.forget_stale(T0 + 50, older_than_ns=10) == 1
    assert trader.open_orders == {}
