"""Order builders and event filters shared by the engine tests (not a test module)."""

from __future__ import annotations

from collections.abc import Iterable

from engine.events import BOOK, ORDER_EVENTS, PRICES, TRADES, Event, key_of, topic_of
from engine.matching import Matcher
from orderbook_platform.contracts import BookDepth, Order, OrderEvent, Price, Trade


def limit(
    order_id: str,
    price: float | None,
    quantity: float | None,
    *,
    tif: str | None = None,
    post_only: bool = False,
    trader: str | None = None,
    symbol: str | None = None,
    time: int = 0,
) -> Order:
    return Order(
        order_id=order_id,
        order_type="limit",
        price=price,
        quantity=quantity,
        time=time,
        symbol=symbol,
        trader_id=trader,
        time_in_force=tif,
        post_only=post_only,
    )


def market(
    order_id: str,
    quantity: float | None,
    *,
    tif: str | None = None,
    trader: str | None = None,
    symbol: str | None = None,
    time: int = 0,
) -> Order:
    return Order(
        order_id=order_id,
        order_type="market",
        quantity=quantity,
        time=time,
        symbol=symbol,
        trader_id=trader,
        time_in_force=tif,
    )


def cancel(
    order_id: str, *, trader: str | None = None, symbol: str | None = None, time: int = 0
) -> Order:
    return Order(order_id=order_id, order_type="cancel", time=time, symbol=symbol, trader_id=trader)


def modify(
    order_id: str,
    *,
    price: float | None = None,
    quantity: float | None = None,
    trader: str | None = None,
    symbol: str | None = None,
    time: int = 0,
) -> Order:
    return Order(
        order_id=order_id,
        order_type="modify",
        price=price,
        quantity=quantity,
        time=time,
        symbol=symbol,
        trader_id=trader,
    )


def run(matcher: Matcher, orders: Iterable[Order]) -> list[Event]:
    events: list[Event] = []
    for order in orders:
        events.extend(matcher.process(order))
    return events


def tagged(events: Iterable[Event]) -> list[tuple[str, str, Event]]:
    """Each event with its Kafka topic and key: (topic, key, event)."""
    return [(topic_of(event), key_of(event), event) for event in events]


def trades(events: Iterable[Event]) -> list[Trade]:
    return [message for message in events if topic_of(message) == TRADES]


def prices(events: Iterable[Event]) -> list[Price]:
    return [message for message in events if topic_of(message) == PRICES]


def depths(events: Iterable[Event]) -> list[BookDepth]:
    return [message for message in events if topic_of(message) == BOOK]


def order_events(events: Iterable[Event], kind: str | None = None) -> list[OrderEvent]:
    return [
        message
        for message in events
        if topic_of(message) == ORDER_EVENTS and (kind is None or message.event == kind)
    ]


def kinds(events: Iterable[Event]) -> list[str]:
    """A compact picture of an event list: 'accepted:a', 'trade:a/b', 'prices', 'book'."""
    out = []
    for message in events:
        topic = topic_of(message)
        if topic == ORDER_EVENTS:
            out.append(f"{message.event}:{message.order_id}")
        elif topic == TRADES:
            out.append(f"trade:{message.left_order_id}/{message.right_order_id}")
        else:
            out.append(topic)
    return out


def book_picture(matcher: Matcher, symbol: str = "XYZ") -> dict[str, list[tuple[int, list]]]:
    """Resting orders per side, best level first: [(price_ticks, [(id, remaining)...])...]."""
    book = matcher.book(symbol)
    if book is None:
        return {"bids": [], "asks": []}
    return {
        name: [
            (level.price, [(o.order_id, o.remaining) for o in level.live_orders()])
            for level in side.best_first()
        ]
        for name, side in (("bids", book.bids), ("asks", book.asks))
    }
