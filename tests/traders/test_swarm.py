"""Parsing a mix, splitting a swarm, building it deterministically."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from traders.swarm import DEFAULT_MIX, MixError, allocate, build_traders, parse_mix

pytestmark = pytest.mark.unit


def test_a_mix_is_parsed_normalised_and_aliases_resolve():
    assert parse_mix("noise=2, market_maker=1, value=1") == {
        "noise": 0.5,
        "mm": 0.25,
        "fundamental": 0.25,
    }
    assert parse_mix({"zi": 1}) == {"noise": 1.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("noise", "not NAME=WEIGHT"),
        ("noise=x", "not a number"),
        ("hft=1", "unknown strategy 'hft'"),
        ("noise=-1", "non-negative"),
        ("noise=0", "no positive weight"),
        ("", "no positive weight"),
    ],
)
def test_a_bad_mix_says_why(text, message):
    with pytest.raises(MixError, match=message):
        parse_mix(text)


@given(
    st.integers(0, 10_000),
    st.dictionaries(
        st.sampled_from(["noise", "mm", "momentum", "fundamental"]), st.floats(0.01, 10), min_size=1
    ),
)
def test_allocation_gives_every_trader_a_strategy(count, weights):
    counts = allocate(count, parse_mix(weights))
    assert sum(counts.values()) == count
    total = sum(weights.values())
    for name, weight in weights.items():
        assert abs(counts[name] - count * weight / total) < 1


def test_the_same_seed_builds_the_same_swarm_with_unique_ids():
    first = build_traders(200, DEFAULT_MIX, ["A", "B"], seed=5, id_prefix="run.")
    again = build_traders(200, DEFAULT_MIX, ["A", "B"], seed=5, id_prefix="run.")
    assert [(t.trader_id, t.rate, t.symbols) for t in first] == [
        (t.trader_id, t.rate, t.symbols) for t in again
    ]
    assert len({t.trader_id for t in first}) == 200
    assert all(t.trader_id.startswith("run.") for t in first)
    assert {t.symbols[0] for t in first} == {"A", "B"}
    other = build_traders(200, DEFAULT_MIX, ["A", "B"], seed=6)
    assert [t.rate for t in other] != [t.rate for t in first]
