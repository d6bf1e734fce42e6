"""Data platform benchmarks.

1. Ingestion: publish `--records` orders timestamped inside one past hour to a fresh local
   stack, then time the Spark batch ingestion of that hour into a local lake, Spark start-up
   included (a new JVM, as the hourly schedule pays it).
2. Analytics: `--trades` synthetic trades (and half as many orders); time ohlc_1m + vwap +
   fill rates in polars (`dagster_defs.analytics.compute`) and the same computation in pandas.

    uv run python bench/platform_bench.py                      # 1M records, 10M trades
    uv run python bench/platform_bench.py --records 50000 --trades 500000   # a quick run
    uv run python bench/platform_bench.py --skip-ingestion --skip-pandas     # polars only
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

SYMBOLS = np.array(["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH"])
TRADERS = np.array(["mm-1", "mm-2", "momentum-1", "momentum-2", "noise-1", "noise-2"])


# -- ingestion -------------------------------------------------------------------------------
def bench_ingestion(records: int, jvm_options: str | None) -> dict[str, float]:
    from dagster_defs.ingestion.spark_kafka import (
        ingest_topic,
        spark_conf,
        spark_kafka_options,
        spark_session,
    )
    from dagster_defs.lake import Lake
    from orderbook_platform.contracts import Order, encode
    from orderbook_platform.kafka.clients import producer
    from orderbook_platform.kafka.topics import apply_topics
    from orderbook_platform.stack import Stack
    from orderbook_platform.stack.jars import fetch_jars, jar_files
    from orderbook_platform.testing import stack_settings_for

    workdir = Path(tempfile.mkdtemp(prefix="platform-bench-"))
    settings = stack_settings_for(workdir / ".orderbook")
    stack = Stack(settings)
    stack.up()
    try:
        apply_topics(settings)
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
        start_ns = int(hour.timestamp()) * 1_000_000_000
        step_ns = 3_600_000_000_000 // records
        writer = producer(settings.kafka, **{"linger.ms": 50, "batch.num.messages": 10000})
        began = time.perf_counter()
        for i in range(records):
            moment = start_ns + i * step_ns
            symbol = str(SYMBOLS[i % len(SYMBOLS)])
            payload = encode(
                Order(
                    order_id=f"bench-{i}",
                    order_type="limit",
                    price=100 + (i % 50) / 100,
                    quantity=(i % 9 + 1) * (1 if i % 2 else -1),
                    time=moment,
                    symbol=symbol,
                    trader_id=str(TRADERS[i % len(TRADERS)]),
                    time_in_force="GTC",
                )
            )
            while True:
                try:
                    writer.produce(
                        "orders", payload, symbol.encode(), timestamp=moment // 1_000_000
                    )
                    break
                except BufferError:
                    writer.poll(0.05)
        assert writer.flush(120) == 0
        publish_s = time.perf_counter() - began

        jars = jar_files(fetch_jars(settings.stack.jars_dir), "spark")
        extra = {"spark.driver.extraJavaOptions": jvm_options} if jvm_options else None
        lake = Lake(str(workdir / "lake"))
        kafka_options = spark_kafka_options(settings.kafka)
        began = time.perf_counter()
        spark = spark_session(spark_conf(jars=jars, extra=extra))
        started_s = time.perf_counter() - began
        written = ingest_topic(
            spark, kafka_options, lake, "orders", hour, hour + timedelta(hours=1)
        )
        total_s = time.perf_counter() - began
        assert written[0].rows == records, (written[0].rows, records)
        spark.stop()
        return {
            "records": records,
            "publish_s": publish_s,
            "spark_start_s": started_s,
            "ingest_total_s": total_s,
            "records_per_s": records / total_s,
            "records_per_s_after_start": records / (total_s - started_s),
            "parquet_mb": written[0].bytes / 1e6,
        }
    finally:
        stack.down(purge=True)


# -- analytics -------------------------------------------------------------------------------
def synthetic_market(trades: int, seed: int = 1) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    hour_ns = int(datetime(2026, 11, 25, 9, tzinfo=UTC).timestamp()) * 1_000_000_000
    orders = trades // 2
    symbol_index = rng.integers(0, len(SYMBOLS), trades)
    trade_columns = {
        "trade_id": np.arange(trades, dtype=np.int64),
        "symbol": SYMBOLS[symbol_index],
        "time": np.sort(hour_ns + rng.integers(0, 3_600_000_000_000, trades)),
        "sequence": np.arange(trades, dtype=np.int64),
        "price": np.round(100 + symbol_index * 10 + rng.normal(0, 0.5, trades), 2),
        "quantity": rng.integers(1, 20, trades),
        "left_order_id": rng.integers(0, orders, trades),
        "right_order_id": rng.integers(0, orders, trades),
    }
    order_columns = {
        "order_id": np.arange(orders, dtype=np.int64),
        "order_type": np.where(rng.random(orders) < 0.8, "limit", "market"),
        "time_in_force": np.array(["GTC", "IOC", "FOK"])[rng.integers(0, 3, orders)],
        "quantity": rng.integers(1, 50, orders) * np.where(rng.random(orders) < 0.5, 1, -1),
        "trader_id": TRADERS[rng.integers(0, len(TRADERS), orders)],
        "symbol": SYMBOLS[rng.integers(0, len(SYMBOLS), orders)],
        "time": hour_ns + rng.integers(0, 3_600_000_000_000, orders),
    }
    return trade_columns, order_columns


def polars_analytics(
    trades: pl.DataFrame, orders: pl.DataFrame, parts: dict[str, float] | None = None
) -> tuple[int, int]:
    """ohlc_1m + vwap + order_fills/fill_rates; `parts` receives each step's seconds."""
    from dagster_defs.analytics import compute

    parts = {} if parts is None else parts
    began = time.perf_counter()
    candles = compute.ohlc_1m(trades)
    running = compute.vwap(candles)
    parts["ohlc_1m+vwap"] = time.perf_counter() - began
    began = time.perf_counter()
    rates = compute.fill_rates(compute.order_fills_plan(orders, trades))
    parts["order_fills+fill_rates"] = time.perf_counter() - began
    return running.height, rates.height


