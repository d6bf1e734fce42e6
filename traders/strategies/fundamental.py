"""Fundamental value: buys below its estimate of fair value and sells above it.

Each trader sees the symbol's fair value (traders.news) through a private, slowly
drifting valuation error. Its target position grows with the mispricing,
`aggressiveness` lots per tick, capped at `max_position`; it trades toward the target
with one limit order at its valuation minus (plus) `edge` ticks. That order takes
whatever liquidity is cheaper than the valuation and rests the rest, so the same
trader is an aggressive taker after news and a patient liquidity provider otherwise.
When the mispricing exceeds `urgent` ticks it uses an IOC instead, and it moves or
cancels resting orders that the value has left behind. It speeds up when news is
intense (`follows_news`) and, with probability `attention`, wakes shortly after each
news jump.
"""

from __future__ import annotations

import math

from orderbook_platform.contracts import Order
from traders.base import BUY, SELL, Trader
from traders.market import Market, SymbolView


class FundamentalTrader(Trader):
    kind = "fundamental"
    follows_news = True

    def __init__(
        self, trader_id: str, symbols: list[str], seed: int | str, *, rate: float = 1 / 20,
        max_position: int = 30, max_open_orders: int = 3, aggressiveness: float = 2.0,
        edge: float = 1.0, urgent: float = 6.0, valuation_noise: float = 2.0,
        noise_persistence: float = 0.9, size: int = 5, requote_ticks: int = 2,
        attention: float = 0.3,
    ) -> None:  # fmt: skip
        super().__init__(
            trader_id, symbols, seed, rate=rate, max_position=max_position,
            max_open_orders=max_open_orders,
        )  # fmt: skip
        self.aggressiveness = aggressiveness
        self.edge = edge
        self.urgent = urgent
        self.valuation_noise = valuation_noise
        self.noise_persistence = noise_persistence
        self.size = size
        self.requote_ticks = requote_ticks
        self.attention = attention
        self.bias = {s: self.rng.gauss(0.0, valuation_noise) for s in symbols}
        # sqrt(1 - rho^2), the weight of a new draw in the AR(1) error, computed once.
        self.innovation_weight = math.sqrt(1 - noise_persistence * noise_persistence)

    def valuation(self, symbol: str, market: Market) -> float:
        """Fair value in ticks as this trader sees it (an AR(1) error per decision)."""
        view = market.views[symbol]
        innovation = self.innovation_weight * self.rng.gauss(0.0, self.valuation_noise)
        bias = self.noise_persistence * self.bias[symbol] + innovation
        self.bias[symbol] = bias
        return market.fair_values[symbol].value / view.tick + bias

    def decide(self, now: int, market: Market) -> list[Order]:
        rng = self.rng
        symbols = self.symbols
        symbol = symbols[0] if len(symbols) == 1 else symbols[rng.randrange(len(symbols))]
        view = market.views[symbol]
        value = self.valuation(symbol, market)
        mispricing = value - view.mid
        target = max(
            -self.max_position, min(self.max_position, round(mispricing * self.aggressiveness))
        )
        # The epsilon keeps float noise in exp(log(price)) from costing a whole tick.
        buy_limit = math.floor(value - self.edge + 1e-9)
        sell_limit = math.ceil(value + self.edge - 1e-9)

        inventory = self.positions[symbol].inventory
        orders: list[Order] = []
        # Resting orders the value has moved past, or on the wrong side of the target:
        # Trader.idle_resting, inlined (cancel and modify only flag the order in hand).
        for order in self.open_orders.values():
            if not order.rests or order.cancel_sent or order.modify_sent or order.symbol != symbol:
                continue
            if len(orders) >= 2:
                break
            limit = buy_limit if order.side == BUY else sell_limit
            if order.side * (target - inventory) < 0 or limit <= 0:
                orders.append(self.cancel(order, now))
            elif abs(order.price - limit) >= self.requote_ticks:
                orders.append(self.modify(view, order, now, price=limit))
        if orders:
            return orders

        if len(self.open_orders) >= self.max_open_orders:
            return []
        side = BUY if target > inventory else SELL
        delta = target - self.exposure(symbol, side)
        if delta == 0 or (delta > 0) != (side == BUY):
            return []
        urgent = abs(mispricing) > self.urgent
        price = buy_limit if side == BUY else sell_limit
        if price <= 0:
            return []
        if not urgent:
            return [self.limit(view, side, min(abs(delta), self.size), price, now, "GTC")]
        # After news it takes in bigger clips (the point is to be early), but no more than
        # the book (L2) shows up to its limit: an IOC's excess would only expire.
        size = min(abs(delta), self.size * 3)
        visible = self.visible_liquidity(view, side, price)
        if visible is not None:
            size = min(size, max(visible, self.size))
        return [self.limit(view, side, size, price, now, "IOC")]

    @staticmethod
    def visible_liquidity(view: SymbolView, side: int, limit: int) -> int | None:
        """Lots on the opposite side of the last L2 message up to `limit`; None without L2."""
        if view.depth is None:
            return None
        levels = view.asks if side == BUY else view.bids
        return sum(lots for price, lots in levels if (price - limit) * side <= 0)
