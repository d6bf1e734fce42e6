"""The strategies, one small module each, and their names in a `--mix`."""

from traders.base import Trader
from traders.strategies.fundamental import FundamentalTrader
from traders.strategies.market_maker import MarketMaker
from traders.strategies.momentum import MomentumTrader
from traders.strategies.noise import NoiseTrader

STRATEGIES: dict[str, type[Trader]] = {
    "noise": NoiseTrader,
    "mm": MarketMaker,
    "momentum": MomentumTrader,
    "fundamental": FundamentalTrader,
}
ALIASES = {
    "zi": "noise",
    "market_maker": "mm",
    "marketmaker": "mm",
    "mom": "momentum",
    "value": "fundamental",
    "fv": "fundamental",
}

__all__ = [
    "ALIASES",
    "STRATEGIES",
    "FundamentalTrader",
    "MarketMaker",
    "MomentumTrader",
    "NoiseTrader",
]
