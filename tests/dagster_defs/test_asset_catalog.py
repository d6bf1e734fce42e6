"""What the UI's catalog shows of each asset: owners, tags, code version, column schema,
freshness, rounded previews, the inline chart, and the analytics checks' rules."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import dagster as dg
import msgspec
import polars as pl
import pytest

from dagster_defs.analytics import chart, compute
from dagster_defs.analytics.assets import describe
from dagster_defs.definitions import defs
from dagster_defs.ingestion.assets import RAW_TOPICS
from dagster_defs.ingestion.describe import preview_table
from dagster_defs.ingestion.spark_kafka import ERROR_COLUMNS, KAFKA_COLUMNS
from dagster_defs.quality.checks import png_problem, vwap_outside_candles
from orderbook_platform.contracts import messages

pytestmark = pytest.mark.unit

CONTRACTS = {
    "orders": messages.Order,
    "trades": messages.Trade,
    "prices": messages.Price,
    "book": messages.BookDepth,
    "order_events": messages.OrderEvent,
}
ANALYTICS_TABLES = ("ohlc_1m", "vwap", "fill_rate", "market_quality")


def specs() -> dict[str, dg.AssetSpec]:
    found = {}
    for assets_def in defs.assets or []:
        assert isinstance(assets_def, dg.AssetsDefinition)
        for spec in assets_def.specs:
            found[spec.key.to_user_string()] = spec
    return found


def columns(name: str) -> list[dg.TableColumn]:
    schema = specs()[name].metadata["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchema), name
    return list(schema.columns)


def test_every_asset_has_owners_tags_and_a_code_version() -> None:
    all_specs = specs()
    assert len(all_specs) == 10
    for name, spec in all_specs.items():
        assert spec.owners and all(o.startswith("team:") for o in spec.owners), name
        assert spec.tags.get("layer") == spec.group_name, name
        assert spec.code_version, name


def test_every_table_asset_has_a_described_column_schema() -> None:
    tables = [*RAW_TOPICS, *ANALYTICS_TABLES]
    assert set(specs()) - set(tables) == {"ohlc_chart"}  # a PNG, not a table
    for name in tables:
        for column in columns(name):
            assert column.description, (name, column.name)
            assert column.type and column.type != "None", (name, column.name)


@pytest.mark.parametrize("asset", sorted(RAW_TOPICS))
def test_a_raw_column_schema_is_the_contract_plus_the_kafka_coordinates(asset: str) -> None:
    contract = CONTRACTS[RAW_TOPICS[asset]]
    json_schema = msgspec.json.schema(contract)
    properties = json_schema["$defs"][contract.__name__]["properties"]
    listed = {c.name: c for c in columns(asset)}
    assert set(listed) == set(properties) | set(KAFKA_COLUMNS) | set(ERROR_COLUMNS)
    for field, node in properties.items():
        if "description" in node:
            assert listed[field].description == node["description"], field
    assert listed["kafka_offset"].constraints.nullable is False


def test_analytics_column_schemas_list_what_compute_writes() -> None:
    declared = {"vwap": compute.VWAP_SCHEMA, "market_quality": compute.MARKET_QUALITY_SCHEMA}
    for name, dtypes in declared.items():
        listed = {c.name: c.type for c in columns(name)}
        assert listed == {k: str(pl.DataFrame(schema={k: v}).dtypes[0]) for k, v in dtypes.items()}
    candles = {c.name for c in columns("ohlc_1m")}
    assert candles >= {"symbol", "minute", "open", "high", "low", "close", "volume", "vwap"}


def test_the_analytics_have_a_freshness_policy_a_little_looser_than_raw() -> None:
    # As docs/data-platform.md promises: warn after 90 min, fail after 2 h 30 min.
    expected = dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=2, minutes=30), warn_window=timedelta(minutes=90)
    )
    for name in (*ANALYTICS_TABLES, "ohlc_chart"):
        assert specs()[name].freshness_policy == expected, name


def test_every_analytics_asset_has_a_check() -> None:
    graph = defs.resolve_asset_graph()
    checked = {key.asset_key.to_user_string() for key in graph.asset_check_keys}
    assert checked >= {*ANALYTICS_TABLES, "ohlc_chart"}


def test_previews_are_tables_with_rounded_numbers() -> None:
    minute = datetime(2026, 12, 4, 15, 5, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "symbol": ["XYZ", "ABC"],
            "minute": [minute, minute],
            "fill_rate": [0.01356287425150069, 2 / 3],
            "tiny": [0.000123456789, None],
            "lots": [12, 7],
        }
    )
    preview = describe(frame)["preview"]
    assert isinstance(preview, dg.TableMetadataValue)
    rows = [record.data for record in preview.records]
    assert rows[0] == {
        "symbol": "XYZ",
        "minute": "2026-12-04 15:05:00",
        "fill_rate": 0.0136,
        "tiny": 0.000123,
        "lots": 12,
    }
    assert rows[1]["fill_rate"] == 0.6667 and rows[1]["tiny"] is None
    types = {c.name: c.type for c in preview.schema.columns}
    assert types == {
        "symbol": "string", "minute": "string", "fill_rate": "float", "tiny": "float",
        "lots": "int",
    }  # fmt: skip
    long_text = preview_table([{"value": "x" * 500}]).records[0].data["value"]
    assert isinstance(long_text, str) and len(long_text) <= 40


def candles(minutes: int = 60) -> pl.DataFrame:
    start = datetime(2026, 12, 4, 15, tzinfo=UTC)
    rows = []
    for i in range(minutes):
        mid = 100 + (i % 7) * 0.05 - (i % 3) * 0.02
        rows.append(
            {
                "symbol": "XYZ", "minute": start + timedelta(minutes=i), "open": mid,
                "high": mid + 0.05, "low": mid - 0.05, "close": mid + 0.01, "volume": 10 + i,
                "trade_count": 3, "notional": mid * (10 + i), "vwap": mid,
            }
        )  # fmt: skip
    return pl.DataFrame(rows)


def test_the_inline_chart_fits_where_the_ui_renders_markdown_inline() -> None:
    text = chart.sparkline_markdown(candles())
    # Dagster 1.13's UI shows a markdown value inline only below 1,000 characters.
    assert len(text) < 1000
    match = re.fullmatch(r"!\[XYZ closes\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", text)
    assert match, text
    assert png_problem(base64.b64decode(match.group(1))) is None


def test_the_chart_check_accepts_a_real_chart_and_refuses_broken_files() -> None:
    png = chart.candlestick_png(candles(), title="test")
    assert png_problem(png) is None
    assert png_problem(None) == "no chart file"
    assert png_problem(b"") == "no chart file"
    assert png_problem(b"GIF89a" + png[6:]) == "not a PNG (bad signature)"
    assert png_problem(png[:20]) == "not a PNG (no IHDR chunk)"
    zero_width = png[:16] + (0).to_bytes(4, "big") + png[20:]
    assert png_problem(zero_width) == "empty image (0x" + str(int.from_bytes(png[20:24])) + ")"


def test_the_vwap_check_finds_a_minute_vwap_outside_its_candle() -> None:
    bars = candles(5)
    table = compute.vwap(bars)
    assert vwap_outside_candles(table, bars).is_empty()
    shifted = table.with_columns(
        pl.when(pl.col("minute") == bars["minute"][2])
        .then(pl.col("vwap_1m") + 1)
        .otherwise(pl.col("vwap_1m"))
        .alias("vwap_1m")
    )
    outside = vwap_outside_candles(shifted, bars)
    assert outside["minute"].to_list() == [bars["minute"][2]]
    assert (
        vwap_outside_candles(table, bars.filter(pl.col("minute") != bars["minute"][4])).height == 1
    )
