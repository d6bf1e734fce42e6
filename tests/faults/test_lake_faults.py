"""S8, S9, S10: old history on the topics, a Spark job killed mid-write, and topic data
deleted under the lake. The hour's orders are matched by a real engine first, so every
raw topic of the hour holds real output; PySpark is the project's own (dagster_defs).

The suite's broker checks retention every second (tests/faults/conftest.py), so a record
that retention would delete is gone within seconds, not minutes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from dagster_defs.analytics.assets import analytics_assets
from dagster_defs.automation.sensors import run_failure_alerts
from dagster_defs.ingestion.assets import ingest_kafka_topics
from dagster_defs.partitions import partition_key_for
from dagster_defs.quality.checks import all_checks
from dagster_defs.resources import AlertResource
from dagster_defs.run_hour import materialize_hour, resources_for
from orderbook_platform.stack import Stack
from orderbook_platform.testing import settings_env
from tests.dagster_defs.webhook import recording_webhook
from tests.engine.kafka_harness import PATIENCE_S, wait_for, watermarks
from tests.faults.harness import Scenario, Verdict, sha256_lines
from tests.faults.lake import (
    data_fingerprint,
    fingerprint,
    lake_equals_topic,
    old_hour,
    seed_hour,
    topic_hour,
    wait_s,
)
from tests.faults.report import Fault, ScenarioResult

# Spark under a loaded 2-core machine: well above the suite-wide 600 s guard.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

EVERYTHING = [ingest_kafka_topics, *analytics_assets, *all_checks]
MATERIALIZE = [sys.executable, "-m", "orderbook_platform.cli.main", "platform", "materialize"]
# Retention checks of the suite's broker (one a second) to sit through.
RETENTION_CHECKS_S = 5.0


def _match_hour(scenario: Scenario, count: int, seed: int, hour) -> Verdict:
    """Orders of `hour` on `orders`, matched by one engine; its exact verdict."""
    seed_hour(scenario, count, seed, hour)
    try:
        engine = scenario.engine("lake").start()
        scenario.wait_done()
        assert engine.terminate() == 0, engine.log_text()[-3000:]
    finally:
        scenario.cleanup()
    verdict = scenario.verdict()
    verdict.assert_exact()
    return verdict


@pytest.mark.faults(short=True)
def test_s8_year_old_orders_survive_retention_and_the_lake_equals_the_topic(
    fault_stack: tuple[Stack, Path], tmp_path: Path, order_count: int, result: ScenarioResult
):
    """S8: orders stamped ~a year ago: nothing deleted, the lake's hour equals the topic."""
    scenario = Scenario(fault_stack[0], tmp_path, "s8")
    settings = scenario.settings
    hour = old_hour(365)
    verdict = _match_hour(scenario, order_count, 808, hour)
    verdict.record(result)
    before = {
        t: len(topic_hour(settings, t, hour, scenario.start[t])) for t in ("orders", "trades")
    }
    assert before["orders"] == order_count
    result.faults.append(Fault("records stamped a year back", detail=f"hour {hour:%Y-%m-%dT%H}"))
    wait_s(RETENTION_CHECKS_S)
    after = {t: len(topic_hour(settings, t, hour, scenario.start[t])) for t in ("orders", "trades")}
    assert after == before, f"retention deleted history: {before} -> {after}"
    lows = _low_watermarks(settings, "orders")
    assert all(low == 0 for low in lows.values()), lows

    lake = str(tmp_path / "lake")
    summary = materialize_hour(settings, hour, lake, instance=dg.DagsterInstance.ephemeral())
    assert summary.success, summary.failures
    problems = lake_equals_topic(settings, lake, hour, scenario.start)
    assert not problems, problems
    result.notes.append(f"hour {hour:%Y-%m-%dT%H}: {before} records kept, lake equals topic")


def _low_watermarks(settings, topic: str) -> dict[int, int]:
    return {p: low for p, (low, _) in watermarks(settings, topic).items()}


