import math
import random
from decimal import Decimal

import pytest

from engine.events import NON_POSITIVE_PRICE, OFF_TICK_PRICE, PRICE_OUT_OF_RANGE
from engine.ticks import MAX_PRICE_TICKS, TickSize
from engine.validation import limit_ticks

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "units", "scale"),
    [
        ("0.01", 1, 100),
        ("0.25", 25, 100),
        ("0.05", 5, 100),
        ("1", 1, 1),
        ("5", 5, 1),
        ("10", 10, 1),
    ],
)
def test_tick_size_is_held_as_an_exact_decimal_fraction(text: str, units: int, scale: int) -> None:
    tick = TickSize(text)
    assert (tick.units, tick.scale) == (units, scale)


def test_tick_size_given_as_float_reads_its_shortest_decimal() -> None:
    assert TickSize(0.01).text == "0.01"
    assert TickSize(Decimal("0.010")).text == "0.01"


@pytest.mark.parametrize("bad", ["0", "-0.01", "abc", "nan", "inf"])
def test_tick_size_must_be_a_positive_finite_number(bad: str) -> None:
    with pytest.raises(ValueError):
        TickSize(bad)


def test_ticks_convert_back_to_the_decimal_a_json_parser_would_read() -> None:
    tick = TickSize("0.01")
    assert tick.to_price(10025) == 100.25
    assert tick.to_price(1) == 0.01
    assert tick.to_price(2345678) == 23456.78
    assert TickSize("0.25").to_price(401) == 100.25


def test_mid_price_may_fall_on_a_half_tick_and_prints_exactly() -> None:
    tick = TickSize("0.01")
    assert tick.mid_price(10025, 10026) == 100.255
    assert repr(tick.mid_price(10025, 10026)) == "100.255"


@pytest.mark.parametrize(
    ("price", "ticks"),
    [
        (100.25, 10025),
        (0.01, 1),
        (0.3, 30),
        (23456.78, 2345678),  # price/tick has a float error above 1e-9 here
        (12345678.91, 1234567891),
        (100, 10000),
    ],
)
def test_on_tick_prices_convert_to_integer_ticks(price: float, ticks: int) -> None:
    assert limit_ticks(TickSize("0.01"), price) == ticks
    assert TickSize("0.01").to_ticks(float(price)) == ticks


@pytest.mark.parametrize("price", [100.255, 100.001, 0.005, 23456.785, 1e-12])
def test_off_tick_prices_are_rejected_never_rounded(price: float) -> None:
    assert limit_ticks(TickSize("0.01"), price) == OFF_TICK_PRICE


def test_a_coarse_tick_rejects_prices_between_its_steps() -> None:
    tick = TickSize("0.25")
    assert limit_ticks(tick, 100.5) == 402
    assert limit_ticks(tick, 100.3) == OFF_TICK_PRICE


def test_prices_beyond_the_tick_range_are_refused() -> None:
    tick = TickSize("0.01")
    assert limit_ticks(tick, MAX_PRICE_TICKS * 0.01 * 2) == PRICE_OUT_OF_RANGE
    assert limit_ticks(tick, 10**400) == PRICE_OUT_OF_RANGE


def test_zero_and_negative_prices_are_non_positive() -> None:
    tick = TickSize("0.01")
    assert limit_ticks(tick, 0.0) == NON_POSITIVE_PRICE
    assert limit_ticks(tick, -1.0) == NON_POSITIVE_PRICE
    assert limit_ticks(tick, 0) == NON_POSITIVE_PRICE


def test_memoised_conversions_agree_with_fresh_ones() -> None:
    tick = TickSize("0.01")
    first = [limit_ticks(tick, p) for p in (100.25, 100.255, 100.25)]
    tick.tick_memo.clear()
    tick.price_memo.clear()
    assert first == [10025, OFF_TICK_PRICE, 10025]
    assert tick.to_price(10025) == tick.to_price(10025) == 100.25


@pytest.mark.parametrize("text", ["0.01", "0.25", "0.05", "0.001", "1", "5", "0.5"])
def test_exact_ticks_is_a_shortcut_that_never_disagrees_with_the_tolerance_rule(text: str) -> None:
    rng = random.Random(text)
    tick = TickSize(text)
    exact = Decimal(tick.text)
    shortcut_taken = 0
    for _ in range(20_000):
        n = rng.choice((rng.randint(1, 10**4), rng.randint(1, 10**9), rng.randint(10**11, 10**12)))
        on_tick = float(exact * n)  # what a JSON parser reads for the decimal
        near = math.nextafter(on_tick, math.inf if rng.random() < 0.5 else -math.inf)
        off = on_tick + float(exact) * rng.choice((0.5, 0.3, 1e-6))
        for price in (on_tick, near, off):
            fast = tick.exact_ticks(price)
            if fast:
                assert fast == tick.to_ticks(price) == limit_ticks(TickSize(text), price)
                assert tick.to_price(fast) == price
        if n < MAX_PRICE_TICKS:
            shortcut_taken += tick.exact_ticks(on_tick) == n
    assert shortcut_taken > 19_000  # the common case really takes the shortcut
    for price in (0.0, -float(exact), math.nan, math.inf, float(exact) * MAX_PRICE_TICKS):
        assert tick.exact_ticks(price) == 0
