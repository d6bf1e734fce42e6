"""A trader's state and accounting, shared by every strategy. Pure: no I/O, no clock.

Accounting is exact: prices are integer ticks and cash is kept per symbol in
`ticks x lots`, so inventory and cash reconcile to the lot and the tick with the fills
read from `trades`. Realised PnL uses FIFO lots (also exact integers); at any mark

    realised + unrealised(mark) == cash + inventory * mark        (all in ticks x lots)

Fills are learned only from `trades` and the order life cycle only from
`order_events`. The two topics are not ordered relative to each other, so accounting
never depends on the life cycle (a `filled` event may arrive before its last trade).

Order ids are `<trader_id>:<n>` with a per-trader counter: deterministic, unique per
trader, and free of uuid4. The edge makes trader ids unique per run.
"""

from __future__ import annotations

import random
from collections import deque
from typing import TYPE_CHECKING, ClassVar

from orderbook_platform.contracts import Order, OrderEvent, Trade

if TYPE_CHECKING:
    from traders.market import Market, SymbolView

BUY = 1
SELL = -1

# Order life-cycle states as this trader knows them.
PENDING = 0  # sent, no `accepted` seen yet
LIVE = 1  # accepted (may be resting)

# A decision never emits more orders than this, so a rate limiter that holds this many
# tokens before asking for a decision can never be overdrawn.
MAX_ORDERS_PER_DECISION = 4

_TERMINAL_EVENTS = frozenset(("cancelled", "expired", "filled"))
# Reject reasons (engine.events) that mean the named order no longer rests.
_GONE = frozenset(("unknown_order", "order_not_resting"))


class OpenOrder:
    """An order this trader believes may still trade."""

    __slots__ = (
        "cancel_sent", "modify_sent", "order_id", "price", "remaining", "rests", "sent_at", "side",
        "state", "symbol", "tif",
    )  # fmt: skip

    def __init__(
        self, order_id: str, symbol: str, side: int, price: int | None, remaining: int,
        tif: str, sent_at: int,
    ) -> None:  # fmt: skip
        self.order_id = order_id
        self.symbol = symbol
        self.side = side
        self.price = price  # ticks; None for market orders
        self.remaining = remaining
        self.tif = tif
        self.sent_at = sent_at
        self.state = PENDING
        self.cancel_sent = False
        self.modify_sent = False
        # Whether it can rest on the book (a GTC limit); a plain attribute, read often.
        self.rests = tif == "GTC" and price is not None

    @property
    def busy(self) -> bool:
        """A cancel or modify is in flight: decide nothing about it until it resolves."""
        return self.cancel_sent or self.modify_sent


class Position:
    """One symbol's inventory, cash and FIFO lots, in lots and ticks."""

    __slots__ = ("bought", "cash", "inventory", "lots", "realised", "sold")

    def __init__(self) -> None:
        self.inventory = 0
        self.cash = 0  # ticks x lots; buying lowers it
        self.realised = 0  # ticks x lots
        self.bought = 0  # lots
        self.sold = 0  # lots
        # Open lots, oldest first: [signed quantity, price in ticks]; all share one sign.
        self.lots: deque[list[int]] = deque()

    def apply(self, side: int, quantity: int, price: int) -> None:
        """Book one fill of `quantity` lots at `price` ticks on `side` (BUY or SELL)."""
        self.cash -= side * quantity * price
        self.inventory += side * quantity
        if side == BUY:
            self.bought += quantity
        else:
            self.sold += quantity
        lots = self.lots
        remaining = quantity
        # Close opposite lots first (FIFO), then open a lot with what is left.
        while remaining and lots and (lots[0][0] > 0) != (side > 0):
            lot = lots[0]
            closed = min(remaining, abs(lot[0]))
            # A long lot sold at `price`, or a short lot bought back at `price`.
            self.realised += closed * (price - lot[1]) * (1 if lot[0] > 0 else -1)
            lot[0] += closed if lot[0] < 0 else -closed
            remaining -= closed
            if lot[0] == 0:
                lots.popleft()
        if remaining:
            if lots and lots[-1][1] == price:
                lots[-1][0] += side * remaining
            else:
                lots.append([side * remaining, price])

    def unrealised(self, mark: int) -> int:
        return sum(quantity * (mark - price) for quantity, price in self.lots)


