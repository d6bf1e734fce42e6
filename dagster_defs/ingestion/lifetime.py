"""Data lifetime: an hour is never re-ingested over records the topic no longer has.

Kafka can lose records only by deletion (an operator's `retention.bytes`, `delete_records`,
a topic recreated); the event topics have no time-based retention (see
`orderbook_platform/kafka/topics.py`). Before an hour is written, `find_gaps` compares the
topic's current log-start offsets with two records of what the lake holds:

- the hour's rows themselves (their `kafka_partition`, `kafka_offset`): a row below the
  log start would be lost by re-ingesting, so the hour is refused;
- the hour's manifest (`_ingestion.json` next to its parquet files), written after each
  ingestion: per Kafka partition, the offsets the read covered (`scan_from`, the first
  offset timestamped in or after the hour, to `scan_to`, the end of the log then) and the
  rows kept. Records of the hour below `scan_from` cannot exist (that is what the
  timestamp lookup means), so only offsets from `scan_to` up to the log start, appended
  after that read and deleted since, are records the lake may never have had.

An hour with no manifest was never ingested. If its partition's log start moved and the
first record still there is already timestamped in or after the hour (or nothing is left),
the deleted records may have belonged to it: the hour is refused as well. A prefix whose
retained successor is older than the hour was, in append order, written before records of
earlier hours and is not the hour's, unless it was appended out of time order; that case is
what the unbounded retention protects.

A log that now ends before the offset it had reached when the hour was ingested belongs to a
recreated topic, whose offsets mean other records: that hour is refused too.

Everything here fails before Spark writes anything, so a refused hour keeps its rows.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime

import orjson
import polars as pl
from confluent_kafka import TopicPartition

from dagster_defs.lake import Lake, partition_path, raw_path
from orderbook_platform.config import KafkaSettings
from orderbook_platform.kafka.clients import consumer

MANIFEST_FILE = "_ingestion.json"
KAFKA_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PartitionState:
    """One Kafka partition as seen before an hour is read."""

    partition: int
    log_start: int
    end: int
    # The first offset timestamped at or after the hour's start, -1 when there is none.
    hour_from: int


@dataclass(frozen=True)
class Gap:
    """Offsets `first..last` (inclusive) of `topic`/`partition` that an ingestion needs and
    Kafka no longer has."""

    topic: str
    hour: str
    partition: int
    first: int
    last: int
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.topic} partition {self.partition} offsets {self.first}..{self.last} "
            f"(hour {self.hour}): {self.reason}"
        )


@dataclass(frozen=True)
class ManifestPartition:
    partition: int
    scan_from: int
    scan_to: int
    log_start: int
    rows: int
    first: int | None
    last: int | None


@dataclass(frozen=True)
class Manifest:
    topic: str
    hour: str
    partitions: list[ManifestPartition] = field(default_factory=list)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = orjson.loads(data)
        return cls(
            topic=raw["topic"],
            hour=raw["hour"],
            partitions=[ManifestPartition(**p) for p in raw["partitions"]],
        )

    def partition(self, number: int) -> ManifestPartition | None:
        return next((p for p in self.partitions if p.partition == number), None)


def hour_label(hour: datetime) -> str:
    return f"{hour:%Y-%m-%dT%H}:00Z"


def topic_state(
    settings: KafkaSettings, topic: str, hours: Iterable[datetime]
) -> dict[datetime, dict[int, PartitionState]]:
    """Log start, end and the hour's first offset of every partition, for each hour."""
    reader = consumer(settings, group_id=f"orderbook-lifetime-{time.time_ns()}")
    try:
        metadata = reader.list_topics(topic, timeout=KAFKA_TIMEOUT_S).topics[topic]
        if metadata.error is not None:
            raise RuntimeError(f"topic {topic}: {metadata.error}")
        partitions = sorted(metadata.partitions)
        bounds = {
            p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=KAFKA_TIMEOUT_S)
            for p in partitions
        }
        states: dict[datetime, dict[int, PartitionState]] = {}
        for hour in hours:
            stamp = int(hour.timestamp() * 1000)
            found = reader.offsets_for_times(
                [TopicPartition(topic, p, stamp) for p in partitions], timeout=KAFKA_TIMEOUT_S
            )
            states[hour] = {
                tp.partition: PartitionState(
                    tp.partition, bounds[tp.partition][0], bounds[tp.partition][1], tp.offset
                )
                for tp in found
            }
        return states
    finally:
        reader.close()


