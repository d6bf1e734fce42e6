"""One symbol's order book: price levels, FIFO queues, the best price per side.

Layout, chosen for a flat hot path in CPython:

- A `BookSide` keeps a dict `level key -> PriceLevel` and a sorted list of the keys.
  The key is the price in ticks times the side's sign (+1 for bids, -1 for asks), so on
  both sides the best level is `keys[-1]`: taking or removing it is O(1), and "does
  an incoming order cross this level" is one comparison, `key >= limit_key`.
  Inserting a new level is a `bisect.insort` (a C memmove, cheap for realistic books).
- A `PriceLevel` is a FIFO queue of `RestingOrder`s — a list and the index `head` of
  its front — plus its live quantity and order count. A cancel marks the order dead in
  O(1) instead of searching the queue; the matcher steps `head` over dead and filled
  orders, and the list is compacted when dead entries outnumber live ones. (A list and
  an index rather than a deque: compiled, list indexing and append are inlined C, a
  deque's methods are calls through Python's method lookup.) A level with no live
  order is removed at once, so every level in `keys` has a positive quantity.
- `orders` maps each resting order id to its `RestingOrder`; `recent_ids` holds the last
  `id_window` ids accepted in this symbol as a ring buffer (`recent_set`: the same ids,
  for lookup). A new order is a duplicate if its id rests or is in that window.

- Each side keeps `top`, the `BookLevel`s of its best levels, updated in place as
  those levels change, so publishing L1/L2 costs no walk over the book.

Quantities and prices are ints only; `PriceLevel.price_out` caches the decimal price
for output messages.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from typing import Any, Final

from mypy_extensions import mypyc_attr

from engine.ticks import TickSize
from orderbook_platform.contracts import BookLevel

# Compiled, a Final name is a C static instead of a lookup in the module's globals.
_BookLevel: Final = BookLevel

BID_SIGN: Final = 1
ASK_SIGN: Final = -1
# How many accepted ids per symbol the duplicate check remembers (EngineConfig.id_window).
DEFAULT_ID_WINDOW: Final = 200_000

# Compaction threshold: rebuild a level's queue when dead entries exceed live ones by this.
_DEAD_SLACK: Final = 16


@mypyc_attr(acyclic=True)
class RestingOrder:
    """An order on the book. `remaining` is open lots; `filled` is lots executed so far.

    `taker_fills` counts the fills it took as an incoming order, so trade ids continue
    (`<id>-<n>`) if a modify later makes it cross again. `live` turns False when it
    leaves the book (lazy deletion from its level's queue).

    A plain class with typed attributes: compiled (see engine/native.py) it is a C
    struct whose fields the matcher reads without a dictionary lookup.
    """

    __slots__ = (
        "filled",
        "is_buy",
        "live",
        "order_id",
        "post_only",
        "price",
        "remaining",
        "taker_fills",
        "trader_id",
    )

    def __init__(
        self,
        order_id: str,
        trader_id: str | None,
        is_buy: bool,
        price: int,
        remaining: int,
        filled: int,
        taker_fills: int,
        post_only: bool,
    ) -> None:
        self.order_id = order_id
        self.trader_id = trader_id
        self.is_buy = is_buy
        self.price = price
        self.remaining = remaining
        self.filled = filled
        self.taker_fills = taker_fills
        self.post_only = post_only
        self.live = True

    def __repr__(self) -> str:
        return (
            f"RestingOrder({self.order_id!r}, {self.trader_id!r}, is_buy={self.is_buy}, "
            f"price={self.price}, remaining={self.remaining}, filled={self.filled}, "
            f"taker_fills={self.taker_fills}, post_only={self.post_only}, live={self.live})"
        )


@mypyc_attr(acyclic=True)
class PriceLevel:
    """All resting orders at one price on one side, oldest first.

    The queue is `orders[head:]`: entries before `head` have left (filled or cancelled at
    the front), entries after it may have left too (`live` False, lazy deletion).
    `quantity` and `count` cover live orders only. `price_out` is the decimal price for
    output messages, computed once per level; typed Any so that compiled code passes the
    float object through instead of unboxing and boxing it again for every message.
    """

    __slots__ = ("count", "head", "orders", "price", "price_out", "quantity")

    def __init__(
        self, price: int, price_out: Any, orders: list[RestingOrder], quantity: int, count: int
    ) -> None:
        self.price = price
        self.price_out = price_out
        self.orders = orders
        self.head = 0
        self.quantity = quantity
        self.count = count

    def entry(self) -> BookLevel:
        return _BookLevel(self.price_out, self.quantity, self.count)

    def live_orders(self) -> list[RestingOrder]:
        return [order for order in self.orders[self.head :] if order.live]

    def compact(self) -> None:
        self.orders = self.live_orders()
        self.head = 0


@mypyc_attr(acyclic=True)
class BookSide:
    """One side of the book, plus its top `watch` levels kept ready for L1/L2 messages.

    `top` is the list of `BookLevel`s of the best `watch` levels, best first, updated
    in place whenever one of those levels changes (O(watch) C-level list work, no
    Python loop over the depth). `dirty` is set by every such change; the matcher
    publishes and clears it at the end of each input, so "dirty" means exactly "the
    top `watch` levels changed during this input". `published` is the copy of `top`
    in the last L2 message: a side that did not change is published again as that very
    list, instead of a fresh copy of the same entries.
    """

    __slots__ = ("dirty", "keys", "levels", "published", "sign", "top", "watch")

    def __init__(self, sign: int, watch: int) -> None:
        self.sign = sign
        self.watch = watch
        self.levels: dict[int, PriceLevel] = {}
        self.keys: list[int] = []
        self.top: list[BookLevel] = []
        self.published: list[BookLevel] = []
        self.dirty = False

    def _rank(self, key: int) -> int:
        """0 for the best level, 1 for the next, ..., or `watch` for any level below
        the watched ones (`key` must be present).

        A scan down from the best key, at most `watch` steps: compiled, that is a few
        native integer comparisons, cheaper than a bisection of boxed ints.
        """
        keys = self.keys
        last = len(keys) - 1
        watch = self.watch
        if last >= watch and key < keys[last - watch + 1]:
            return watch  # below the lowest watched key
        stop = min(watch, last + 1)
        rank = 0
        while rank < stop:
            if keys[last - rank] == key:
                return rank
            rank += 1
        return watch

    def level_changed(self, key: int, level: PriceLevel) -> None:
        """Record that the quantity or count of the (still present) level at `key` changed."""
        if key == self.keys[-1]:
            rank = 0
        else:
            rank = self._rank(key)
            if rank >= self.watch:
                return
        self.top[rank] = _BookLevel(level.price_out, level.quantity, level.count)
        self.dirty = True

    def add_level(self, key: int, level: PriceLevel) -> None:
        self.levels[key] = level
        keys = self.keys
        if not keys or key > keys[-1]:
            keys.append(key)
            rank = 0
        else:
            insort(keys, key)
            rank = self._rank(key)
            if rank >= self.watch:
                return
        top = self.top
        top.insert(rank, _BookLevel(level.price_out, level.quantity, level.count))
        if len(top) > self.watch:
            top.pop()
        self.dirty = True

    def remove_level(self, key: int) -> None:
        keys = self.keys
        rank = 0 if key == keys[-1] else self._rank(key)
        del self.levels[key]
        if rank == 0:
            keys.pop()
        elif rank < self.watch:
            del keys[len(keys) - 1 - rank]
        else:
            del keys[bisect_left(keys, key)]
        if rank < self.watch:
            top = self.top
            del top[rank]
            if len(keys) >= self.watch:
                # The level that moved up into the watched window.
                top.append(self.levels[keys[-self.watch]].entry())
            self.dirty = True

    def best_first(self) -> list[PriceLevel]:
        levels = self.levels
        return [levels[key] for key in reversed(self.keys)]

    def quantity_through(self, limit_key: int) -> int:
        """Total live quantity on levels that an order with `limit_key` would cross."""
        total = 0
        for key in reversed(self.keys):
            if key < limit_key:
                break
            total += self.levels[key].quantity
        return total


@mypyc_attr(acyclic=True)
class OrderBook:
    """All state of one symbol. `sequence` numbers this symbol's output messages.

    `last_bid` / `last_ask` are the best levels as last published on `prices`.
    """

    __slots__ = (
        "asks",
        "bids",
        "id_window",
        "last_ask",
        "last_bid",
        "orders",
        "recent_ids",
        "recent_next",
        "recent_set",
        "sequence",
        "symbol",
        "tick",
    )

    def __init__(
        self, symbol: str, tick: TickSize, depth: int, id_window: int = DEFAULT_ID_WINDOW
    ) -> None:
        self.symbol = symbol
        self.tick = tick
        # L1 needs the best level even when L2 is off (depth 0).
        watch = max(depth, 1)
        self.bids = BookSide(BID_SIGN, watch)
        self.asks = BookSide(ASK_SIGN, watch)
        self.orders: dict[str, RestingOrder] = {}
        # The duplicate-id window: the last `id_window` accepted ids in a ring buffer
        # (appended to until full; then `recent_next` is the oldest, overwritten next),
        # plus a set for lookups. Not an insertion-ordered dict: deleting a dict's first
        # key over and over leaves dummies that make each `next(iter(d))` slower.
        self.id_window = id_window
        self.recent_ids: list[str] = []
        self.recent_next = 0
        self.recent_set: set[str] = set()
        self.sequence = 0
        self.last_bid: BookLevel | None = None
        self.last_ask: BookLevel | None = None

    def is_duplicate(self, order_id: str) -> bool:
        """A new order may not use an id that rests, or one accepted within the window."""
        return order_id in self.recent_set or order_id in self.orders

    def accept_id(self, order_id: str) -> None:
        """Record an accepted id; the oldest falls out once the window is full."""
        ring = self.recent_ids
        if len(ring) < self.id_window:
            ring.append(order_id)
        elif self.id_window:
            oldest = self.recent_next
            self.recent_set.discard(ring[oldest])
            ring[oldest] = order_id
            self.recent_next = oldest + 1 if oldest + 1 < self.id_window else 0
        else:
            return
        self.recent_set.add(order_id)

    def window_ids(self) -> list[str]:
        """The duplicate-id window, oldest first."""
        ring, oldest = self.recent_ids, self.recent_next
        return ring[oldest:] + ring[:oldest]

    def load_window(self, ids: list[str]) -> None:
        """Install a window (oldest first); keeps the newest `id_window` of them."""
        kept = ids[max(0, len(ids) - self.id_window) :] if self.id_window else []
        self.recent_ids = list(kept)
        self.recent_next = 0
        self.recent_set = set(kept)

    def side_of(self, order: RestingOrder) -> BookSide:
        return self.bids if order.is_buy else self.asks

    def best_bid(self) -> int | None:
        keys = self.bids.keys
        return keys[-1] if keys else None

    def best_ask(self) -> int | None:
        keys = self.asks.keys
        return -keys[-1] if keys else None

    def rest(self, order: RestingOrder) -> None:
        """Append `order` at the back of its price level's queue."""
        side = self.bids if order.is_buy else self.asks
        key = side.sign * order.price
        level = side.levels.get(key)
        if level is None:
            level = PriceLevel(
                order.price, self.tick.to_price(order.price), [order], order.remaining, 1
            )
            side.add_level(key, level)
        else:
            level.orders.append(order)
            level.quantity += order.remaining
            level.count += 1
            side.level_changed(key, level)
        self.orders[order.order_id] = order

    def remove(self, order: RestingOrder) -> Any:
        """Take a resting order off the book (cancel, or a modify that moves it).

        Returns the decimal price of the level it left, for the output message.
        """
        side = self.bids if order.is_buy else self.asks
        key = side.sign * order.price
        level = side.levels[key]
        order.live = False
        level.quantity -= order.remaining
        level.count -= 1
        del self.orders[order.order_id]
        if level.count == 0:
            side.remove_level(key)
            return level.price_out
        side.level_changed(key, level)
        if len(level.orders) - level.head > 2 * level.count + _DEAD_SLACK:
            level.compact()
        return level.price_out

    def resting_orders(self) -> Iterator[RestingOrder]:
        """Every resting order: bids best first, then asks best first, each in queue order."""
        for side in (self.bids, self.asks):
            for level in side.best_first():
                yield from level.live_orders()
