"""Checks fail when they should: a corrupt partition blocks its downstream and raises alerts."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from market_data import build_hour, past_hour, publish
from webhook import recording_webhook

from dagster_defs.analytics.assets import analytics_assets
from dagster_defs.automation.sensors import build_check_failure_sensor
from dagster_defs.definitions import check_keys
from dagster_defs.ingestion.assets import ingest_kafka_topics
from dagster_defs.io_manager import DATA_FILE
from dagster_defs.lake import analytics_path, partition_path
from dagster_defs.partitions import partition_key_for
from dagster_defs.quality.checks import all_checks
from dagster_defs.resources import AlertResource
from dagster_defs.run_hour import resources_for
from orderbook_platform.config import Settings

pytestmark = pytest.mark.integration

EVERYTHING = [ingest_kafka_topics, *analytics_assets, *all_checks]


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e
        for e in result.get_asset_check_evaluations()
    }


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}


def test_a_corrupt_partition_fails_its_checks_blocks_downstream_and_alerts(
    settings: Settings, tmp_path: Path
) -> None:
    market = build_hour(past_hour(6), symbols=("DPC",), seed=11)
    market.trades[0].price = -market.trades[0].price  # a negative price
    duplicate = market.trades[1]
    market.trades.append(  # the same trade_id twice
        type(duplicate)(**{f: getattr(duplicate, f) for f in duplicate.__struct_fields__})
    )
    publish(settings, market)
    key = partition_key_for(market.hour)
    resources = resources_for(settings, str(tmp_path / "lake"))
    lake = resources["lake"].lake()

    with (
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
        recording_webhook() as (url, received),
    ):
        # 1. Bad raw trades: the blocking schema check fails and ohlc_1m never runs.
        raw_run = dg.materialize(
            EVERYTHING,
            selection=dg.AssetSelection.assets("raw_trades", "raw_orders", "ohlc_1m", "fill_rate"),
            partition_key=key,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        checks = evaluations(raw_run)
        schema = checks["raw_trades:schema"]
        assert not schema.passed
        failures = schema.metadata["failures_by_check"].value
        assert "greater_than(0)" in failures and "field_uniqueness" in failures
        assert "-" in schema.metadata["failure_cases"].value
        assert checks["raw_orders:schema"].passed
        assert "raw_trades" in materialized(raw_run)
        assert not {"ohlc_1m", "fill_rate"} & materialized(raw_run)

        # 2. A corrupt candle (high < low) in the lake: its check fails, the chart and the
        # VWAP downstream are not materialised.
        candles = pl.DataFrame(
            {
                "symbol": ["DPC"],
                "minute": [market.hour],
                "open": [100.0],
                "high": [99.0],
                "low": [101.0],
                "close": [100.0],
                "volume": [5],
                "trade_count": [1],
                "notional": [500.0],
                "vwap": [100.0],
            },
            schema_overrides={"minute": pl.Datetime("us", "UTC")},
        )
        lake.write_parquet(
            candles, f"{partition_path(analytics_path('ohlc_1m'), market.hour)}/{DATA_FILE}"
        )
        candle_run = dg.materialize(
            EVERYTHING,
            selection=dg.AssetSelection.checks_for_assets("ohlc_1m")
            | dg.AssetSelection.assets("vwap", "ohlc_chart"),
            partition_key=key,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        candle_check = evaluations(candle_run)["ohlc_1m:candles_consistent"]
        assert not candle_check.passed
        assert "low_le_high" in candle_check.metadata["failures_by_check"].value
        assert not {"vwap", "ohlc_chart"} & materialized(candle_run)

        # 3. The alert sensor polls the check history and alerts once per failure.
        sensor = build_check_failure_sensor(check_keys)
        context = dg.build_sensor_context(
            instance=instance, resources={"alerts": AlertResource(webhook_url=url)}
        )
        sensor(context)
        alerted = {(a["fields"]["asset"], a["fields"]["check"]) for a in received}
        assert ("raw_trades", "schema") in alerted
        assert ("ohlc_1m", "candles_consistent") in alerted
        assert all(
            a["kind"] == "check_failed" and a["fields"]["partition"] == key for a in received
        )

        count = len(received)
        again = dg.build_sensor_context(
            instance=instance,
            cursor=context.cursor,
            resources={"alerts": AlertResource(webhook_url=url)},
        )
        sensor(again)
        assert len(received) == count  # the cursor remembers what was already sent
