"""Asset checks: pandera schemas (blocking on raw), reconciliation by id, semantic rules.

Each check reads its partition from the lake, collects it, validates it and reports the
failure cases in its metadata, so a failure is visible in the UI and in alerts.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import dagster as dg
import pandera.polars as pa
import polars as pl

from dagster_defs.analytics.compute import unknown_order_references
from dagster_defs.ingestion.assets import RAW_TOPICS
from dagster_defs.ingestion.describe import markdown_table
from dagster_defs.io_manager import read_partition, well_formed
from dagster_defs.lake import analytics_path, raw_path
from dagster_defs.partitions import hour_start, hourly_partitions, partition_key_for
from dagster_defs.quality import schemas
from dagster_defs.quality.reconcile import reconcile
from dagster_defs.resources import KafkaResource, LakeResource, MarketResource

MAX_FAILURE_ROWS = 20
KNOWN_ORDERS_LOOKBACK_HOURS = 6


def malformed_metadata(frame: pl.DataFrame) -> dict[str, Any]:
    """Malformed records of a raw frame (kept as rows, see spark_kafka.ERROR_COLUMNS) with
    their coordinates; an empty dict when there are none."""
    if "kafka_value_error" not in frame.columns:
        return {}
    bad = frame.filter(pl.col("kafka_value_error").is_not_null())
    if bad.is_empty():
        return {}
    cases = bad.select(
        topic="kafka_topic", partition="kafka_partition", offset="kafka_offset",
        error="kafka_value_error",
    ).sort("partition", "offset")  # fmt: skip
    return {
        "malformed_records": bad.height,
        "malformed_cases": dg.MetadataValue.json(cases.head(MAX_FAILURE_ROWS).to_dicts()),
    }


def validation_result(
    validation: schemas.Validation, extra: dict[str, Any] | None = None
) -> dg.AssetCheckResult:
    metadata: dict[str, Any] = {
        "rows": validation.rows,
        "failures": validation.failures.height,
        "failures_by_check": dg.MetadataValue.json(validation.failures_by_check),
    }
    if not validation.passed:
        metadata["failure_cases"] = dg.MetadataValue.md(
            markdown_table(validation.failures.head(MAX_FAILURE_ROWS).to_dicts())
        )
    return dg.AssetCheckResult(passed=validation.passed, metadata={**metadata, **(extra or {})})


def each_hour(
    context: dg.AssetCheckExecutionContext, check_hour: Callable[[str], dg.AssetCheckResult]
) -> dg.AssetCheckResult:
    """Run `check_hour` on every partition of the step: one hour normally, a range in a
    single-run backfill. Dagster 1.13 records one evaluation per step, so a range is
    reported as one result (failed if any hour failed) with the failing hours listed."""
    keys = context.partition_keys
    if len(keys) == 1:
        return check_hour(keys[0])
    results = {key: check_hour(key) for key in keys}
    failed = [key for key, result in results.items() if not result.passed]
    first = results[failed[0]] if failed else next(iter(results.values()))
    return dg.AssetCheckResult(
        passed=not failed,
        severity=first.severity,
        metadata={
            **first.metadata,
            "hours": len(keys),
            "failed_hours": dg.MetadataValue.json(failed),
        },
    )


SchemaFactory = Callable[[MarketResource], pa.DataFrameSchema]

RAW_SCHEMAS: dict[str, SchemaFactory] = {
    "raw_orders": lambda market: schemas.raw_orders_schema(market.tick_for),
    "raw_trades": lambda market: schemas.raw_trades_schema(market.tick_for),
    "raw_prices": lambda market: schemas.raw_prices_schema(market.tick_for),
    "raw_book": lambda _market: schemas.raw_book_schema(),
    "raw_order_events": lambda _market: schemas.raw_order_events_schema(),
}


def _raw_schema_check(asset_name: str, schema_for: SchemaFactory) -> dg.AssetChecksDefinition:
    table = raw_path(RAW_TOPICS[asset_name])

    @dg.asset_check(
        asset=asset_name,
        name="schema",
        description=(
            "pandera: types and nulls, prices > 0 and on tick, quantities != 0, unique ids."
        ),
        blocking=True,
        partitions_def=hourly_partitions,
    )
    def _check(
        context: dg.AssetCheckExecutionContext, lake: LakeResource, market: MarketResource
    ) -> dg.AssetCheckResult:
        schema = schema_for(market)

        def check_hour(key: str) -> dg.AssetCheckResult:
            frame = read_partition(lake.lake(), table, key)
            # Malformed records are reported, not validated: they have no contract fields.
            return validation_result(
                schemas.validate(schema, well_formed(frame)), malformed_metadata(frame)
            )

        return each_hour(context, check_hour)

    return _check


def _reconciliation_check(asset_name: str) -> dg.AssetChecksDefinition:
    topic = RAW_TOPICS[asset_name]

    @dg.asset_check(
        asset=asset_name,
        name="matches_topic",
        description=f"The lake holds exactly the committed `{topic}` records of the hour, by id.",
        blocking=True,
        partitions_def=hourly_partitions,
    )
    def _check(
        context: dg.AssetCheckExecutionContext, lake: LakeResource, kafka: KafkaResource
    ) -> dg.AssetCheckResult:
        def check_hour(key: str) -> dg.AssetCheckResult:
            frame = read_partition(lake.lake(), raw_path(topic), key)
            start = hour_start(key)
            result = reconcile(kafka.settings(), topic, start, start + timedelta(hours=1), frame)
            return dg.AssetCheckResult(
                passed=result.matches,
                metadata={
                    "topic_records": result.topic_records,
                    "lake_rows": result.lake_rows,
                    "missing_from_lake": len(result.missing_from_lake),
                    "unexpected_in_lake": len(result.unexpected_in_lake),
                    "read_complete": result.complete,
                    "malformed_records": len(result.malformed),
                    "examples": dg.MetadataValue.json(
                        {
                            "missing_from_lake": [list(i) for i in result.missing_from_lake[:10]],
                            "unexpected_in_lake": [list(i) for i in result.unexpected_in_lake[:10]],
                            "malformed_missing_from_lake": [
                                list(c) for c in result.malformed_missing_from_lake[:10]
                            ],
                            "malformed_unexpected_in_lake": [
                                list(c) for c in result.malformed_unexpected_in_lake[:10]
                            ],
                        }
                    ),
                    "malformed_cases": dg.MetadataValue.json(
                        [
                            {
                                "topic": topic,
                                "partition": m.partition,
                                "offset": m.offset,
                                "error": m.error,
                            }
                            for m in result.malformed[:MAX_FAILURE_ROWS]
                        ]
                    ),
                },
            )

        return each_hour(context, check_hour)

    return _check


@dg.asset_check(
    asset="raw_trades",
    name="references_known_orders",
    description=(
        "Every trade's maker and taker order is on `orders` this hour or in the "
        f"{KNOWN_ORDERS_LOOKBACK_HOURS} hours before (resting orders may be older: a warning)."
    ),
    additional_deps=["raw_orders"],
    partitions_def=hourly_partitions,
)
def trades_reference_known_orders(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    def check_hour(key: str) -> dg.AssetCheckResult:
        store = lake.lake()
        hour = hour_start(key)
        trades = well_formed(read_partition(store, raw_path("trades"), key))
        known: list[pl.Series] = []
        for back in range(KNOWN_ORDERS_LOOKBACK_HOURS + 1):
            try:
                orders = well_formed(
                    read_partition(
                        store, raw_path("orders"), partition_key_for(hour - timedelta(hours=back))
                    )
                )
            except dg.Failure:
                continue
            known.append(orders["order_id"])
        known_ids = pl.concat(known) if known else pl.Series("order_id", [], dtype=pl.String)
        unknown = unknown_order_references(trades, known_ids)
        return dg.AssetCheckResult(
            passed=unknown.is_empty(),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "trades": trades.height,
                "unknown_references": unknown.height,
                "failure_cases": dg.MetadataValue.md(
                    markdown_table(unknown.head(MAX_FAILURE_ROWS).to_dicts())
                ),
            },
        )

    return each_hour(context, check_hour)


@dg.asset_check(
    asset="ohlc_1m",
    name="candles_consistent",
    description="low <= open, close <= high; VWAP within [low, high]; one candle per minute.",
    blocking=True,
    partitions_def=hourly_partitions,
)
def ohlc_candles_consistent(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    def check_hour(key: str) -> dg.AssetCheckResult:
        candles = read_partition(lake.lake(), analytics_path("ohlc_1m"), key)
        return validation_result(schemas.validate(schemas.ohlc_1m_schema(), candles))

    return each_hour(context, check_hour)


@dg.asset_check(
    asset="fill_rate",
    name="rates_in_unit_interval",
    description=(
        "pandera: types; every fill rate lies in [0, 1] and filled never exceeds submitted."
    ),
    blocking=True,
    partitions_def=hourly_partitions,
)
def fill_rate_in_unit_interval(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    def check_hour(key: str) -> dg.AssetCheckResult:
        rates = read_partition(lake.lake(), analytics_path("fill_rate"), key)
        return validation_result(schemas.validate(schemas.fill_rate_schema(), rates))

    return each_hour(context, check_hour)


@dg.asset_check(
    asset="vwap",
    name="vwap_consistent",
    description=(
        "pandera: types, one row per symbol and minute, prices > 0; each minute's VWAP lies "
        "within that minute's [low, high] candle, the hour's within the hour's range."
    ),
    additional_deps=["ohlc_1m"],
    blocking=True,
    partitions_def=hourly_partitions,
)
def vwap_consistent(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    def check_hour(key: str) -> dg.AssetCheckResult:
        store = lake.lake()
        table = read_partition(store, analytics_path("vwap"), key)
        validation = schemas.validate(schemas.vwap_schema(), table)
        candles = read_partition(store, analytics_path("ohlc_1m"), key)
        outside = vwap_outside_candles(table, candles)
        return (
            validation_result(validation, {"outside_low_high": outside.height})
            if outside.is_empty()
            else dg.AssetCheckResult(
                passed=False,
                metadata={
                    "rows": table.height,
                    "outside_low_high": outside.height,
                    "failure_cases": dg.MetadataValue.md(
                        markdown_table(outside.head(MAX_FAILURE_ROWS).to_dicts())
                    ),
                },
            )
        )

    return each_hour(context, check_hour)


def vwap_outside_candles(table: pl.DataFrame, candles: pl.DataFrame) -> pl.DataFrame:
    """Rows of `vwap` whose minute VWAP is outside its candle's [low, high], whose hour VWAP
    is outside the hour's [low, high], or that have no candle at all."""
    tolerance = 1e-9
    hour_range = candles.group_by("symbol").agg(
        hour_low=pl.col("low").min(), hour_high=pl.col("high").max()
    )
    joined = table.join(
        candles.select("symbol", "minute", "low", "high"), on=["symbol", "minute"], how="left"
    ).join(hour_range, on="symbol", how="left")
    return joined.filter(
        pl.col("low").is_null()
        | (pl.col("vwap_1m") < pl.col("low") - tolerance)
        | (pl.col("vwap_1m") > pl.col("high") + tolerance)
        | (pl.col("vwap_hour") < pl.col("hour_low") - tolerance)
        | (pl.col("vwap_hour") > pl.col("hour_high") + tolerance)
    ).select("symbol", "minute", "vwap_1m", "low", "high", "vwap_hour", "hour_low", "hour_high")