@pytest.mark.faults
def test_s9_spark_killed_mid_write_then_retried_and_rematerialised_three_times(
    fault_stack: tuple[Stack, Path], tmp_path: Path, order_count: int, result: ScenarioResult
):
    """S9: the Spark job SIGKILLed mid-partition, a retry, then 3 identical re-runs."""
    scenario = Scenario(fault_stack[0], tmp_path, "s9")
    settings = scenario.settings
    hour = old_hour(365, plus_hours=2)
    verdict = _match_hour(scenario, order_count, 909, hour)
    verdict.record(result)
    lake = tmp_path / "lake"
    command = [*MATERIALIZE, "--hour", f"{hour:%Y-%m-%dT%H}", "--lake", str(lake)]
    log = tmp_path / "materialize-killed.log"
    with open(log, "wb") as out:
        job = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=settings_env(settings),
            start_new_session=True,  # the Spark JVM is its child: kill the whole group
        )  # fmt: skip
    try:
        # Mid-partition: Spark's committer has a task attempt's files in _temporary.
        partial = wait_for(
            lambda: next(lake.rglob("_temporary"), None) or job.poll() is not None,
            "Spark to start writing an hour",
        )
        assert isinstance(partial, Path), f"the job ended before it wrote:\n{log.read_text()}"
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(timeout=PATIENCE_S)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    result.faults.append(
        Fault("Spark job SIGKILL mid-partition", detail=str(partial.relative_to(lake)))
    )

    # The retry: the same command again, as an operator or the schedule would.
    out = tmp_path / "materialize-retry.log"
    with out.open("wb") as retry_log:
        done = subprocess.run(
            command, stdout=retry_log, stderr=subprocess.STDOUT, env=settings_env(settings),
            timeout=PATIENCE_S * 4, check=False,
        )  # fmt: skip
    assert done.returncode == 0, out.read_text()[-3000:]
    result.faults.append(Fault("retry after the kill"))
    runs = [(data_fingerprint(settings, str(lake), hour), _analytics(lake, hour))]
    # Then three re-materialisations, in process (one Spark session for the three).
    for _ in range(3):
        again = materialize_hour(settings, hour, str(lake), instance=dg.DagsterInstance.ephemeral())
        assert again.success, again.failures
        runs.append((data_fingerprint(settings, str(lake), hour), _analytics(lake, hour)))
    assert all(run == runs[0] for run in runs[1:]), "re-materialisations differ"
    problems = lake_equals_topic(settings, str(lake), hour, scenario.start)
    assert not problems, problems
    assert not list(lake.rglob("_temporary")), "the killed job's partial files remain"
    result.notes.append("retry + 3 re-materialisations identical; lake equals topic")


def _analytics(lake: Path, hour) -> dict[str, str]:
    """The hour's analytics tables as rows (the chart's PNG aside), by content hash."""
    tag = f"date={hour:%Y-%m-%d}/hour={hour:%H}"
    tables = {}
    for path in sorted((lake / "analytics").rglob("*.parquet")):
        if tag in str(path):
            rows = pl.read_parquet(path).iter_rows()
            tables[str(path.relative_to(lake))] = sha256_lines(repr(r).encode() for r in rows)
    return tables


@pytest.mark.faults(short=True)
def test_s10_topic_data_deleted_before_ingestion_fails_loudly_and_keeps_the_lake(
    fault_stack: tuple[Stack, Path], tmp_path: Path, order_count: int, result: ScenarioResult
):
    """S10: records deleted from `trades` under a good lake: the run fails, alerts, and
    the lake keeps its data."""
    scenario = Scenario(fault_stack[0], tmp_path, "s10")
    settings = scenario.settings
    hour = old_hour(365, plus_hours=4)
    verdict = _match_hour(scenario, order_count, 1010, hour)
    verdict.record(result)
    lake = tmp_path / "lake"
    good = materialize_hour(settings, hour, str(lake), instance=dg.DagsterInstance.ephemeral())
    assert good.success, good.failures
    assert not lake_equals_topic(settings, str(lake), hour, scenario.start)
    kept = fingerprint(lake)

    # Delete the first half of the hour's trades on every partition of `trades`.
    trades = topic_hour(settings, "trades", hour, scenario.start["trades"])
    cut: dict[int, int] = {}
    for partition in sorted({r.partition for r in trades}):
        offsets = sorted(r.offset for r in trades if r.partition == partition)
        cut[partition] = offsets[len(offsets) // 2]
    admin = AdminClient(settings.kafka.client_config())
    futures = admin.delete_records([TopicPartition("trades", p, o) for p, o in cut.items()])
    for future in futures.values():
        future.result(timeout=60)
    assert _low_watermarks(settings, "trades") == {**_low_watermarks(settings, "trades"), **cut}
    result.faults.append(Fault("trades records deleted before re-ingestion", detail=str(cut)))

    key = partition_key_for(hour)
    with dg.instance_for_test() as instance, recording_webhook() as (url, received):
        run = dg.materialize(
            EVERYTHING, partition_key=key, resources=resources_for(settings, str(lake)),
            instance=instance, raise_on_error=False,
        )  # fmt: skip
        assert not run.success, "re-ingesting over deleted records succeeded"
        failures = [
            e.step_failure_data.user_failure_data.description
            if e.step_failure_data.user_failure_data
            else str(e.step_failure_data.error)
            for e in run.get_step_failure_events()
        ]
        assert any("trades" in (f or "") for f in failures), failures
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alerts", dagster_instance=instance,
            dagster_run=run.dagster_run, dagster_event=run.get_run_failure_event(),
            resources={"alerts": AlertResource(webhook_url=url)},
        ).for_run_failure()  # fmt: skip
        run_failure_alerts(context)
    assert [a["kind"] for a in received] == ["run_failed"]
    assert received[0]["fields"]["partition"] == key
    assert fingerprint(lake) == kept, "the refused run changed the lake"
    result.notes.append(f"refused: {failures[0][:300] if failures else ''}")
