"""The platform's wire messages, one Struct per topic.

The seed fields come from the original project's README and are kept exactly; every
other field is additive and optional, and is omitted from the JSON when unset, so a
consumer written against the seed formats keeps working.

Prices are JSON decimals (numbers) on the wire and integer ticks inside the engine.
Quantities are integer lots; on `orders` the sign carries the side (positive buys).

The message Structs are `gc=False`: they hold only scalars (and BookDepth lists of
BookLevels), so they can never be part of a reference cycle, and the engine creates
several per order; untracked, they cost the garbage collector nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

ORDER_TYPES = ("limit", "market", "cancel", "modify")
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
TRADE_ACTIONS = ("Buy", "Sell")
TRADE_STATUSES = ("partial", "filled")
ORDER_EVENT_KINDS = ("accepted", "rejected", "cancelled", "expired", "filled", "modified")

Nanos = Annotated[int, Meta(description="Epoch nanoseconds, UTC.")]
OrderId = Annotated[
    str,
    Meta(
        description=(
            "Unique order identifier (a UUID for new orders). The engine rejects a new "
            "order's id of more than 256 characters (invalid_order_id)."
        )
    ),
]


class Order(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=False, gc=False):
    """An instruction on the `orders` topic, keyed by symbol.

    `order_type` is kept a plain string on purpose: an unknown type must reach the
    engine and come back as a reject event with a reason, not die in the decoder.
    """

    order_id: OrderId
    order_type: Annotated[
        str,
        Meta(
            description=(
                "One of 'limit', 'market', 'cancel', 'modify'. "
                "'cancel' removes the resting order named by order_id (price and quantity "
                "are ignored). 'modify' changes the resting order named by order_id to the "
                "given price and/or quantity: a quantity decrease keeps time priority, a "
                "price change or a quantity increase loses it."
            ),
            examples=list(ORDER_TYPES),
        ),
    ]
    price: Annotated[
        float | None,
        Meta(description="Limit price as a decimal; ignored for market and cancel orders."),
    ] = None
    quantity: Annotated[
        int | float | None,
        Meta(
            description=(
                "Integer lots; positive buys, negative sells. For 'modify' the new remaining "
                "quantity, signed like the resting order. Ignored for 'cancel'. The engine "
                "rejects more than 10**6 lots either way (quantity_out_of_range)."
            )
        ),
    ] = None
    time: Annotated[
        int,
        Meta(
            description=(
                "Epoch nanoseconds, UTC. The engine rejects a time outside 0 .. 2**63 - 1 "
                "(time_out_of_range)."
            )
        ),
    ] = 0
    symbol: Annotated[
        str | None,
        Meta(
            description=(
                "Instrument; the configured default applies when absent. The engine rejects "
                "more than 64 characters (invalid_symbol)."
            )
        ),
    ] = None
    trader_id: Annotated[
        str | None,
        Meta(
            description=(
                "Submitting trader; enables self-trade prevention. The engine rejects a new "
                "order's trader_id of more than 256 characters (invalid_trader_id)."
            )
        ),
    ] = None
    time_in_force: Annotated[
        str | None,
        Meta(
            description="'GTC', 'IOC' or 'FOK' (limit orders only); GTC when absent.",
            examples=list(TIME_IN_FORCE),
        ),
    ] = None
    post_only: Annotated[
        bool, Meta(description="Reject instead of trading if the order would cross.")
    ] = False


class Trade(msgspec.Struct, omit_defaults=True, gc=False):
    """A fill on the `trades` topic.

    `status` is the taker's (right order's) state after this fill: "filled" when its
    whole quantity has now executed, "partial" otherwise.
    """

    left_order_id: Annotated[str, Meta(description="The resting (maker) order.")]
    right_order_id: Annotated[str, Meta(description="The incoming (taker) order.")]
    quantity: Annotated[int, Meta(gt=0, description="Lots traded, always positive.")]
    price: Annotated[float, Meta(description="Execution price: the resting order's price.")]
    action: Annotated[Literal["Buy", "Sell"], Meta(description="The taker's side.")]
    status: Annotated[
        Literal["partial", "filled"], Meta(description="The taker's state after this fill.")
    ]
    trade_id: Annotated[
        str | None,
        Meta(description="Deterministic id: the taker's order id and the fill index."),
    ] = None
    symbol: str | None = None
    time: Nanos | None = None
    sequence: Annotated[int | None, Meta(description="Per-symbol output sequence number.")] = None
    maker_trader_id: str | None = None
    taker_trader_id: str | None = None


class Price(msgspec.Struct, omit_defaults=True, gc=False):
    """Level 1 on the `prices` topic, published whenever the top of book changes.

    `mid_price` is null while either side of the book is empty.
    """

    mid_price: float | None
    best_bid: float | None = None
    best_ask: float | None = None
    bid_size: int | None = None
    ask_size: int | None = None
    symbol: str | None = None
    time: Nanos | None = None
    sequence: int | None = None


class BookLevel(msgspec.Struct, gc=False):
    """One price level of an L2 snapshot."""

    price: float
    quantity: Annotated[int, Meta(gt=0, description="Total resting lots at this price.")]
    orders: Annotated[int, Meta(gt=0, description="Number of resting orders at this price.")]


class BookDepth(msgspec.Struct, omit_defaults=True, gc=False):
    """Level 2 on the `book` topic: the top N levels per side, best first."""

    symbol: str
    bids: list[BookLevel]
    asks: list[BookLevel]
    time: Nanos | None = None
    sequence: int | None = None


class OrderEvent(msgspec.Struct, omit_defaults=True, gc=False):
    """An order's life cycle on the `order_events` topic."""

    order_id: str
    event: Annotated[
        Literal["accepted", "rejected", "cancelled", "expired", "filled", "modified"],
        Meta(
            description=(
                "accepted: the order passed validation (it may trade or rest); "
                "rejected: it failed validation, see reason; cancelled: removed by a cancel "
                "or by self-trade prevention; expired: the unfilled remainder of an IOC, FOK "
                "or market order; filled: its whole quantity executed; modified: a modify "
                "was applied."
            )
        ),
    ]
    reason: Annotated[str | None, Meta(description="Reason code of a reject or cancel.")] = None
    symbol: str | None = None
    trader_id: str | None = None
    order_type: str | None = None
    side: Literal["Buy", "Sell"] | None = None
    price: float | None = None
    quantity: Annotated[int | None, Meta(description="Original quantity in lots, unsigned.")] = None
    filled: Annotated[int | None, Meta(description="Lots executed so far.")] = None
    remaining: Annotated[int | None, Meta(description="Lots still open.")] = None
    time: Nanos | None = None
    sequence: int | None = None


class DeadLetter(msgspec.Struct, omit_defaults=True):
    """An input that could not be decoded, on `orders.dlq`, with its source coordinates."""

    topic: str
    partition: int
    offset: int
    error: Annotated[str, Meta(description="Why decoding failed.")]
    value_base64: Annotated[str, Meta(description="The original bytes, base64.")]
    key_base64: str | None = None
    timestamp_ms: int | None = None


MESSAGES: dict[str, type[msgspec.Struct]] = {
    "order": Order,
    "trade": Trade,
    "price": Price,
    "book": BookDepth,
    "order_event": OrderEvent,
    "dead_letter": DeadLetter,
}