@dg.asset_check(
    asset="market_quality",
    name="schema",
    description=(
        "pandera: types, one row per symbol, spreads > 0 and at least one tick, depths and "
        "counts >= 0, autocorrelations within [-1, 1]."
    ),
    blocking=True,
    partitions_def=hourly_partitions,
)
def market_quality_schema_check(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    def check_hour(key: str) -> dg.AssetCheckResult:
        table = read_partition(lake.lake(), analytics_path("market_quality"), key)
        return validation_result(schemas.validate(schemas.market_quality_schema(), table))

    return each_hour(context, check_hour)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_problem(data: bytes | None) -> str | None:
    """Why `data` is not a displayable PNG, or None: the signature, then the IHDR chunk
    (the first one, 13 bytes) with a width and a height above 0."""
    if not data:
        return "no chart file"
    if not data.startswith(PNG_SIGNATURE):
        return "not a PNG (bad signature)"
    if len(data) < 33 or data[12:16] != b"IHDR":
        return "not a PNG (no IHDR chunk)"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if width == 0 or height == 0:
        return f"empty image ({width}x{height})"
    return None


@dg.asset_check(
    asset="ohlc_chart",
    name="valid_png",
    description="The chart file exists in the lake and is a PNG with a width and height > 0.",
    partitions_def=hourly_partitions,
)
def ohlc_chart_valid_png(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    from dagster_defs.analytics.assets import chart_path

    def check_hour(key: str) -> dg.AssetCheckResult:
        data = lake.lake().read_bytes(chart_path(hour_start(key)))
        problem = png_problem(data)
        metadata: dict[str, Any] = {"bytes": len(data or b"")}
        if problem:
            metadata["problem"] = problem
        return dg.AssetCheckResult(passed=problem is None, metadata=metadata)

    return each_hour(context, check_hour)


raw_schema_checks = [_raw_schema_check(name, factory) for name, factory in RAW_SCHEMAS.items()]
raw_reconciliation_checks = [_reconciliation_check(name) for name in ("raw_orders", "raw_trades")]
analytics_checks = [
    ohlc_candles_consistent,
    fill_rate_in_unit_interval,
    vwap_consistent,
    market_quality_schema_check,
    ohlc_chart_valid_png,
]
all_checks = [
    *raw_schema_checks,
    *raw_reconciliation_checks,
    trades_reference_known_orders,
    *analytics_checks,
]
