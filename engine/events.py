"""What the matcher emits: topics, events, and every reason code in one place.

An event is the contract message itself: a Trade, Price, BookDepth or OrderEvent.

- its topic follows from its type: `topic_of(event)` (TRADES, PRICES, BOOK,
  ORDER_EVENTS, the Kafka topic names);
- its key is its symbol: `key_of(event)` (the Kafka service encodes it to UTF-8
  bytes); a reject of an order whose symbol is missing or not a string has no symbol,
  and its key is "".

Bare messages rather than `(topic, key, message)` tuples because one event is built for
every output message: a tuple around each cost ~6% of the core's instructions (the
tuple, its freeing, and its tracking by the garbage collector). Messages are shared,
read-only values: do not mutate them.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypeAlias

from orderbook_platform.contracts import BookDepth, OrderEvent, Price, Trade

TRADES: Final = "trades"
PRICES: Final = "prices"
BOOK: Final = "book"
ORDER_EVENTS: Final = "order_events"
TOPICS: Final = (TRADES, PRICES, BOOK, ORDER_EVENTS)

Message: TypeAlias = Trade | Price | BookDepth | OrderEvent
Event: TypeAlias = Message
Side: TypeAlias = Literal["Buy", "Sell"]
EventKind: TypeAlias = Literal["accepted", "rejected", "cancelled", "expired", "filled", "modified"]

# --- `rejected` reasons: the input failed validation; nothing traded, the book is unchanged.
UNKNOWN_SYMBOL: Final = "unknown_symbol"  # a symbol allow-list is configured and does not name it
INVALID_SYMBOL: Final = "invalid_symbol"  # empty, not a string, or over MAX_SYMBOL_CHARS
TIME_OUT_OF_RANGE: Final = "time_out_of_range"  # negative, or past validation.MAX_TIME
INVALID_ORDER_ID: Final = "invalid_order_id"  # empty, not a string, or over MAX_ID_CHARS
INVALID_TRADER_ID: Final = "invalid_trader_id"  # a new order's trader_id over MAX_ID_CHARS
UNKNOWN_ORDER_TYPE: Final = "unknown_order_type"
UNKNOWN_TIME_IN_FORCE: Final = "unknown_time_in_force"
MISSING_QUANTITY: Final = "missing_quantity"
ZERO_QUANTITY: Final = "zero_quantity"
INVALID_QUANTITY: Final = "invalid_quantity"  # NaN, infinite, fractional, or not a number
QUANTITY_OUT_OF_RANGE: Final = "quantity_out_of_range"  # more than validation.MAX_LOTS lots
MISSING_PRICE: Final = (
    "missing_price"  # a limit order (or nothing at all on a modify) without price
)
INVALID_PRICE: Final = "invalid_price"  # NaN, infinite, or not a number
NON_POSITIVE_PRICE: Final = "non_positive_price"
OFF_TICK_PRICE: Final = "off_tick_price"
PRICE_OUT_OF_RANGE: Final = "price_out_of_range"  # beyond ticks.MAX_PRICE_TICKS
DUPLICATE_ORDER_ID: Final = "duplicate_order_id"  # the id was accepted before in this symbol
POST_ONLY_WOULD_CROSS: Final = "post_only_would_cross"
POST_ONLY_MARKET: Final = "post_only_market"  # post_only makes no sense on a market order
UNKNOWN_ORDER: Final = "unknown_order"  # cancel/modify of an id never accepted in this symbol
ORDER_NOT_RESTING: Final = "order_not_resting"  # cancel/modify of an id already filled/cancelled
TRADER_MISMATCH: Final = "trader_mismatch"  # cancel/modify by a different trader_id
SIDE_CHANGE: Final = "side_change"  # modify quantity signed unlike the resting order
NOTHING_TO_MODIFY: Final = "nothing_to_modify"  # modify without price and without quantity

REJECT_REASONS: Final = (
    UNKNOWN_SYMBOL,
    INVALID_SYMBOL,
    TIME_OUT_OF_RANGE,
    INVALID_ORDER_ID,
    INVALID_TRADER_ID,
    UNKNOWN_ORDER_TYPE,
    UNKNOWN_TIME_IN_FORCE,
    MISSING_QUANTITY,
    ZERO_QUANTITY,
    INVALID_QUANTITY,
    QUANTITY_OUT_OF_RANGE,
    MISSING_PRICE,
    INVALID_PRICE,
    NON_POSITIVE_PRICE,
    OFF_TICK_PRICE,
    PRICE_OUT_OF_RANGE,
    DUPLICATE_ORDER_ID,
    POST_ONLY_WOULD_CROSS,
    POST_ONLY_MARKET,
    UNKNOWN_ORDER,
    ORDER_NOT_RESTING,
    TRADER_MISMATCH,
    SIDE_CHANGE,
    NOTHING_TO_MODIFY,
)

# --- `cancelled` reasons: a resting order left the book without trading.
CANCEL_REQUEST: Final = "cancel_request"
SELF_TRADE_PREVENTION: Final = "self_trade_prevention"

CANCEL_REASONS: Final = (CANCEL_REQUEST, SELF_TRADE_PREVENTION)

# --- `expired` reasons: the unfilled remainder of an order that may not rest.
IMMEDIATE_OR_CANCEL: Final = "immediate_or_cancel"
FILL_OR_KILL: Final = "fill_or_kill"  # not enough liquidity: nothing traded at all
MARKET_REMAINDER: Final = "market_remainder"

EXPIRE_REASONS: Final = (IMMEDIATE_OR_CANCEL, FILL_OR_KILL, MARKET_REMAINDER)

ALL_REASONS: Final = REJECT_REASONS + CANCEL_REASONS + EXPIRE_REASONS


# --- topics and keys of events
TOPIC_OF: Final[dict[type, str]] = {
    Trade: TRADES,
    Price: PRICES,
    BookDepth: BOOK,
    OrderEvent: ORDER_EVENTS,
}
_Trade: Final = Trade
_Price: Final = Price
_BookDepth: Final = BookDepth
_OrderEvent: Final = OrderEvent


def topic_of(event: Event) -> str:
    """The Kafka topic of an event (KeyError for anything that is not one)."""
    return TOPIC_OF[type(event)]


def key_of(event: Event) -> str:
    """The Kafka key of an event: its symbol, or "" when it has none."""
    return event.symbol or ""


def split_by_topic(events: list[Any]) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """The events of each topic, in their order: (trades, prices, book, order_events)."""
    trades: list[Any] = []
    prices: list[Any] = []
    book: list[Any] = []
    order_events: list[Any] = []
    for event in events:
        kind = type(event)
        if kind is _BookDepth:
            book.append(event)
        elif kind is _Trade:
            trades.append(event)
        elif kind is _Price:
            prices.append(event)
        elif kind is _OrderEvent:
            order_events.append(event)
        else:
            raise TypeError(f"not an event: {event!r}")
    return trades, prices, book, order_events
