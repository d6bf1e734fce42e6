"""Reconcile a lake partition with its Kafka topic by message id, never by offsets.

Transactional topics have offset gaps (commit/abort markers, aborted records), so the lake
and the topic are compared as multisets of ids: what the topic holds for the hour that the
lake lacks, and what the lake holds that the topic does not.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
import polars as pl
from confluent_kafka import TopicPartition

from orderbook_platform.config import KafkaSettings
from orderbook_platform.kafka.clients import consumer

ID_FIELDS: dict[str, tuple[str, ...]] = {
    "orders": ("order_id", "order_type"),  # a cancel reuses the id of the order it removes
    "trades": ("trade_id",),
}


@dataclass(frozen=True)
class Reconciliation:
    topic_records: int
    lake_rows: int
    missing_from_lake: list[tuple]
    unexpected_in_lake: list[tuple]
    complete: bool

    @property
    def matches(self) -> bool:
        return self.complete and not self.missing_from_lake and not self.unexpected_in_lake


def topic_ids(
    settings: KafkaSettings,
    topic: str,
    start: datetime,
    end: datetime,
    fields: Sequence[str],
    timeout_s: float = 60.0,
) -> tuple[Counter, bool]:
    """Ids of the committed records of `topic` timestamped in [start, end), and whether the
    read reached the window's end in every partition before `timeout_s`."""
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    # Offsets only bound the scan; the [start, end) timestamp filter decides membership.
    reader = consumer(settings, group_id=f"orderbook-reconcile-{time.time_ns()}")
    try:
        partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions
        starts = reader.offsets_for_times(
            [TopicPartition(topic, p, start_ms) for p in partitions], timeout=10
        )
        # Read to the end, not to offsets_for_times(end): transaction markers carry the
        # broker's clock and can make that lookup stop early (see ingestion/spark_kafka.py).
        stop: dict[int, int] = {}
        for p in partitions:
            _, high = reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            stop[p] = high
        assign = [tp for tp in starts if tp.offset >= 0 and tp.offset < stop[tp.partition]]
        ids: Counter = Counter()
        if not assign:
            return ids, True
        reader.assign(assign)
        pending = {tp.partition for tp in assign}
        deadline = time.monotonic() + timeout_s
        idle_rounds = 0
        while pending and time.monotonic() < deadline:
            batch = reader.consume(num_messages=10_000, timeout=0.5)
            idle_rounds = 0 if batch else idle_rounds + 1
            if idle_rounds >= 4:
                # Nothing more is deliverable: the rest up to the high watermark is
                # transaction markers or a still-open transaction (beyond the LSO, which
                # Spark's read_committed scan does not see either).
                break
            for message in batch:
                if message.error() or message.partition() not in pending:
                    continue
                if message.offset() >= stop[message.partition()]:
                    continue
                _, stamp = message.timestamp()
                if start_ms <= stamp < end_ms:
                    value = orjson.loads(message.value())
                    ids[tuple(value.get(f) for f in fields)] += 1
            # `position` is the next offset to fetch; it moves past transaction markers too.
            for tp in reader.position([TopicPartition(topic, p) for p in pending]):
                if tp.offset >= stop[tp.partition]:
                    pending.discard(tp.partition)
        return ids, not pending or idle_rounds >= 4
    finally:
        reader.close()


def reconcile(
    settings: KafkaSettings, topic: str, start: datetime, end: datetime, lake_frame: pl.DataFrame
) -> Reconciliation:
    fields = ID_FIELDS[topic]
    expected, complete = topic_ids(settings, topic, start, end, fields)
    actual = Counter(lake_frame.select(fields).iter_rows())
    missing = sorted((expected - actual).elements(), key=str)
    unexpected = sorted((actual - expected).elements(), key=str)
    return Reconciliation(
        topic_records=sum(expected.values()),
        lake_rows=lake_frame.height,
        missing_from_lake=missing,
        unexpected_in_lake=unexpected,
        complete=complete,
    )
