"""Pure polars computations of the analytics layer: frames in, frames out, no I/O.

The inputs are the raw lake frames (columns of `ingestion.spark_kafka.TOPIC_SCHEMAS` plus
the `kafka_*` columns). Event time is the message `time` (epoch ns) and falls back to the
Kafka record timestamp, which producers set from the same `time`.

Conventions (docs/data-platform.md):
- a trader's strategy is the `trader_id` prefix before a final `-<n>` (`mm-3` -> `mm`,
  `run7.mm-3` -> `mm`);
  ids without that suffix are their own strategy, a missing id is "unknown";
- a market order's time in force is reported as IOC (its remainder is cancelled);
- fills are attributed within the hour: an order's fills in a later hour are not seen.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import polars as pl

UTC_US = pl.Datetime("us", "UTC")

NEW_ORDER_TYPES = ("limit", "market")
# An optional `<run>.` prefix (the live pool names traders `<run>.<strategy>-<n>`).
STRATEGY_PATTERN = r"^(?:.*\.)?([^.]+)-\d+$"


NS_PER_MINUTE = 60_000_000_000


def event_ns(frame: pl.DataFrame) -> pl.Expr:
    """The message time in epoch ns, the Kafka timestamp where `time` is missing.

    Kept as an integer until after aggregation: datetime conversions and string sort keys
    on every row cost more than the aggregation itself.
    """
    if "kafka_timestamp" in frame.columns:
        return pl.coalesce(pl.col("time"), pl.col("kafka_timestamp").dt.epoch("ns"))
    return pl.col("time")


def minute_of(epoch_ns: pl.Expr) -> pl.Expr:
    return (
        (epoch_ns // NS_PER_MINUTE * NS_PER_MINUTE)
        .cast(pl.Datetime("ns"))
        .dt.replace_time_zone("UTC")
        .cast(UTC_US)
    )


def _in_time_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows by event time, then sequence and offset; group_by keeps this order within groups."""
    tiebreak = [c for c in ("sequence", "kafka_partition", "kafka_offset") if c in frame.columns]
    return frame.with_columns(event_ns=event_ns(frame)).sort(
        ["event_ns", *tiebreak], nulls_last=True
    )


# -- ohlc_1m ---------------------------------------------------------------------------------
OHLC_SCHEMA = {
    "symbol": pl.String,
    "minute": UTC_US,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Int64,
    "trade_count": pl.Int64,
    "notional": pl.Float64,
    "vwap": pl.Float64,
}


def _time_order_keys(frame: pl.DataFrame) -> list[str]:
    return [
        "event_ns",
        *(c for c in ("sequence", "kafka_partition", "kafka_offset") if c in frame.columns),
    ]


