"""Stylized facts of a run, computed from `prices` and `trades` messages. Pure.

Per symbol:

- one-minute mid log returns: the mid prevailing at each minute boundary (the last
  `prices` message before it; a one-sided book carries the last two-sided mid forward);
- their excess kurtosis (Fisher, population moments; a normal distribution scores 0);
- their lag-1 autocorrelation, and the autocorrelation of their absolute values at
  lags 1 and 10 (volatility clustering);
- the quoted spread in ticks, weighted by how long each spread stood (median and
  mean; time with a one-sided book is left out);
- traded volume (lots) and trade count.

Over all symbols together ("pooled", the figures the verdict `passed` is taken on):
the symbols' fair values are independent, so their return series are independent
samples of the same market, and the standard way to estimate one statistic from
several series is to pool them:

- autocorrelations: each series centred on its own mean, lag products and squares
  summed over all series (the standard error falls to ~ 1/sqrt(total returns));
- kurtosis: of all returns, each standardised by its own symbol's mean and standard
  deviation (so a calm and a busy symbol side by side do not fake fat tails);
- spread: time-weighted over all symbols (in ticks).

With one symbol the pooled figures are that symbol's. `TARGETS` are the bar for the
default mix (issue 4). A one-hour run gives 59 returns per symbol, and the standard
error of an autocorrelation is about 1/sqrt(n) = 0.13 there: docs/market-realism.md
says what a one-hour run can and cannot show.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from orderbook_platform.contracts import Price, Trade

MINUTE = 60 * 1_000_000_000

# name -> (description, predicate)
TARGETS = {
    "excess_kurtosis": ("> 3", lambda x: x > 3),
    "return_autocorr_lag1": ("|x| <= 0.1", lambda x: abs(x) <= 0.1),
    "abs_return_autocorr_lag1": (">= 0.1", lambda x: x >= 0.1),
    "abs_return_autocorr_lag10": ("> 0", lambda x: x > 0),
    "median_spread_ticks": ("1..2", lambda x: 1 <= x <= 2),
}


def excess_kurtosis(values: list[float]) -> float:
    n = len(values)
    if n < 4:
        return math.nan
    mean = sum(values) / n
    m2 = sum((v - mean) ** 2 for v in values) / n
    if m2 == 0:
        return math.nan
    m4 = sum((v - mean) ** 4 for v in values) / n
    return m4 / (m2 * m2) - 3.0


def autocorrelation(values: list[float], lag: int) -> float:
    n = len(values)
    if n <= lag + 1:
        return math.nan
    mean = sum(values) / n
    centred = [v - mean for v in values]
    denominator = sum(c * c for c in centred)
    if denominator == 0:
        return math.nan
    numerator = sum(centred[i] * centred[i + lag] for i in range(n - lag))
    return numerator / denominator


def pooled_autocorrelation(series: list[list[float]], lag: int) -> float:
    """The lag-`lag` autocorrelation of several independent series, pooled.

    Each series is centred on its own mean; lag products and squares are summed over
    all of them. For one series this is `autocorrelation`, to the last bit.
    """
    numerator = denominator = 0.0
    for values in series:
        n = len(values)
        if n <= lag + 1:
            continue
        mean = sum(values) / n
        centred = [v - mean for v in values]
        denominator += sum(c * c for c in centred)
        numerator += sum(centred[i] * centred[i + lag] for i in range(n - lag))
    if denominator == 0:
        return math.nan
    return numerator / denominator


def pooled_excess_kurtosis(series: list[list[float]]) -> float:
    """Excess kurtosis of all series' values, each standardised within its own series."""
    standardised: list[float] = []
    for values in series:
        n = len(values)
        if n < 4:
            continue
        mean = sum(values) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
        if std == 0:
            continue
        standardised.extend((v - mean) / std for v in values)
    return excess_kurtosis(standardised)


def weighted_median(weights: dict[int, int]) -> float:
    """Median of integer values given their total weights (here: nanoseconds)."""
    total = sum(weights.values())
    if total == 0:
        return math.nan
    running = 0
    for value in sorted(weights):
        running += weights[value]
        if running * 2 >= total:
            return float(value)
    return math.nan  # unreachable


@dataclass
class _SymbolFacts:
    tick: float
    start: int
    minute_mids: list[float] = field(default_factory=list)
    next_boundary: int = 0
    mid: float | None = None  # last two-sided mid (decimal)
    spread_ticks: int | None = None
    since: int = 0  # when the current spread began
    spread_time: dict[int, int] = field(default_factory=dict)
    volume: int = 0
    trades: int = 0


