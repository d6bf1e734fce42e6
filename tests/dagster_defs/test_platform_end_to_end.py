"""End to end on the real broker, the real S3 server and real Spark (one session per process)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import dagster as dg
import polars as pl
import pytest
from market_data import HourOfMarket
from typer.testing import CliRunner

from dagster_defs.analytics.compute import vwap_summary
from dagster_defs.cli import platform_app
from dagster_defs.ingestion.assets import ingest_kafka_topics
from dagster_defs.io_manager import read_partition
from dagster_defs.lake import analytics_path, partition_path, raw_path
from dagster_defs.partitions import partition_key_for
from dagster_defs.quality.checks import all_checks
from dagster_defs.run_hour import HourSummary, materialize_hour, resources_for
from orderbook_platform.config import Settings

pytestmark = pytest.mark.integration


def assert_matches_independent_expectations(summary: HourSummary, market: HourOfMarket) -> None:
    assert summary.success, summary.checks
    assert summary.checks and all(summary.checks.values()), summary.checks

    assert summary.ohlc is not None
    expected = market.expected_ohlc()
    assert summary.ohlc.height == len(expected)
    for row in summary.ohlc.iter_rows(named=True):
        want = expected[(row["symbol"], row["minute"])]
        for column in ("open", "high", "low", "close", "vwap"):
            assert math.isclose(row[column], want[column], rel_tol=1e-12), (row, want)
        assert row["volume"] == want["volume"]
        assert row["trade_count"] == want["trade_count"]

    assert summary.vwap is not None
    hourly = market.expected_hourly_vwap()
    assert set(summary.vwap["symbol"]) == set(hourly)
    for row in summary.vwap.iter_rows(named=True):
        assert math.isclose(row["vwap_hour"], hourly[row["symbol"]], rel_tol=1e-12)

    assert summary.fill_rate is not None
    rates = market.expected_fill_rates()
    assert summary.fill_rate.height == len(rates)
    for row in summary.fill_rate.iter_rows(named=True):
        key = (row["order_type"], row["time_in_force"], row["side"], row["strategy"])
        assert math.isclose(row["fill_rate"], rates[key], rel_tol=1e-12), (key, row)

    assert summary.market_quality is not None
    assert set(summary.market_quality["symbol"]) == set(market.symbols)
    assert summary.chart is not None


def raw_frame(settings: Settings, lake_root: str, topic: str, market: HourOfMarket) -> pl.DataFrame:
    lake = resources_for(settings, lake_root)["lake"].lake()
    frame = lake.read_parquet(partition_path(raw_path(topic), market.hour))
    assert frame is not None
    return frame.sort("kafka_partition", "kafka_offset")


@dataclass
class Materialised:
    lake: str
    summary: HourSummary
    frames: tuple[pl.DataFrame | None, ...]
    instance: dg.DagsterInstance


def snapshot(
    settings: Settings, lake: str, market: HourOfMarket, summary: HourSummary
) -> tuple[pl.DataFrame | None, ...]:
    trades = raw_frame(settings, lake, "trades", market)
    assert trades["trade_id"].n_unique() == trades.height == len(market.trades)
    return (
        trades,
        raw_frame(settings, lake, "orders", market),
        summary.ohlc,
        summary.vwap,
        summary.fill_rate,
        summary.market_quality,
    )


@pytest.fixture(scope="module")
def first_local_run(
    settings: Settings, known_hour: HourOfMarket, tmp_path_factory: pytest.TempPathFactory
) -> Materialised:
    lake = str(tmp_path_factory.mktemp("local") / "lake")
    instance = dg.DagsterInstance.ephemeral()
    summary = materialize_hour(settings, known_hour.hour, lake, instance=instance)
    return Materialised(lake, summary, snapshot(settings, lake, known_hour, summary), instance)


def test_orderbook_run_is_a_run_of_the_named_hourly_job(
    known_hour: HourOfMarket, first_local_run: Materialised
) -> None:
    assert first_local_run.summary.run_id is not None
    run = first_local_run.instance.get_run_by_id(first_local_run.summary.run_id)
    assert run is not None
    assert run.job_name == "hourly_platform"
    assert run.tags["dagster/partition"] == partition_key_for(known_hour.hour)
    assert run.tags["orderbook/trigger"] == "orderbook run"
    # The row counts the UI shows are Dagster's reserved `dagster/row_count`.
    expected = {"raw_trades": len(known_hour.trades), "ohlc_1m": len(known_hour.expected_ohlc())}
    for name, rows in expected.items():
        event = first_local_run.instance.get_latest_materialization_event(dg.AssetKey(name))
        assert event is not None and event.asset_materialization is not None
        assert event.asset_materialization.metadata["dagster/row_count"].value == rows, name


def test_an_hour_lands_in_the_local_lake_and_in_s3_with_the_expected_analytics(
    settings: Settings, known_hour: HourOfMarket, first_local_run: Materialised
) -> None:
    assert_matches_independent_expectations(first_local_run.summary, known_hour)
    s3_lake = f"s3://{settings.s3.bucket}/e2e-lake"
    summary = materialize_hour(
        settings, known_hour.hour, s3_lake, instance=dg.DagsterInstance.ephemeral()
    )
    assert_matches_independent_expectations(summary, known_hour)
    assert summary.chart is not None and summary.chart.startswith("s3://")

    local, s3 = (
        raw_frame(settings, lake, "trades", known_hour) for lake in (first_local_run.lake, s3_lake)
    )
    assert local.equals(s3)
    assert local.height == len(known_hour.trades)
    # The aborted transaction's records never reach the lake.
    assert not set(local["trade_id"]) & set(known_hour.aborted_trade_ids)
    orders = raw_frame(settings, first_local_run.lake, "orders", known_hour)
    assert not set(orders["order_id"]) & set(known_hour.aborted_order_ids)
    assert orders.height == len(known_hour.orders)


def test_rematerialising_an_hour_three_times_gives_identical_output_without_duplicates(
    settings: Settings, known_hour: HourOfMarket, first_local_run: Materialised
) -> None:
    """Run 1 is the fixture's, run 2 goes through the CLI (`orderbook platform materialize`),
    run 3 through `materialize_hour` again: the lake holds the same rows every time."""
    lake = first_local_run.lake
    cli = CliRunner().invoke(
        platform_app,
        ["materialize", "--hour", f"{known_hour.hour:%Y-%m-%dT%H}", "--lake", lake],
        obj={"settings": settings},
    )
    assert cli.exit_code == 0, cli.output
    for expected in ("OHLC 1m", "VWAP per symbol", "Fill rates", "chart:", "make ui"):
        assert expected in cli.output
    second = snapshot(settings, lake, known_hour, read_back(settings, lake, known_hour))

    third_summary = materialize_hour(
        settings, known_hour.hour, lake, instance=dg.DagsterInstance.ephemeral()
    )
    third = snapshot(settings, lake, known_hour, third_summary)
    for later in (second, third):
        for before, after in zip(first_local_run.frames, later, strict=True):
            assert before is not None and after is not None
            assert before.equals(after)


def read_back(settings: Settings, lake_root: str, market: HourOfMarket) -> HourSummary:
    """The analytics of the hour as stored in the lake (what the CLI run wrote)."""
    lake = resources_for(settings, lake_root)["lake"].lake()
    key = partition_key_for(market.hour)
    tables = {
        name: read_partition(lake, analytics_path(name), key)
        for name in ("ohlc_1m", "vwap", "fill_rate", "market_quality")
    }
    return HourSummary(
        key, lake.root, True, ohlc=tables["ohlc_1m"], vwap=vwap_summary(tables["vwap"]),
        fill_rate=tables["fill_rate"], market_quality=tables["market_quality"],
    )  # fmt: skip


def test_a_backfill_of_several_hours_runs_as_one_spark_job_and_writes_every_hour(
    settings: Settings, known_hour: HourOfMarket, tmp_path_factory: pytest.TempPathFactory
) -> None:
    lake = str(tmp_path_factory.mktemp("backfill") / "lake")
    resources = resources_for(settings, lake)
    raw = dg.AssetSelection.assets("raw_trades", "raw_orders")
    defs = dg.Definitions(
        assets=[ingest_kafka_topics],
        asset_checks=all_checks[:7],  # the raw checks
        jobs=[dg.define_asset_job("backfill", selection=raw)],  # partitions inferred
        resources=resources,
    )
    quiet_hour = known_hour.hour - timedelta(hours=1)  # nothing was published for it
    result = defs.resolve_job_def("backfill").execute_in_process(
        tags={
            "dagster/asset_partition_range_start": partition_key_for(quiet_hour),
            "dagster/asset_partition_range_end": partition_key_for(known_hour.hour),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    steps = {e.step_key for e in result.all_events if e.is_step_success}
    assert "ingest_kafka_topics" in steps
    store = resources["lake"].lake()
    quiet = store.read_parquet(partition_path(raw_path("trades"), quiet_hour))
    assert quiet is not None and quiet.is_empty()  # an empty hour is still written, typed
    assert set(quiet.columns) >= {"trade_id", "price", "kafka_offset"}
    busy = raw_frame(settings, lake, "trades", known_hour)
    assert busy.height == len(known_hour.trades)
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations)
    assert {e.metadata["hours"].value for e in evaluations} == {2}
