"""Across runs, analytics wait for their inputs' blocking checks (declarative automation)."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from dagster_defs.definitions import defs
from dagster_defs.partitions import hourly_partitions, partition_key_for

pytestmark = pytest.mark.unit


def ingest_raw_trades(instance: dg.DagsterInstance, key: str, schema_passes: bool) -> None:
    """A stand-in ingestion run: materialises raw_trades and reports its blocking checks."""

    @dg.asset(name="raw_trades", partitions_def=hourly_partitions)
    def raw_trades() -> dg.MaterializeResult:
        return dg.MaterializeResult()

    @dg.asset_check(
        asset=raw_trades, name="schema", blocking=True, partitions_def=hourly_partitions
    )
    def schema() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=schema_passes)

    @dg.asset_check(
        asset=raw_trades, name="matches_topic", blocking=True, partitions_def=hourly_partitions
    )
    def matches_topic() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    dg.materialize(
        [raw_trades, schema, matches_topic],
        partition_key=key,
        instance=instance,
        raise_on_error=False,
    )


def requested(result: dg.EvaluateAutomationConditionsResult, key: str) -> bool:
    return key in result.get_requested_partitions(dg.AssetKey("ohlc_1m"))


def test_ohlc_waits_for_a_passing_blocking_check_on_raw_trades_from_another_run() -> None:
    now = datetime.now(UTC)
    key = partition_key_for(now)
    selection = dg.AssetSelection.assets("ohlc_1m")
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs, instance, selection, evaluation_time=now)
        assert not requested(first, key)  # raw_trades is missing

        ingest_raw_trades(instance, key, schema_passes=False)
        blocked = dg.evaluate_automation_conditions(
            defs, instance, selection, evaluation_time=now, cursor=first.cursor
        )
        assert not requested(blocked, key)

        ingest_raw_trades(instance, key, schema_passes=True)
        released = dg.evaluate_automation_conditions(
            defs, instance, selection, evaluation_time=now, cursor=blocked.cursor
        )
        assert requested(released, key)


def test_ohlc_follows_at_once_when_the_checks_pass() -> None:
    now = datetime.now(UTC)
    key = partition_key_for(now)
    selection = dg.AssetSelection.assets("ohlc_1m")
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs, instance, selection, evaluation_time=now)
        ingest_raw_trades(instance, key, schema_passes=True)
        result = dg.evaluate_automation_conditions(
            defs, instance, selection, evaluation_time=now, cursor=first.cursor
        )
        assert requested(result, key)
