"""A market maker: one bid and one ask per symbol around the mid, skewed by inventory.

- Half-spread = `half_spread` + `widen` x the view's recent one-second mid volatility,
  so quotes widen after a shock and tighten again as the market calms.
- Skew: both quotes shift against the inventory (`skew` ticks at `max_position`), so
  a long maker sells more readily than it buys; at the limit it quotes one side only.
- Past `unwind_at` x `max_position` it also sends an IOC at the opposite touch.
- It re-quotes on its own wake-ups and when the top of book moves (`on_quote`), at
  most once per `min_requote_s`, and only sends orders for quotes that actually change
  (a modify moves a quote; a new post-only limit replaces a filled one).
"""

from __future__ import annotations

import math

from orderbook_platform.contracts import Order
from traders.base import BUY, SELL, OpenOrder, Trader
from traders.market import SECOND, Market, SymbolView


class MarketMaker(Trader):
    kind = "mm"
    wants_quotes = True

    def __init__(
        self, trader_id: str, symbols: list[str], seed: int | str, *, rate: float = 0.2,
        max_position: int = 60, max_open_orders: int = 8, quote_size: int = 5,
        half_spread: float = 0.5, widen: float = 1.5, skew: float = 2.0,
        unwind_at: float = 0.8, min_requote_s: float = 0.5,
    ) -> None:  # fmt: skip
        super().__init__(
            trader_id, symbols, seed, rate=rate, max_position=max_position,
            max_open_orders=max_open_orders,
        )  # fmt: skip
        self.quote_size = quote_size
        self.half_spread = half_spread
        self.widen = widen
        self.skew = skew
        self.unwind_at = unwind_at
        self.min_requote_ns = int(min_requote_s * SECOND)
        self.quotes: dict[tuple[str, int], str] = {}  # (symbol, side) -> order id
        self.last_requote: dict[str, int] = dict.fromkeys(symbols, -(1 << 62))

    def decide(self, now: int, market: Market) -> list[Order]:
        orders: list[Order] = []
        for symbol in self.symbols:
            view = market.views[symbol]
            position = self.positions[symbol].inventory
            if abs(position) > self.unwind_at * self.max_position:
                orders.extend(self._unwind(view, position, now))
            orders.extend(self._requote(view, now))
            if len(orders) >= 2:
                break  # stay within MAX_ORDERS_PER_DECISION
        return orders

    def on_quote(self, now: int, view: SymbolView, market: Market) -> list[Order]:
        if now - self.last_requote[view.symbol] < self.min_requote_ns:
            return []
        return self._requote(view, now)

    def quote_ready_at(self, symbol: str) -> int:
        return self.last_requote[symbol] + self.min_requote_ns

    def desired_quotes(self, view: SymbolView) -> tuple[int, int]:
        """(bid, ask) in ticks for the current mid, volatility and inventory."""
        mid = view.mid
        half = self.half_spread + self.widen * view.volatility
        shift = self.skew * self.positions[view.symbol].inventory / self.max_position
        bid = math.floor(mid - half - shift + 1e-9)
        ask = math.ceil(mid + half - shift - 1e-9)
        # Post-only quotes must not cross the other side as we see it.
        if view.best_ask is not None and bid >= view.best_ask:
            bid = view.best_ask - 1
        if view.best_bid is not None and ask <= view.best_bid:
            ask = view.best_bid + 1
        if ask <= bid:
            ask = bid + 1
        return max(bid, 1), max(ask, 2)

    def _requote(self, view: SymbolView, now: int) -> list[Order]:
        symbol = view.symbol
        self.last_requote[symbol] = now
        bid, ask = self.desired_quotes(view)
        inventory = self.positions[symbol].inventory
        orders = []
        for side, price in ((BUY, bid), (SELL, ask)):
            wanted = side * inventory < self.max_position
            current = self._current(symbol, side)
            if current is None:
                if wanted and len(self.open_orders) < self.max_open_orders:
                    order = self.limit(view, side, self.quote_size, price, now, "GTC", True)
                    self.quotes[(symbol, side)] = order.order_id
                    orders.append(order)
            elif current.busy:
                continue
            elif not wanted:
                orders.append(self.cancel(current, now))
            elif current.price != price or current.remaining * 2 < self.quote_size:
                size = None if current.remaining * 2 >= self.quote_size else self.quote_size
                orders.append(self.modify(view, current, now, price=price, quantity=size))
        return orders

    def _current(self, symbol: str, side: int) -> OpenOrder | None:
        order_id = self.quotes.get((symbol, side))
        if order_id is None:
            return None
        order = self.open_orders.get(order_id)
        if order is None:
            del self.quotes[(symbol, side)]
        return order

    def _unwind(self, view: SymbolView, position: int, now: int) -> list[Order]:
        side = SELL if position > 0 else BUY
        touch = view.best_bid if side == SELL else view.best_ask
        if touch is None:
            return []
        size = min(abs(position) // 4 or 1, self.quote_size * 2)
        return [self.limit(view, side, size, touch, now, "IOC")]
