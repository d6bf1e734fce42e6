"""Canonical, deterministic serialization of order books.

A snapshot holds exactly what decides future output: every resting order in queue
order (bids then asks, best level first), the duplicate-id window (the last
`duplicate_id_window` accepted ids, oldest first: the order decides which id leaves
the window next), the sequence counter, and the tick size the ticks are counted in. The last published L1/L2 state is *not* stored: after every
`process()` it equals a function of the book, so restore recomputes it. Cancelled
entries still waiting in a queue (lazy deletion) are not state and are skipped, so a
restored matcher and an uninterrupted one produce the same bytes and the same hash.

Encoding is msgspec JSON: Struct fields in declaration order, arrays for the bulky
parts. Same state, same bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from engine.book import OrderBook, PriceLevel, RestingOrder

if TYPE_CHECKING:
    from engine.config import EngineConfig


class OrderState(msgspec.Struct, array_like=True):
    order_id: str
    trader_id: str | None
    remaining: int
    filled: int
    taker_fills: int
    post_only: bool


class LevelState(msgspec.Struct, array_like=True):
    price: int
    orders: list[OrderState]


class BookState(msgspec.Struct):
    symbol: str
    tick_size: str
    sequence: int
    bids: list[LevelState]
    asks: list[LevelState]
    # The duplicate-id window, oldest first. (Before the window existed this held every
    # id ever accepted, sorted; such a record still loads, the list read as oldest first.)
    seen_ids: list[str]


class MatcherState(msgspec.Struct):
    version: int
    books: list[BookState]


def _level_state(level: PriceLevel) -> LevelState:
    return LevelState(
        level.price,
        [
            OrderState(o.order_id, o.trader_id, o.remaining, o.filled, o.taker_fills, o.post_only)
            for o in level.live_orders()
        ],
    )


def book_state(book: OrderBook) -> BookState:
    return BookState(
        symbol=book.symbol,
        tick_size=book.tick.text,
        sequence=book.sequence,
        bids=[_level_state(level) for level in book.bids.best_first()],
        asks=[_level_state(level) for level in book.asks.best_first()],
        seen_ids=book.window_ids(),
    )


def book_from_state(state: BookState, config: EngineConfig) -> OrderBook:
    """Rebuild a book; ValueError if it does not fit `config` or is inconsistent."""
    symbol = state.symbol
    if not symbol or not config.allows(symbol):
        raise ValueError(f"snapshot symbol {symbol!r} is not allowed by the configuration")
    tick = config.tick_for(symbol)
    if tick.text != state.tick_size:
        raise ValueError(
            f"snapshot of {symbol!r} counts ticks of {state.tick_size}, "
            f"but the configuration says {tick.text}"
        )
    book = OrderBook(symbol, tick, config.depth, config.duplicate_id_window)
    book.sequence = state.sequence
    # A smaller configured window keeps the newest ids; a larger one starts part empty.
    book.load_window(state.seen_ids)
    if len(book.recent_set) != len(book.recent_ids):
        raise ValueError(f"snapshot of {symbol!r} repeats an id in its duplicate-id window")
    for is_buy, levels in ((True, state.bids), (False, state.asks)):
        for level in levels:
            for o in level.orders:
                if o.remaining <= 0 or not o.order_id:
                    raise ValueError(f"snapshot of {symbol!r} has an invalid order {o.order_id!r}")
                if o.order_id in book.orders:
                    raise ValueError(f"snapshot of {symbol!r} repeats order {o.order_id!r}")
                book.rest(
                    RestingOrder(
                        o.order_id,
                        o.trader_id,
                        is_buy,
                        level.price,
                        o.remaining,
                        o.filled,
                        o.taker_fills,
                        o.post_only,
                    )
                )
    bid, ask = book.best_bid(), book.best_ask()
    if bid is not None and ask is not None and bid >= ask:
        raise ValueError(f"snapshot of {symbol!r} is a crossed book ({bid} >= {ask})")
    # What was last published equals the book itself after any process() call.
    for side in (book.bids, book.asks):
        side.dirty = False
        side.published = list(side.top)
    book.last_bid = book.bids.top[0] if book.bids.top else None
    book.last_ask = book.asks.top[0] if book.asks.top else None
    return book
