"""Hourly analytics in polars: each asset loads its inputs, calls `compute`, stores, describes."""

import base64
from datetime import timedelta
from typing import Any

import dagster as dg
import polars as pl

from dagster_defs.analytics import chart, compute
from dagster_defs.ingestion.describe import preview_table
from dagster_defs.io_manager import LAKE_PATH, read_partition
from dagster_defs.lake import analytics_path, partition_path
from dagster_defs.ownership import ANALYTICS_OWNERS, CODE_VERSION, tags_for
from dagster_defs.partitions import hour_start, hourly_partitions, partition_key_for
from dagster_defs.quality import schemas
from dagster_defs.quality.table_schema import column_schema_metadata
from dagster_defs.resources import LakeResource, MarketResource

# Downstream of raw data, materialise when an upstream partition updates, but never past a
# failed blocking check, even one from another run. The window reaches back two
# hours: the schedule ingests the last complete hour, and the current hour is a partition too.
ANALYTICS_AUTOMATION = (
    dg.AutomationCondition.eager().replace(
        "in_latest_time_window",
        dg.AutomationCondition.in_latest_time_window(lookback_delta=timedelta(hours=2)),
    )
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
)

CHART_FILE = "candles.png"

# The analytics follow their raw inputs within the automation sensor's 30 s tick, so they
# may lag the raw windows (fail 2 h, warn 75 min) by the length of one analytics run.
ANALYTICS_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=2, minutes=30), warn_window=timedelta(minutes=90)
)

TABLE_SCHEMAS = {
    "ohlc_1m": schemas.ohlc_1m_schema,
    "vwap": schemas.vwap_schema,
    "fill_rate": schemas.fill_rate_schema,
    "market_quality": schemas.market_quality_schema,
}


def _common(name: str, description: str, kinds: set[str]) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "group_name": "analytics",
        "kinds": kinds,
        "partitions_def": hourly_partitions,
        "automation_condition": ANALYTICS_AUTOMATION,
        "freshness_policy": ANALYTICS_FRESHNESS,
        "owners": ANALYTICS_OWNERS,
        "tags": tags_for("analytics"),
        "code_version": CODE_VERSION,
    }


def _analytics(name: str, description: str) -> dict[str, Any]:
    return _common(name, description, {"polars", "parquet"}) | {
        "metadata": {
            LAKE_PATH: analytics_path(name),
            **column_schema_metadata(TABLE_SCHEMAS[name]()),
        },
    }


def describe(frame: pl.DataFrame, preview_rows: int = 10) -> dict[str, Any]:
    """The preview; the row count and the path come from the IO manager."""
    return {"preview": preview_table(frame.head(preview_rows).to_dicts())}


@dg.asset(**_analytics("ohlc_1m", "Per symbol and minute: OHLC, volume, trade count, VWAP."))
def ohlc_1m(raw_trades: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    candles = compute.ohlc_1m(raw_trades)
    return dg.Output(candles, metadata=describe(candles))


@dg.asset(
    **_analytics(
        "vwap", "Per symbol and minute: VWAP of the minute, of the hour, and intraday (UTC)."
    )
)
def vwap(
    context: dg.AssetExecutionContext, ohlc_1m: pl.DataFrame, lake: LakeResource
) -> dg.Output[pl.DataFrame]:
    earlier, covered = _earlier_candles_today(lake, context.partition_key)
    table = compute.vwap(ohlc_1m, earlier)
    return dg.Output(
        table,
        metadata=describe(compute.vwap_summary(table)) | {"intraday_hours_covered": covered + 1},
    )


@dg.asset(
    **_analytics(
        "fill_rate",
        "Filled / submitted lots and time to first fill, by order type, time in force, side "
        "and trader strategy (the trader_id prefix before `-<n>`).",
    )
)
def fill_rate(raw_orders: pl.DataFrame, raw_trades: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    rates = compute.fill_rates(compute.order_fills_plan(raw_orders, raw_trades))
    return dg.Output(rates, metadata=describe(rates))


@dg.asset(
    **_analytics(
        "market_quality",
        "Per symbol: spread in price and ticks, book depth, volume, trade count and the "
        "stylized facts of 1-minute mid returns (excess kurtosis, autocorrelations).",
    )
)
def market_quality(
    raw_prices: pl.DataFrame,
    raw_book: pl.DataFrame,
    raw_trades: pl.DataFrame,
    market: MarketResource,
) -> dg.Output[pl.DataFrame]:
    quality = compute.market_quality(raw_prices, raw_book, raw_trades, market.tick_for)
    return dg.Output(quality, metadata=describe(quality))


@dg.asset(
    **_common(
        "ohlc_chart",
        "Candlestick chart (PNG) of the hour, shown in the materialisation's metadata.",
        {"polars", "png"},
    )
)
def ohlc_chart(
    context: dg.AssetExecutionContext, ohlc_1m: pl.DataFrame, lake: LakeResource
) -> dg.MaterializeResult:
    hour = hour_start(context.partition_key)
    png = chart.candlestick_png(ohlc_1m, title=f"1-minute candles, {hour:%Y-%m-%d %H:00} UTC")
    uri = lake.lake().write_bytes(chart_path(hour), png)
    encoded = base64.b64encode(png).decode()
    return dg.MaterializeResult(
        metadata={
            # Shown inline on the asset page (see chart.INLINE_MARKDOWN_LIMIT); the full chart
            # opens from the next entry, and the lake URI is where the file itself is.
            "closes": dg.MetadataValue.md(chart.sparkline_markdown(ohlc_1m)),
            "chart": dg.MetadataValue.md(f"![1-minute candles](data:image/png;base64,{encoded})"),
            "path": dg.MetadataValue.path(uri),
            "bytes": len(png),
        }
    )


def chart_path(hour: Any) -> str:
    return f"{partition_path(analytics_path('ohlc_chart'), hour)}/{CHART_FILE}"


def _earlier_candles_today(
    lake: LakeResource, partition_key: str
) -> tuple[pl.DataFrame | None, int]:
    """The same UTC day's earlier `ohlc_1m` partitions found in the lake, and how many."""
    hour = hour_start(partition_key)
    store, frames = lake.lake(), []
    for earlier in range(hour.hour):
        key = partition_key_for(hour.replace(hour=earlier))
        try:
            frames.append(read_partition(store, analytics_path("ohlc_1m"), key))
        except dg.Failure:
            continue
    if not frames:
        return None, 0
    return pl.concat(frames, how="vertical_relaxed"), len(frames)


analytics_assets = [ohlc_1m, vwap, fill_rate, market_quality, ohlc_chart]
