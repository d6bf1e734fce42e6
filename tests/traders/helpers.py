"""Builders shared by the trader tests: a market with a chosen top of book, fills, events."""

from __future__ import annotations

from orderbook_platform.contracts import OrderEvent, Price, Trade
from traders.market import SECOND, Market, SymbolView
from traders.news import FairValue

T0 = 1_795_424_400_000_000_000
TICK = 0.01


class FixedValue(FairValue):
    """A fair value that stays where a test puts it."""

    def __init__(self, price: float) -> None:
        super().__init__(price, T0, "fixed")
        self.set(price)

    def set(self, price: float) -> None:
        import math

        self.log_value = math.log(price)
        self.value = math.exp(self.log_value)  # FairValue keeps both in step

    def advance_to(self, now: int) -> None:
        self.time = max(self.time, now)


def market_with(
    bid: int | None = 9999, ask: int | None = 10001, symbol: str = "XYZ", value: float | None = None,
    bid_size: int = 10, ask_size: int = 10,
) -> Market:  # fmt: skip
    """A market whose `symbol` shows `bid`/`ask` (ticks) and, optionally, a fair value."""
    view = SymbolView(symbol)
    if bid is not None or ask is not None:
        set_top(view, bid, ask, T0, bid_size, ask_size)
    fair_values = {} if value is None else {symbol: FixedValue(value)}
    return Market({symbol: view}, fair_values)


def set_top(
    view: SymbolView,
    bid: int | None,
    ask: int | None,
    time: int,
    bid_size: int = 10,
    ask_size: int = 10,
) -> bool:
    mid = None if bid is None or ask is None else (bid + ask) * TICK / 2
    return view.on_price(
        Price(
            mid, None if bid is None else view.price_of(bid), None if ask is None else view.price_of(ask),
            bid_size, ask_size, view.symbol, time,
        )
    )  # fmt: skip


def fill(
    maker: str, taker: str, maker_order: str, taker_order: str, quantity: int, price_ticks: int,
    taker_buys: bool, symbol: str = "XYZ", n: int = 1,
) -> Trade:  # fmt: skip
    return Trade(
        maker_order, taker_order, quantity, round(price_ticks * TICK, 2),
        "Buy" if taker_buys else "Sell", "filled", f"{taker_order}-{n}", symbol, T0, n, maker, taker,
    )  # fmt: skip


def event(order_id: str, kind: str, trader_id: str, **fields) -> OrderEvent:
    return OrderEvent(
        order_id, kind, trader_id=trader_id, symbol=fields.pop("symbol", "XYZ"), **fields
    )


__all__ = ["SECOND", "T0", "TICK", "FixedValue", "event", "fill", "market_with", "set_top"]
