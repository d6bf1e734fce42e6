"""The pure polars computations and the pandera schemas, on small hand-made frames."""

from __future__ import annotations

import math
import re
import statistics
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from dagster_defs.analytics import compute
from dagster_defs.analytics.chart import candlestick_png
from dagster_defs.quality import schemas

pytestmark = pytest.mark.unit

HOUR = datetime(2026, 11, 25, 9, tzinfo=UTC)


def ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


def trades_frame(rows: list[tuple]) -> pl.DataFrame:
    """rows: (trade_id, symbol, seconds after HOUR, price, quantity, left, right)."""
    return pl.DataFrame(
        {
            "trade_id": [r[0] for r in rows],
            "symbol": [r[1] for r in rows],
            "time": [ns(HOUR + timedelta(seconds=r[2])) for r in rows],
            "price": [float(r[3]) for r in rows],
            "quantity": [r[4] for r in rows],
            "left_order_id": [r[5] for r in rows],
            "right_order_id": [r[6] for r in rows],
            "sequence": list(range(len(rows))),
        },
        schema_overrides={"quantity": pl.Int64, "time": pl.Int64},
    )


def orders_frame(rows: list[tuple]) -> pl.DataFrame:
    """rows: (order_id, order_type, quantity, tif, trader_id, seconds after HOUR)."""
    return pl.DataFrame(
        {
            "order_id": [r[0] for r in rows],
            "order_type": [r[1] for r in rows],
            "quantity": [r[2] for r in rows],
            "time_in_force": [r[3] for r in rows],
            "trader_id": [r[4] for r in rows],
            "time": [ns(HOUR + timedelta(seconds=r[5])) for r in rows],
            "symbol": ["XYZ"] * len(rows),
        },
        schema_overrides={"quantity": pl.Int64, "time_in_force": pl.String, "trader_id": pl.String},
    )


def test_ohlc_takes_open_and_close_in_time_order_and_weights_vwap_by_quantity() -> None:
    trades = trades_frame(
        [
            ("t3", "XYZ", 50, 101.0, 1, "a", "b"),
            ("t1", "XYZ", 5, 100.0, 2, "a", "b"),
            ("t2", "XYZ", 20, 102.0, 3, "a", "b"),
            ("t4", "XYZ", 65, 99.0, 4, "a", "b"),
        ]
    )
    candles = compute.ohlc_1m(trades)
    first = candles.row(0, named=True)
    assert first["minute"] == HOUR
    assert (first["open"], first["high"], first["low"], first["close"]) == (
        100.0,
        102.0,
        100.0,
        101.0,
    )
    assert first["volume"] == 6 and first["trade_count"] == 3
    assert math.isclose(first["vwap"], (200 + 306 + 101) / 6)
    second = candles.row(1, named=True)
    assert second["minute"] == HOUR + timedelta(minutes=1)
    assert second["open"] == second["close"] == 99.0


def test_ohlc_of_no_trades_is_an_empty_typed_frame() -> None:
    empty = compute.ohlc_1m(trades_frame([]))
    assert empty.is_empty() and empty.schema == pl.Schema(compute.OHLC_SCHEMA)


