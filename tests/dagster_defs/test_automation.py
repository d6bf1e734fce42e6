"""The hourly schedule and the run-failure alert sensor, through Dagster's test contexts."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest
from webhook import recording_webhook

from dagster_defs.automation.schedules import hourly_raw_ingestion, raw_ingestion_job
from dagster_defs.automation.sensors import run_failure_alerts
from dagster_defs.definitions import defs
from dagster_defs.resources import AlertResource

pytestmark = pytest.mark.unit


def test_the_schedule_ingests_the_hour_that_just_ended_five_minutes_past_the_hour() -> None:
    assert hourly_raw_ingestion.cron_schedule == "5 * * * *"
    assert hourly_raw_ingestion.execution_timezone == "UTC"
    assert hourly_raw_ingestion.job_name == raw_ingestion_job.name
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 25, 10, 5, tzinfo=UTC)
    )
    request = hourly_raw_ingestion(context)
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2026-11-25-09:00"
    assert request.run_key == "2026-11-25-09:00"


def test_the_schedule_crosses_midnight_into_the_previous_day() -> None:
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 25, 0, 5, tzinfo=UTC)
    )
    assert hourly_raw_ingestion(context).partition_key == "2026-11-24-23:00"


def test_the_raw_ingestion_job_covers_every_raw_topic() -> None:
    job = defs.resolve_job_def("raw_ingestion")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert keys == {"raw_orders", "raw_trades", "raw_prices", "raw_book", "raw_order_events"}


@dg.op
def explode() -> None:
    raise RuntimeError("the market is closed")


@dg.job
def doomed() -> None:
    explode()


def test_a_failed_run_alerts_the_log_and_the_webhook() -> None:
    with dg.instance_for_test() as instance, recording_webhook() as (url, received):
        result = doomed.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alerts",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(),
            resources={"alerts": AlertResource(webhook_url=url)},
        ).for_run_failure()
        run_failure_alerts(context)
    assert len(received) == 1
    alert = received[0]
    assert alert["kind"] == "run_failed"
    assert alert["fields"]["job"] == "doomed"
    assert alert["fields"]["run_id"] == result.run_id


def test_a_broken_webhook_does_not_stop_the_log_alert() -> None:
    from dagster_defs.automation.alerts import Alert, WebhookTarget, deliver

    reached = deliver(
        Alert("check_failed", "t", "x"), [WebhookTarget("http://127.0.0.1:9/none", 1.0)]
    )
    assert reached == ["log"]
