"""Momentum: follows the mid's move over a look-back, with market orders and IOCs.

Signal = mid now - mid `lookback_s` ago (ticks). Above `threshold` it targets a long
position of `max_position`, below -`threshold` a short one, and in between it
flattens. It trades toward the target `size` lots at a time and never rests an order.
Its weight in the default mix is small: momentum is what pushes return
autocorrelation up, and real one-minute returns show almost none.
"""

from __future__ import annotations

from orderbook_platform.contracts import Order
from traders.base import BUY, SELL, Trader
from traders.market import Market


class MomentumTrader(Trader):
    kind = "momentum"

    def __init__(
        self, trader_id: str, symbols: list[str], seed: int | str, *, rate: float = 1 / 30,
        max_position: int = 20, lookback_s: int = 120, threshold: float = 4.0, size: int = 5,
        p_ioc: float = 0.5,
    ) -> None:  # fmt: skip
        super().__init__(trader_id, symbols, seed, rate=rate, max_position=max_position)
        self.lookback_s = lookback_s
        self.threshold = threshold
        self.size = size
        self.p_ioc = p_ioc

    def signal(self, symbol: str, market: Market) -> float | None:
        view = market.views[symbol]
        past = view.mid_ago(self.lookback_s)
        return None if past is None else view.mid - past

    def decide(self, now: int, market: Market) -> list[Order]:
        rng = self.rng
        symbols = self.symbols
        symbol = symbols[0] if len(symbols) == 1 else symbols[rng.randrange(len(symbols))]
        signal = self.signal(symbol, market)
        if signal is None or self.open_orders:
            return []
        if signal > self.threshold:
            target = self.max_position
        elif signal < -self.threshold:
            target = -self.max_position
        else:
            target = 0
        delta = target - self.positions[symbol].inventory
        if delta == 0:
            return []
        side = BUY if delta > 0 else SELL
        size = min(abs(delta), self.size)
        view = market.views[symbol]
        touch = view.best_ask if side == BUY else view.best_bid
        if touch is not None and rng.random() < self.p_ioc:
            # Pay at most one tick through the touch.
            return [self.limit(view, side, size, touch + side, now, "IOC")]
        return [self.market(view, side, size, now)]
