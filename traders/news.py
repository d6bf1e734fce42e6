"""The exogenous fair value of a symbol: a mean-reverting log price driven by news.

This is where the market's volatility clustering comes from (docs/market-realism.md).
News intensity is a Markov-switching multifractal (Calvet and Fisher): the product of
`len(timescales)` independent multipliers, each either `m0` or `2 - m0` (mean 1) and
each redrawn at its own rate, 1 / timescale. A slow multiplier makes long busy or
calm spells, a fast one short bursts; together they give absolute returns an
autocorrelation that decays slowly over minutes to hours, as in real markets.
The intensity scales:

- the variance of the value's diffusion;
- the rate of jumps (Laplace-sized news), which makes returns fat-tailed;
- `activity`, the factor by which news-driven traders speed up (its square root,
  clipped), which turns busy spells into volume and order-flow clusters too.

An intraday seasonal factor multiplies the intensity: a burst at each day's open that
decays over about half an hour, as on real exchanges (volatility and volume are
highest just after the open).

A slow Ornstein-Uhlenbeck pull back to the start value keeps a long run in a sane
range; its half-life (hours) is far slower than the one-minute returns measured.

The process steps on a fixed one-second grid from its start, drawing from its own
seeded RNG, so its path depends only on the seed and the clock, never on how often
it is asked. `jumps` counts news so far: a caller can wake attentive traders on news.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

SECOND = 1_000_000_000


@dataclass(frozen=True)
class NewsParams:
    """Volatility in log-price units per sqrt(second) at intensity 1; rates per second."""

    volatility: float = 0.00003
    jump_rate: float = 1 / 250
    jump_scale: float = 0.0008  # Laplace scale of a jump's log size
    m0: float = 1.8  # multiplier values: m0 and 2 - m0
    timescales: tuple[float, ...] = (600.0, 3600.0)  # mean seconds between redraws
    activity_range: tuple[float, float] = (0.5, 3.0)
    half_life: float = 6 * 3600  # of the pull back to the start value
    # Intraday seasonality: intensity x (1 + open_boost * exp(-t / open_decay)), t the
    # time since the day's open (seconds after `open_offset` past midnight UTC).
    open_boost: float = 2.0
    open_decay: float = 1800.0
    open_offset: float = 9 * 3600


class FairValue:
    """One symbol's fair value on a one-second grid (see the module doc)."""

    __slots__ = (
        "_mean_reversion",
        "activity",
        "intensity",
        "jumps",
        "log_anchor",
        "log_value",
        "multipliers",
        "params",
        "rng",
        "time",
        "value",
    )  # fmt: skip

    def __init__(
        self, start_price: float, start_time: int, seed: int | str,
        params: NewsParams | None = None,
    ) -> None:  # fmt: skip
        self.params = params = params or NewsParams()
        if not 0 < params.m0 < 2:
            raise ValueError(f"m0 must be in (0, 2), got {params.m0}")
        self.rng = random.Random(f"news/{seed}")
        self.log_anchor = self.log_value = math.log(start_price)
        # exp(log_value), kept in step with it: fundamental traders read it every decision.
        self.value = math.exp(self.log_value)
        self.time = start_time - start_time % SECOND
        self.multipliers = [self._draw() for _ in params.timescales]
        self.intensity = math.prod(self.multipliers) * self.seasonal(self.time)
        self.activity = self._activity()
        self.jumps = 0
        self._mean_reversion = math.log(2) / params.half_life

    def seasonal(self, time: int) -> float:
        """The intraday factor at `time`: a burst at the open that decays."""
        p = self.params
        since_open = (time / SECOND - p.open_offset) % 86400
        return 1.0 + p.open_boost * math.exp(-since_open / p.open_decay)

    def _draw(self) -> float:
        m0 = self.params.m0
        return m0 if self.rng.random() < 0.5 else 2 - m0

    def _activity(self) -> float:
        low, high = self.params.activity_range
        return min(high, max(low, math.sqrt(self.intensity)))

    def advance_to(self, now: int) -> None:
        """Step the process on its one-second grid up to `now` (never backwards)."""
        steps = (now - self.time) // SECOND
        if steps <= 0:
            return
        p = self.params
        rng = self.rng
        gauss, random_ = rng.gauss, rng.random
        switch = [1 / scale for scale in p.timescales]
        multipliers = self.multipliers
        intensity = self.intensity
        log_value = self.log_value
        pull = self._mean_reversion
        product = math.prod(multipliers)
        time = self.time
        for _ in range(steps):
            time += SECOND
            for k, probability in enumerate(switch):
                if random_() < probability:
                    multipliers[k] = self._draw()
                    product = math.prod(multipliers)
            intensity = product * self.seasonal(time)
            log_value += pull * (self.log_anchor - log_value)
            log_value += p.volatility * math.sqrt(intensity) * gauss(0.0, 1.0)
            if random_() < p.jump_rate * intensity:
                # Laplace: an exponential size with a random sign.
                size = rng.expovariate(1 / p.jump_scale)
                log_value += size if random_() < 0.5 else -size
                self.jumps += 1
        self.log_value = log_value
        self.value = math.exp(log_value)
        self.intensity = intensity
        self.activity = self._activity()
        self.time = time
