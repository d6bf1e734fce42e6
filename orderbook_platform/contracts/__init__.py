"""Typed message contracts shared by the engine, the traders and the data platform."""

from orderbook_platform.contracts.codec import (
    ContractError,
    decode,
    decode_book,
    decode_dead_letter,
    decode_order,
    decode_order_event,
    decode_price,
    decode_trade,
    encode,
)
from orderbook_platform.contracts.messages import (
    MESSAGES,
    ORDER_EVENT_KINDS,
    ORDER_TYPES,
    TIME_IN_FORCE,
    BookDepth,
    BookLevel,
    DeadLetter,
    Order,
    OrderEvent,
    Price,
    Trade,
)

__all__ = [
    "MESSAGES",
    "ORDER_EVENT_KINDS",
    "ORDER_TYPES",
    "TIME_IN_FORCE",
    "BookDepth",
    "BookLevel",
    "ContractError",
    "DeadLetter",
    "Order",
    "OrderEvent",
    "Price",
    "Trade",
    "decode",
    "decode_book",
    "decode_dead_letter",
    "decode_order",
    "decode_order_event",
    "decode_price",
    "decode_trade",
    "encode",
]
