"""Each strategy's decisions on a market it is shown, and its limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.traders.helpers import SECOND, T0, event, fill, market_with, set_top
from traders.base import BUY, SELL
from traders.strategies import FundamentalTrader, MarketMaker, MomentumTrader, NoiseTrader

pytestmark = pytest.mark.unit


def ticks(price: float) -> int:
    return round(price / 0.01)


# ---------------------------------------------------------------- market maker


def test_market_maker_quotes_both_sides_post_only_around_the_mid():
    market = market_with(9_995, 10_005)
    maker = MarketMaker("mm", ["XYZ"], seed=1, half_spread=1.0, widen=0.0, quote_size=5)
    orders = maker.decide(T0, market)
    assert len(orders) == 2
    bid, ask = sorted(orders, key=lambda o: -o.quantity)
    assert (bid.quantity, ask.quantity) == (5, -5)
    assert bid.post_only and ask.post_only
    assert ticks(bid.price) == 9_999 and ticks(ask.price) == 10_001


def test_market_maker_skews_both_quotes_against_its_inventory():
    flat = MarketMaker("a", ["XYZ"], seed=1, half_spread=1.0, widen=0.0, skew=4.0, max_position=40)
    long = MarketMaker("b", ["XYZ"], seed=1, half_spread=1.0, widen=0.0, skew=4.0, max_position=40)
    long.on_trade(fill("x", "b", "x:1", "b:0", 20, 10_000, taker_buys=True), 0.01)
    market = market_with(9_990, 10_010)
    flat_bid, flat_ask = flat.desired_quotes(market.view("XYZ"))
    long_bid, long_ask = long.desired_quotes(market.view("XYZ"))
    assert long_bid == flat_bid - 2 and long_ask == flat_ask - 2


def test_market_maker_at_its_position_limit_quotes_only_the_side_that_reduces_it():
    maker = MarketMaker("mm", ["XYZ"], seed=1, max_position=10, unwind_at=2.0)
    maker.on_trade(fill("x", "mm", "x:1", "mm:0", 10, 10_000, taker_buys=True), 0.01)
    orders = maker.decide(T0, market_with(9_995, 10_005))
    assert [o.quantity < 0 for o in orders] == [True]


def test_market_maker_unwinds_with_an_ioc_past_its_unwind_threshold():
    maker = MarketMaker("mm", ["XYZ"], seed=1, max_position=10, unwind_at=0.5)
    maker.on_trade(fill("x", "mm", "x:1", "mm:0", 8, 10_000, taker_buys=True), 0.01)
    orders = maker.decide(T0, market_with(9_995, 10_005))
    ioc = [o for o in orders if o.time_in_force == "IOC"]
    assert len(ioc) == 1 and ioc[0].quantity < 0 and ticks(ioc[0].price) == 9_995


def test_market_maker_moves_its_quotes_with_a_modify_when_the_top_moves_and_respects_its_throttle():
    market = market_with(9_995, 10_005)
    view = market.view("XYZ")
    maker = MarketMaker("mm", ["XYZ"], seed=1, half_spread=1.0, widen=0.0, min_requote_s=1.0)
    for order in maker.decide(T0, market):
        maker.on_order_event(
            event(order.order_id, "accepted", "mm", remaining=abs(order.quantity)), 0.01
        )
    set_top(view, 10_015, 10_025, T0 + 1)
    assert maker.on_quote(T0 + SECOND // 2, view, market) == []  # throttled
    assert maker.quote_ready_at("XYZ") == T0 + SECOND
    moves = maker.on_quote(T0 + SECOND, view, market)
    assert {o.order_type for o in moves} == {"modify"}
    assert sorted(ticks(o.price) for o in moves) == [10_019, 10_021]
    # Nothing changes while the modifies are in flight.
    assert maker.on_quote(T0 + 3 * SECOND, view, market) == []


def test_market_maker_widens_when_the_market_has_been_volatile():
    maker = MarketMaker("mm", ["XYZ"], seed=1, half_spread=0.5, widen=2.0)
    calm = market_with(9_999, 10_001).view("XYZ")
    volatile = market_with(9_999, 10_001).view("XYZ")
    for second in range(1, 60):
        jump = 10 if second % 2 else -10
        set_top(volatile, 9_999 + jump, 10_001 + jump, T0 + second * SECOND)
        set_top(calm, 9_999, 10_001, T0 + second * SECOND)
    calm_bid, calm_ask = maker.desired_quotes(calm)
    wide_bid, wide_ask = maker.desired_quotes(volatile)
    assert wide_ask - wide_bid > calm_ask - calm_bid


# ---------------------------------------------------------------- fundamental


def test_fundamental_trader_buys_below_value_and_sells_above():
    cheap = market_with(9_990, 9_992, value=101.0)
    rich = market_with(10_208, 10_210, value=101.0)
    buyer = FundamentalTrader("f", ["XYZ"], seed=1, valuation_noise=0.0, edge=1.0, urgent=1_000)
    seller = FundamentalTrader("g", ["XYZ"], seed=1, valuation_noise=0.0, edge=1.0, urgent=1_000)
    (buy,) = buyer.decide(T0, cheap)
    (sell,) = seller.decide(T0, rich)
    assert buy.quantity > 0 and ticks(buy.price) == 10_099  # value - edge
    assert sell.quantity < 0 and ticks(sell.price) == 10_101
    assert buy.order_type == "limit" and buy.time_in_force is None


def test_fundamental_trader_takes_with_an_ioc_when_the_mispricing_is_urgent():
    trader = FundamentalTrader("f", ["XYZ"], seed=1, valuation_noise=0.0, urgent=5.0, size=3)
    (order,) = trader.decide(T0, market_with(9_980, 9_982, value=100.5))
    assert order.time_in_force == "IOC" and order.quantity == 9  # 3x size after news


def test_fundamental_trader_does_nothing_at_fair_value_and_caps_its_position():
    at_value = market_with(9_999, 10_001, value=100.0)
    trader = FundamentalTrader("f", ["XYZ"], seed=1, valuation_noise=0.0)
    assert trader.decide(T0, at_value) == []
    capped = FundamentalTrader(
        "g", ["XYZ"], seed=1, valuation_noise=0.0, max_position=5, aggressiveness=10
    )
    capped.on_trade(fill("x", "g", "x:1", "g:0", 5, 9_000, taker_buys=True), 0.01)
    assert capped.decide(T0, market_with(9_000, 9_002, value=100.0)) == []


def test_fundamental_trader_cancels_a_resting_order_the_value_has_turned_against():
    market = market_with(9_990, 9_992, value=101.0)
    trader = FundamentalTrader("f", ["XYZ"], seed=1, valuation_noise=0.0, urgent=1_000)
    (buy,) = trader.decide(T0, market)
    trader.on_order_event(event(buy.order_id, "accepted", "f", remaining=abs(buy.quantity)), 0.01)
    market.fair_values["XYZ"].set(98.0)
    orders = trader.decide(T0 + SECOND, market)
    assert orders[0].order_type == "cancel" and orders[0].order_id == buy.order_id


# ---------------------------------------------------------------- momentum


def _trending(step: int):
    market = market_with(10_000, 10_002)
    view = market.view("XYZ")
    for second in range(1, 200):
        base = 10_000 + step * second // 10
        set_top(view, base, base + 2, T0 + second * SECOND)
    return market


def test_momentum_trader_follows_a_rising_market_and_a_falling_one():
    up = MomentumTrader("m", ["XYZ"], seed=1, lookback_s=60, threshold=3.0, size=4, p_ioc=0.0)
    (buy,) = up.decide(T0 + 200 * SECOND, _trending(+1))
    assert buy.order_type == "market" and buy.quantity == 4
    down = MomentumTrader("n", ["XYZ"], seed=1, lookback_s=60, threshold=3.0, size=4, p_ioc=1.0)
    (sell,) = down.decide(T0 + 200 * SECOND, _trending(-1))
    assert sell.time_in_force == "IOC" and sell.quantity == -4


def test_momentum_trader_without_a_signal_flattens_or_waits():
    flat = _trending(0)
    trader = MomentumTrader("m", ["XYZ"], seed=1, lookback_s=60, threshold=3.0, p_ioc=0.0)
    assert trader.decide(T0, flat) == []
    trader.on_trade(fill("x", "m", "x:1", "m:0", 3, 10_000, taker_buys=True), 0.01)
    (flatten,) = trader.decide(T0, flat)
    assert flatten.quantity == -3


# ---------------------------------------------------------------- noise


def test_noise_trader_uses_every_order_type_over_time():
    market = market_with(9_995, 10_005)
    trader = NoiseTrader(
        "z",
        ["XYZ"],
        seed=3,
        p_market=0.1,
        p_ioc=0.1,
        p_cancel=0.2,
        p_modify=0.2,
        max_open_orders=50,
    )
    seen = set()
    for n in range(400):
        for order in trader.decide(T0 + n, market):
            seen.add((order.order_type, order.time_in_force))
            if order.order_type == "limit" and order.time_in_force is None:
                trader.on_order_event(
                    event(order.order_id, "accepted", "z", remaining=abs(order.quantity)), 0.01
                )
            elif order.order_type == "modify":
                trader.on_order_event(
                    event(order.order_id, "modified", "z", price=order.price), 0.01
                )
            elif order.order_type == "cancel":
                trader.on_order_event(event(order.order_id, "cancelled", "z"), 0.01)
            else:
                trader.on_order_event(event(order.order_id, "expired", "z"), 0.01)
    assert {
        ("limit", None),
        ("limit", "IOC"),
        ("market", None),
        ("cancel", None),
        ("modify", None),
    } <= seen


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32), st.integers(9_000, 11_000), st.integers(1, 20),
    st.lists(st.tuples(st.booleans(), st.integers(1, 6)), max_size=30),
)  # fmt: skip
def test_noise_trader_never_lets_its_exposure_pass_its_limits(seed, bid, spread, fills):
    market = market_with(bid, bid + spread)
    trader = NoiseTrader("z", ["XYZ"], seed=seed, max_position=10, max_open_orders=3)
    for n, (_, quantity) in enumerate(fills):
        for order in trader.decide(T0 + n, market):
            assert trader.exposure("XYZ", BUY) <= 10 and trader.exposure("XYZ", SELL) >= -10
            assert len(trader.open_orders) <= 3
            if order.order_type in ("limit", "market") and abs(order.quantity) >= quantity:
                trader.on_trade(
                    fill(
                        "x",
                        "z",
                        "x:1",
                        order.order_id,
                        quantity,
                        bid,
                        taker_buys=order.quantity > 0,
                        n=n,
                    ),
                    0.01,
                )


@settings(max_examples=60, deadline=None)
@given(
    st.integers(100, 20_000), st.integers(1, 30), st.integers(-60, 60), st.floats(0.0, 5.0),
    st.floats(0.1, 3.0), st.floats(0.0, 8.0),
)  # fmt: skip
def test_market_maker_quotes_never_cross_each_other_or_the_book(
    bid, spread, inventory, volatility, half, skew
):
    market = market_with(bid, bid + spread)
    view = market.view("XYZ")
    view._var = volatility**2
    maker = MarketMaker("mm", ["XYZ"], seed=1, half_spread=half, skew=skew, max_position=60)
    if inventory:
        maker.on_trade(
            fill("x", "mm", "x:1", "mm:0", abs(inventory), bid, taker_buys=inventory > 0), 0.01
        )
    quote_bid, quote_ask = maker.desired_quotes(view)
    assert 0 < quote_bid < quote_ask
    assert quote_bid < bid + spread and quote_ask > bid  # post-only never crosses
    for order in maker.decide(T0, market):
        if order.order_type == "limit" and order.post_only:
            price = ticks(order.price)
            assert price < bid + spread if order.quantity > 0 else price > bid


def test_fundamental_trader_sizes_an_urgent_take_by_the_depth_the_book_shows():
    from orderbook_platform.contracts import BookDepth, BookLevel

    market = market_with(9_980, 9_982, value=100.5)
    view = market.view("XYZ")
    view.on_book(
        BookDepth(
            "XYZ",
            [BookLevel(99.80, 10, 1)],
            [BookLevel(99.82, 4, 1), BookLevel(99.95, 3, 1), BookLevel(100.60, 50, 2)],
        )
    )
    trader = FundamentalTrader(
        "f", ["XYZ"], seed=1, valuation_noise=0.0, urgent=5.0, size=5, edge=0.0
    )
    (order,) = trader.decide(T0, market)
    # 4 + 3 lots are visible up to its 100.50 limit; it never takes less than its usual size.
    assert order.time_in_force == "IOC" and order.quantity == 7
