"""What the matcher emits: topics, the event tuple, and every reason code in one place.

An event is a plain tuple `(topic, key, message)`:

- `topic`: one of TRADES, PRICES, BOOK, ORDER_EVENTS (the Kafka topic names);
- `key`: the symbol as a `str` (the Kafka service encodes it to UTF-8 bytes);
- `message`: the contract Struct for that topic (Trade, Price, BookDepth, OrderEvent).

Plain tuples rather than a NamedTuple because one is built for every output message
and tuple construction is several times cheaper. Messages are shared, read-only
values: do not mutate them.
"""

from __future__ import annotations

from typing import TypeAlias

from orderbook_platform.contracts import BookDepth, OrderEvent, Price, Trade

TRADES = "trades"
PRICES = "prices"
BOOK = "book"
ORDER_EVENTS = "order_events"
TOPICS = (TRADES, PRICES, BOOK, ORDER_EVENTS)

Message: TypeAlias = Trade | Price | BookDepth | OrderEvent
Event: TypeAlias = tuple[str, str, Message]

# --- `rejected` reasons: the input failed validation; nothing traded, the book is unchanged.
UNKNOWN_SYMBOL = "unknown_symbol"  # a symbol allow-list is configured and does not name it
INVALID_SYMBOL = "invalid_symbol"  # empty or not a string
INVALID_ORDER_ID = "invalid_order_id"  # empty or not a string
UNKNOWN_ORDER_TYPE = "unknown_order_type"
UNKNOWN_TIME_IN_FORCE = "unknown_time_in_force"
MISSING_QUANTITY = "missing_quantity"
ZERO_QUANTITY = "zero_quantity"
INVALID_QUANTITY = "invalid_quantity"  # NaN, infinite, fractional, or not a number
MISSING_PRICE = "missing_price"  # a limit order (or nothing at all on a modify) without price
INVALID_PRICE = "invalid_price"  # NaN, infinite, or not a number
NON_POSITIVE_PRICE = "non_positive_price"
OFF_TICK_PRICE = "off_tick_price"
PRICE_OUT_OF_RANGE = "price_out_of_range"  # beyond ticks.MAX_PRICE_TICKS
DUPLICATE_ORDER_ID = "duplicate_order_id"  # the id was accepted before in this symbol
POST_ONLY_WOULD_CROSS = "post_only_would_cross"
POST_ONLY_MARKET = "post_only_market"  # post_only makes no sense on a market order
UNKNOWN_ORDER = "unknown_order"  # cancel/modify of an id never accepted in this symbol
ORDER_NOT_RESTING = "order_not_resting"  # cancel/modify of an id already filled/cancelled
TRADER_MISMATCH = "trader_mismatch"  # cancel/modify by a different trader_id
SIDE_CHANGE = "side_change"  # modify quantity signed unlike the resting order
NOTHING_TO_MODIFY = "nothing_to_modify"  # modify without price and without quantity

REJECT_REASONS = (
    UNKNOWN_SYMBOL,
    INVALID_SYMBOL,
    INVALID_ORDER_ID,
    UNKNOWN_ORDER_TYPE,
    UNKNOWN_TIME_IN_FORCE,
    MISSING_QUANTITY,
    ZERO_QUANTITY,
    INVALID_QUANTITY,
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
CANCEL_REQUEST = "cancel_request"
SELF_TRADE_PREVENTION = "self_trade_prevention"

CANCEL_REASONS = (CANCEL_REQUEST, SELF_TRADE_PREVENTION)

# --- `expired` reasons: the unfilled remainder of an order that may not rest.
IMMEDIATE_OR_CANCEL = "immediate_or_cancel"
FILL_OR_KILL = "fill_or_kill"  # not enough liquidity: nothing traded at all
MARKET_REMAINDER = "market_remainder"

EXPIRE_REASONS = (IMMEDIATE_OR_CANCEL, FILL_OR_KILL, MARKET_REMAINDER)

ALL_REASONS = REJECT_REASONS + CANCEL_REASONS + EXPIRE_REASONS
