"""Events are the contract messages themselves: their topic and key, and the per-topic split."""

from __future__ import annotations

import random

import pytest

from engine.config import EngineConfig
from engine.events import (
    BOOK,
    ORDER_EVENTS,
    PRICES,
    TOPICS,
    TRADES,
    key_of,
    split_by_topic,
    topic_of,
)
from engine.matching import Matcher
from orderbook_platform.contracts import BookDepth, OrderEvent, Price, Trade
from tests.engine.helpers import limit, market, run

pytestmark = pytest.mark.unit


def test_each_message_type_has_its_topic() -> None:
    assert topic_of(Trade("a", "b", 1, 100.0, "Buy", "filled")) == TRADES
    assert topic_of(Price(100.0)) == PRICES
    assert topic_of(BookDepth("XYZ", [], [])) == BOOK
    assert topic_of(OrderEvent("a", "accepted")) == ORDER_EVENTS


def test_something_else_is_not_an_event() -> None:
    with pytest.raises(KeyError):
        topic_of(limit("a", 100.0, 1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not an event"):
        split_by_topic([OrderEvent("a", "accepted"), "trades"])


def test_the_key_is_the_symbol_or_empty_without_one() -> None:
    assert key_of(OrderEvent("a", "accepted", symbol="XYZ")) == "XYZ"
    assert key_of(OrderEvent("a", "rejected", symbol=None)) == ""


def test_split_by_topic_keeps_each_topics_publication_order() -> None:
    rng = random.Random(5)
    matcher = Matcher(EngineConfig())
    orders = []
    for n in range(3000):
        price = round(100 + rng.randint(-10, 10) * 0.01, 2)
        quantity = rng.randint(1, 9) * rng.choice((1, -1))
        orders.append(
            market(f"m{n}", quantity) if rng.random() < 0.1 else limit(f"o{n}", price, quantity)
        )
    events = run(matcher, orders)
    split = split_by_topic(events)
    assert len(split) == len(TOPICS)
    for topic, messages in zip(TOPICS, split, strict=True):
        expected = [event for event in events if topic_of(event) == topic]
        assert len(expected) > 100
        assert [id(m) for m in messages] == [id(m) for m in expected]
