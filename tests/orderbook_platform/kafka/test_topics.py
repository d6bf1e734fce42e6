"""`topics apply` against the real broker."""

import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from orderbook_platform.config import Settings
from orderbook_platform.kafka.clients import admin_client, consumer, producer
from orderbook_platform.kafka.topics import Action, apply_topics, declared_topics
from orderbook_platform.stack import Stack
from orderbook_platform.testing import stack_settings_for

sys.path.insert(0, str(Path(__file__).parent))
from private_broker import private_broker

pytestmark = pytest.mark.integration


def test_apply_twice_changes_nothing_the_second_time(settings: Settings):
    apply_topics(settings)
    again = apply_topics(settings)
    assert again.changed == []
    assert {c.topic for c in again.changes} == {s.name for s in declared_topics(settings)}
    assert all(c.action is Action.UNCHANGED for c in again.changes)


def test_every_declared_topic_exists_with_its_partitions_and_configs(settings: Settings):
    admin = admin_client(settings.kafka)
    topics = admin.list_topics(timeout=10).topics
    for spec in declared_topics(settings):
        assert len(topics[spec.name].partitions) == spec.partitions
        resource = ConfigResource(ConfigResource.Type.TOPIC, spec.name)
        actual = admin.describe_configs([resource])[resource].result(timeout=10)
        for key, value in spec.config.items():
            assert actual[key].value == value, (spec.name, key)


def test_apply_repairs_config_drift_and_reports_it(settings: Settings):
    admin = admin_client(settings.kafka)
    resource = ConfigResource(
        ConfigResource.Type.TOPIC,
        "trades",
        incremental_configs=[
            ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)
        ],
    )
    admin.incremental_alter_configs([resource])[resource].result(timeout=10)
    report = apply_topics(settings)
    assert [(c.topic, c.action) for c in report.changed] == [("trades", Action.CONFIG)]
    assert "retention.ms" in report.changed[0].detail
    assert apply_topics(settings).changed == []


def test_apply_grows_partitions_when_the_declaration_grows(settings: Settings):
    bigger = settings.model_copy(deep=True)
    bigger.topics.partitions = settings.topics.partitions + 1
    report = apply_topics(bigger)
    grown = {c.topic for c in report.changed if c.action is Action.PARTITIONS}
    assert "orders" in grown and "orders.dlq" not in grown
    assert apply_topics(bigger).changed == []
    shrunk = apply_topics(settings)
    refused = {c.topic for c in shrunk.changes if c.action is Action.REFUSED}
    assert "orders" in refused, "Kafka cannot shrink partitions: apply must say so, not pretend"


def test_prune_never_deletes_a_foreign_topic_but_deletes_its_own_stale_ones(settings: Settings):
    admin = admin_client(settings.kafka)
    foreign = f"someone-elses-{uuid.uuid4().hex[:6]}"
    admin.create_topics([NewTopic(foreign, 1, 1)])[foreign].result(timeout=30)

    # A platform version that declared one more topic, applied, then dropped it.
    extra = f"platform-retired-{uuid.uuid4().hex[:6]}"
    import orderbook_platform.kafka.topics as topics_module

    original = topics_module.declared_topics
    try:
        topics_module.declared_topics = lambda s: [*original(s), topics_module.TopicSpec(extra, 1)]
        assert any(
            c.topic == extra and c.action is Action.CREATED for c in apply_topics(settings).changes
        )
    finally:
        topics_module.declared_topics = original

    report = apply_topics(settings, prune=True)
    present = admin.list_topics(timeout=10).topics
    assert foreign in present, "a topic the platform did not create must never be deleted"
    assert extra not in present
    assert [(c.topic, c.action) for c in report.changed] == [(extra, Action.DELETED)]
    assert apply_topics(settings, prune=True).changed == []


def test_produce_and_consume_on_every_declared_topic(tmp_path):
    # A stack of its own: raw probe bytes must not land on topics other tests consume.
    settings = stack_settings_for(tmp_path / ".orderbook")
    stack = Stack(settings)
    stack.up()
    try:
        apply_topics(settings)
        run = uuid.uuid4().hex
        writer = producer(settings.kafka)
        names = [s.name for s in declared_topics(settings)]
        for name in names:
            writer.produce(name, key=b"XYZ", value=f'{{"probe":"{run}","topic":"{name}"}}'.encode())
        assert writer.flush(30) == 0

        reader = consumer(settings.kafka, group_id=f"probe-{run}")
        reader.subscribe(names)
        seen: set[str] = set()
        try:
            for _ in range(60):
                for message in reader.consume(num_messages=500, timeout=1):
                    assert message.error() is None
                    if run.encode() in message.value():
                        seen.add(message.topic())
                if seen == set(names):
                    break
        finally:
            reader.close()
        assert seen == set(names)
    finally:
        stack.down(purge=True)


SEVEN_DAYS_MS = str(7 * 24 * 3600 * 1000)  # what `apply` used to declare


def test_apply_lifts_time_retention_on_existing_topics_and_year_old_records_survive():
    """On a broker that checks retention every second: topics created with the old 7-day
    config are updated by `apply`, and records stamped a year ago stay, while a topic that
    keeps the old config loses the same records."""
    with private_broker(apply=False) as settings:
        admin = admin_client(settings.kafka)
        old = {"retention.ms": SEVEN_DAYS_MS, "cleanup.policy": "delete"}
        control = "still-seven-days"
        futures = admin.create_topics(
            [NewTopic(name, 3, 1, config=old) for name in ("orders", "trades", control)]
        )
        for future in futures.values():
            future.result(timeout=30)

        report = apply_topics(settings)
        updated = {c.topic: c.detail for c in report.changes if c.action is Action.CONFIG}
        assert set(updated) == {"orders", "trades"}, report.changes
        assert all("retention.ms=-1" in detail for detail in updated.values())

        year_ago_ms = int((datetime.now(UTC) - timedelta(days=365)).timestamp() * 1000)
        writer = producer(settings.kafka)
        for name in ("orders", "trades", control):  # the control last: see below
            for i in range(30):
                writer.produce(
                    name, key=f"S{i % 3}".encode(), value=b"{}", timestamp=year_ago_ms + i
                )
            assert writer.flush(30) == 0

        reader = consumer(settings.kafka, group_id=f"retention-{uuid.uuid4().hex}")

        def kept(name: str) -> int:
            partitions = reader.list_topics(name, timeout=10).topics[name].partitions
            total = 0
            for p in partitions:
                low, high = reader.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                total += high - low
            return total

        try:
            # The broker's retention pass empties the control topic; the same pass saw the
            # platform's topics, whose records were written before the control's.
            for _ in range(240):
                if kept(control) == 0:
                    break
                time.sleep(0.25)
            assert kept(control) == 0, "the broker never applied the 7-day retention"
            assert kept("orders") == 30
            assert kept("trades") == 30
        finally:
            reader.close()
