"""Hostile records on `orders` against `orderbook engine run` on the real broker.

Every value of tests/engine/poison.py (invalid UTF-8, 30,000 levels of nesting, a
quantity of 10**30, negative and enormous times, ...) is produced between real orders
while the engine runs as a real subprocess. Each must end in `orders.dlq` with its
partition and offset, or as the `rejected` event its entry names; the engine must
still be running and committing, and the real orders around the poison must trade.

On a broker of this module's own: bytes that are not orders must not land on the
session stack's `orders`, which other tests ingest.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.matching import Matcher
from orderbook_platform.config import Settings
from orderbook_platform.contracts import Order, decode_dead_letter, decode_order_event, encode
from tests.engine.kafka_harness import (
    EngineProcess,
    caught_up,
    commit_group_at,
    end_offsets,
    produce,
    read_topic,
    start_offsets,
    unique,
    wait_for,
)
from tests.engine.poison import DEAD_LETTER, poison_orders, through_live_path
from tests.orderbook_platform.kafka.private_broker import private_broker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_broker() -> Iterator[Settings]:
    with private_broker() as settings:
        yield settings


def _order(symbol: str, order_id: str, price: float, quantity: int) -> bytes:
    return encode(Order(order_id, "limit", price, quantity, time.time_ns(), symbol, order_id))


def test_poison_ends_in_the_dlq_or_as_rejects_and_the_engine_keeps_committing(
    own_broker: Settings, tmp_path: Path
) -> None:
    settings = own_broker
    symbol = unique("H")
    key = symbol.encode()
    group = unique("test-hostile-")
    commit_group_at(settings, group, end_offsets(settings, "orders"))
    start = start_offsets(settings)
    poison = poison_orders(symbol)
    before = [(key, _order(symbol, "ask-1", 100.0, -10))]
    after = [(key, _order(symbol, "bid-1", 100.0, 4))]
    landed = produce(settings, [*before, *((key, p.value) for p in poison), (key, None), *after])
    engine = EngineProcess(settings, tmp_path, group=group, instance_id="hostile").start()

    def committed_past(record) -> bool:
        if engine.process.poll() is not None:
            pytest.fail(f"the engine exited ({engine.process.returncode}):\n{engine.log_text()}")
        return caught_up(settings, group, {record.partition: record.offset + 1})

    try:
        wait_for(lambda: committed_past(landed[-1]), "the engine to pass the poison")
        assert engine.health()["state"] == "running"
        # Still committing after the poison: one more order goes through.
        [late] = produce(settings, [(key, _order(symbol, "bid-2", 100.0, 6))])
        wait_for(lambda: committed_past(late), "the engine to commit an order after it")
        assert engine.health()["state"] == "running"
        dead = sum(p.expected == DEAD_LETTER for p in poison) + 1  # and the tombstone
        assert engine.metric("orderbook_engine_dlq_total") == dead
        assert engine.terminate() == 0
    finally:
        engine.ensure_dead()

    # Dead letters: each with its source's partition, offset and exact bytes.
    letters = {
        (d.partition, d.offset): d
        for d in map(
            decode_dead_letter,
            (r.value for r in read_topic(settings, "orders.dlq", start["orders.dlq"])),
        )
        if d.topic == "orders"
    }
    sources = landed[len(before) : len(before) + len(poison) + 1]
    for item, source in zip([*poison, None], sources, strict=True):
        name = "tombstone" if item is None else item.name
        if item is None or item.expected == DEAD_LETTER:
            letter = letters.pop((source.partition, source.offset), None)
            assert letter is not None, f"{name} is not in orders.dlq"
            assert base64.b64decode(letter.value_base64) == (source.value or b""), name
            assert base64.b64decode(letter.key_base64) == key
            assert letter.error, name

    # Rejects: one per poison that decodes, with the reason its entry names.
    events = [
        decode_order_event(r.value)
        for r in read_topic(settings, "order_events", start["order_events"])
        if r.key == key
    ]
    rejects = {e.order_id: e.reason for e in events if e.event == "rejected"}
    assert rejects == {f"poison-{p.name}": p.expected for p in poison if p.expected != DEAD_LETTER}
    trades = [
        json.loads(r.value) for r in read_topic(settings, "trades", start["trades"]) if r.key == key
    ]
    assert [(t["left_order_id"], t["right_order_id"], t["quantity"]) for t in trades] == [
        ("ask-1", "bid-1", 4),
        ("ask-1", "bid-2", 6),
    ]
    # And the engine published exactly what the live path's reference publishes.
    values = [r.value for r in landed] + [late.value]
    reference = through_live_path(Matcher(), values)
    expected_events = [
        encode(m)
        for kind, messages in reference
        if kind == "events"
        for m in messages
        if type(m).__name__ == "OrderEvent"
    ]
    assert [encode(e) for e in events] == expected_events
