"""Lake helpers of the fault scenarios S8-S10: an old hour on the topics, and what the
lake holds of it compared with what the topics hold. Not a test module."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import polars as pl
from confluent_kafka import Producer

from dagster_defs.lake import partition_path, raw_path
from dagster_defs.partitions import partitions_start
from dagster_defs.run_hour import resources_for
from orderbook_platform.config import Settings
from orderbook_platform.contracts import encode
from tests.engine.kafka_harness import Record, end_offsets, read_topic
from tests.faults.harness import Scenario

# The code location's first hourly partition (tests/conftest.py sets it a year or more
# back): an hour before it cannot be materialised at all, so "a year ago" is clamped to it.
FIRST_PARTITION = partitions_start()
RAW_TOPICS = ("orders", "trades", "prices", "book", "order_events")


def old_hour(days_ago: int = 365, plus_hours: int = 0) -> datetime:
    """The hour `days_ago` days back (clamped to the first partition), plus some hours."""
    wanted = datetime.now(UTC) - timedelta(days=days_ago)
    hour = max(wanted.replace(minute=0, second=0, microsecond=0), FIRST_PARTITION)
    return hour + timedelta(hours=plus_hours)


def seed_hour(scenario: Scenario, count: int, seed: int, hour: datetime) -> list[Record]:
    """`count` orders spread over `hour`, each record stamped with the order's own time."""
    step_ns = 3_600_000_000_000 // (count + 1)
    start_ns = int(hour.timestamp()) * 1_000_000_000 + step_ns
    orders = scenario.generate(count, seed, start_ns=start_ns, step_ns=step_ns)
    producer = Producer(
        scenario.settings.kafka.client_config(**{"enable.idempotence": True, "linger.ms": 5})
    )
    failures: list[str] = []

    def report(error, _message) -> None:
        if error is not None:
            failures.append(str(error))

    for order in orders:
        while True:
            try:
                producer.produce(
                    "orders", encode(order), order.symbol.encode(),
                    timestamp=order.time // 1_000_000, on_delivery=report,
                )  # fmt: skip
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(60) == 0 and not failures, failures[:3]
    scenario.target = end_offsets(scenario.settings, "orders")
    return scenario.committed_orders()


def topic_hour(
    settings: Settings, topic: str, hour: datetime, start: dict[int, int] | None = None
) -> list[Record]:
    """The committed records of `topic` from `start` (default: the beginning) whose
    timestamp falls in [hour, hour + 1 h). A scenario passes its own start offsets: the
    hour is its alone, and the suite's earlier scenarios need not be read again."""
    low = int(hour.timestamp() * 1000)
    high = low + 3_600_000
    return [r for r in read_topic(settings, topic, start) if low <= r.timestamp_ms < high]


def lake_hour(settings: Settings, lake_root: str, topic: str, hour: datetime) -> pl.DataFrame:
    lake = resources_for(settings, lake_root)["lake"].lake()
    frame = lake.read_parquet(partition_path(raw_path(topic), hour))
    assert frame is not None, f"the lake holds nothing for {topic} at {hour:%Y-%m-%dT%H}"
    return frame.sort("kafka_partition", "kafka_offset")


def lake_equals_topic(
    settings: Settings, lake_root: str, hour: datetime, start: dict[str, dict[int, int]]
) -> list[str]:
    """Differences between the lake's hour and the topics' hour (empty: equal).

    Every raw topic by record coordinates (partition, offset); trades also by trade_id
    as a multiset (a duplicate id would hide behind distinct offsets)."""
    problems = []
    for topic in RAW_TOPICS:
        frame = lake_hour(settings, lake_root, topic, hour)
        records = topic_hour(settings, topic, hour, start.get(topic))
        in_lake = Counter(zip(frame["kafka_partition"], frame["kafka_offset"], strict=True))
        on_topic = Counter((r.partition, r.offset) for r in records)
        if in_lake != on_topic:
            problems.append(
                f"{topic}: lake {sum(in_lake.values())} records, topic {len(records)}; "
                f"missing {len(on_topic - in_lake)}, extra {len(in_lake - on_topic)}"
            )
        if topic == "trades":
            lake_ids = Counter(frame["trade_id"].to_list())
            topic_ids = Counter(orjson.loads(r.value)["trade_id"] for r in records)
            if lake_ids != topic_ids:
                problems.append(f"trades: trade ids differ ({len(lake_ids)} vs {len(topic_ids)})")
    return problems


def fingerprint(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (relative path -> digest)."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def data_fingerprint(settings: Settings, lake_root: str, hour: datetime) -> dict[str, str]:
    """The hour's raw tables as sorted rows (file names and row groups left aside)."""
    result = {}
    for topic in RAW_TOPICS:
        frame = lake_hour(settings, lake_root, topic, hour)
        digest = hashlib.sha256()
        for row in frame.iter_rows():
            digest.update(repr(row).encode())
        result[topic] = digest.hexdigest()
    return result


def wait_s(seconds: float) -> None:
    """A fault's duration (never an assertion about speed)."""
    time.sleep(seconds)
