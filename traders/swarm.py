"""Building a swarm: parse a `--mix`, draw heterogeneous traders, schedule wake-ups. Pure.

Heterogeneity is deliberate (docs/market-realism.md): activity rates are log-normal,
so a few traders act far more often than most, and each strategy's parameters
(look-backs, thresholds, spreads, sizes) vary per trader. Everything is drawn from
an RNG seeded by the swarm seed, so the same seed builds the same swarm.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from math import log as _log

from traders.base import Trader
from traders.market import SECOND, Market
from traders.strategies import ALIASES, STRATEGIES

DEFAULT_MIX: dict[str, float] = {"noise": 0.5, "fundamental": 0.4, "mm": 0.03, "momentum": 0.07}


class MixError(ValueError):
    """A `--mix` that cannot be used; the message says why."""


def parse_mix(text: str | Mapping[str, float]) -> dict[str, float]:
    """`"noise=0.5,mm=0.1"` (or a mapping) -> normalised weights by canonical name."""
    if isinstance(text, Mapping):
        items = list(text.items())
    else:
        items = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, weight = part.partition("=")
            if not sep:
                raise MixError(f"mix entry {part!r} is not NAME=WEIGHT")
            try:
                items.append((name.strip(), float(weight)))
            except ValueError:
                raise MixError(
                    f"mix weight of {name.strip()!r} is not a number: {weight!r}"
                ) from None
    weights: dict[str, float] = {}
    for name, weight in items:
        canonical = ALIASES.get(name.lower(), name.lower())
        if canonical not in STRATEGIES:
            known = ", ".join(sorted(STRATEGIES))
            raise MixError(f"unknown strategy {name!r} in mix (known: {known})")
        if not math.isfinite(weight) or weight < 0:
            raise MixError(f"mix weight of {name!r} must be a non-negative number, got {weight}")
        weights[canonical] = weights.get(canonical, 0.0) + weight
    total = sum(weights.values())
    if total <= 0:
        raise MixError("mix has no positive weight")
    return {name: weight / total for name, weight in weights.items() if weight > 0}


def allocate(count: int, mix: Mapping[str, float]) -> dict[str, int]:
    """Split `count` traders by weight (largest remainder; ties in mix order)."""
    raw = {name: count * weight for name, weight in mix.items()}
    counts = {name: math.floor(share) for name, share in raw.items()}
    leftover = count - sum(counts.values())
    by_remainder = sorted(mix, key=lambda name: -(raw[name] - counts[name]))
    for name in by_remainder[:leftover]:
        counts[name] += 1
    return counts


def _log_normal_rate(rng: random.Random, mean_seconds: float, spread: float = 0.8) -> float:
    """A rate whose mean interval is `mean_seconds`, log-normally spread across traders."""
    # Shift mu so that E[interval] = mean_seconds: E[exp(N(mu, s^2))] = exp(mu + s^2/2).
    interval = rng.lognormvariate(math.log(mean_seconds) - spread * spread / 2, spread)
    return 1 / max(interval, 0.05)


def _params(kind: str, rng: random.Random) -> dict[str, float | int]:
    """Per-trader parameters of one strategy (the heterogeneity of the swarm)."""
    if kind == "noise":
        return {
            "rate": _log_normal_rate(rng, 60.0),
            "mean_size": rng.uniform(2.0, 5.0),
            "depth_ticks": rng.uniform(1.5, 5.0),
        }
    if kind == "mm":
        return {
            "rate": rng.uniform(0.05, 0.2),
            "quote_size": rng.randint(1, 4),
            "half_spread": rng.uniform(0.3, 1.0),
            "widen": rng.uniform(0.8, 2.5),
            "skew": rng.uniform(2.0, 6.0),
            "min_requote_s": rng.uniform(2.0, 5.0),
        }
    if kind == "momentum":
        return {
            "rate": _log_normal_rate(rng, 30.0),
            "lookback_s": rng.randint(60, 300),
            "threshold": rng.uniform(4.0, 10.0),
            "size": rng.randint(2, 6),
        }
    if kind == "fundamental":
        return {
            "rate": _log_normal_rate(rng, 60.0, spread=1.0),
            "aggressiveness": rng.uniform(1.0, 4.0),
            "edge": rng.uniform(0.0, 2.0),
            "valuation_noise": rng.uniform(1.0, 4.0),
            "urgent": rng.uniform(4.0, 10.0),
            "size": rng.randint(2, 8),
            "attention": rng.uniform(0.2, 0.6),
        }
    raise MixError(f"unknown strategy {kind!r}")


def build_traders(
    count: int,
    mix: Mapping[str, float],
    symbols: list[str],
    seed: int | str,
    id_prefix: str = "",
    overrides: Mapping[str, Mapping[str, float | int]] | None = None,
) -> list[Trader]:
    """`count` traders split by `mix`, each trading one symbol (round-robin per strategy).

    Trader ids are `<id_prefix><kind>-<n>`; `overrides[kind]` replaces drawn parameters.
    """
    if count < 0:
        raise ValueError("trader count must be >= 0")
    if not symbols:
        raise ValueError("at least one symbol is needed")
    rng = random.Random(f"swarm/{seed}")
    traders: list[Trader] = []
    for kind, how_many in allocate(count, mix).items():
        cls = STRATEGIES[kind]
        for n in range(how_many):
            params = _params(kind, rng)
            if overrides and kind in overrides:
                params.update(overrides[kind])
            symbol = symbols[n % len(symbols)]
            traders.append(cls(f"{id_prefix}{kind}-{n}", [symbol], seed, **params))
    return traders


NEWS_DELAY_S = (0.1, 3.0)


def news_wake(trader: Trader, now: int) -> int | None:
    """An extra wake-up after a news jump, or None if the trader misses this one."""
    rng = trader.rng
    if trader.attention <= 0 or rng.random() >= trader.attention:
        return None
    return now + int(rng.uniform(*NEWS_DELAY_S) * SECOND)


def next_wake(trader: Trader, now: int, market: Market) -> int:
    """The trader's next wake-up time (ns): Poisson at its rate, faster in busy news."""
    rate = trader.rate
    if trader.follows_news:
        fair_value = market.fair_values.get(trader.symbols[0])
        if fair_value is not None:
            rate *= fair_value.activity
    # expovariate, inlined: this runs once per decision.
    return now + 1 + int(-_log(1.0 - trader.rng.random()) / rate * SECOND)
