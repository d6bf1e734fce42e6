"""pandera (polars) schemas of the raw and analytics frames, and one way to run them.

Frames are validated eagerly: on a LazyFrame pandera checks only the schema, not the
values, so callers pass collected DataFrames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandera.polars as pa
import polars as pl

from dagster_defs.analytics.compute import NEW_ORDER_TYPES
from orderbook_platform.contracts import ORDER_EVENT_KINDS

TickFor = Callable[[str], float]

_KAFKA_COLUMNS = {
    "kafka_topic": pa.Column(pl.String, nullable=False, description="Kafka topic read."),
    "kafka_partition": pa.Column(
        pl.Int32, nullable=False, description="Kafka partition of the record."
    ),
    "kafka_offset": pa.Column(
        pl.Int64, pa.Check.ge(0), nullable=False, description="Offset of the record."
    ),
    "kafka_timestamp": pa.Column(
        pl.Datetime("us", "UTC"),
        nullable=False,
        description="The record's Kafka timestamp: it decides the hour partition.",
    ),
    "kafka_key": pa.Column(pl.String, nullable=True, description="Record key (the symbol)."),
    # Set on malformed records only; absent from partitions written before they existed.
    "kafka_value_error": pa.Column(
        pl.String,
        nullable=True,
        required=False,
        description="Why the record is not a row of its contract; null on good rows.",
    ),
    "kafka_value": pa.Column(
        pl.Binary,
        nullable=True,
        required=False,
        description="The original bytes of a malformed record; null on good rows.",
    ),
}


def _ticks(frame: pl.LazyFrame, tick_for: TickFor) -> pl.Expr:
    symbols = frame.select(pl.col("symbol").unique()).collect()["symbol"].to_list()
    mapping = {s: tick_for(s) for s in symbols if s is not None}
    return pl.col("symbol").replace_strict(mapping, default=tick_for(""), return_dtype=pl.Float64)


def _price_on_tick(column: str, tick_for: TickFor, applies: pl.Expr | None = None) -> pa.Check:
    def check(data: Any) -> pl.LazyFrame:
        ticks = pl.col(column) / _ticks(data.lazyframe, tick_for)
        on_tick = (ticks - ticks.round(0)).abs() < 1e-6
        scope = applies if applies is not None else pl.lit(True)
        return data.lazyframe.select(pl.col(column).is_null() | ~scope | on_tick)

    return pa.Check(check, name=f"{column}_on_tick")


def _row_rule(name: str, rule: pl.Expr, why: str) -> pa.Check:
    # No `error=`: pandera would report the text instead of the check's name.
    return pa.Check(lambda data: data.lazyframe.select(rule), name=name, description=why)


def raw_orders_schema(tick_for: TickFor) -> pa.DataFrameSchema:
    is_new = pl.col("order_type").is_in(NEW_ORDER_TYPES)
    is_limit = pl.col("order_type") == "limit"
    return pa.DataFrameSchema(
        {
            "order_id": pa.Column(pl.String, nullable=False),
            "order_type": pa.Column(pl.String, nullable=False),
            "price": pa.Column(pl.Float64, nullable=True),
            "quantity": pa.Column(pl.Int64, nullable=True),
            "time": pa.Column(pl.Int64, nullable=True),
            "symbol": pa.Column(pl.String, nullable=False),
            "trader_id": pa.Column(pl.String, nullable=True),
            "time_in_force": pa.Column(
                pl.String, pa.Check.isin(["GTC", "IOC", "FOK"]), nullable=True
            ),
            "post_only": pa.Column(pl.Boolean, nullable=True),
            **_KAFKA_COLUMNS,
        },
        checks=[
            _row_rule(
                "limit_price_positive",
                ~is_limit | (pl.col("price").is_not_null() & (pl.col("price") > 0)),
                "a limit order needs a price > 0",
            ),
            _price_on_tick("price", tick_for, applies=is_limit),
            _row_rule(
                "quantity_non_zero",
                ~is_new | (pl.col("quantity").is_not_null() & (pl.col("quantity") != 0)),
                "a new order needs a non-zero quantity",
            ),
            _row_rule(
                "new_order_id_unique",
                ~(is_new & pl.when(is_new).then(pl.col("order_id")).is_duplicated()),
                "a new order's order_id appears twice",
            ),
        ],
        strict=True,
        name="raw_orders",
    )


def raw_trades_schema(tick_for: TickFor) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "trade_id": pa.Column(pl.String, nullable=False, unique=True),
            "left_order_id": pa.Column(pl.String, nullable=False),
            "right_order_id": pa.Column(pl.String, nullable=False),
            "quantity": pa.Column(pl.Int64, pa.Check.gt(0), nullable=False),
            "price": pa.Column(pl.Float64, pa.Check.gt(0), nullable=False),
            "action": pa.Column(pl.String, pa.Check.isin(["Buy", "Sell"]), nullable=False),
            "status": pa.Column(pl.String, pa.Check.isin(["partial", "filled"]), nullable=False),
            "symbol": pa.Column(pl.String, nullable=False),
            "time": pa.Column(pl.Int64, nullable=True),
            "sequence": pa.Column(pl.Int64, nullable=True),
            "maker_trader_id": pa.Column(pl.String, nullable=True),
            "taker_trader_id": pa.Column(pl.String, nullable=True),
            **_KAFKA_COLUMNS,
        },
        checks=[_price_on_tick("price", tick_for)],
        strict=True,
        name="raw_trades",
    )


def raw_prices_schema(tick_for: TickFor) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "mid_price": pa.Column(pl.Float64, pa.Check.gt(0), nullable=True),
            "best_bid": pa.Column(pl.Float64, pa.Check.gt(0), nullable=True),
            "best_ask": pa.Column(pl.Float64, pa.Check.gt(0), nullable=True),
            "bid_size": pa.Column(pl.Int64, pa.Check.gt(0), nullable=True),
            "ask_size": pa.Column(pl.Int64, pa.Check.gt(0), nullable=True),
            "symbol": pa.Column(pl.String, nullable=False),
            "time": pa.Column(pl.Int64, nullable=True),
            "sequence": pa.Column(pl.Int64, nullable=True),
            **_KAFKA_COLUMNS,
        },
        checks=[
            _price_on_tick("best_bid", tick_for),
            _price_on_tick("best_ask", tick_for),
            _row_rule(
                "book_not_crossed",
                pl.col("best_bid").is_null()
                | pl.col("best_ask").is_null()
                | (pl.col("best_bid") < pl.col("best_ask")),
                "best bid must be below best ask",
            ),
        ],
        strict=True,
        name="raw_prices",
    )


def raw_book_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "symbol": pa.Column(pl.String, nullable=False),
            "bids": pa.Column(nullable=True),
            "asks": pa.Column(nullable=True),
            "time": pa.Column(pl.Int64, nullable=True),
            "sequence": pa.Column(pl.Int64, nullable=True),
            **_KAFKA_COLUMNS,
        },
        checks=[
            _row_rule(
                "levels_positive",
                pl.col("bids")
                .list.eval(
                    (pl.element().struct.field("price") > 0)
                    & (pl.element().struct.field("quantity") > 0)
                )
                .list.all()
                .fill_null(True)
                & pl.col("asks")
                .list.eval(
                    (pl.element().struct.field("price") > 0)
                    & (pl.element().struct.field("quantity") > 0)
                )
                .list.all()
                .fill_null(True),
                "book levels need a price and a quantity > 0",
            )
        ],
        strict=True,
        name="raw_book",
    )


def raw_order_events_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "order_id": pa.Column(pl.String, nullable=False),
            "event": pa.Column(pl.String, pa.Check.isin(list(ORDER_EVENT_KINDS)), nullable=False),
            "reason": pa.Column(pl.String, nullable=True),
            "symbol": pa.Column(pl.String, nullable=True),
            "trader_id": pa.Column(pl.String, nullable=True),
            "order_type": pa.Column(pl.String, nullable=True),
            "side": pa.Column(pl.String, pa.Check.isin(["Buy", "Sell"]), nullable=True),
            "price": pa.Column(pl.Float64, nullable=True),
            "quantity": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
            "filled": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
            "remaining": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
            "time": pa.Column(pl.Int64, nullable=True),
            "sequence": pa.Column(pl.Int64, nullable=True),
            **_KAFKA_COLUMNS,
        },
        strict=True,
        name="raw_order_events",
    )


def ohlc_1m_schema() -> pa.DataFrameSchema:
    tolerance = 1e-9
    return pa.DataFrameSchema(
        {
            "symbol": pa.Column(pl.String, nullable=False, description="Instrument symbol."),
            "minute": pa.Column(
                pl.Datetime("us", "UTC"), nullable=False, description="Start of the minute, UTC."
            ),
            "open": pa.Column(
                pl.Float64, pa.Check.gt(0), nullable=False, description="First trade price."
            ),
            "high": pa.Column(
                pl.Float64, pa.Check.gt(0), nullable=False, description="Highest trade price."
            ),
            "low": pa.Column(
                pl.Float64, pa.Check.gt(0), nullable=False, description="Lowest trade price."
            ),
            "close": pa.Column(
                pl.Float64, pa.Check.gt(0), nullable=False, description="Last trade price."
            ),
            "volume": pa.Column(
                pl.Int64, pa.Check.gt(0), nullable=False, description="Lots traded."
            ),
            "trade_count": pa.Column(
                pl.Int64, pa.Check.gt(0), nullable=False, description="Number of trades."
            ),
            "notional": pa.Column(
                pl.Float64, nullable=False, description="Sum of price x lots of the trades."
            ),
            "vwap": pa.Column(
                pl.Float64, nullable=False, description="Volume-weighted average price."
            ),
        },
        checks=[
            _row_rule("low_le_high", pl.col("low") <= pl.col("high"), "low must not exceed high"),
            _row_rule(
                "open_close_within_low_high",
                (pl.min_horizontal("open", "close") >= pl.col("low") - tolerance)
                & (pl.max_horizontal("open", "close") <= pl.col("high") + tolerance),
                "open and close must lie within [low, high]",
            ),
            _row_rule(
                "vwap_within_low_high",
                (pl.col("vwap") >= pl.col("low") - tolerance)
                & (pl.col("vwap") <= pl.col("high") + tolerance),
                "VWAP must lie within [low, high]",
            ),
        ],
        unique=["symbol", "minute"],
        strict=True,
        name="ohlc_1m",
    )


def vwap_schema() -> pa.DataFrameSchema:
    positive = pa.Check.gt(0)
    return pa.DataFrameSchema(
        {
            "symbol": pa.Column(pl.String, nullable=False, description="Instrument symbol."),
            "minute": pa.Column(
                pl.Datetime("us", "UTC"), nullable=False, description="Start of the minute, UTC."
            ),
            "volume": pa.Column(
                pl.Int64, positive, nullable=False, description="Lots traded in the minute."
            ),
            "vwap_1m": pa.Column(
                pl.Float64, positive, nullable=False, description="VWAP of the minute."
            ),
            "vwap_hour_to_date": pa.Column(
                pl.Float64,
                positive,
                nullable=False,
                description="VWAP from the hour's start to the end of this minute.",
            ),
            "vwap_hour": pa.Column(
                pl.Float64, positive, nullable=False, description="VWAP of the whole hour."
            ),
            "volume_intraday": pa.Column(
                pl.Int64,
                positive,
                nullable=False,
                description="Lots traded since 00:00 UTC, up to this minute.",
            ),
            "vwap_intraday": pa.Column(
                pl.Float64,
                positive,
                nullable=False,
                description="VWAP since 00:00 UTC (the day's hours in the lake), to this minute.",
            ),
        },
        unique=["symbol", "minute"],
        strict=True,
        name="vwap",
    )


def fill_rate_schema() -> pa.DataFrameSchema:
    wait = "time from an order's arrival to its first fill, ms, over the orders with a fill"
    return pa.DataFrameSchema(
        {
            "order_type": pa.Column(pl.String, nullable=True, description="Order type."),
            "time_in_force": pa.Column(pl.String, nullable=True, description="GTC, IOC or FOK."),
            "side": pa.Column(pl.String, nullable=True, description="Buy or Sell."),
            "strategy": pa.Column(
                pl.String,
                nullable=False,
                description="Trader strategy: the trader_id before `-<n>`.",
            ),
            "orders": pa.Column(
                pl.Int64, pa.Check.gt(0), nullable=False, description="New orders in the group."
            ),
            "submitted": pa.Column(
                pl.Int64, pa.Check.gt(0), nullable=False, description="Lots submitted."
            ),
            "filled": pa.Column(
                pl.Int64, pa.Check.ge(0), nullable=False, description="Lots filled."
            ),
            "orders_with_fill": pa.Column(
                pl.Int64, pa.Check.ge(0), nullable=False, description="Orders with any fill."
            ),
            "fully_filled": pa.Column(
                pl.Int64, pa.Check.ge(0), nullable=False, description="Orders filled in full."
            ),
            "mean_time_to_first_fill_ms": pa.Column(
                pl.Float64, nullable=True, description=f"Mean {wait}."
            ),
            "median_time_to_first_fill_ms": pa.Column(
                pl.Float64, nullable=True, description=f"Median {wait}."
            ),
            "fill_rate": pa.Column(
                pl.Float64,
                pa.Check.in_range(0.0, 1.0),
                nullable=False,
                description="Filled / submitted lots.",
            ),
        },
        checks=[
            _row_rule(
                "filled_le_submitted",
                pl.col("filled") <= pl.col("submitted"),
                "filled lots never exceed submitted lots",
            )
        ],
        strict=True,
        name="fill_rate",
    )


def market_quality_schema() -> pa.DataFrameSchema:
    def stat(description: str, *checks: pa.Check) -> pa.Column:
        return pa.Column(pl.Float64, list(checks), nullable=True, description=description)

    def count(description: str) -> pa.Column:
        return pa.Column(pl.Int64, pa.Check.ge(0), nullable=True, description=description)

    return pa.DataFrameSchema(
        {
            "symbol": pa.Column(
                pl.String, nullable=False, unique=True, description="Instrument symbol."
            ),
            "quotes": count("Top-of-book updates on `prices`."),
            "mean_spread": stat("Mean best ask - best bid, in price.", pa.Check.gt(0)),
            "mean_spread_ticks": stat("Mean spread in ticks.", pa.Check.ge(1 - 1e-6)),
            "median_spread_ticks": stat("Median spread in ticks.", pa.Check.ge(1 - 1e-6)),
            "mean_bid_depth": stat("Mean lots on the bid side of the book.", pa.Check.ge(0)),
            "mean_ask_depth": stat("Mean lots on the ask side of the book.", pa.Check.ge(0)),
            "volume": count("Lots traded."),
            "trade_count": count("Number of trades."),
            "returns_1m": count("Number of 1-minute mid-price returns."),
            "excess_kurtosis_1m": stat("Excess kurtosis of the 1-minute mid returns."),
            "autocorr_r_lag1": stat(
                "Autocorrelation of the returns at lag 1.", pa.Check.in_range(-1, 1)
            ),
            "autocorr_abs_r_lag1": stat(
                "Autocorrelation of |returns| at lag 1.", pa.Check.in_range(-1, 1)
            ),
            "autocorr_abs_r_lag10": stat(
                "Autocorrelation of |returns| at lag 10.", pa.Check.in_range(-1, 1)
            ),
        },
        strict=True,
        name="market_quality",
    )


@dataclass(frozen=True)
class Validation:
    passed: bool
    rows: int
    failures: pl.DataFrame

    @property
    def failures_by_check(self) -> dict[str, int]:
        if self.failures.is_empty():
            return {}
        counts = self.failures.group_by("check").len().sort("check")
        return dict(zip(counts["check"].to_list(), counts["len"].to_list(), strict=True))


def validate(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> Validation:
    """Run every check of `schema` on the collected frame (lazy=True reports all failures)."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return Validation(False, frame.height, pl.DataFrame(errors.failure_cases))
    except pa.errors.SchemaError as error:
        failure = pl.DataFrame(
            {"check": [str(error.check or "schema")], "failure_case": [str(error)]}
        )
        return Validation(False, frame.height, failure)
    return Validation(True, frame.height, pl.DataFrame())
