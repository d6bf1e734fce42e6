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
