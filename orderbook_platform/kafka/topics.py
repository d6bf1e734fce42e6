"""The platform's topics, declared once, and `apply` to make a cluster match them.

Ownership: every topic `apply` creates or adopts is recorded in a small compacted
registry topic. `apply --prune` deletes only registered topics that are no longer
declared, so a topic the platform did not create is never touched.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from orderbook_platform.config import Settings
from orderbook_platform.errors import PlatformError
from orderbook_platform.kafka.clients import admin_client, consumer, producer

REGISTRY_TOPIC = "_orderbook.topics"

# Event topics keep their records until an operator decides otherwise: no time-based
# retention, because it judges a record by its CreateTime, which is the event's time, so a
# replay of old history (or a backfill) would be deleted as soon as the broker's retention
# check runs. CreateTime stays: the hourly ingestion selects records by that timestamp.
# A size limit (`retention.bytes`) is deliberately not declared, so an operator may set one
# on the cluster without `apply` reverting it; the data platform fails loudly when records
# it has not ingested, or that the lake holds, are gone (docs/data-platform.md).
EVENT_TOPIC_CONFIG = {
    "cleanup.policy": "delete",
    "retention.ms": "-1",
    "message.timestamp.type": "CreateTime",
}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    purpose: str = ""


def declared_topics(settings: Settings) -> list[TopicSpec]:
    """The single declaration of every topic the platform owns."""
    p = settings.topics.partitions
    events = dict(EVENT_TOPIC_CONFIG)
    return [
        TopicSpec("orders", p, events, "Order instructions from traders, keyed by symbol"),
        TopicSpec("trades", p, events, "Fills published by the engine"),
        TopicSpec("prices", p, events, "Level 1: mid, best bid/ask and sizes"),
        TopicSpec("book", p, events, "Level 2: top N levels per side"),
        TopicSpec("order_events", p, events, "Order life cycle: accepted, rejected, ..."),
        TopicSpec("orders.dlq", 1, events, "Undecodable input with its source coordinates"),
        TopicSpec(
            "engine.snapshots",
            p,
            {
                "cleanup.policy": "compact",
                "min.compaction.lag.ms": "0",
                "segment.ms": "600000",
                "max.message.bytes": "16777216",
            },
            "Engine book snapshots per symbol, with the input offsets they cover",
        ),
    ]


def _registry_spec() -> TopicSpec:
    return TopicSpec(REGISTRY_TOPIC, 1, {"cleanup.policy": "compact"}, "apply's ownership registry")


class Action(StrEnum):
    CREATED = "created"
    PARTITIONS = "partitions increased"
    CONFIG = "config updated"
    ADOPTED = "adopted"
    DELETED = "deleted"
    UNCHANGED = "unchanged"
    REFUSED = "refused"


@dataclass(frozen=True)
class Change:
    topic: str
    action: Action
    detail: str = ""


@dataclass
class ApplyReport:
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> list[Change]:
        return [c for c in self.changes if c.action not in (Action.UNCHANGED, Action.REFUSED)]


class TopicsError(PlatformError):
    pass


def _wait(futures: dict, what: str) -> None:
    for name, future in futures.items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            raise TopicsError(f"{what} {name}: {exc.args[0].str()}") from None


def _read_registry(settings: Settings) -> set[str]:
    """Topics `apply` has registered as its own (latest value per key, tombstones drop)."""
    reader = consumer(settings.kafka, group_id="orderbook-topics-registry")
    try:
        partition = TopicPartition(REGISTRY_TOPIC, 0)
        low, high = reader.get_watermark_offsets(partition, timeout=10)
        if high <= low:
            return set()
        reader.assign([TopicPartition(REGISTRY_TOPIC, 0, low)])
        owned: set[str] = set()
        position = low
        while position < high - 1:
            messages = reader.consume(num_messages=1000, timeout=5)
            if not messages:
                break
            for message in messages:
                if message.error():
                    continue
                position = message.offset()
                name = message.key().decode()
                if message.value():
                    owned.add(name)
                else:
                    owned.discard(name)
        return owned
    finally:
        reader.close()


def _read_registry_when_led(settings: Settings, attempts: int = 20) -> set[str]:
    """A just-created registry topic may have no leader for a moment: retry briefly."""
    for attempt in range(attempts):
        try:
            return _read_registry(settings)
        except KafkaException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    return set()


def _write_registry(settings: Settings, owned: Iterable[str], released: Iterable[str]) -> None:
    writer = producer(settings.kafka)
    for name in owned:
        writer.produce(REGISTRY_TOPIC, key=name.encode(), value=b'{"owner":"orderbook"}')
    for name in released:
        writer.produce(REGISTRY_TOPIC, key=name.encode(), value=None)
    if writer.flush(30) != 0:
        raise TopicsError("could not write the topic registry")


def _current_configs(admin: AdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
    if not resources:
        return {}
    result: dict[str, dict[str, str]] = {}
    for resource, future in admin.describe_configs(resources).items():
        entries = future.result(timeout=30)
        result[resource.name] = {key: entry.value for key, entry in entries.items()}
    return result


def _ensure_topics(
    admin: AdminClient, specs: list[TopicSpec], replication: int, report: ApplyReport
) -> set[str]:
    """Create missing topics, grow partitions, align configs; returns the names created."""
    metadata = admin.list_topics(timeout=30).topics
    missing = [s for s in specs if s.name not in metadata]
    if missing:
        futures = admin.create_topics(
            [NewTopic(s.name, s.partitions, replication, config=s.config) for s in missing]
        )
        _wait(futures, "creating topic")
        for spec in missing:
            report.changes.append(
                Change(spec.name, Action.CREATED, f"{spec.partitions} partitions")
            )

    existing = [s for s in specs if s.name in metadata]
    grow = {}
    for spec in existing:
        current = len(metadata[spec.name].partitions)
        if spec.partitions > current:
            grow[spec.name] = NewPartitions(spec.name, spec.partitions)
            report.changes.append(
                Change(spec.name, Action.PARTITIONS, f"{current} -> {spec.partitions}")
            )
        elif spec.partitions < current:
            report.changes.append(
                Change(
                    spec.name,
                    Action.REFUSED,
                    f"has {current} partitions; Kafka cannot shrink to {spec.partitions}",
                )
            )
    if grow:
        _wait(admin.create_partitions(list(grow.values())), "adding partitions to")

    configs = _current_configs(admin, [s.name for s in existing])
    for spec in existing:
        drift = {k: v for k, v in spec.config.items() if configs[spec.name].get(k) != v}
        if not drift:
            continue
        resource = ConfigResource(
            ConfigResource.Type.TOPIC,
            spec.name,
            incremental_configs=[
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                for k, v in drift.items()
            ],
        )
        _wait(admin.incremental_alter_configs([resource]), "updating config of")
        detail = ", ".join(f"{k}={v}" for k, v in sorted(drift.items()))
        report.changes.append(Change(spec.name, Action.CONFIG, detail))
    return {s.name for s in missing}


def apply_topics(settings: Settings, prune: bool = False) -> ApplyReport:
    """Make the cluster match `declared_topics`. Running it twice changes nothing."""
    admin = admin_client(settings.kafka)
    replication = settings.topics.replication_factor
    report = ApplyReport()
    registry = ApplyReport()
    _ensure_topics(admin, [_registry_spec()], 1, registry)

    specs = declared_topics(settings)
    owned_before = _read_registry_when_led(settings)
    created = _ensure_topics(admin, specs, replication, report)
    declared = {s.name for s in specs}
    for name in sorted(declared - owned_before - created):
        report.changes.append(Change(name, Action.ADOPTED, "existed before; now owned"))
    touched = {c.topic for c in report.changes}
    for spec in specs:
        if spec.name not in touched:
            report.changes.append(Change(spec.name, Action.UNCHANGED))

    released: list[str] = []
    if prune:
        present = set(admin.list_topics(timeout=30).topics)
        stale = sorted((owned_before - declared) & present)
        if stale:
            _wait(admin.delete_topics(stale), "deleting topic")
            report.changes.extend(
                Change(n, Action.DELETED, "owned, no longer declared") for n in stale
            )
        released = sorted(owned_before - declared)
    _write_registry(settings, sorted(declared - owned_before), released)
    return report
