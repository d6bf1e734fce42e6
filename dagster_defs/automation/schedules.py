"""Jobs and the hourly schedule."""

from datetime import timedelta

import dagster as dg

from dagster_defs.automation.defaults import schedule_status
from dagster_defs.partitions import floor_hour, partition_key_for

raw_ingestion_job = dg.define_asset_job(
    "raw_ingestion",
    selection=dg.AssetSelection.groups("raw"),
    description="Spark batch-reads every topic for the hour into the raw lake, then the checks.",
)

hourly_platform_job = dg.define_asset_job(
    "hourly_platform",
    selection=dg.AssetSelection.groups("raw", "analytics"),
    description="Ingestion and analytics of one hour in one run (used by `orderbook run`).",
)


@dg.schedule(
    job=raw_ingestion_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=schedule_status(),
)
def hourly_raw_ingestion(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """At :05, ingest the hour that just ended; the analytics follow by automation.

    Built by hand rather than with build_schedule_from_partitioned_job: the partitions
    include the still-filling current hour (end_offset=1), which that helper would target.
    """
    hour = floor_hour(context.scheduled_execution_time) - timedelta(hours=1)
    key = partition_key_for(hour)
    return dg.RunRequest(run_key=key, partition_key=key, tags={"orderbook/trigger": "schedule"})
