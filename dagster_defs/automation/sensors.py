"""Sensors: alerts on failed asset checks and failed runs, and declarative automation."""

import json
from collections.abc import Sequence
from typing import Any

import dagster as dg
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)

from dagster_defs.automation.alerts import Alert
from dagster_defs.automation.defaults import sensor_status
from dagster_defs.resources import AlertResource

HISTORY_PER_CHECK = 50

analytics_automation = dg.AutomationConditionSensorDefinition(
    "analytics_automation",
    target=dg.AssetSelection.groups("analytics"),
    default_status=sensor_status(),
    minimum_interval_seconds=30,
    description="Materialises the analytics once their raw inputs pass their blocking checks.",
)


def _check_alert(record: AssetCheckExecutionRecord) -> Alert:
    evaluation = record.event.asset_check_evaluation if record.event else None
    key = record.key
    metadata = {k: v.value for k, v in (evaluation.metadata if evaluation else {}).items()}
    summary = {
        k: metadata[k]
        for k in (
            "rows",
            "failures",
            "failures_by_check",
            "missing_from_lake",
            "unexpected_in_lake",
        )
        if k in metadata
    }
    severity = evaluation.severity.value if evaluation else "ERROR"
    return Alert(
        kind="check_failed",
        title=f"Check {key.asset_key.to_user_string()}:{key.name} failed",
        text=(evaluation.description if evaluation and evaluation.description else "")
        or f"{severity} on partition {record.partition or '-'}",
        fields={
            "asset": key.asset_key.to_user_string(),
            "check": key.name,
            "partition": record.partition,
            "severity": severity,
            "run_id": record.run_id,
            **summary,
        },
    )


def build_check_failure_sensor(check_keys: Sequence[dg.AssetCheckKey]) -> dg.SensorDefinition:
    """Polls each check's execution history (SQLite-safe, unlike get_event_records on
    ASSET_CHECK_EVALUATION) and alerts once per new failed execution."""
    keys = sorted(check_keys, key=lambda k: k.to_user_string())

    @dg.sensor(
        name="check_failure_alerts",
        minimum_interval_seconds=60,
        default_status=sensor_status(),
        description="Alerts (log, webhook, Slack) for every failed asset check execution.",
    )
    def check_failure_alerts(
        context: dg.SensorEvaluationContext, alerts: AlertResource
    ) -> dg.SkipReason:
        seen: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        storage = context.instance.event_log_storage
        sent = 0
        for key in keys:
            name = key.to_user_string()
            history = storage.get_asset_check_execution_history(key, limit=HISTORY_PER_CHECK)
            newest = max((r.id for r in history), default=seen.get(name, 0))
            for record in sorted(history, key=lambda r: r.id):
                if record.id <= seen.get(name, 0):
                    continue
                if record.status == AssetCheckExecutionRecordStatus.FAILED:
                    alerts.send(_check_alert(record), context.log)
                    sent += 1
            seen[name] = max(newest, seen.get(name, 0))
        context.update_cursor(json.dumps(seen, sort_keys=True))
        return dg.SkipReason(f"{sent} alert(s) sent" if sent else "no new failed checks")

    return check_failure_alerts


@dg.run_failure_sensor(
    name="run_failure_alerts",
    default_status=sensor_status(),
    description="Alerts (log, webhook, Slack) when any run of this code location fails.",
)
def run_failure_alerts(context: dg.RunFailureSensorContext, alerts: AlertResource) -> None:
    run = context.dagster_run
    fields: dict[str, Any] = {
        "run_id": run.run_id,
        "job": run.job_name,
        "partition": run.tags.get("dagster/partition"),
    }
    alerts.send(
        Alert(
            kind="run_failed",
            title=f"Run of {run.job_name} failed",
            text=context.failure_event.message or "run failed",
            fields=fields,
        ),
        context.log,
    )
