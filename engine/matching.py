"""The matcher: one `process(order) -> events` entry point, pure and deterministic.

This is where an order becomes a trade (`Matcher._take`). No I/O, no clock, no
floats in matching: prices become integer ticks on the way in and decimals again only
in output messages. The full semantics are in docs/engine.md; in short:

- price-time priority; a fill executes at the resting order's price; a partially
  filled resting order keeps its place;
- `limit`: GTC rests its remainder; IOC expires it; FOK trades only if the whole
  quantity can fill right now, otherwise nothing trades and the order expires;
- `market`: takes liquidity at any price and never rests (remainder expires); with
  `time_in_force: "FOK"` it is all-or-nothing like a FOK limit;
- `post_only`: rejected if it would cross on arrival;
- `cancel` / `modify` name the resting order by `order_id` in the order's symbol;
- self-trade prevention cancels the resting order and lets the incoming one continue.

Events of one input, in this order (every message carries the input's `time` and the
symbol's next `sequence` number, counted over all four topics):

1. `accepted` (new order) or `modified` (modify) or `cancelled` (cancel), or a single
   `rejected` and nothing else;
2. per resting order met, in priority order: either a Trade followed, if that fill
   completed the maker, by the maker's `filled`; or the maker's `cancelled` by
   self-trade prevention;
3. the incoming order's `filled`, or `expired` (IOC/FOK/market remainder);
4. a Price (L1) if best prices or sizes changed;
5. a BookDepth (L2, top `depth` levels) if those levels changed.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import msgspec
from msgspec.structs import astuple
from mypy_extensions import mypyc_attr

from engine import events as ev
from engine.book import BookSide, OrderBook, RestingOrder
from engine.config import EngineConfig
from engine.events import Event, EventKind, Side
from engine.snapshot import BookState, MatcherState, book_from_state, book_state
from engine.validation import (
    MAX_ID_CHARS,
    MAX_LOTS,
    MAX_SYMBOL_CHARS,
    limit_ticks,
    signed_lots,
    valid_time,
)
from orderbook_platform.contracts import BookDepth, BookLevel, Order, OrderEvent, Price, Trade

# A market order crosses every level: any level key is >= this.
_MARKET_LIMIT_KEY: Final = -(2**63)
# Positions in `astuple(order)`: the Order Struct's fields in declaration order. The hot
# paths read an order's fields from that one tuple, built by a single C call; compiled,
# each `order.<field>` would be a generic attribute lookup.
_ID: Final = 0
_TYPE: Final = 1
_PRICE: Final = 2
_QUANTITY: Final = 3
_TIME: Final = 4
_SYMBOL: Final = 5
_TRADER: Final = 6
_TIF: Final = 7
_POST_ONLY: Final = 8
# Drop a level's queue entries in front of `head` once they are this many and the majority.
_DEAD_FRONT: Final = 32
SNAPSHOT_VERSION: Final = 1

# Final aliases: compiled, a Final name is a C static; a plain imported name is a dict
# lookup in the module's globals at every use.
_OrderEvent: Final = OrderEvent
_Trade: Final = Trade
_Price: Final = Price
_BookDepth: Final = BookDepth
_BookLevel: Final = BookLevel
_astuple: Final = astuple

_encode = msgspec.json.Encoder().encode
_decode_matcher = msgspec.json.Decoder(MatcherState).decode
_decode_book = msgspec.json.Decoder(BookState).decode


@mypyc_attr(acyclic=True)
class Matcher:
    """Order books for many symbols, fed one order at a time.

    `process()` never raises for a decoded `Order`; business outcomes are events.
    """

    __slots__ = (
        "_books",
        "_config",
        "_default_symbol",
        "_depth",
        "_last_book",
        "_last_symbol",
        "_stp",
        "rejected",
    )

    def __init__(self, config: EngineConfig | None = None) -> None:
        self._config = config = config or EngineConfig()
        self._default_symbol = config.default_symbol
        self._depth = config.depth
        self._stp = config.self_trade_prevention
        self._books: dict[str, OrderBook] = {}
        # The book of the previous input: consecutive orders mostly name the same
        # symbol, and a string comparison is cheaper than hashing a freshly decoded
        # string for the dict. Reset whenever a book is replaced or dropped.
        self._last_symbol = ""
        self._last_book: OrderBook | None = None
        # Rejects so far, for reporting (the replay's summary): counting them here
        # costs an add per reject instead of a look at every order event.
        self.rejected = 0

    @property
    def config(self) -> EngineConfig:
        return self._config

    # ------------------------------------------------------------------ entry point

    def process(self, order: Order) -> list[Event]:
        """Apply one order and return its events, in publication order."""
        fields: tuple[Any, ...] = _astuple(order)
        symbol: object = fields[_SYMBOL]
        if symbol is None:
            symbol = self._default_symbol
        book: OrderBook | None = None
        if isinstance(symbol, str):
            if symbol == self._last_symbol:
                book = self._last_book
            else:
                book = self._books.get(symbol)
                if book is not None:
                    self._last_symbol = symbol
                    self._last_book = book
        if book is None:
            book = self._open_book(symbol)
            if book is None:
                self.rejected += 1
                return [_reject_without_book(order, symbol)]
        # Every message this order causes carries its time: refuse one the outputs
        # cannot hold (0 .. validation.MAX_TIME) before anything else.
        if not valid_time(fields[_TIME]):
            return self._reject(book, order, ev.TIME_OUT_OF_RANGE)
        kind: object = fields[_TYPE]
        if isinstance(kind, str):  # then compiled comparisons are str ones
            if kind == "limit":
                return self._submit(book, order, fields, True)
            if kind == "market":
                return self._submit(book, order, fields, False)
            if kind == "cancel":
                return self._cancel(book, order, fields)
            if kind == "modify":
                return self._modify(book, order)
        return self._reject(book, order, ev.UNKNOWN_ORDER_TYPE)

    # ------------------------------------------------------------------ new orders

    def _submit(
        self, book: OrderBook, order: Order, fields: tuple[Any, ...], is_limit: bool
    ) -> list[Event]:
        raw_tif: object = fields[_TIF]
        tif: str
        if raw_tif is None:
            tif = "GTC"
        elif isinstance(raw_tif, str) and (
            raw_tif == "GTC" or raw_tif == "IOC" or raw_tif == "FOK"
        ):
            tif = raw_tif
        else:
            return self._reject(book, order, ev.UNKNOWN_TIME_IN_FORCE)
        raw_quantity: object = fields[_QUANTITY]
        quantity: int
        if type(raw_quantity) is int and raw_quantity:
            quantity = raw_quantity  # native, so the bound test below boxes nothing
            if quantity > MAX_LOTS or quantity < -MAX_LOTS:
                return self._reject(book, order, ev.QUANTITY_OUT_OF_RANGE)
        else:
            lots = signed_lots(raw_quantity)
            if isinstance(lots, str):
                return self._reject(book, order, lots)
            quantity = lots
        ticks = 0
        # Any: a float or None, passed through to the messages as the object it is.
        price_out: Any = None
        if is_limit:
            price: object = fields[_PRICE]
            tick = book.tick
            exact = tick.exact_ticks(price) if type(price) is float else 0
            if exact:
                ticks = exact
                price_out = price  # equal to tick.to_price(exact), so the same bytes out
            else:
                checked = limit_ticks(tick, price)
                if isinstance(checked, str):
                    return self._reject(book, order, checked)
                ticks = checked
                price_out = tick.to_price(ticks)
        post_only: bool = fields[_POST_ONLY]
        if post_only and not is_limit:
            return self._reject(book, order, ev.POST_ONLY_MARKET)
        raw_id: object = fields[_ID]
        if type(raw_id) is not str or not raw_id or len(raw_id) > MAX_ID_CHARS:
            return self._reject(book, order, ev.INVALID_ORDER_ID)
        order_id: str = raw_id
        trader_id: str | None = fields[_TRADER]
        if trader_id is not None and len(trader_id) > MAX_ID_CHARS:
            return self._reject(book, order, ev.INVALID_TRADER_ID)
        if book.is_duplicate(order_id):
            return self._reject(book, order, ev.DUPLICATE_ORDER_ID)
        side_name: Side
        if quantity > 0:
            is_buy = True
            opposite = book.asks
            side_name = "Buy"
        else:
            is_buy = False
            quantity = -quantity
            opposite = book.bids
            side_name = "Sell"
        limit_key = opposite.sign * ticks if is_limit else _MARKET_LIMIT_KEY
        opposite_keys = opposite.keys
        crosses = bool(opposite_keys) and opposite_keys[-1] >= limit_key
        if crosses and post_only:
            return self._reject(book, order, ev.POST_ONLY_WOULD_CROSS)

        book.accept_id(order_id)
        symbol = book.symbol
        # Any: passed through to the messages as is (compiled, an int would be unboxed
        # and then boxed again for every message).
        time: Any = fields[_TIME]
        book.sequence = sequence = book.sequence + 1
        events: list[Event] = [
            _OrderEvent(
                order_id,
                "accepted",
                None,
                symbol,
                trader_id,
                "limit" if is_limit else "market",
                side_name,
                price_out,
                quantity,
                0,
                quantity,
                time,
                sequence,
            )
        ]
        remaining = quantity
        taker_fills = 0
        if tif == "FOK" and not (
            crosses and self._can_fill(opposite, limit_key, quantity, trader_id)
        ):
            self._finish(
                book, events, fields, side_name, price_out, quantity, 0, quantity, ev.FILL_OR_KILL
            )
            return events
        if crosses:
            remaining, taker_fills = self._take(
                book, opposite, events, order_id, trader_id, is_buy, limit_key, remaining, 0, time
            )
        if remaining == 0:
            self._finish(book, events, fields, side_name, price_out, quantity, quantity, 0, None)
        elif not is_limit:
            self._finish(
                book, events, fields, side_name, price_out, quantity, quantity - remaining,
                remaining, ev.MARKET_REMAINDER,
            )  # fmt: skip
        elif tif != "GTC":
            self._finish(
                book, events, fields, side_name, price_out, quantity, quantity - remaining,
                remaining, ev.IMMEDIATE_OR_CANCEL,
            )  # fmt: skip
        else:
            book.rest(
                RestingOrder(
                    order_id,
                    trader_id,
                    is_buy,
                    ticks,
                    remaining,
                    quantity - remaining,
                    taker_fills,
                    post_only,
                )
            )
        if book.bids.dirty or book.asks.dirty:
            self._publish(book, events, time)
        return events

    def _finish(
        self,
        book: OrderBook,
        events: list[Event],
        fields: tuple[Any, ...],
        side_name: Side,
        price_out: float | None,
        quantity: int,
        filled: int,
        remaining: int,
        expire_reason: str | None,
    ) -> None:
        """The incoming order's terminal event: `filled`, or `expired` with a reason."""
        book.sequence = sequence = book.sequence + 1
        events.append(
            _OrderEvent(
                fields[_ID],
                "filled" if expire_reason is None else "expired",
                expire_reason,
                book.symbol,
                fields[_TRADER],
                fields[_TYPE],
                side_name,
                price_out,
                quantity,
                filled,
                remaining,
                fields[_TIME],
                sequence,
            )
        )

    def _can_fill(
        self, opposite: BookSide, limit_key: int, quantity: int, trader_id: str | None
    ) -> bool:
        """Whether `quantity` can fill now against `opposite` up to `limit_key` (for FOK).

        Orders that self-trade prevention would cancel do not count as liquidity.
        """
        if not self._stp or trader_id is None:
            return opposite.quantity_through(limit_key) >= quantity
        available = 0
        for key in reversed(opposite.keys):
            if key < limit_key:
                break
            for maker in opposite.levels[key].live_orders():
                if maker.trader_id != trader_id:
                    available += maker.remaining
                    if available >= quantity:
                        return True
        return False

    # ------------------------------------------------------------------ matching

    def _take(
        self,
        book: OrderBook,
        opposite: BookSide,
        events: list[Event],
        order_id: str,
        trader_id: str | None,
        is_buy: bool,
        limit_key: int,
        remaining: int,
        taker_fills: int,
        time: Any,
    ) -> tuple[int, int]:
        """Match an incoming order against `opposite` while it crosses.

        Returns the incoming order's remaining quantity and its fill count (trade ids
        are `<order_id>-<n>`, n counting the taker's fills from 1).
        """
        symbol = book.symbol
        action: Side = "Buy" if is_buy else "Sell"
        maker_side: Side = "Sell" if is_buy else "Buy"
        prevent_self_trade = self._stp and trader_id is not None
        keys = opposite.keys
        levels = opposite.levels
        resting = book.orders
        sequence = book.sequence
        while remaining and keys:
            key = keys[-1]
            if key < limit_key:
                break
            level = levels[key]
            queue = level.orders
            head = level.head
            price_out = level.price_out
            while remaining:
                maker = queue[head]
                if not maker.live:
                    head += 1
                    continue
                maker_remaining = maker.remaining
                if prevent_self_trade and maker.trader_id == trader_id:
                    head += 1
                    maker.live = False
                    del resting[maker.order_id]
                    level.quantity -= maker_remaining
                    level.count -= 1
                    sequence += 1
                    events.append(
                        _OrderEvent(
                            maker.order_id,
                            "cancelled",
                            ev.SELF_TRADE_PREVENTION,
                            symbol,
                            maker.trader_id,
                            "limit",
                            maker_side,
                            price_out,
                            maker.filled + maker_remaining,
                            maker.filled,
                            maker_remaining,
                            time,
                            sequence,
                        )
                    )
                    if not level.count:
                        break
                    continue
                fill = remaining if remaining < maker_remaining else maker_remaining
                remaining -= fill
                taker_fills += 1
                sequence += 1
                events.append(
                    _Trade(
                        maker.order_id,
                        order_id,
                        fill,
                        price_out,
                        action,
                        "partial" if remaining else "filled",
                        f"{order_id}-{taker_fills}",
                        symbol,
                        time,
                        sequence,
                        maker.trader_id,
                        trader_id,
                    )
                )
                maker.filled += fill
                level.quantity -= fill
                if fill != maker_remaining:
                    maker.remaining = maker_remaining - fill
                    continue
                maker.remaining = 0
                maker.live = False
                head += 1
                level.count -= 1
                del resting[maker.order_id]
                sequence += 1
                events.append(
                    _OrderEvent(
                        maker.order_id,
                        "filled",
                        None,
                        symbol,
                        maker.trader_id,
                        "limit",
                        maker_side,
                        price_out,
                        maker.filled,
                        maker.filled,
                        0,
                        time,
                        sequence,
                    )
                )
                if not level.count:
                    break
            if level.count:
                if head > _DEAD_FRONT and 2 * head > len(queue):
                    del queue[:head]
                    head = 0
                level.head = head
                opposite.top[0] = _BookLevel(price_out, level.quantity, level.count)
            else:
                opposite.remove_level(key)
        opposite.dirty = True  # it traded or cancelled at least one maker
        book.sequence = sequence
        return remaining, taker_fills

    # ------------------------------------------------------------------ cancel / modify

    def _find_resting(self, book: OrderBook, order: Order) -> RestingOrder | str:
        order_id: object = order.order_id
        resting = book.orders.get(order_id) if type(order_id) is str else None
        if resting is None:
            return ev.ORDER_NOT_RESTING if order_id in book.recent_set else ev.UNKNOWN_ORDER
        trader_id = order.trader_id
        if (
            trader_id is not None
            and resting.trader_id is not None
            and trader_id != resting.trader_id
        ):
            return ev.TRADER_MISMATCH
        return resting

    def _cancel(self, book: OrderBook, order: Order, fields: tuple[Any, ...]) -> list[Event]:
        order_id: object = fields[_ID]
        resting = book.orders.get(order_id) if type(order_id) is str else None
        if resting is None or fields[_TRADER] is not None:
            found = self._find_resting(book, order)
            if isinstance(found, str):
                return self._reject(book, order, found)
            resting = found
        price_out = book.remove(resting)
        symbol = book.symbol
        time: Any = fields[_TIME]
        book.sequence = sequence = book.sequence + 1
        events: list[Event] = [
            _OrderEvent(
                resting.order_id,
                "cancelled",
                ev.CANCEL_REQUEST,
                symbol,
                resting.trader_id,
                "limit",
                "Buy" if resting.is_buy else "Sell",
                price_out,
                resting.filled + resting.remaining,
                resting.filled,
                resting.remaining,
                time,
                sequence,
            )
        ]
        if book.bids.dirty or book.asks.dirty:
            self._publish(book, events, time)
        return events

    def _modify(self, book: OrderBook, order: Order) -> list[Event]:
        """Change a resting order's price and/or remaining quantity.

        Same price and a smaller quantity: reduced in place, keeps its queue position.
        Same price and a larger quantity: moves to the back of its level. A new price:
        leaves the book and re-enters like an incoming GTC limit at the new price with
        the new quantity, so it may trade at once (as taker; trade ids continue its fill
        count) before its remainder rests at the back of the new level. A post-only
        order whose new price would cross is rejected and stays as it was.
        """
        found = self._find_resting(book, order)
        if isinstance(found, str):
            return self._reject(book, order, found)
        resting = found
        price: object = order.price
        raw_quantity: object = order.quantity
        if price is None and raw_quantity is None:
            return self._reject(book, order, ev.NOTHING_TO_MODIFY)
        ticks = resting.price
        if price is not None:
            checked = limit_ticks(book.tick, price)
            if isinstance(checked, str):
                return self._reject(book, order, checked)
            ticks = checked
        remaining = resting.remaining
        if raw_quantity is not None:
            quantity = signed_lots(raw_quantity)
            if isinstance(quantity, str):
                return self._reject(book, order, quantity)
            if (quantity > 0) != resting.is_buy:
                return self._reject(book, order, ev.SIDE_CHANGE)
            remaining = abs(quantity)
        time: Any = order.time
        events: list[Event] = []

        if ticks == resting.price:
            if remaining < resting.remaining:
                side = book.side_of(resting)
                key = side.sign * ticks
                level = side.levels[key]
                level.quantity -= resting.remaining - remaining
                resting.remaining = remaining
                side.level_changed(key, level)
            elif remaining > resting.remaining:
                book.remove(resting)
                book.rest(_requeued(resting, ticks, remaining, resting.taker_fills))
            self._modified_event(book, events, resting, ticks, remaining, time)
        else:
            is_buy = resting.is_buy
            opposite = book.asks if is_buy else book.bids
            limit_key = opposite.sign * ticks
            crosses = bool(opposite.keys) and opposite.keys[-1] >= limit_key
            if crosses and resting.post_only:
                return self._reject(book, order, ev.POST_ONLY_WOULD_CROSS)
            book.remove(resting)
            self._modified_event(book, events, resting, ticks, remaining, time)
            open_quantity = remaining
            taker_fills = resting.taker_fills
            if crosses:
                remaining, taker_fills = self._take(
                    book,
                    opposite,
                    events,
                    resting.order_id,
                    resting.trader_id,
                    is_buy,
                    limit_key,
                    remaining,
                    taker_fills,
                    time,
                )
            moved = _requeued(resting, ticks, remaining, taker_fills)
            moved.filled += open_quantity - remaining
            if remaining:
                book.rest(moved)
            else:
                self._order_event(book, events, moved, "filled", None, time)
        if book.bids.dirty or book.asks.dirty:
            self._publish(book, events, time)
        return events

    def _modified_event(
        self,
        book: OrderBook,
        events: list[Event],
        resting: RestingOrder,
        ticks: int,
        remaining: int,
        time: Any,
    ) -> None:
        book.sequence = sequence = book.sequence + 1
        events.append(
            _OrderEvent(
                resting.order_id,
                "modified",
                None,
                book.symbol,
                resting.trader_id,
                "limit",
                "Buy" if resting.is_buy else "Sell",
                book.tick.to_price(ticks),
                resting.filled + remaining,
                resting.filled,
                remaining,
                time,
                sequence,
            )
        )

    def _order_event(
        self,
        book: OrderBook,
        events: list[Event],
        resting: RestingOrder,
        kind: EventKind,
        reason: str | None,
        time: Any,
    ) -> None:
        """An event about a (formerly) resting order, as it stands now."""
        book.sequence = sequence = book.sequence + 1
        events.append(
            _OrderEvent(
                resting.order_id,
                kind,
                reason,
                book.symbol,
                resting.trader_id,
                "limit",
                "Buy" if resting.is_buy else "Sell",
                book.tick.to_price(resting.price),
                resting.filled + resting.remaining,
                resting.filled,
                resting.remaining,
                time,
                sequence,
            )
        )

    # ------------------------------------------------------------------ rejects, L1, L2

    def _reject(self, book: OrderBook, order: Order, reason: str) -> list[Event]:
        """A `rejected` event: carries only what is known to be well-formed."""
        self.rejected += 1
        book.sequence = sequence = book.sequence + 1
        time: Any = order.time
        return [
            _OrderEvent(
                order.order_id,
                "rejected",
                reason,
                book.symbol,
                order.trader_id,
                order.order_type,
                time=time if valid_time(time) else None,
                sequence=sequence,
            )
        ]

    def _publish(self, book: OrderBook, events: list[Event], time: Any) -> None:
        """Emit L1 and L2 messages for what this input changed at the top of the book."""
        symbol = book.symbol
        bids, asks = book.bids, book.asks
        bid = bids.top[0] if bids.top else None
        ask = asks.top[0] if asks.top else None
        # Entries are replaced only on a change, so identity is the fast test and
        # equality the exact one (a level may be removed and re-added unchanged).
        if (bid is not book.last_bid or ask is not book.last_ask) and (
            bid != book.last_bid or ask != book.last_ask
        ):
            book.last_bid = bid
            book.last_ask = ask
            book.sequence = sequence = book.sequence + 1
            # The best levels themselves (native attributes) rather than their entries.
            best_bid = bids.levels[bids.keys[-1]] if bids.keys else None
            best_ask = asks.levels[asks.keys[-1]] if asks.keys else None
            events.append(
                _Price(
                    None
                    if best_bid is None or best_ask is None
                    else book.tick.mid_price(best_bid.price, best_ask.price),
                    None if best_bid is None else best_bid.price_out,
                    None if best_ask is None else best_ask.price_out,
                    None if best_bid is None else best_bid.quantity,
                    None if best_ask is None else best_ask.quantity,
                    symbol,
                    time,
                    sequence,
                )
            )
        if self._depth:
            # An unchanged side is the same list as in the previous L2 message.
            if bids.dirty:
                bids.published = list(bids.top)
            if asks.dirty:
                asks.published = list(asks.top)
            book.sequence = sequence = book.sequence + 1
            events.append(_BookDepth(symbol, bids.published, asks.published, time, sequence))
        bids.dirty = asks.dirty = False

    # ------------------------------------------------------------------ books and state

    def _open_book(self, symbol: object) -> OrderBook | None:
        config = self._config
        if (
            type(symbol) is str
            and symbol
            and len(symbol) <= MAX_SYMBOL_CHARS
            and config.allows(symbol)
        ):
            book = self._books[symbol] = OrderBook(
                symbol, config.tick_for(symbol), self._depth, config.duplicate_id_window
            )
            return book
        return None

    def _forget_last_book(self) -> None:
        self._last_symbol = ""
        self._last_book = None

    def book(self, symbol: str) -> OrderBook | None:
        """The live book of `symbol` (read-only use: tests, metrics), or None."""
        return self._books.get(symbol)

    def symbols(self) -> list[str]:
        """Symbols that have a book, sorted."""
        return sorted(self._books)

    def snapshot(self) -> bytes:
        """All books as canonical JSON: same state, same bytes (see engine.snapshot)."""
        state = MatcherState(
            SNAPSHOT_VERSION, [book_state(self._books[symbol]) for symbol in self.symbols()]
        )
        return _encode(state)

    def state_hash(self) -> str:
        """sha256 hex digest of `snapshot()`."""
        return hashlib.sha256(self.snapshot()).hexdigest()

    def snapshot_symbol(self, symbol: str) -> bytes:
        """One symbol's book as canonical JSON (a compacted-topic record). KeyError if absent."""
        return _encode(book_state(self._books[symbol]))

    def load_symbol(self, data: bytes) -> str:
        """Install one symbol's book from `snapshot_symbol()` bytes, replacing any; returns it."""
        book = book_from_state(_decode_book(data), self._config)
        self._books[book.symbol] = book
        self._forget_last_book()
        return book.symbol

    def evict_symbol(self, symbol: str) -> bytes | None:
        """Drop a symbol's book (e.g. its partition moved away); returns its snapshot."""
        if symbol not in self._books:
            return None
        data = self.snapshot_symbol(symbol)
        del self._books[symbol]
        self._forget_last_book()
        return data

    @classmethod
    def restore(cls, data: bytes, config: EngineConfig | None = None) -> Matcher:
        """A matcher whose books are those of `snapshot()` bytes, under `config`."""
        state = _decode_matcher(data)
        if state.version != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {state.version}")
        matcher = cls(config)
        for book in state.books:
            restored = book_from_state(book, matcher._config)
            matcher._books[restored.symbol] = restored
        return matcher


def _requeued(resting: RestingOrder, ticks: int, remaining: int, taker_fills: int) -> RestingOrder:
    """A fresh queue entry for a resting order that lost its priority."""
    return RestingOrder(
        resting.order_id,
        resting.trader_id,
        resting.is_buy,
        ticks,
        remaining,
        resting.filled,
        taker_fills,
        resting.post_only,
    )


def _reject_without_book(order: Order, symbol: object) -> Event:
    """A reject for a symbol that has no book; it carries no sequence number."""
    if type(symbol) is str and symbol and len(symbol) <= MAX_SYMBOL_CHARS:
        reason = ev.UNKNOWN_SYMBOL
        known: str | None = symbol
    else:
        reason = ev.INVALID_SYMBOL
        known = None
    return _OrderEvent(
        order.order_id,
        "rejected",
        reason,
        known,
        order.trader_id,
        order.order_type,
        time=order.time if valid_time(order.time) else None,
    )
