"""The fair-value process: deterministic on its grid, bounded activity, news jumps."""

from __future__ import annotations

import math

import pytest

from tests.traders.helpers import SECOND, T0
from traders.news import FairValue, NewsParams

pytestmark = pytest.mark.unit


def test_the_path_depends_on_seed_and_clock_not_on_how_often_it_is_asked():
    coarse = FairValue(100.0, T0, "s")
    fine = FairValue(100.0, T0, "s")
    for second in range(1, 601):
        fine.advance_to(T0 + second * SECOND + 123)
    coarse.advance_to(T0 + 600 * SECOND)
    assert fine.log_value == coarse.log_value and fine.jumps == coarse.jumps
    other = FairValue(100.0, T0, "t")
    other.advance_to(T0 + 600 * SECOND)
    assert other.log_value != coarse.log_value


def test_it_never_steps_backwards():
    value = FairValue(100.0, T0, 1)
    value.advance_to(T0 + 10 * SECOND)
    before = value.log_value
    value.advance_to(T0 + 5 * SECOND)
    assert value.log_value == before and value.time == T0 + 10 * SECOND


def test_activity_stays_within_its_range_and_follows_intensity():
    params = NewsParams(activity_range=(0.5, 3.0))
    value = FairValue(100.0, T0, 2, params)
    seen = set()
    for minute in range(1, 240):
        value.advance_to(T0 + minute * 60 * SECOND)
        assert 0.5 <= value.activity <= 3.0
        seen.add(round(value.activity, 3))
    assert len(seen) > 3  # it does switch


def test_jumps_happen_at_roughly_their_rate_and_the_value_stays_sane():
    params = NewsParams(jump_rate=1 / 60, open_boost=0.0)
    value = FairValue(100.0, T0, 3, params)
    value.advance_to(T0 + 6 * 3600 * SECOND)
    assert 120 < value.jumps < 1200  # E = 360 at mean intensity 1
    assert 50 < value.value < 200
    assert math.isfinite(value.log_value)
