"""The code location: composes assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

import dagster as dg

from dagster_defs.analytics.assets import analytics_assets
from dagster_defs.automation.schedules import (
    hourly_platform_job,
    hourly_raw_ingestion,
    raw_ingestion_job,
)
from dagster_defs.automation.sensors import (
    analytics_automation,
    build_check_failure_sensor,
    run_failure_alerts,
)
from dagster_defs.ingestion.assets import ingest_kafka_topics
from dagster_defs.io_manager import LakeIOManager
from dagster_defs.quality.checks import all_checks
from dagster_defs.resources import (
    AlertResource,
    KafkaResource,
    LakeResource,
    MarketResource,
    SparkResource,
)


def default_resources() -> dict[str, object]:
    """Resources for the UI and the daemon: secrets come from the environment at run time
    (`orderbook platform ui` exports them from the platform settings)."""
    lake = LakeResource(
        s3_access_key=dg.EnvVar("OB__S3__ACCESS_KEY"),
        s3_secret_key=dg.EnvVar("OB__S3__SECRET_KEY"),
    )
    return {
        "lake": lake,
        "io_manager": LakeIOManager(lake=lake),
        "spark": SparkResource(
            s3_access_key=dg.EnvVar("OB__S3__ACCESS_KEY"),
            s3_secret_key=dg.EnvVar("OB__S3__SECRET_KEY"),
        ),
        "kafka": KafkaResource(),
        "market": MarketResource(),
        "alerts": AlertResource(
            webhook_url=dg.EnvVar("OB__ALERTS__WEBHOOK_URL"),
            slack_channel=dg.EnvVar("OB__ALERTS__SLACK_CHANNEL"),
            slack_token=dg.EnvVar("OB__ALERTS__SLACK_TOKEN"),
        ),
    }


check_keys = [key for check in all_checks for key in check.check_keys]

defs = dg.Definitions(
    assets=[ingest_kafka_topics, *analytics_assets],
    asset_checks=all_checks,
    jobs=[raw_ingestion_job, hourly_platform_job],
    schedules=[hourly_raw_ingestion],
    sensors=[build_check_failure_sensor(check_keys), run_failure_alerts, analytics_automation],
    resources=default_resources(),
    # One process per run: one Spark JVM serves every step, and a 2-core box is not
    # oversubscribed by a process per step.
    executor=dg.in_process_executor,
)
