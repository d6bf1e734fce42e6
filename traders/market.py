"""What traders know about the market: one shared view per symbol, fed by market data.

The pool and the simulation keep one `SymbolView` per symbol and update it from
`prices` (L1), `book` (L2) and `trades`; every trader reads the same object, which is
how one message reaches thousands of traders at the cost of one update. Prices are
integer ticks here; `price_of` turns ticks back into the exact decimal for an order.

The view also keeps what several strategies need and none should recompute:
a one-second grid of mids (momentum's look-back) and an EWMA of squared one-second mid
changes (market makers widen on it after a shock).
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

from engine.ticks import TickSize
from orderbook_platform.contracts import BookDepth, Price, Trade

if TYPE_CHECKING:
    from traders.news import FairValue

SECOND = 1_000_000_000
# Mid history kept for look-backs: ten minutes of one-second samples.
HISTORY_SECONDS = 600
# EWMA weight of a new one-second squared mid change (a ~30 s memory).
VOL_ALPHA = 1 / 30


class SymbolView:
    """Top of book, depth, last trade and short history of one symbol, in ticks."""

    __slots__ = (
        "_bucket",
        "_last_sample",
        "_var",
        "ask_size",
        "best_ask",
        "best_bid",
        "bid_size",
        "depth",
        "history",
        "last_mid",
        "last_spread",
        "last_trade",
        "reference",
        "symbol",
        "tick",
        "tick_size",
        "time",
        "traded_volume",
        "trades",
        "version",
    )  # fmt: skip

    def __init__(
        self, symbol: str, tick_size: str = "0.01", reference_price: float = 100.0
    ) -> None:
        self.symbol = symbol
        self.tick_size = TickSize(tick_size)
        self.tick = self.tick_size.tick
        # Where to anchor quotes while the book is empty (no trade, no quote yet).
        self.reference = round(reference_price / self.tick)
        self.best_bid: int | None = None
        self.best_ask: int | None = None
        self.bid_size = 0
        self.ask_size = 0
        # The latest L2 message, kept as received: converting it on every update would
        # cost more than all its readers together (`bids` / `asks` convert on demand).
        self.depth: BookDepth | None = None
        self.last_trade: int | None = None
        # The last two-sided quote seen (decimal mid, spread in ticks): what a summary
        # reports after the book has emptied (e.g. every order cancelled on shutdown).
        self.last_mid: float | None = None
        self.last_spread: int | None = None
        self.traded_volume = 0
        self.trades = 0
        self.time = 0
        self.version = 0  # bumps whenever best bid/ask price or size changes
        self.history: deque[float] = deque(maxlen=HISTORY_SECONDS)
        self._bucket = -1
        self._last_sample: float | None = None
        self._var = 0.0

    # ------------------------------------------------------------------ reading

    def price_of(self, ticks: int) -> float:
        return self.tick_size.to_price(ticks)

    def to_ticks(self, price: float) -> int:
        return round(price / self.tick)

    @property
    def mid(self) -> float:
        """Mid in ticks (may be a half tick); falls back to last trade, then the reference."""
        bid, ask = self.best_bid, self.best_ask
        if bid is not None and ask is not None:
            return (bid + ask) / 2
        if self.last_trade is not None:
            return float(self.last_trade)
        if bid is not None:
            return float(bid)
        if ask is not None:
            return float(ask)
        return float(self.reference)

    @property
    def spread(self) -> int | None:
        if self.best_bid is None or self.best_ask is None:
            return None
        return self.best_ask - self.best_bid

    @property
    def volatility(self) -> float:
        """Recent std of one-second mid changes, in ticks."""
        return math.sqrt(self._var)

    def mid_ago(self, seconds: int) -> float | None:
        """The mid `seconds` ago on the one-second grid, or None if not that old yet."""
        history = self.history
        if seconds >= len(history):
            return None
        return history[-1 - seconds]

    # ------------------------------------------------------------------ learning

    def on_price(self, price: Price) -> bool:
        """Apply an L1 update; returns whether the top of book changed."""
        tick = self.tick
        bid = None if price.best_bid is None else round(price.best_bid / tick)
        ask = None if price.best_ask is None else round(price.best_ask / tick)
        bid_size = price.bid_size or 0
        ask_size = price.ask_size or 0
        if price.time is not None:
            self.advance(price.time)
        changed = (
            bid != self.best_bid
            or ask != self.best_ask
            or bid_size != self.bid_size
            or ask_size != self.ask_size
        )
        if bid is not None and ask is not None:
            self.last_mid = price.mid_price
            self.last_spread = ask - bid
        if changed:
            self.best_bid, self.best_ask = bid, ask
            self.bid_size, self.ask_size = bid_size, ask_size
            self.version += 1
        return changed

    def on_book(self, book: BookDepth) -> None:
        self.depth = book

    @property
    def bids(self) -> list[tuple[int, int]]:
        """L2 bids as (ticks, lots), best first."""
        if self.depth is None:
            return []
        return [(round(level.price / self.tick), level.quantity) for level in self.depth.bids]

    @property
    def asks(self) -> list[tuple[int, int]]:
        if self.depth is None:
            return []
        return [(round(level.price / self.tick), level.quantity) for level in self.depth.asks]

    def on_trade(self, trade: Trade) -> None:
        self.last_trade = round(trade.price / self.tick)
        self.traded_volume += trade.quantity
        self.trades += 1
        if trade.time is not None:
            self.advance(trade.time)

    def advance(self, now: int) -> None:
        """Move the view's clock; fills the one-second mid grid up to `now`."""
        if now <= self.time:
            return
        self.time = now
        bucket = now // SECOND
        if bucket == self._bucket:
            return
        mid = self.mid
        previous = self._last_sample
        steps = bucket - self._bucket if self._bucket >= 0 else 1
        # Seconds without updates carry the mid forward (bounded by the deque).
        for _ in range(min(steps, HISTORY_SECONDS)):
            self.history.append(mid)
        if previous is not None:
            change = mid - previous
            self._var += VOL_ALPHA * (change * change - self._var)
        self._last_sample = mid
        self._bucket = bucket


class Market:
    """Every symbol's view plus, for fundamental traders, each symbol's fair value.

    The fair value is exogenous news: the simulation and the pool advance it on their
    clock before any trader looks at it.
    """

    __slots__ = ("fair_values", "symbols", "views")

    def __init__(self, views: dict[str, SymbolView], fair_values: dict[str, FairValue]) -> None:
        self.views = views
        self.fair_values = fair_values
        self.symbols = list(views)

    def view(self, symbol: str) -> SymbolView:
        return self.views[symbol]

    def activity(self, symbol: str) -> float:
        """How much faster than usual news-driven traders act now (1.0 when calm)."""
        fair_value = self.fair_values.get(symbol)
        return 1.0 if fair_value is None else fair_value.activity
