"""The realism statistics on series whose answers are known."""

from __future__ import annotations

import math
import random

import pytest

from orderbook_platform.contracts import Price, Trade
from tests.traders.helpers import SECOND, T0
from traders.realism import (
    RealismAccumulator,
    autocorrelation,
    excess_kurtosis,
    format_report,
    pooled_autocorrelation,
    pooled_excess_kurtosis,
    weighted_median,
)

pytestmark = pytest.mark.unit


def test_excess_kurtosis_is_near_zero_for_normal_data_and_large_for_fat_tails():
    rng = random.Random(1)
    normal = [rng.gauss(0, 1) for _ in range(20_000)]
    assert abs(excess_kurtosis(normal)) < 0.15
    fat = [rng.gauss(0, 1) * (5 if rng.random() < 0.05 else 1) for _ in range(20_000)]
    assert excess_kurtosis(fat) > 5
    assert math.isnan(excess_kurtosis([1.0, 1.0, 1.0, 1.0]))


def test_autocorrelation_of_known_series():
    alternating = [(-1.0) ** i for i in range(1000)]
    assert autocorrelation(alternating, 1) == pytest.approx(-1, abs=0.01)
    assert autocorrelation(alternating, 2) == pytest.approx(1, abs=0.01)
    rng = random.Random(2)
    noise = [rng.gauss(0, 1) for _ in range(10_000)]
    assert abs(autocorrelation(noise, 1)) < 0.05


def test_weighted_median_weighs_by_time():
    assert weighted_median({1: 70, 5: 30}) == 1
    assert weighted_median({1: 30, 2: 30, 9: 40}) == 2
    assert math.isnan(weighted_median({}))


def price(symbol, bid, ask, time):
    return Price((bid + ask) / 2, bid, ask, 1, 1, symbol, time)


def test_the_accumulator_samples_mids_at_minute_boundaries_and_times_spreads():
    accumulator = RealismAccumulator(T0, {"XYZ": 0.01})
    accumulator.add_price(price("XYZ", 99.99, 100.01, T0))  # spread 2 ticks for 30 s
    accumulator.add_price(price("XYZ", 100.00, 100.01, T0 + 30 * SECOND))  # 1 tick for 150 s
    accumulator.add_price(price("XYZ", 101.00, 101.01, T0 + 90 * SECOND))
    accumulator.add_trade(Trade("a", "b", 7, 100.0, "Buy", "filled", symbol="XYZ"))
    report = accumulator.report(T0 + 180 * SECOND)
    entry = report["symbols"]["XYZ"]
    assert entry["returns"] == 2
    assert entry["median_spread_ticks"] == 1.0
    assert entry["mean_spread_ticks"] == pytest.approx((2 * 30 + 1 * 150) / 180)
    assert (entry["volume"], entry["trades"]) == (7, 1)
    assert entry["excess_kurtosis"] is None  # too few returns: null, not NaN
    assert "median_spread_ticks" in format_report(report)


def test_pooled_autocorrelation_centres_each_series_on_its_own_mean():
    rng = random.Random(3)
    one = [rng.gauss(0, 1) for _ in range(200)]
    assert pooled_autocorrelation([one], 1) == autocorrelation(one, 1)
    # Two alternating series at different levels: each alone is -1 at lag 1. Glued
    # together they would look positively autocorrelated (the level jump); pooled, not.
    low = [(-1.0) ** i for i in range(100)]
    high = [100 + (-1.0) ** i for i in range(100)]
    assert autocorrelation(low + high, 1) > 0.9
    assert pooled_autocorrelation([low, high], 1) == pytest.approx(-0.99, abs=0.001)
    # By hand: centred series (-1, 1, 0) and (-2, 0, 2), lag 1.
    numerator = (-1 * 1 + 1 * 0) + (-2 * 0 + 0 * 2)
    denominator = (1 + 1 + 0) + (4 + 0 + 4)
    assert pooled_autocorrelation([[0.0, 2.0, 1.0], [1.0, 3.0, 5.0]], 1) == pytest.approx(
        numerator / denominator
    )
    # Series too short for the lag are left out, not fatal.
    assert math.isnan(pooled_autocorrelation([[1.0, 2.0]], 1))


def test_pooled_kurtosis_standardises_each_series_first():
    rng = random.Random(4)
    calm = [rng.gauss(0, 1) for _ in range(5000)]
    busy = [rng.gauss(0, 10) for _ in range(5000)]
    # Glued together, a calm and a busy normal series look fat-tailed (a mixture) ...
    assert excess_kurtosis(calm + busy) > 3
    # ... pooled after standardising each, they are normal, as each one is.
    assert abs(pooled_excess_kurtosis([calm, busy])) < 0.2
    fat = [rng.gauss(0, 1) * (5 if rng.random() < 0.05 else 1) for _ in range(5000)]
    assert pooled_excess_kurtosis([fat, [10 * v for v in fat]]) == pytest.approx(
        excess_kurtosis(fat), rel=1e-9
    )


def test_the_verdict_is_taken_on_all_symbols_pooled():
    accumulator = RealismAccumulator(T0, {"XYZ": 0.01, "ABC": 0.01})
    rng = random.Random(5)
    for symbol in ("XYZ", "ABC"):
        mid = 100.0
        for minute in range(30):
            mid *= 1 + rng.gauss(0, 0.001)
            bid = round(mid - 0.005, 2)
            accumulator.add_price(
                price(symbol, bid, round(bid + 0.01, 2), T0 + minute * 60 * SECOND)
            )
    report = accumulator.report(T0 + 30 * 60 * SECOND)
    pooled = report["pooled"]
    assert pooled["symbols"] == 2
    assert pooled["returns"] == sum(e["returns"] for e in report["symbols"].values()) == 58
    assert report["passed"] == pooled["passed"]
    assert pooled["median_spread_ticks"] == 1.0
    text = format_report(report)
    assert "all 2 symbols, pooled (the verdict)" in text


def test_with_one_symbol_the_pooled_figures_are_the_symbol_s():
    accumulator = RealismAccumulator(T0, {"XYZ": 0.01})
    rng = random.Random(6)
    mid = 100.0
    for minute in range(40):
        mid *= 1 + rng.gauss(0, 0.001) * (4 if rng.random() < 0.1 else 1)
        bid = round(mid - 0.005, 2)
        accumulator.add_price(price("XYZ", bid, round(bid + 0.01, 2), T0 + minute * 60 * SECOND))
    report = accumulator.report(T0 + 40 * 60 * SECOND)
    pooled = {k: v for k, v in report["pooled"].items() if k != "symbols"}
    assert pooled == report["symbols"]["XYZ"]
