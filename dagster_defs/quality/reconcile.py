"""Reconcile a lake partition with its Kafka topic by message id, never by offsets.

Transactional topics have offset gaps (commit/abort markers, aborted records), so the lake
and the topic are compared as multisets of ids: what the topic holds for the hour that the
lake lacks, and what the lake holds that the topic does not.

Any bytes may be on a topic. A record that is not a JSON object with string ids here, or
that the ingestion flagged as malformed (`kafka_value_error`), is compared by its
coordinates (partition, offset) instead: it must be a row of the lake, and it is reported
with its coordinates and the reason, never a crash.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
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


Coordinates = tuple[int, int]  # (partition, offset)


@dataclass(frozen=True)
class Malformed:
    partition: int
    offset: int
    error: str


@dataclass(frozen=True)
class Reconciliation:
    topic_records: int
    lake_rows: int
    missing_from_lake: list[tuple]
    unexpected_in_lake: list[tuple]
    complete: bool
    # Records compared by coordinates: on the topic or in the lake, but not parseable.
    malformed: list[Malformed] = field(default_factory=list)
    malformed_missing_from_lake: list[Coordinates] = field(default_factory=list)
    malformed_unexpected_in_lake: list[Coordinates] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return (
            self.complete
            and not self.missing_from_lake
            and not self.unexpected_in_lake
            and not self.malformed_missing_from_lake
            and not self.malformed_unexpected_in_lake
        )


@dataclass
class TopicRead:
    """The hour's committed records: ids by coordinates, or why they could not be read."""

    ids: dict[Coordinates, tuple] = field(default_factory=dict)
    errors: dict[Coordinates, str] = field(default_factory=dict)
    complete: bool = True


def record_ids(value: bytes | None, fields: Sequence[str]) -> tuple | str:
    """The id fields of one record's value, or why there are none (any bytes accepted)."""
    if value is None:
        return "no value (a null record)"
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        # Invalid UTF-8, malformed or too deeply nested JSON.
        return f"not valid JSON: {exc}"
    if not isinstance(decoded, dict):
        return f"not a JSON object but {type(decoded).__name__}"
    ids = tuple(decoded.get(f) for f in fields)
    if not all(isinstance(i, str) for i in ids):
        return f"id field(s) {', '.join(fields)} missing or not strings"
    return ids


def topic_ids(
    settings: KafkaSettings,
    topic: str,
    start: datetime,
    end: datetime,
    fields: Sequence[str],
    timeout_s: float = 60.0,
) -> TopicRead:
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
        read = TopicRead()
        if not assign:
            return read
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
                    where = (message.partition(), message.offset())
                    found = record_ids(message.value(), fields)
                    if isinstance(found, str):
                        read.errors[where] = found
                    else:
                        read.ids[where] = found
            # `position` is the next offset to fetch; it moves past transaction markers too.
            for tp in reader.position([TopicPartition(topic, p) for p in pending]):
                if tp.offset >= stop[tp.partition]:
                    pending.discard(tp.partition)
        read.complete = not pending or idle_rounds >= 4
        return read
    finally:
        reader.close()


def reconcile(
    settings: KafkaSettings, topic: str, start: datetime, end: datetime, lake_frame: pl.DataFrame
) -> Reconciliation:
    fields = ID_FIELDS[topic]
    read = topic_ids(settings, topic, start, end, fields)
    lake_errors: dict[Coordinates, str] = {}
    if "kafka_value_error" in lake_frame.columns:
        flagged = lake_frame.filter(pl.col("kafka_value_error").is_not_null())
        lake_errors = {
            (p, o): e
            for p, o, e in flagged.select(
                "kafka_partition", "kafka_offset", "kafka_value_error"
            ).iter_rows()
        }
    bad = set(read.errors) | set(lake_errors)
    expected = Counter(ids for where, ids in read.ids.items() if where not in bad)
    lake_rows = lake_frame.select("kafka_partition", "kafka_offset", *fields).iter_rows()
    actual = Counter(tuple(row[2:]) for row in lake_rows if (row[0], row[1]) not in bad)
    topic_coordinates = set(read.ids) | set(read.errors)
    lake_coordinates = set(lake_frame.select("kafka_partition", "kafka_offset").iter_rows())
    malformed = [
        Malformed(p, o, lake_errors.get((p, o)) or read.errors.get((p, o), ""))
        for p, o in sorted(bad)
    ]
    return Reconciliation(
        topic_records=len(topic_coordinates),
        lake_rows=lake_frame.height,
        missing_from_lake=sorted((expected - actual).elements(), key=str),
        unexpected_in_lake=sorted((actual - expected).elements(), key=str),
        complete=read.complete,
        malformed=malformed,
        malformed_missing_from_lake=sorted(set(read.errors) - lake_coordinates),
        malformed_unexpected_in_lake=sorted(set(lake_errors) - topic_coordinates),
    )
