"""Data lifetime on a real broker, real Spark and a local lake: an hour whose topic records
were deleted is never re-ingested over the lake's rows, and records deleted before they
were ever ingested fail the run loudly, naming the offsets.

These tests delete records, so they run on a broker of their own (`own_broker`): the
session stack's topics are shared by every other test.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from confluent_kafka import TopicPartition
from market_data import HourOfMarket, build_hour, past_hour, publish
from webhook import recording_webhook

from dagster_defs.automation.sensors import run_failure_alerts
from dagster_defs.ingestion.lifetime import MANIFEST_FILE
from dagster_defs.lake import analytics_path, partition_path, raw_path
from dagster_defs.resources import AlertResource
from dagster_defs.run_hour import materialize_hour, resources_for
from orderbook_platform.config import Settings
from orderbook_platform.kafka.clients import admin_client, consumer

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(own_broker: Settings) -> Settings:
    return own_broker


def partitions_of(settings: Settings, topic: str, market: HourOfMarket) -> dict[int, list[int]]:
    """Offsets of the hour's committed records per partition, read back from the topic."""
    start_ms = int(market.hour.timestamp() * 1000)
    end_ms = start_ms + 3_600_000
    reader = consumer(settings.kafka, group_id=f"lifetime-{topic}-{start_ms}")
    try:
        found: dict[int, list[int]] = {}
        parts = reader.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {
            p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts
        }
        reader.assign([TopicPartition(topic, p, 0) for p in parts])
        pending = {p for p, end in ends.items() if end > 0}
        for _ in range(200):
            if not pending:
                break
            for message in reader.consume(num_messages=1000, timeout=0.5):
                if message.error():
                    continue
                if start_ms <= message.timestamp()[1] < end_ms:
                    found.setdefault(message.partition(), []).append(message.offset())
            for tp in reader.position([TopicPartition(topic, p) for p in pending]):
                if tp.offset >= ends[tp.partition]:
                    pending.discard(tp.partition)
        assert not pending, "could not read the topic back"
        return found
    finally:
        reader.close()


def delete_before(settings: Settings, topic: str, partition: int, offset: int) -> None:
    admin = admin_client(settings.kafka)
    futures = admin.delete_records([TopicPartition(topic, partition, offset)])
    for future in futures.values():
        future.result(timeout=30)


def lake_frame(settings: Settings, lake: str, table: str, hour: datetime) -> pl.DataFrame | None:
    store = resources_for(settings, lake)["lake"].lake()
    return store.read_parquet(partition_path(table, hour))


def test_records_deleted_before_their_hour_was_ingested_fail_the_run_naming_them(
    broker: Settings, tmp_path: Path
) -> None:
    market = build_hour(past_hour(5), symbols=("LFA", "LFB"), seed=3)
    publish(broker, market)
    partition, offsets = max(
        partitions_of(broker, "orders", market).items(), key=lambda item: len(item[1])
    )
    cut = offsets[4]  # the hour's first four orders in that partition are gone
    delete_before(broker, "orders", partition, cut)

    lake = str(tmp_path / "lake")
    summary = materialize_hour(broker, market.hour, lake, instance=dg.DagsterInstance.ephemeral())

    assert not summary.success
    message = "\n".join(summary.failures)
    assert f"orders partition {partition} offsets 0..{cut - 1}" in message, message
    assert "before this hour was ever ingested" in message
    # Refused before anything was written: no topic of the hour reached the lake.
    for topic in ("orders", "trades", "prices", "book", "order_events"):
        assert lake_frame(broker, lake, raw_path(topic), market.hour) is None


def test_rematerialising_an_hour_whose_records_were_deleted_keeps_the_lake_and_alerts(
    broker: Settings, tmp_path: Path
) -> None:
    market = build_hour(past_hour(3), symbols=("LTA", "LTB"), seed=5)
    publish(broker, market)
    lake = str(tmp_path / "lake")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        first = materialize_hour(broker, market.hour, lake, instance=instance)
        assert first.success, first.failures
        trades_before = lake_frame(broker, lake, raw_path("trades"), market.hour)
        ohlc_before = lake_frame(broker, lake, analytics_path("ohlc_1m"), market.hour)
        assert trades_before is not None and trades_before.height == len(market.trades)
        assert ohlc_before is not None and ohlc_before.height > 0
        manifest = Path(lake, partition_path(raw_path("trades"), market.hour), MANIFEST_FILE)
        assert manifest.is_file()

        partition, offsets = max(
            partitions_of(broker, "trades", market).items(), key=lambda item: len(item[1])
        )
        cut = offsets[3]
        delete_before(broker, "trades", partition, cut)
        held_below = trades_before.filter(
            (pl.col("kafka_partition") == partition) & (pl.col("kafka_offset") < cut)
        )
        assert held_below.height == 3

        again = materialize_hour(broker, market.hour, lake, instance=instance)

        assert not again.success
        message = "\n".join(again.failures)
        first_held = held_below["kafka_offset"].min()
        assert f"trades partition {partition} offsets {first_held}..{cut - 1}" in message
        assert "the lake holds 3 record(s) of this hour below the log start" in message
        trades_after = lake_frame(broker, lake, raw_path("trades"), market.hour)
        ohlc_after = lake_frame(broker, lake, analytics_path("ohlc_1m"), market.hour)
        assert trades_after is not None and trades_after.equals(trades_before)
        assert ohlc_after is not None and ohlc_after.equals(ohlc_before)

        # The failed run reaches the run-failure alert sensor like any other.
        failed_run = instance.get_run_by_id(again.run_id)
        failure_event = next(
            record.event_log_entry.dagster_event
            for record in instance.get_records_for_run(again.run_id).records
            if record.event_log_entry.dagster_event is not None
            and record.event_log_entry.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
        )
        with recording_webhook() as (url, received):
            context = dg.build_run_status_sensor_context(
                sensor_name="run_failure_alerts",
                dagster_instance=instance,
                dagster_run=failed_run,
                dagster_event=failure_event,
                resources={"alerts": AlertResource(webhook_url=url)},
            ).for_run_failure()
            run_failure_alerts(context)
        assert [a["kind"] for a in received] == ["run_failed"]
        assert received[0]["fields"]["run_id"] == again.run_id