class RealismAccumulator:
    """Feed `prices` and `trades` in time order (per symbol), then call `report(end)`."""

    def __init__(self, start: int, ticks: dict[str, float]) -> None:
        self.start = start
        self._facts = {
            symbol: _SymbolFacts(tick, start, next_boundary=start + MINUTE, since=start)
            for symbol, tick in ticks.items()
        }

    def _advance(self, facts: _SymbolFacts, now: int) -> None:
        while now >= facts.next_boundary:
            if facts.mid is not None:
                facts.minute_mids.append(facts.mid)
            facts.next_boundary += MINUTE
        if facts.spread_ticks is not None and now > facts.since:
            spread_time = facts.spread_time
            spread_time[facts.spread_ticks] = (
                spread_time.get(facts.spread_ticks, 0) + now - facts.since
            )
        facts.since = max(now, facts.since)

    def add_price(self, price: Price) -> None:
        facts = self._facts.get(price.symbol)
        if facts is None or price.time is None:
            return
        self._advance(facts, price.time)
        if price.best_bid is not None and price.best_ask is not None:
            facts.mid = price.mid_price
            facts.spread_ticks = round((price.best_ask - price.best_bid) / facts.tick)
        else:
            facts.spread_ticks = None

    def add_trade(self, trade: Trade) -> None:
        facts = self._facts.get(trade.symbol)
        if facts is not None:
            facts.volume += trade.quantity
            facts.trades += 1

    def report(self, end: int) -> dict:
        """Per symbol, and pooled over all symbols (the verdict `passed` is the pooled one)."""
        for facts in self._facts.values():
            self._advance(facts, end)
        facts_list = list(self._facts.values())
        pooled = _report_of(facts_list)
        return {
            "symbols": {symbol: _report_of([facts]) for symbol, facts in self._facts.items()},
            "pooled": {"symbols": len(facts_list), **pooled},
            "targets": {name: description for name, (description, _) in TARGETS.items()},
            "passed": pooled["passed"],
        }


def _returns(facts: _SymbolFacts) -> list[float]:
    mids = facts.minute_mids
    return [math.log(b / a) for a, b in itertools.pairwise(mids) if a > 0 and b > 0]


def _report_of(facts_list: list[_SymbolFacts]) -> dict:
    """The figures of one symbol, or of several pooled (see the module doc)."""
    series = [_returns(facts) for facts in facts_list]
    absolute = [[abs(r) for r in returns] for returns in series]
    count = sum(len(returns) for returns in series)
    spreads: dict[int, int] = {}
    for facts in facts_list:
        for spread, weight in facts.spread_time.items():
            spreads[spread] = spreads.get(spread, 0) + weight
    spread_total = sum(spreads.values())
    figures = {
        "returns": count,
        # Rough standard error of an autocorrelation estimate: read ACs against it.
        "autocorr_standard_error": 1 / math.sqrt(count) if count else math.nan,
        # Of one symbol's returns; pooled: the mean of the symbols' deviations.
        "return_std_bp": _mean([_std(returns) for returns in series]) * 1e4,
        "excess_kurtosis": (
            excess_kurtosis(series[0]) if len(series) == 1 else pooled_excess_kurtosis(series)
        ),
        "return_autocorr_lag1": pooled_autocorrelation(series, 1),
        "abs_return_autocorr_lag1": pooled_autocorrelation(absolute, 1),
        "abs_return_autocorr_lag10": pooled_autocorrelation(absolute, 10),
        "median_spread_ticks": weighted_median(spreads),
        "mean_spread_ticks": (
            sum(s * t for s, t in spreads.items()) / spread_total if spread_total else math.nan
        ),
        "volume": sum(facts.volume for facts in facts_list),
        "trades": sum(facts.trades for facts in facts_list),
    }
    checks = {
        name: bool(not math.isnan(figures[name]) and predicate(figures[name]))
        for name, (_, predicate) in TARGETS.items()
    }
    return {
        **{k: _clean(v) for k, v in figures.items()},
        "checks": checks,
        "passed": all(checks.values()),
    }


def realism_report(
    prices: Iterable[Price], trades: Iterable[Trade], start: int, end: int, ticks: dict[str, float]
) -> dict:
    """The report of whole message streams (prices in time order per symbol)."""
    accumulator = RealismAccumulator(start, ticks)
    for price in prices:
        accumulator.add_price(price)
    for trade in trades:
        accumulator.add_trade(trade)
    return accumulator.report(end)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _std(values: list[float]) -> float:
    if len(values) < 2:
        return math.nan
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _clean(value: float | int) -> float | int | None:
    """JSON has no NaN: report an undefined figure as null."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value


def format_report(report: dict) -> str:
    """Human-readable lines of a report, one block per symbol."""
    lines = []
    blocks = list(report["symbols"].items())
    pooled = report.get("pooled")
    if pooled is not None and len(blocks) > 1:
        blocks.append((f"all {len(blocks)} symbols, pooled (the verdict)", pooled))
    for symbol, entry in blocks:
        note = " - too few to judge; see docs/market-realism.md" if entry["returns"] < 120 else ""
        lines.append(
            f"{symbol}: {'PASS' if entry['passed'] else 'FAIL'} "
            f"({entry['returns']} one-minute returns{note})"
        )
        for name, value in entry.items():
            if name in ("checks", "passed", "returns", "symbols"):
                continue
            target = TARGETS.get(name)
            mark = ""
            if target is not None:
                mark = f"  target {target[0]}: {'ok' if entry['checks'][name] else 'MISS'}"
            shown = (
                "n/a"
                if value is None
                else (f"{value:,.4f}" if isinstance(value, float) else f"{value:,}")
            )
            lines.append(f"  {name:<28}{shown:>14}{mark}")
    return "\n".join(lines)