class Trader:
    """Base class: state, accounting, order construction. Strategies override `decide`.

    `rate` is the mean number of decisions per second; the pool or the simulation
    wakes the trader at Poisson times with that rate (times the market's activity).
    A strategy with `wants_quotes` is also told when the top of book of one of its
    symbols changes (`on_quote`), which is how market makers re-quote.
    """

    kind: ClassVar[str] = "base"
    wants_quotes: ClassVar[bool] = False
    # Whether news intensity speeds this trader up (see traders.news.FairValue.activity).
    follows_news: ClassVar[bool] = False
    # Probability of an extra wake-up shortly after a news jump on one of its symbols.
    attention: float = 0.0

    def __init__(
        self,
        trader_id: str,
        symbols: list[str],
        seed: int | str,
        *,
        rate: float = 0.1,
        max_position: int = 100,
        max_open_orders: int = 8,
    ) -> None:
        if not symbols:
            raise ValueError("a trader needs at least one symbol")
        self.trader_id = trader_id
        self.symbols = symbols
        # String seeding is stable across processes (it does not use hash()).
        self.rng = random.Random(f"{seed}/{trader_id}")
        self.rate = rate
        self.max_position = max_position
        self.max_open_orders = max_open_orders
        self.open_orders: dict[str, OpenOrder] = {}
        self.positions: dict[str, Position] = {symbol: Position() for symbol in symbols}
        self.orders_sent = 0
        self.fills = 0
        self.rejects = 0
        self._counter = 0

    # ------------------------------------------------------------------ decisions

    def decide(self, now: int, market: Market) -> list[Order]:
        """Called at each wake-up; returns at most MAX_ORDERS_PER_DECISION orders."""
        raise NotImplementedError

    def on_quote(self, now: int, view: SymbolView, market: Market) -> list[Order]:
        """Called when the top of book of `view.symbol` changes (if `wants_quotes`)."""
        return []

    def quote_ready_at(self, symbol: str) -> int:
        """Earliest time `on_quote` may act again; callers wait until then to call it."""
        return 0

    # ------------------------------------------------------------------ learning

    def on_trade(self, trade: Trade, tick: float) -> None:
        """Book a fill from `trades` if this trader is its maker or its taker."""
        me = self.trader_id
        if trade.taker_trader_id == me:
            side = BUY if trade.action == "Buy" else SELL
            order_id = trade.right_order_id
        elif trade.maker_trader_id == me:
            side = SELL if trade.action == "Buy" else BUY
            order_id = trade.left_order_id
        else:
            return
        symbol = trade.symbol
        position = self.positions.get(symbol)
        if position is None:
            position = self.positions[symbol] = Position()
        price = round(trade.price / tick)
        position.apply(side, trade.quantity, price)
        self.fills += 1
        order = self.open_orders.get(order_id)
        if order is not None:
            order.remaining -= trade.quantity
            if order.remaining <= 0:
                del self.open_orders[order_id]

    def on_order_event(self, event: OrderEvent, tick: float) -> None:
        order = self.open_orders.get(event.order_id)
        if order is None:
            return
        kind = event.event
        if kind == "rejected":
            self.rejects += 1
            # A rejected modify of an order that still rests leaves the order as it was.
            if event.order_type == "modify" and event.reason not in _GONE:
                order.modify_sent = False
                return
            del self.open_orders[event.order_id]
        elif kind in _TERMINAL_EVENTS:
            del self.open_orders[event.order_id]
        elif kind == "accepted":
            order.state = LIVE
            if event.remaining is not None:
                order.remaining = event.remaining
        elif kind == "modified":
            order.state = LIVE
            order.modify_sent = False
            if event.price is not None:
                order.price = round(event.price / tick)
            if event.remaining is not None:
                order.remaining = event.remaining

    def forget_stale(self, now: int, older_than_ns: int) -> int:
        """Drop orders never acknowledged after `older_than_ns` (live mode, engine down).

        A forgotten order that does trade later is still booked: fills come from trades.
        """
        stale = [
            order_id
            for order_id, order in self.open_orders.items()
            if order.state == PENDING and now - order.sent_at > older_than_ns
        ]
        for order_id in stale:
            del self.open_orders[order_id]
        return len(stale)

    # ------------------------------------------------------------------ state

    def position(self, symbol: str) -> Position:
        return self.positions[symbol]

    def inventory(self, symbol: str) -> int:
        return self.positions[symbol].inventory

    def exposure(self, symbol: str, side: int) -> int:
        """Inventory plus every open order on `side` filling completely."""
        total = self.positions[symbol].inventory
        for order in self.open_orders.values():
            if order.symbol == symbol and order.side == side:
                total += side * order.remaining
        return total

    def resting(self, symbol: str) -> list[OpenOrder]:
        return [
            order
            for order in self.open_orders.values()
            if order.symbol == symbol and order.rests and not order.cancel_sent
        ]

    def idle_resting(self, symbol: str) -> list[OpenOrder]:
        """Resting orders with no cancel or modify in flight: free to act on."""
        if not self.open_orders:
            return []
        # `busy`, inlined: this runs on most decisions.
        return [
            order
            for order in self.open_orders.values()
            if order.rests
            and order.symbol == symbol
            and not order.cancel_sent
            and not order.modify_sent
        ]

    def pnl(self, marks: dict[str, int], ticks: dict[str, float]) -> tuple[float, float]:
        """(realised, unrealised) PnL in currency at `marks` (ticks per symbol)."""
        realised = unrealised = 0.0
        for symbol, position in self.positions.items():
            tick = ticks[symbol]
            realised += position.realised * tick
            mark = marks.get(symbol)
            if mark is not None:
                unrealised += position.unrealised(mark) * tick
        return realised, unrealised

    # ------------------------------------------------------------------ orders

    def _next_id(self) -> str:
        self._counter += 1
        return f"{self.trader_id}:{self._counter}"

    def limit(
        self, view: SymbolView, side: int, quantity: int, price: int, now: int,
        tif: str = "GTC", post_only: bool = False,
    ) -> Order:  # fmt: skip
        # _next_id, inlined: this runs for most orders.
        self._counter = counter = self._counter + 1
        order_id = f"{self.trader_id}:{counter}"
        symbol = view.symbol
        self.open_orders[order_id] = OpenOrder(order_id, symbol, side, price, quantity, tif, now)
        self.orders_sent += 1
        return Order(
            order_id, "limit", view.tick_size.to_price(price), side * quantity, now, symbol,
            self.trader_id, None if tif == "GTC" else tif, post_only,
        )  # fmt: skip

    def market(self, view: SymbolView, side: int, quantity: int, now: int) -> Order:
        order_id = self._next_id()
        self.open_orders[order_id] = OpenOrder(
            order_id, view.symbol, side, None, quantity, "IOC", now
        )
        self.orders_sent += 1
        return Order(order_id, "market", None, side * quantity, now, view.symbol, self.trader_id)

    def cancel(self, order: OpenOrder, now: int) -> Order:
        order.cancel_sent = True
        self.orders_sent += 1
        return Order(order.order_id, "cancel", None, None, now, order.symbol, self.trader_id)

    def modify(
        self, view: SymbolView, order: OpenOrder, now: int, price: int | None = None,
        quantity: int | None = None,
    ) -> Order:  # fmt: skip
        """Move and/or resize a resting order; our view of it updates on `modified`."""
        order.modify_sent = True
        self.orders_sent += 1
        return Order(
            order.order_id, "modify", None if price is None else view.tick_size.to_price(price),
            None if quantity is None else order.side * quantity, now, order.symbol,
            self.trader_id,
        )  # fmt: skip

    def cancel_all(self, now: int) -> list[Order]:
        """Cancels for every resting order not already being cancelled (shutdown)."""
        return [
            self.cancel(order, now)
            for order in list(self.open_orders.values())
            if order.rests and not order.cancel_sent
        ]