def pandas_analytics(trades: pd.DataFrame, orders: pd.DataFrame) -> tuple[int, int]:
    """The same three computations, written the way a pandas user would."""
    from dagster_defs.analytics.compute import STRATEGY_PATTERN

    frame = trades.assign(
        minute=pd.to_datetime(trades["time"], unit="ns", utc=True).dt.floor("min"),
        notional=trades["price"] * trades["quantity"],
    ).sort_values(["symbol", "time", "sequence"])
    candles = (
        frame.groupby(["symbol", "minute"], sort=True)
        .agg(
            open=("price", "first"),
            high=("price", "max"),
            low=("price", "min"),
            close=("price", "last"),
            volume=("quantity", "sum"),
            trade_count=("price", "size"),
            notional=("notional", "sum"),
        )
        .reset_index()
    )
    candles["vwap"] = candles["notional"] / candles["volume"]
    by_symbol = candles.groupby("symbol")
    candles["cum_notional"] = by_symbol["notional"].cumsum()
    candles["cum_volume"] = by_symbol["volume"].cumsum()
    candles["vwap_hour_to_date"] = candles["cum_notional"] / candles["cum_volume"]
    candles["vwap_hour"] = by_symbol["notional"].transform("sum") / by_symbol["volume"].transform(
        "sum"
    )

    sides = [
        frame[["left_order_id", "quantity", "time"]].rename(columns={"left_order_id": "order_id"}),
        frame[["right_order_id", "quantity", "time"]].rename(
            columns={"right_order_id": "order_id"}
        ),
    ]
    fills = (
        pd.concat(sides)
        .groupby("order_id")
        .agg(filled=("quantity", "sum"), first_fill=("time", "min"))
        .reset_index()
    )
    per_order = orders[orders["order_type"].isin(["limit", "market"])].merge(
        fills, on="order_id", how="left"
    )
    per_order["time_in_force"] = np.where(
        per_order["order_type"] == "market", "IOC", per_order["time_in_force"].fillna("GTC")
    )
    per_order["side"] = np.where(per_order["quantity"] > 0, "Buy", "Sell")
    per_order["strategy"] = (
        per_order["trader_id"].str.extract(STRATEGY_PATTERN)[0].fillna(per_order["trader_id"])
    )
    per_order["submitted"] = per_order["quantity"].abs()
    per_order["filled"] = per_order["filled"].fillna(0)
    per_order["fill_rate"] = per_order["filled"] / per_order["submitted"]
    per_order["time_to_first_fill_ms"] = (per_order["first_fill"] - per_order["time"]) / 1e6
    rates = (
        per_order.groupby(["order_type", "time_in_force", "side", "strategy"])
        .agg(
            orders=("order_id", "size"),
            submitted=("submitted", "sum"),
            filled=("filled", "sum"),
            mean_time_to_first_fill_ms=("time_to_first_fill_ms", "mean"),
            median_time_to_first_fill_ms=("time_to_first_fill_ms", "median"),
        )
        .reset_index()
    )
    rates["fill_rate"] = rates["filled"] / rates["submitted"]
    return len(candles), len(rates)


