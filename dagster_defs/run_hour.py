"""Materialise one hour (ingestion, checks, analytics) in process: `orderbook run` ends here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from dagster_defs.analytics import compute
from dagster_defs.analytics.assets import analytics_assets, chart_path
from dagster_defs.automation.schedules import hourly_platform_job
from dagster_defs.ingestion.assets import ingest_kafka_topics
from dagster_defs.io_manager import LakeIOManager, read_partition
from dagster_defs.lake import Lake, analytics_path, partition_path
from dagster_defs.partitions import floor_hour, partition_key_for
from dagster_defs.quality.checks import all_checks
from dagster_defs.resources import (
    AlertResource,
    KafkaResource,
    LakeResource,
    MarketResource,
    SparkResource,
)
from orderbook_platform.config import Settings


def resources_for(settings: Settings, lake_root: str | None = None) -> dict[str, Any]:
    """Resources bound to explicit settings (tests, CLI): no environment lookups at run time."""
    lake = LakeResource(
        root=lake_root or str((settings.stack.state_dir / "lake").resolve()),
        s3_endpoint_url=settings.s3.endpoint_url,
        s3_access_key=settings.s3.access_key,
        s3_secret_key=settings.s3.secret_key.get_secret_value(),
        s3_region=settings.s3.region,
    )
    kafka = settings.kafka
    return {
        "lake": lake,
        "io_manager": LakeIOManager(lake=lake),
        "spark": SparkResource(
            jars_dir=str(settings.stack.jars_dir),
            s3_endpoint_url=settings.s3.endpoint_url,
            s3_access_key=settings.s3.access_key,
            s3_secret_key=settings.s3.secret_key.get_secret_value(),
            s3_region=settings.s3.region,
        ),
        "kafka": KafkaResource(
            bootstrap_servers=kafka.bootstrap_servers,
            security_protocol=kafka.security_protocol,
            sasl_mechanism=kafka.sasl_mechanism,
            sasl_username=kafka.sasl_username,
            sasl_password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
        ),
        "market": MarketResource(),
        "alerts": AlertResource(),
    }


def lake_for(settings: Settings, lake_root: str | None = None) -> Lake:
    """The lake `materialize_hour(settings, ..., lake_root)` writes to."""
    return resources_for(settings, lake_root)["lake"].lake()


def read_lake_hour(
    settings: Settings, hour: datetime, table: str, lake_root: str | None = None
) -> pl.DataFrame | None:
    """One hour of a lake table (`raw/<topic>` or `analytics/<asset>`, see `dagster_defs.lake`)
    as stored, malformed raw rows included; None when the hour was never written."""
    return lake_for(settings, lake_root).read_parquet(partition_path(table, floor_hour(hour)))


# Telemetry off (no banner, nothing sent); ticks kept a bounded time: a sensor ticks every
# 30-60 s, so without a purge its tick history grows for ever. Runs and their event logs are
# kept: they are the audit trail of what was ingested.
DAGSTER_YAML = """\
telemetry:
  enabled: false
retention:
  schedule:
    purge_after_days: 90
  sensor:
    purge_after_days:
      skipped: 7
      failure: 30
      success: 30
  auto_materialize:
    purge_after_days:
      skipped: 7
      failure: 30
      success: 30
"""


def dagster_home(settings: Settings) -> Path:
    """The persistent DAGSTER_HOME shared by `orderbook run` and the UI, with a `dagster.yaml`
    (written once; a file the user edited is left as it is)."""
    home = (settings.stack.state_dir / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home


def platform_env(settings: Settings, lake_root: str | None = None) -> dict[str, str]:
    """Environment for `dagster dev`: DAGSTER_HOME, the stack's endpoints and the secrets that
    `definitions.py` binds as EnvVar (unset alert targets are empty, i.e. disabled)."""
    env = {
        "DAGSTER_HOME": str(dagster_home(settings)),
        "OB__STACK__STATE_DIR": str(settings.stack.state_dir.resolve()),
        "OB__STACK__JARS_DIR": str(settings.stack.jars_dir),
        "OB__KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap(),
        "OB__S3__ENDPOINT_URL": str(settings.s3.endpoint_url or ""),
        "OB__S3__ACCESS_KEY": settings.s3.access_key,
        "OB__S3__SECRET_KEY": settings.s3.secret_key.get_secret_value(),
        "OB__ALERTS__WEBHOOK_URL": os.environ.get("OB__ALERTS__WEBHOOK_URL", ""),
        "OB__ALERTS__SLACK_CHANNEL": os.environ.get("OB__ALERTS__SLACK_CHANNEL", ""),
        "OB__ALERTS__SLACK_TOKEN": os.environ.get("OB__ALERTS__SLACK_TOKEN", ""),
    }
    if lake_root:
        env["OB__LAKE__ROOT"] = lake_root
    return env


@dataclass
class HourSummary:
    partition_key: str
    lake_root: str
    success: bool
    checks: dict[str, bool] = field(default_factory=dict)
    ohlc: pl.DataFrame | None = None
    vwap: pl.DataFrame | None = None
    fill_rate: pl.DataFrame | None = None
    market_quality: pl.DataFrame | None = None
    chart: str | None = None
    run_id: str | None = None
    # Why steps failed, as their error messages (e.g. an ingestion refused because Kafka no
    # longer has offsets the lake needs, naming topic, partition and offsets).
    failures: list[str] = field(default_factory=list)


def materialize_hour(
    settings: Settings,
    hour: datetime,
    lake: str | None = None,
    instance: dg.DagsterInstance | None = None,
    console_log_level: str = "DEBUG",
) -> HourSummary:
    """Ingest, check and analyse the hour containing `hour` into `lake` (default: local).

    `console_log_level` only filters what the run prints; the event log (and so the UI)
    keeps every event of the run.
    """
    key = partition_key_for(floor_hour(hour))
    resources = resources_for(settings, lake)
    if instance is None:
        instance = dg.DagsterInstance.from_config(str(dagster_home(settings)))
    # The named job of the code location, so the run is listed under `hourly_platform` in the
    # UI, not as an anonymous `__ephemeral_asset_job__`.
    job = dg.Definitions(
        assets=[ingest_kafka_topics, *analytics_assets],
        asset_checks=all_checks,
        jobs=[hourly_platform_job],
        resources=resources,
        executor=dg.in_process_executor,
    ).resolve_job_def(hourly_platform_job.name)
    result = job.execute_in_process(
        partition_key=key,
        instance=instance,
        raise_on_error=False,
        tags={"orderbook/trigger": "orderbook run"},
        run_config={"loggers": {"console": {"config": {"log_level": console_log_level}}}},
    )
    store = resources["lake"].lake()
    summary = HourSummary(key, store.root, result.success, run_id=result.run_id)
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        reason = data.user_failure_data.description if data.user_failure_data else None
        summary.failures.append(
            f"{event.step_key}: {reason or (data.error.message if data.error else 'failed')}"
        )
    for evaluation in result.get_asset_check_evaluations():
        summary.checks[f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"] = (
            evaluation.passed
        )
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    tables = {
        "ohlc_1m": "ohlc",
        "vwap": "vwap",
        "fill_rate": "fill_rate",
        "market_quality": "market_quality",
    }
    for asset, attribute in tables.items():
        if asset in materialized:
            setattr(summary, attribute, read_partition(store, analytics_path(asset), key))
    if summary.vwap is not None:
        summary.vwap = compute.vwap_summary(summary.vwap)
    if "ohlc_chart" in materialized:
        summary.chart = store.uri(chart_path(floor_hour(hour)))
    return summary
