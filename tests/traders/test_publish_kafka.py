"""`simulate --to-kafka`: the files land on their topics, keyed by symbol, at their simulated times."""

from __future__ import annotations

import uuid

import msgspec
import pytest
from confluent_kafka import Consumer, TopicPartition

from orderbook_platform.config import Settings
from orderbook_platform.contracts import Price, Trade
from traders.publish import publish_directory
from traders.simulate import SimulationConfig, simulate

pytestmark = pytest.mark.integration


def _read(settings: Settings, topic: str, start: dict[int, int], symbol: str) -> list:
    reader = Consumer(
        settings.kafka.client_config(
            **{"group.id": f"pub-{uuid.uuid4().hex[:6]}", "isolation.level": "read_committed"}
        )
    )
    partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {
        p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
    }
    reader.assign([TopicPartition(topic, p, start.get(p, 0)) for p in partitions])
    found, positions = [], dict(start)
    try:
        while any(positions.get(p, 0) < ends[p] for p in partitions):
            batch = reader.consume(5000, 2.0)
            if not batch:
                break
            for message in batch:
                positions[message.partition()] = message.offset() + 1
                if message.key() == symbol.encode():
                    found.append(message)
    finally:
        reader.close()
    return found


def test_published_files_keep_their_bytes_keys_and_timestamps(settings: Settings, tmp_path):
    symbol = f"PB{uuid.uuid4().hex[:5].upper()}"
    result = simulate(
        SimulationConfig(duration_s=120, traders=60, seed=4, symbols=(symbol,)), tmp_path
    )
    probe = Consumer(settings.kafka.client_config(**{"group.id": "probe"}))
    start = {
        topic: {
            p: probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in probe.list_topics(topic, timeout=10).topics[topic].partitions
        }
        for topic in ("trades", "prices")
    }
    probe.close()
    published = publish_directory(settings, tmp_path, ["trades", "prices"])
    assert published == {"trades": result.counts["trades"], "prices": result.counts["prices"]}
    for topic, kind in (("trades", Trade), ("prices", Price)):
        messages = _read(settings, topic, start[topic], symbol)
        lines = (tmp_path / f"{topic}.jsonl").read_bytes().splitlines()
        assert [m.value() for m in messages] == lines
        for message in messages:
            decoded = msgspec.json.decode(message.value(), type=kind)
            assert message.timestamp()[1] == decoded.time // 1_000_000