def bench_analytics(trades: int, with_pandas: bool = True) -> dict[str, Any]:
    """Each library is timed with only its own frames in memory.

    Building the pandas frames first (15M Python string objects; RSS 1.8 -> 4.7 GB) made
    the polars run that followed 1.1-2.3x slower in CPU seconds on the development VM, an
    effect of the process's memory, not of polars; so polars runs first and its frames are
    dropped before the pandas frames are built.
    """
    trade_columns, order_columns = synthetic_market(trades)
    polars_trades, polars_orders = pl.DataFrame(trade_columns), pl.DataFrame(order_columns)
    load_before = os.getloadavg()[0]
    parts: dict[str, float] = {}
    began, cpu_began = time.perf_counter(), time.process_time()
    polars_rows = polars_analytics(polars_trades, polars_orders, parts)
    polars_s = time.perf_counter() - began
    polars_cpu_s = time.process_time() - cpu_began
    load_after = os.getloadavg()[0]
    del polars_trades, polars_orders
    result: dict[str, Any] = {
        "trades": trades,
        "polars_s": polars_s,
        "polars_cpu_s": polars_cpu_s,
        "polars_parts": parts,
        "load_avg": (load_before, load_after),
    }
    if not with_pandas:
        return result
    pandas_trades = pd.DataFrame(
        {k: v.astype(object) if v.dtype.kind == "U" else v for k, v in trade_columns.items()}
    )
    pandas_orders = pd.DataFrame(
        {k: v.astype(object) if v.dtype.kind == "U" else v for k, v in order_columns.items()}
    )
    began = time.perf_counter()
    pandas_rows = pandas_analytics(pandas_trades, pandas_orders)
    pandas_s = time.perf_counter() - began
    assert polars_rows == pandas_rows, (polars_rows, pandas_rows)
    return result | {
        "pandas_s": pandas_s,
        "ratio": pandas_s / polars_s,
        "load_avg": (load_before, load_after, os.getloadavg()[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the hour")
    parser.add_argument("--trades", type=int, default=10_000_000, help="trades for analytics")
    parser.add_argument("--skip-ingestion", action="store_true")
    parser.add_argument("--skip-analytics", action="store_true")
    parser.add_argument("--skip-pandas", action="store_true", help="time polars only")
    parser.add_argument("--jvm-options", default=None, help="spark.driver.extraJavaOptions")
    args = parser.parse_args()
    if not args.skip_analytics:
        result = bench_analytics(args.trades, with_pandas=not args.skip_pandas)
        pandas = (
            f"pandas {result['pandas_s']:.2f} s, pandas/polars = {result['ratio']:.1f}x; "
            if "pandas_s" in result
            else ""
        )
        print(
            f"analytics over {result['trades']:,} trades (ohlc_1m + vwap + fill rates): "
            f"polars {result['polars_s']:.2f} s ({result['polars_cpu_s']:.2f} CPU-s), {pandas}"
            "polars parts: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in result["polars_parts"].items())
            + "; 1-min load average "
            + " / ".join(f"{x:.1f}" for x in result["load_avg"])
            + " (before polars / after polars"
            + (" / after pandas)" if "pandas_s" in result else ")")
        )
    if not args.skip_ingestion:
        result = bench_ingestion(args.records, args.jvm_options)
        print(
            f"ingestion of a {result['records']:,}-record hour: {result['ingest_total_s']:.1f} s "
            f"including Spark start-up {result['spark_start_s']:.1f} s "
            f"-> {result['records_per_s']:,.0f} records/s overall, "
            f"{result['records_per_s_after_start']:,.0f} records/s after start-up; "
            f"{result['parquet_mb']:.1f} MB parquet (publishing took {result['publish_s']:.1f} s)"
        )


if __name__ == "__main__":
    main()
