"""Raw ingestion: one Spark step batch-reads each selected Kafka topic for the run's hours."""

from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta

import dagster as dg

from dagster_defs.ingestion.describe import describe_ingestion
from dagster_defs.ingestion.lifetime import (
    build_manifest,
    find_gaps,
    held_offsets,
    manifest_path,
    read_manifest,
    refusal,
    topic_state,
)
from dagster_defs.ingestion.spark_kafka import ingest_topic
from dagster_defs.io_manager import LAKE_PATH
from dagster_defs.lake import raw_path
from dagster_defs.ownership import CODE_VERSION, RAW_OWNERS, tags_for
from dagster_defs.partitions import hourly_partitions, hours_in
from dagster_defs.quality.table_schema import column_schema_metadata, raw_table_schema
from dagster_defs.resources import KafkaResource, LakeResource, SparkResource

RAW_TOPICS: dict[str, str] = {
    "raw_orders": "orders",
    "raw_trades": "trades",
    "raw_prices": "prices",
    "raw_book": "book",
    "raw_order_events": "order_events",
}

# The hourly schedule runs at :05; two hours without a new partition means it is stuck.
RAW_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=2), warn_window=timedelta(minutes=75)
)


def _raw_spec(name: str, topic: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        name,
        description=f"Committed records of Kafka topic `{topic}` for the hour, as typed parquet.",
        group_name="raw",
        kinds={"spark", "kafka", "parquet"},
        metadata={
            LAKE_PATH: raw_path(topic),
            "kafka_topic": topic,
            **column_schema_metadata(*raw_table_schema(topic)),
        },
        partitions_def=hourly_partitions,
        freshness_policy=RAW_FRESHNESS,
        owners=RAW_OWNERS,
        tags=tags_for("raw") | {"source": "kafka"},
        code_version=CODE_VERSION,
    )


@dg.multi_asset(
    name="ingest_kafka_topics",
    specs=[_raw_spec(name, topic) for name, topic in RAW_TOPICS.items()],
    can_subset=True,
    # A backfill of many hours runs as one Spark job that scans each topic once.
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def ingest_kafka_topics(
    context: dg.AssetExecutionContext,
    spark: SparkResource,
    kafka: KafkaResource,
    lake: LakeResource,
) -> Iterator[dg.MaterializeResult]:
    window = context.partition_time_window
    store = lake.lake()
    store.ensure_bucket()
    settings = kafka.settings()
    hours = hours_in(window.start, window.end)
    keys = sorted(context.selected_asset_keys, key=lambda k: k.to_user_string())
    # Every selected topic and hour is checked before anything is written: a refused run
    # leaves the whole lake as it was (see ingestion/lifetime.py).
    states = {}
    gaps = []
    for key in keys:
        topic = RAW_TOPICS[key.path[-1]]
        states[topic] = topic_state(settings, topic, hours)
        for hour in hours:
            gaps += find_gaps(
                topic, hour, states[topic][hour],
                held_offsets(store, topic, hour), read_manifest(store, topic, hour),
            )  # fmt: skip
    if gaps:
        raise dg.Failure(
            description=refusal(gaps),
            metadata={"missing_offsets": dg.MetadataValue.json([asdict(g) for g in gaps])},
        )
    for key in keys:
        topic = RAW_TOPICS[key.path[-1]]
        written = ingest_topic(
            spark.spark_session, kafka.spark_options(), store, topic,
            window.start, window.end, staging_dir=lake.staging_dir(),
        )  # fmt: skip
        for hour in written:
            manifest = build_manifest(
                topic, hour.hour, states[topic][hour.hour],
                [(o.partition, o.first, o.last, o.records) for o in hour.offsets],
            )  # fmt: skip
            store.write_bytes(manifest_path(topic, hour.hour), manifest.to_json())
        yield dg.MaterializeResult(asset_key=key, metadata=describe_ingestion(written))
