"""Zero-intelligence noise: random limit orders near the touch, some market and IOC orders,
random cancels and modifies. It supplies depth and uninformed flow.

The only non-random element is an inventory bias (it leans toward flattening), which
keeps each noise trader's position bounded without making it informed.
"""

from __future__ import annotations

from math import log as _log

from orderbook_platform.contracts import Order
from traders.base import BUY, SELL, Trader
from traders.market import Market


class NoiseTrader(Trader):
    kind = "noise"

    def __init__(
        self, trader_id: str, symbols: list[str], seed: int | str, *, rate: float = 0.05,
        max_position: int = 40, max_open_orders: int = 4, mean_size: float = 3.0,
        depth_ticks: float = 3.0, p_market: float = 0.06, p_ioc: float = 0.06,
        p_cancel: float = 0.3, p_modify: float = 0.1, p_post_only: float = 0.2,
    ) -> None:  # fmt: skip
        super().__init__(
            trader_id, symbols, seed, rate=rate, max_position=max_position,
            max_open_orders=max_open_orders,
        )  # fmt: skip
        self.mean_size = mean_size
        self.depth_ticks = depth_ticks
        self.p_market = p_market
        self.p_ioc = p_ioc
        self.p_cancel = p_cancel
        self.p_modify = p_modify
        self.p_post_only = p_post_only

    def decide(self, now: int, market: Market) -> list[Order]:
        rng = self.rng
        symbols = self.symbols
        symbol = symbols[0] if len(symbols) == 1 else symbols[rng.randrange(len(symbols))]
        view = market.views[symbol]
        open_orders = self.open_orders
        if len(open_orders) >= self.max_open_orders:
            resting = self.idle_resting(symbol)
            return [self.cancel(resting[rng.randrange(len(resting))], now)] if resting else []
        r = rng.random()
        # Which orders are free to act on matters only for a cancel or a modify.
        resting = (
            self.idle_resting(symbol) if open_orders and r < self.p_cancel + self.p_modify else None
        )
        if resting and r < self.p_cancel:
            return [self.cancel(resting[rng.randrange(len(resting))], now)]
        if resting and r < self.p_cancel + self.p_modify:
            order = resting[rng.randrange(len(resting))]
            if order.remaining > 1 and rng.random() < 0.3:
                return [self.modify(view, order, now, quantity=order.remaining - 1)]
            step = 1 if rng.random() < 0.5 else -1
            # Never move a buy through the ask or a sell through the bid: that is a take.
            new_price = order.price + step
            best_ask, best_bid = view.best_ask, view.best_bid
            if (
                new_price <= 0
                or (order.side == BUY and best_ask is not None and new_price >= best_ask)
                or (order.side == SELL and best_bid is not None and new_price <= best_bid)
            ):
                new_price = order.price - step
            if new_price <= 0:
                return []
            return [self.modify(view, order, now, price=new_price)]

        inventory = self.positions[symbol].inventory
        # Lean toward flat: P(buy) runs from 0.9 (max short) to 0.1 (max long).
        p_buy = 0.5 - 0.4 * max(-1.0, min(1.0, inventory / self.max_position))
        side = BUY if rng.random() < p_buy else SELL
        # rng.expovariate(lambd), inlined (the same draw and arithmetic): it runs on most
        # decisions, and a Python-level call costs as much as the draw.
        size = 1 + int(-_log(1.0 - rng.random()) / (1 / max(self.mean_size - 1, 0.01)))
        room = self.max_position - side * self.exposure(symbol, side)
        size = min(size, room)
        if size <= 0:
            return []
        mid = view.mid
        r = rng.random()
        if r < self.p_market:
            return [self.market(view, side, size, now)]
        if r < self.p_market + self.p_ioc:
            # A marketable IOC up to one tick through the touch.
            touch = view.best_ask if side == BUY else view.best_bid
            anchor = round(mid) if touch is None else touch
            price = anchor + side * int(rng.random() < 0.5)
            return [] if price <= 0 else [self.limit(view, side, size, price, now, "IOC")]
        # A passive limit some ticks behind the same-side touch (geometric depth); it
        # may improve a wide spread by a tick.
        same = view.best_bid if side == BUY else view.best_ask
        opposite = view.best_ask if side == BUY else view.best_bid
        if same is None:
            same = int(mid - 1) if side == BUY else int(mid + 1.5)
        depth = (
            int(-_log(1.0 - rng.random()) / (1 / self.depth_ticks)) if self.depth_ticks > 0 else 0
        )
        price = same - side * depth
        spread = view.spread
        if depth == 0 and spread is not None and spread > 2 and rng.random() < 0.5:
            price = same + side
        if opposite is not None and (price - opposite) * side >= 0:
            price = opposite - side
        if price <= 0:
            return []
        post_only = rng.random() < self.p_post_only
        return [self.limit(view, side, size, price, now, "GTC", post_only)]
