"""A produce/consume round trip through the broker: the stack's end-to-end smoke check."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import KafkaException, TopicPartition

from orderbook_platform.config import Settings
from orderbook_platform.contracts import Order, decode_order, encode
from orderbook_platform.errors import PlatformError
from orderbook_platform.kafka.clients import consumer, producer


@dataclass(frozen=True)
class RoundTrip:
    topic: str
    sent: int
    received: int
    matched: int
    bytes_sent: int
    produce_seconds: float
    total_seconds: float
    latency_p50_ms: float
    latency_p99_ms: float


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


def round_trip(settings: Settings, count: int = 10_000, topic: str = "orders") -> RoundTrip:
    """Produce `count` orders keyed by symbol, read them back with read_committed, compare."""
    run = uuid.uuid4().hex[:8]
    symbols = [settings.default_symbol, "ABC", "DEF"]
    writer = producer(settings.kafka)
    reader = consumer(settings.kafka, group_id=f"orderbook-roundtrip-{run}")
    try:
        metadata = reader.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise PlatformError(f"topic {topic!r} does not exist: run `orderbook topics apply`")
        start = []
        for pid in metadata.partitions:
            _, high = reader.get_watermark_offsets(TopicPartition(topic, pid), timeout=10)
            start.append(TopicPartition(topic, pid, high))
        reader.assign(start)

        sent_at: dict[str, int] = {}
        expected: dict[str, bytes] = {}
        bytes_sent = 0
        began = time.perf_counter()
        for i in range(count):
            order_id = f"rt-{run}-{i}"
            price = round(100 + (i % 50) * 0.01, 2)
            quantity = (i % 9 + 1) * (1 if i % 2 else -1)
            payload = encode(
                Order(order_id=order_id, order_type="limit", price=price, quantity=quantity,
                      time=time.time_ns(), symbol=symbols[i % len(symbols)], trader_id="roundtrip")
            )  # fmt: skip
            expected[order_id] = payload
            bytes_sent += len(payload)
            sent_at[order_id] = time.perf_counter_ns()
            while True:
                try:
                    writer.produce(topic, value=payload, key=symbols[i % len(symbols)].encode())
                    break
                except BufferError:
                    writer.poll(0.05)
            writer.poll(0)
        if writer.flush(60) != 0:
            raise PlatformError("round trip: some messages were not acknowledged within 60 s")
        produced = time.perf_counter() - began

        latencies: list[float] = []
        received = matched = 0
        deadline = time.monotonic() + 60
        while received < count and time.monotonic() < deadline:
            for message in reader.consume(num_messages=5000, timeout=1):
                if message.error():
                    raise PlatformError(f"round trip: consume error {message.error()}")
                order = decode_order(message.value())
                if order.order_id not in expected:
                    continue
                received += 1
                latencies.append((time.perf_counter_ns() - sent_at[order.order_id]) / 1e6)
                matched += message.value() == expected[order.order_id]
        total = time.perf_counter() - began
    except KafkaException as exc:
        raise PlatformError(f"round trip failed: {exc.args[0].str()}") from None
    finally:
        reader.close()
    latencies.sort()
    return RoundTrip(
        topic=topic, sent=count, received=received, matched=matched, bytes_sent=bytes_sent,
        produce_seconds=produced, total_seconds=total,
        latency_p50_ms=_percentile(latencies, 0.5), latency_p99_ms=_percentile(latencies, 0.99),
    )  # fmt: skip