def test_ohlc_breaks_time_ties_by_sequence_then_partition_and_offset_in_any_row_order() -> None:
    """Many trades share a timestamp; rows arrive shuffled; some lack a sequence or a time.

    Expected candles are computed in plain Python. A null `time` falls back to the Kafka
    timestamp; a null tie-break key loses the tie for both the open and the close.
    """
    rng = np.random.default_rng(11)
    n = 3_000
    hour_ns = ns(HOUR)
    rows = []
    for i in range(n):
        time = hour_ns + int(rng.integers(0, 180)) * 1_000_000_000  # 1 s resolution: ties
        kafka_time = time + int(rng.integers(0, 1_000)) * 1_000  # producer-set, µs precision
        rows.append(
            {
                "symbol": ["AAA", "BBB"][int(rng.integers(0, 2))],
                "time": None if i % 17 == 0 else time,
                "kafka_timestamp": HOUR + timedelta(microseconds=(kafka_time - hour_ns) // 1_000),
                "sequence": None if i % 7 == 0 else int(rng.integers(0, 40)),
                "kafka_partition": int(rng.integers(0, 3)),
                "kafka_offset": i,
                "price": round(float(100 + rng.normal()), 2),
                "quantity": int(rng.integers(1, 10)),
            }
        )
    trades = pl.DataFrame(
        [rows[i] for i in rng.permutation(n)],
        schema={
            "symbol": pl.String,
            "time": pl.Int64,
            "kafka_timestamp": pl.Datetime("us", "UTC"),
            "sequence": pl.Int64,
            "kafka_partition": pl.Int32,
            "kafka_offset": pl.Int64,
            "price": pl.Float64,
            "quantity": pl.Int64,
        },
    )

    def event(row: dict) -> int:
        if row["time"] is not None:
            return row["time"]
        return (row["kafka_timestamp"] - HOUR) // timedelta(microseconds=1) * 1_000 + hour_ns

    def ascending_nulls_last(row: dict) -> tuple:
        keys = (event(row), row["sequence"], row["kafka_partition"], row["kafka_offset"])
        return tuple((k is None, k or 0) for k in keys)

    def descending_nulls_last(row: dict) -> tuple:
        keys = (event(row), row["sequence"], row["kafka_partition"], row["kafka_offset"])
        return tuple((k is not None, k or 0) for k in keys)

    groups: dict[tuple[str, datetime], list[dict]] = {}
    for row in rows:
        minute = HOUR + timedelta(minutes=(event(row) - hour_ns) // 60_000_000_000)
        groups.setdefault((row["symbol"], minute), []).append(row)
    expected = {
        key: (
            min(group, key=ascending_nulls_last)["price"],
            max(r["price"] for r in group),
            min(r["price"] for r in group),
            max(group, key=descending_nulls_last)["price"],
            sum(r["quantity"] for r in group),
            len(group),
        )
        for key, group in groups.items()
    }
    candles = compute.ohlc_1m(trades)
    got = {
        (c["symbol"], c["minute"]): (
            c["open"],
            c["high"],
            c["low"],
            c["close"],
            c["volume"],
            c["trade_count"],
        )
        for c in candles.iter_rows(named=True)
    }
    assert got == expected
    assert candles.select("symbol", "minute").rows() == sorted(expected)


def test_vwap_runs_over_the_hour_and_carries_the_earlier_hours_of_the_day() -> None:
    candles = compute.ohlc_1m(
        trades_frame([("t1", "XYZ", 0, 10.0, 1, "a", "b"), ("t2", "XYZ", 60, 20.0, 3, "a", "b")])
    )
    earlier = pl.DataFrame({"symbol": ["XYZ"], "notional": [40.0], "volume": [4]})
    table = compute.vwap(candles, earlier)
    assert table["vwap_1m"].to_list() == [10.0, 20.0]
    assert table["vwap_hour_to_date"].to_list() == [10.0, 70 / 4]
    assert table["vwap_hour"].to_list() == [70 / 4, 70 / 4]
    assert table["vwap_intraday"].to_list() == [50 / 5, 110 / 8]
    assert table["volume_intraday"].to_list() == [5, 8]
    summary = compute.vwap_summary(table)
    assert summary.row(0, named=True)["vwap_intraday"] == 110 / 8


def test_fill_rates_count_maker_and_taker_fills_and_time_to_first_fill() -> None:
    orders = orders_frame(
        [
            ("m1", "limit", -10, None, "mm-1", 0),
            ("t1", "limit", 4, "IOC", "momentum-12", 10),
            ("t2", "market", 8, None, "noise", 20),
            ("c1", "cancel", None, None, "mm-1", 30),
        ]
    )
    trades = trades_frame(
        [("x", "XYZ", 10.5, 1.0, 4, "m1", "t1"), ("y", "XYZ", 21, 1.0, 2, "m1", "t2")]
    )
    per_order = compute.order_fills(orders, trades).sort("order_id")
    assert per_order["order_id"].to_list() == ["m1", "t1", "t2"]
    assert per_order["filled"].to_list() == [6, 4, 2]
    assert per_order["fill_rate"].to_list() == [0.6, 1.0, 0.25]
    assert per_order["time_to_first_fill_ms"].to_list() == [10_500.0, 500.0, 1_000.0]
    assert per_order["strategy"].to_list() == ["mm", "momentum", "noise"]
    assert per_order["time_in_force"].to_list() == ["GTC", "IOC", "IOC"]
    assert per_order["side"].to_list() == ["Sell", "Buy", "Buy"]
    rates = compute.fill_rates(per_order)
    assert rates.height == 3
    assert rates.filter(pl.col("strategy") == "mm")["fill_rate"].item() == 0.6


def test_an_order_without_fills_has_rate_zero_and_no_time_to_fill() -> None:
    per_order = compute.order_fills(
        orders_frame([("o", "limit", 5, "GTC", None, 0)]), trades_frame([])
    )
    row = per_order.row(0, named=True)
    assert row["fill_rate"] == 0.0 and row["time_to_first_fill_ms"] is None
    assert row["strategy"] == "unknown"


def test_fill_rates_match_plain_python_on_random_orders_and_trades() -> None:
    """Random orders (cancels, null trader ids and time in force, `<run>.` prefixes) and
    trades (self-trades, unknown ids); the aggregates are recomputed in plain Python, through
    both `order_fills` and the lazy `order_fills_plan`."""
    rng = np.random.default_rng(5)
    traders = ["mm-1", "mm-22", "run7.momentum-12", "noise", "a.b-c", None]
    orders = []
    for i in range(400):
        kind = ["limit", "limit", "market", "cancel"][int(rng.integers(0, 4))]
        orders.append(
            (
                f"o{i}" if kind != "cancel" else f"o{int(rng.integers(0, i + 1))}",
                kind,
                None if kind == "cancel" else int(rng.integers(1, 30)) * int(rng.choice([-1, 1])),
                [None, "GTC", "IOC", "FOK"][int(rng.integers(0, 4))],
                traders[int(rng.integers(0, len(traders)))],
                float(rng.integers(0, 3_600)),
            )
        )
    orders.append(("lonely", "limit", 5, "FOK", "solo-9", 10.0))  # its group has no fill
    ids = [f"o{i}" for i in range(400)] + ["unknown"]
    trades = []
    for i in range(900):
        left = ids[int(rng.integers(0, len(ids)))]
        right = left if i % 50 == 0 else ids[int(rng.integers(0, len(ids)))]
        trades.append((f"t{i}", "XYZ", float(rng.integers(0, 3_600)), 1.0, 1 + i % 7, left, right))

    new_orders = [o for o in orders if o[1] in ("limit", "market")]
    filled: dict[str, int] = {}
    first: dict[str, int] = {}
    for _, _, seconds, _, quantity, left, right in trades:
        for order_id in (left, right):
            filled[order_id] = filled.get(order_id, 0) + quantity
            moment = ns(HOUR + timedelta(seconds=seconds))
            first[order_id] = min(first.get(order_id, moment), moment)
    groups: dict[tuple, list[tuple[int, int, int | None]]] = {}
    for order_id, kind, quantity, tif, trader, seconds in new_orders:
        match = re.match(compute.STRATEGY_PATTERN, trader or "")
        strategy = match.group(1) if match else (trader or "unknown")
        key = (kind, "IOC" if kind == "market" else tif or "GTC", "Buy" if quantity > 0 else "Sell")
        wait = (
            first[order_id] - ns(HOUR + timedelta(seconds=seconds)) if order_id in first else None
        )
        groups.setdefault((*key, strategy), []).append(
            (abs(quantity), filled.get(order_id, 0), wait)
        )
    expected = {}
    for key, rows in groups.items():
        waits = [w for _, _, w in rows if w is not None]
        expected[key] = (
            len(rows),
            sum(s for s, _, _ in rows),
            sum(f for _, f, _ in rows),
            sum(1 for _, f, _ in rows if f > 0),
            sum(1 for s, f, _ in rows if f >= s),
            sum(waits) / len(waits) / 1e6 if waits else None,
            statistics.median(waits) / 1e6 if waits else None,
        )

    frames = (orders_frame(orders), trades_frame(trades))
    for per_order in (compute.order_fills(*frames), compute.order_fills_plan(*frames)):
        rates = compute.fill_rates(per_order)
        got = {
            (r["order_type"], r["time_in_force"], r["side"], r["strategy"]): (
                r["orders"],
                r["submitted"],
                r["filled"],
                r["orders_with_fill"],
                r["fully_filled"],
                r["mean_time_to_first_fill_ms"],
                r["median_time_to_first_fill_ms"],
            )
            for r in rates.iter_rows(named=True)
        }
        assert got.keys() == expected.keys()
        for key, row in got.items():
            assert row[:5] == expected[key][:5], key
            for value, want in zip(row[5:], expected[key][5:], strict=True):
                assert (value is None and want is None) or math.isclose(value, want), key
        assert rates["fill_rate"].to_list() == [
            r[2] / r[1] for r in rates.select("orders", "submitted", "filled").rows()
        ]
    assert expected[("limit", "FOK", "Buy", "solo")][5:] == (None, None)


def test_stylized_facts_match_numpy_on_a_known_series() -> None:
    rng = np.random.default_rng(3)
    mids = 100 * np.exp(np.cumsum(rng.standard_t(3, 60) * 0.001))
    prices = pl.DataFrame(
        {
            "symbol": ["XYZ"] * 60,
            "time": [ns(HOUR + timedelta(minutes=m, seconds=30)) for m in range(60)],
            "mid_price": mids,
            "best_bid": np.round(mids - 0.01, 2),
            "best_ask": np.round(mids + 0.01, 2),
        }
    )
    returns = np.diff(np.log(mids))
    facts = compute.stylized_facts(compute.mid_returns_1m(prices)).row(0, named=True)
    centred = returns - returns.mean()
    kurtosis = (centred**4).mean() / (centred**2).mean() ** 2 - 3
    assert facts["returns_1m"] == 59
    assert math.isclose(facts["excess_kurtosis_1m"], kurtosis, rel_tol=1e-9)
    assert math.isclose(
        facts["autocorr_r_lag1"], np.corrcoef(returns[1:], returns[:-1])[0, 1], rel_tol=1e-9
    )
    absolute = np.abs(returns)
    assert math.isclose(
        facts["autocorr_abs_r_lag10"],
        np.corrcoef(absolute[10:], absolute[:-10])[0, 1],
        rel_tol=1e-9,
    )


def test_market_quality_reports_spread_in_ticks_depth_and_volume() -> None:
    prices = pl.DataFrame(
        {
            "symbol": ["XYZ", "XYZ"],
            "time": [ns(HOUR), ns(HOUR + timedelta(minutes=1))],
            "mid_price": [100.015, 100.02],
            "best_bid": [100.0, 100.01],
            "best_ask": [100.03, 100.03],
        }
    )
    level = pl.Struct({"price": pl.Float64, "quantity": pl.Int64, "orders": pl.Int64})
    book = pl.DataFrame(
        {
            "symbol": ["XYZ"],
            "bids": [
                [
                    {"price": 100.0, "quantity": 5, "orders": 1},
                    {"price": 99.99, "quantity": 7, "orders": 2},
                ]
            ],
            "asks": [[{"price": 100.03, "quantity": 4, "orders": 1}]],
        },
        schema_overrides={"bids": pl.List(level), "asks": pl.List(level)},
    )
    trades = trades_frame([("t", "XYZ", 3, 100.03, 9, "a", "b")])
    quality = compute.market_quality(prices, book, trades).row(0, named=True)
    assert quality["median_spread_ticks"] == 2.5
    assert math.isclose(quality["mean_spread"], 0.025)
    assert quality["mean_bid_depth"] == 12 and quality["mean_ask_depth"] == 4
    assert quality["volume"] == 9 and quality["trade_count"] == 1
    assert quality["returns_1m"] == 1


def test_candle_violations_find_high_below_low_and_vwap_outside_the_range() -> None:
    candles = pl.DataFrame(
        {
            "open": [1.0, 1.0, 1.0],
            "high": [2.0, 0.5, 2.0],
            "low": [0.5, 2.0, 0.5],
            "close": [1.5, 1.0, 1.5],
            "vwap": [1.2, 1.0, 3.0],
        }
    )
    assert compute.candle_violations(candles).height == 2


def test_unknown_order_references_are_reported() -> None:
    trades = trades_frame([("ok", "XYZ", 0, 1.0, 1, "a", "b"), ("bad", "XYZ", 0, 1.0, 1, "a", "z")])
    unknown = compute.unknown_order_references(trades, pl.Series(["a", "b"]))
    assert unknown["trade_id"].to_list() == ["bad"]


def raw_trades(prices: list[float], ids: list[str]) -> pl.DataFrame:
    n = len(prices)
    return pl.DataFrame(
        {
            "trade_id": ids,
            "left_order_id": ["a"] * n,
            "right_order_id": ["b"] * n,
            "quantity": [1] * n,
            "price": prices,
            "action": ["Buy"] * n,
            "status": ["filled"] * n,
            "symbol": ["XYZ"] * n,
            "time": [0] * n,
            "sequence": list(range(n)),
            "maker_trader_id": [None] * n,
            "taker_trader_id": [None] * n,
            "kafka_topic": ["trades"] * n,
            "kafka_partition": [0] * n,
            "kafka_offset": list(range(n)),
            "kafka_timestamp": [HOUR] * n,
            "kafka_key": ["XYZ"] * n,
        },
        schema_overrides={
            "quantity": pl.Int64,
            "time": pl.Int64,
            "sequence": pl.Int64,
            "maker_trader_id": pl.String,
            "taker_trader_id": pl.String,
            "kafka_partition": pl.Int32,
            "kafka_offset": pl.Int64,
            "kafka_timestamp": pl.Datetime("us", "UTC"),
        },
    )


def test_the_raw_trades_schema_passes_clean_data_and_names_each_broken_rule() -> None:
    schema = schemas.raw_trades_schema(lambda _symbol: 0.01)
    assert schemas.validate(schema, raw_trades([100.0, 100.01], ["a", "b"])).passed
    broken = schemas.validate(schema, raw_trades([-100.0, 100.005, 100.0], ["a", "b", "b"]))
    assert not broken.passed
    assert set(broken.failures_by_check) >= {"greater_than(0)", "price_on_tick", "field_uniqueness"}


def test_the_raw_orders_schema_allows_a_cancel_to_reuse_an_order_id() -> None:
    n = 3
    orders = pl.DataFrame(
        {
            "order_id": ["o1", "o1", "o2"],
            "order_type": ["limit", "cancel", "limit"],
            "price": [10.0, None, 10.01],
            "quantity": [5, None, 0],
            "time": [0] * n,
            "symbol": ["XYZ"] * n,
            "trader_id": ["mm-1"] * n,
            "time_in_force": ["GTC", None, "GTC"],
            "post_only": [False] * n,
            "kafka_topic": ["orders"] * n,
            "kafka_partition": [0] * n,
            "kafka_offset": [0, 1, 2],
            "kafka_timestamp": [HOUR] * n,
            "kafka_key": ["XYZ"] * n,
        },
        schema_overrides={
            "kafka_partition": pl.Int32,
            "kafka_timestamp": pl.Datetime("us", "UTC"),
            "time_in_force": pl.String,
            "price": pl.Float64,
            "quantity": pl.Int64,
        },
    )
    result = schemas.validate(schemas.raw_orders_schema(lambda _s: 0.01), orders)
    assert result.failures_by_check == {"quantity_non_zero": 1}


def test_the_chart_is_a_png() -> None:
    candles = compute.ohlc_1m(trades_frame([("t", "XYZ", 0, 10.0, 1, "a", "b")]))
    assert candlestick_png(candles, "test").startswith(b"\x89PNG")