def ohlc_1m(trades: pl.DataFrame) -> pl.DataFrame:
    """Per symbol and minute: open/high/low/close, volume, trade count, notional and VWAP.

    Open and close are the first and last trades by (time, sequence, offset), picked per
    group rather than by sorting everything; the plan runs on polars' streaming engine, which
    turns `sort_by(...).first()` into a per-group arg-min (no sort is materialised). A trade
    with a null tie-break key loses the tie to one that has it, for the open and the close.
    """
    if trades.is_empty():
        return pl.DataFrame(schema=OHLC_SCHEMA)
    keys = _time_order_keys(trades)
    candles = (
        trades.lazy()
        .with_columns(event_ns=event_ns(trades))
        .group_by("symbol", minute_ns=pl.col("event_ns") // NS_PER_MINUTE)
        .agg(
            open=pl.col("price").sort_by(keys, nulls_last=True).first(),
            high=pl.col("price").max(),
            low=pl.col("price").min(),
            close=pl.col("price").sort_by(keys, descending=True, nulls_last=True).first(),
            volume=pl.col("quantity").sum().cast(pl.Int64),
            trade_count=pl.len().cast(pl.Int64),
            notional=(pl.col("price") * pl.col("quantity")).sum(),
        )
        .with_columns(
            vwap=pl.col("notional") / pl.col("volume"),
            minute=minute_of(pl.col("minute_ns") * NS_PER_MINUTE),
        )
        .select(OHLC_SCHEMA.keys())
        .cast(OHLC_SCHEMA)
        .sort("symbol", "minute")
    )
    return candles.collect(engine="streaming")


# -- vwap ------------------------------------------------------------------------------------
VWAP_SCHEMA = {
    "symbol": pl.String,
    "minute": UTC_US,
    "volume": pl.Int64,
    "vwap_1m": pl.Float64,
    "vwap_hour_to_date": pl.Float64,
    "vwap_hour": pl.Float64,
    "volume_intraday": pl.Int64,
    "vwap_intraday": pl.Float64,
}


def vwap(candles: pl.DataFrame, earlier_today: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per symbol and minute: the minute's VWAP, the running VWAP of the hour, the hour's VWAP
    and the running intraday VWAP since 00:00 UTC.

    `earlier_today` holds the `ohlc_1m` candles of the same UTC day's earlier hours; the
    intraday figures cover exactly the candles given.
    """
    if candles.is_empty():
        return pl.DataFrame(schema=VWAP_SCHEMA)
    carried = (
        earlier_today.group_by("symbol").agg(
            notional_before=pl.col("notional").sum(), volume_before=pl.col("volume").sum()
        )
        if earlier_today is not None and not earlier_today.is_empty()
        else pl.DataFrame(
            schema={"symbol": pl.String, "notional_before": pl.Float64, "volume_before": pl.Int64}
        )
    )
    running = (
        candles.sort("symbol", "minute")
        .with_columns(
            cum_notional=pl.col("notional").cum_sum().over("symbol"),
            cum_volume=pl.col("volume").cum_sum().over("symbol"),
            vwap_hour=pl.col("notional").sum().over("symbol")
            / pl.col("volume").sum().over("symbol"),
        )
        .join(carried, on="symbol", how="left")
        .with_columns(
            pl.col("notional_before").fill_null(0.0), pl.col("volume_before").fill_null(0)
        )
    )
    return (
        running.with_columns(
            vwap_1m=pl.col("vwap"),
            vwap_hour_to_date=pl.col("cum_notional") / pl.col("cum_volume"),
            volume_intraday=pl.col("volume_before") + pl.col("cum_volume"),
            vwap_intraday=(pl.col("notional_before") + pl.col("cum_notional"))
            / (pl.col("volume_before") + pl.col("cum_volume")),
        )
        .select(VWAP_SCHEMA.keys())
        .cast(VWAP_SCHEMA)
    )


def vwap_summary(vwap_frame: pl.DataFrame) -> pl.DataFrame:
    """One row per symbol: the hour's VWAP and volume, and the intraday VWAP at the hour's end."""
    return (
        vwap_frame.sort("symbol", "minute")
        .group_by("symbol", maintain_order=True)
        .agg(
            vwap_hour=pl.col("vwap_hour").last(),
            volume_hour=pl.col("volume").sum(),
            vwap_intraday=pl.col("vwap_intraday").last(),
            volume_intraday=pl.col("volume_intraday").last(),
        )
    )


# -- fill rates ------------------------------------------------------------------------------
ORDER_FILLS_SCHEMA = {
    "order_id": pl.String,
    "symbol": pl.String,
    "order_type": pl.String,
    "time_in_force": pl.String,
    "side": pl.String,
    "strategy": pl.String,
    "submitted": pl.Int64,
    "filled": pl.Int64,
    "fill_rate": pl.Float64,
    "time_to_first_fill_ms": pl.Float64,
    "time_to_first_fill_ns": pl.Int64,
}


def strategy_of(trader_id: pl.Expr) -> pl.Expr:
    """`mm-3` -> `mm`; an id without a numeric suffix is its own strategy; null -> unknown."""
    prefix = trader_id.str.extract(STRATEGY_PATTERN, 1)
    return pl.coalesce(prefix, trader_id, pl.lit("unknown"))


def order_fills(orders: pl.DataFrame, trades: pl.DataFrame) -> pl.DataFrame:
    """Per new order of the hour: submitted and filled lots, fill rate, time to first fill."""
    return order_fills_plan(orders, trades).collect(engine="streaming")


def order_fills_plan(orders: pl.DataFrame, trades: pl.DataFrame) -> pl.LazyFrame:
    """`order_fills` as a lazy plan, so that `fill_rates` can run it in the same query: the
    per-order frame is never materialised and the columns it does not need (order ids,
    symbols, per-order rates) are never computed."""
    new_orders = orders.lazy().filter(pl.col("order_type").is_in(NEW_ORDER_TYPES))
    fill_legs = [
        trades.lazy().select(
            pl.col(side).cast(orders.schema["order_id"]).alias("order_id"),
            pl.col("quantity").cast(pl.Int64),
            t=event_ns(trades).cast(pl.Int64),
        )
        for side in ("left_order_id", "right_order_id")
    ]
    fills = (
        pl.concat(fill_legs)
        .group_by("order_id")
        .agg(filled=pl.col("quantity").sum(), first_fill=pl.col("t").min())
    )
    # The strategy regex runs once per distinct trader, not once per order.
    strategies = (
        new_orders.select(pl.col("trader_id").unique())
        .drop_nulls()
        .with_columns(strategy=strategy_of(pl.col("trader_id")))
    )
    per_order = (
        # Duplicate new-order ids never get here: the blocking raw_orders schema check
        # rejects them upstream.
        new_orders.with_columns(submitted_at=event_ns(orders))
        .join(fills, on="order_id", how="left")
        .join(strategies, on="trader_id", how="left")
        .with_columns(
            time_in_force=pl.when(pl.col("order_type") == "market")
            .then(pl.lit("IOC"))
            .otherwise(pl.col("time_in_force").fill_null("GTC")),
            side=pl.when(pl.col("quantity") > 0).then(pl.lit("Buy")).otherwise(pl.lit("Sell")),
            strategy=pl.col("strategy").fill_null("unknown"),
            submitted=pl.col("quantity").abs(),
            filled=pl.col("filled").fill_null(0),
            time_to_first_fill_ns=pl.col("first_fill") - pl.col("submitted_at"),
        )
        .with_columns(time_to_first_fill_ms=pl.col("time_to_first_fill_ns") / 1e6)
        .with_columns(fill_rate=pl.col("filled") / pl.col("submitted"))
        .select(ORDER_FILLS_SCHEMA.keys())
        .cast(ORDER_FILLS_SCHEMA)
    )
    return per_order


FILL_RATE_GROUPS = ("order_type", "time_in_force", "side", "strategy")


def fill_rates(per_order: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Aggregated by order type, time in force, side and strategy; `fill_rate` is lot-weighted.

    `per_order` is `order_fills(...)` or, faster, `order_fills_plan(...)`.

    Every aggregate is built from integer sums, counts and medians, so the result does not
    depend on row order (float sums do, in their last bits).
    """
    wait_ns = pl.col("time_to_first_fill_ns")
    return (
        per_order.lazy()
        .group_by(FILL_RATE_GROUPS)
        .agg(
            orders=pl.len().cast(pl.Int64),
            submitted=pl.col("submitted").sum(),
            filled=pl.col("filled").sum(),
            orders_with_fill=(pl.col("filled") > 0).sum().cast(pl.Int64),
            fully_filled=(pl.col("filled") >= pl.col("submitted")).sum().cast(pl.Int64),
            mean_time_to_first_fill_ms=wait_ns.sum() / wait_ns.count() / 1e6,
            median_time_to_first_fill_ms=wait_ns.median() / 1e6,
        )
        .with_columns(
            fill_rate=pl.col("filled") / pl.col("submitted"),
            # A group without any fill has no mean wait (0 / 0), like it has no median.
            mean_time_to_first_fill_ms=pl.col("mean_time_to_first_fill_ms").fill_nan(None),
        )
        .sort(FILL_RATE_GROUPS)
        .collect(engine="streaming")
    )


# -- market quality --------------------------------------------------------------------------
MARKET_QUALITY_SCHEMA = {
    "symbol": pl.String,
    "quotes": pl.Int64,
    "mean_spread": pl.Float64,
    "mean_spread_ticks": pl.Float64,
    "median_spread_ticks": pl.Float64,
    "mean_bid_depth": pl.Float64,
    "mean_ask_depth": pl.Float64,
    "volume": pl.Int64,
    "trade_count": pl.Int64,
    "returns_1m": pl.Int64,
    "excess_kurtosis_1m": pl.Float64,
    "autocorr_r_lag1": pl.Float64,
    "autocorr_abs_r_lag1": pl.Float64,
    "autocorr_abs_r_lag10": pl.Float64,
}


def _autocorr(values: pl.Expr, lag: int) -> pl.Expr:
    return pl.corr(values, values.shift(lag))


def mid_returns_1m(prices: pl.DataFrame) -> pl.DataFrame:
    """Per symbol, log returns between the last mid prices of consecutive observed minutes."""
    quoted = prices.filter(pl.col("mid_price").is_not_null() & (pl.col("mid_price") > 0))
    if quoted.is_empty():
        return pl.DataFrame(schema={"symbol": pl.String, "minute": UTC_US, "r": pl.Float64})
    return (
        _in_time_order(quoted)
        .group_by("symbol", minute=minute_of(pl.col("event_ns")))
        .agg(mid=pl.col("mid_price").last())
        .sort("symbol", "minute")
        .with_columns(r=pl.col("mid").log().diff().over("symbol"))
        .drop_nulls("r")
        .select("symbol", "minute", "r")
    )


def stylized_facts(returns: pl.DataFrame) -> pl.DataFrame:
    """Excess kurtosis of 1-min log returns, lag-1 autocorrelation of returns, and the
    autocorrelation of |r| at lags 1 and 10 (volatility clustering), per symbol."""
    return (
        returns.sort("symbol", "minute")
        .group_by("symbol", maintain_order=True)
        .agg(
            returns_1m=pl.len().cast(pl.Int64),
            excess_kurtosis_1m=pl.col("r").kurtosis(fisher=True, bias=True),
            autocorr_r_lag1=_autocorr(pl.col("r"), 1),
            autocorr_abs_r_lag1=_autocorr(pl.col("r").abs(), 1),
            autocorr_abs_r_lag10=_autocorr(pl.col("r").abs(), 10),
        )
        .with_columns(
            # Too few points or a constant series give NaN; report "unknown" as null.
            pl.col("excess_kurtosis_1m").fill_nan(None),
            pl.col("autocorr_r_lag1").fill_nan(None),
            pl.col("autocorr_abs_r_lag1").fill_nan(None),
            pl.col("autocorr_abs_r_lag10").fill_nan(None),
        )
    )


def _depth(levels: str) -> pl.Expr:
    return pl.col(levels).list.eval(pl.element().struct.field("quantity")).list.sum()


def market_quality(
    prices: pl.DataFrame,
    book: pl.DataFrame,
    trades: pl.DataFrame,
    tick_for: Callable[[str], float] = lambda _symbol: 0.01,
) -> pl.DataFrame:
    """Per symbol for the hour: spread (price and ticks), depth, volume and stylized facts."""
    symbols = sorted(
        set(prices["symbol"].drop_nulls())
        | set(book["symbol"].drop_nulls())
        | set(trades["symbol"].drop_nulls())
    )
    if not symbols:
        return pl.DataFrame(schema=MARKET_QUALITY_SCHEMA)
    ticks = pl.DataFrame(
        {"symbol": symbols, "tick": [tick_for(s) for s in symbols]},
        schema={"symbol": pl.String, "tick": pl.Float64},
    )
    spreads = (
        prices.filter(pl.col("best_bid").is_not_null() & pl.col("best_ask").is_not_null())
        .join(ticks, on="symbol")
        .with_columns(spread=pl.col("best_ask") - pl.col("best_bid"))
        .with_columns(spread_ticks=(pl.col("spread") / pl.col("tick")).round(6))
        .group_by("symbol")
        .agg(
            mean_spread=pl.col("spread").mean(),
            mean_spread_ticks=pl.col("spread_ticks").mean(),
            median_spread_ticks=pl.col("spread_ticks").median(),
        )
    )
    quotes = prices.group_by("symbol").agg(quotes=pl.len().cast(pl.Int64))
    depth = (
        book.with_columns(bid_depth=_depth("bids"), ask_depth=_depth("asks"))
        .group_by("symbol")
        .agg(mean_bid_depth=pl.col("bid_depth").mean(), mean_ask_depth=pl.col("ask_depth").mean())
        if not book.is_empty()
        else pl.DataFrame(
            schema={"symbol": pl.String, "mean_bid_depth": pl.Float64, "mean_ask_depth": pl.Float64}
        )
    )
    activity = trades.group_by("symbol").agg(
        volume=pl.col("quantity").sum().cast(pl.Int64), trade_count=pl.len().cast(pl.Int64)
    )
    facts = stylized_facts(mid_returns_1m(prices))
    frame = ticks.select("symbol")
    for part in (quotes, spreads, depth, activity, facts):
        frame = frame.join(part, on="symbol", how="left")
    return (
        frame.with_columns(
            pl.col("quotes").fill_null(0),
            pl.col("volume").fill_null(0),
            pl.col("trade_count").fill_null(0),
            pl.col("returns_1m").fill_null(0),
        )
        .select(MARKET_QUALITY_SCHEMA.keys())
        .cast(MARKET_QUALITY_SCHEMA)
        .sort("symbol")
    )


# -- semantic checks as frames of failures -----------------------------------------------------
def candle_violations(candles: pl.DataFrame) -> pl.DataFrame:
    """Candles breaking low <= open, close <= high, or with a VWAP outside [low, high]."""
    tolerance = 1e-9
    return candles.filter(
        (pl.col("low") > pl.col("high"))
        | (pl.col("open") < pl.col("low") - tolerance)
        | (pl.col("open") > pl.col("high") + tolerance)
        | (pl.col("close") < pl.col("low") - tolerance)
        | (pl.col("close") > pl.col("high") + tolerance)
        | (pl.col("vwap") < pl.col("low") - tolerance)
        | (pl.col("vwap") > pl.col("high") + tolerance)
    )


def unknown_order_references(trades: pl.DataFrame, known_order_ids: pl.Series) -> pl.DataFrame:
    """Trades whose maker or taker order id is not among `known_order_ids`."""
    known = known_order_ids.unique()
    return trades.filter(
        ~pl.col("left_order_id").is_in(known.implode())
        | ~pl.col("right_order_id").is_in(known.implode())
    ).select("trade_id", "left_order_id", "right_order_id", "symbol", "time")


def off_tick(prices: pl.Series, tick: float) -> pl.Series:
    """True where a price is not a whole number of ticks (to a micro-tick)."""
    ticks = prices / tick
    return (ticks - ticks.round(0)).abs() > 1e-6


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