def find_gaps(
    topic: str,
    hour: datetime,
    state: dict[int, PartitionState],
    held: pl.DataFrame | None,
    manifest: Manifest | None,
) -> list[Gap]:
    """What re-ingesting `hour` would lose or could never have had (pure; see the module)."""
    label = hour_label(hour)
    gaps: list[Gap] = []
    for previous in manifest.partitions if manifest is not None else []:
        now = state.get(previous.partition)
        end = now.end if now is not None else 0
        if end < previous.scan_to:
            # Offsets only grow: a log that ends before where it ended at the last ingestion
            # belongs to a topic that was deleted and recreated (or a partition that is gone).
            gaps.append(
                Gap(
                    topic, label, previous.partition, end, previous.scan_to - 1,
                    f"the log now ends at {end}, before the {previous.scan_to} it reached when "
                    "this hour was ingested: the topic was recreated or truncated",
                )
            )  # fmt: skip
    if gaps:
        return gaps
    for number, part in sorted(state.items()):
        if part.log_start <= 0:
            continue
        if held is not None and held.height:
            below = held.filter(
                (pl.col("kafka_partition") == number) & (pl.col("kafka_offset") < part.log_start)
            )
            if below.height:
                gaps.append(
                    Gap(
                        topic, label, number, int(below["kafka_offset"].min()),  # type: ignore[arg-type]
                        part.log_start - 1,
                        f"the lake holds {below.height} record(s) of this hour below the "
                        f"log start {part.log_start}; re-ingesting would drop them",
                    )
                )  # fmt: skip
                continue
        previous = manifest.partition(number) if manifest is not None else None
        if previous is not None:
            if part.log_start > previous.scan_to:
                gaps.append(
                    Gap(
                        topic, label, number, previous.scan_to, part.log_start - 1,
                        "written after this hour was last ingested and deleted before it "
                        "was ingested again",
                    )
                )  # fmt: skip
            continue
        emptied = part.hour_from < 0 and part.log_start >= part.end
        if part.hour_from == part.log_start or emptied:
            gaps.append(
                Gap(
                    topic, label, number, 0, part.log_start - 1,
                    "deleted before this hour was ever ingested, and the first record left "
                    "is already from this hour or later (or none is left), so the deleted "
                    "ones may be this hour's",
                )
            )  # fmt: skip
    return gaps


def held_offsets(lake: Lake, topic: str, hour: datetime) -> pl.DataFrame | None:
    """The (kafka_partition, kafka_offset) of the rows the lake holds for the hour."""
    columns = ["kafka_partition", "kafka_offset"]
    return lake.read_parquet(partition_path(raw_path(topic), hour), columns=columns)


def manifest_path(topic: str, hour: datetime) -> str:
    return f"{partition_path(raw_path(topic), hour)}/{MANIFEST_FILE}"


def read_manifest(lake: Lake, topic: str, hour: datetime) -> Manifest | None:
    data = lake.read_bytes(manifest_path(topic, hour))
    return Manifest.from_json(data) if data is not None else None


def build_manifest(
    topic: str,
    hour: datetime,
    state: dict[int, PartitionState],
    written: Iterable[tuple[int, int, int, int]],
) -> Manifest:
    """`written`: (partition, first, last, rows) of the rows the hour now holds."""
    kept = {p: (first, last, rows) for p, first, last, rows in written}
    partitions = []
    for number, part in sorted(state.items()):
        first, last, rows = kept.get(number, (None, None, 0))
        scan_from = part.hour_from if part.hour_from >= 0 else part.end
        partitions.append(
            ManifestPartition(number, scan_from, part.end, part.log_start, rows, first, last)
        )
    return Manifest(topic, hour_label(hour), partitions)


def refusal(gaps: list[Gap]) -> str:
    lines = "\n".join(f"- {gap}" for gap in gaps)
    return (
        "refusing to ingest: Kafka no longer has offsets this ingestion needs, and writing "
        f"would replace or miss data the lake should hold:\n{lines}\n"
        "Nothing was written: the lake keeps what it had."
    )
