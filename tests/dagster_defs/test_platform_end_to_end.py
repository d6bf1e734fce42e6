"""End to end on the real broker, the real S3 server and real Spark (one session per process)."""

from __future__ import annotations

import math
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from market_data import HourOfMarket

from dagster_defs.lake import partition_path, raw_path
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


def test_an_hour_lands_in_the_local_lake_and_in_s3_with_the_expected_analytics(
    settings: Settings, known_hour: HourOfMarket, tmp_path: Path
) -> None:
    lakes = [str(tmp_path / "lake"), f"s3://{settings.s3.bucket}/e2e-lake"]
    for lake in lakes:
        summary = materialize_hour(
            settings, known_hour.hour, lake, instance=dg.DagsterInstance.ephemeral()
        )
        assert_matches_independent_expectations(summary, known_hour)

    local, s3 = (raw_frame(settings, lake, "trades", known_hour) for lake in lakes)
    assert local.equals(s3)
    assert local.height == len(known_hour.trades)
    # The aborted transaction's records never reach the lake.
    assert not set(local["trade_id"]) & set(known_hour.aborted_trade_ids)
    orders = raw_frame(settings, lakes[0], "orders", known_hour)
    assert not set(orders["order_id"]) & set(known_hour.aborted_order_ids)
    assert orders.height == len(known_hour.orders)


def test_rematerialising_an_hour_three_times_gives_identical_output_without_duplicates(
    settings: Settings, known_hour: HourOfMarket, tmp_path: Path
) -> None:
    lake = str(tmp_path / "lake")
    snapshots = []
    for _ in range(3):
        summary = materialize_hour(
            settings, known_hour.hour, lake, instance=dg.DagsterInstance.ephemeral()
        )
        assert summary.success
        trades = raw_frame(settings, lake, "trades", known_hour)
        assert trades["trade_id"].n_unique() == trades.height == len(known_hour.trades)
        snapshots.append(
            (
                trades,
                raw_frame(settings, lake, "orders", known_hour),
                summary.ohlc,
                summary.vwap,
                summary.fill_rate,
                summary.market_quality,
            )
        )
    first = snapshots[0]
    for later in snapshots[1:]:
        for before, after in zip(first, later, strict=True):
            assert before is not None and after is not None
            assert before.equals(after)
