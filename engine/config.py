"""The matching engine's configuration: instruments, tick sizes, depth, self-trade policy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from engine.book import DEFAULT_ID_WINDOW
from engine.ticks import TickSize

DEFAULT_SYMBOL = "XYZ"
DEFAULT_TICK_SIZE = "0.01"
DEFAULT_DEPTH = 10


@dataclass(frozen=True)
class EngineConfig:
    """Everything that changes how orders match or what is published.

    - `default_symbol`: applies to an order whose `symbol` is absent.
    - `tick_size`: every symbol's tick size unless `tick_sizes` names it. Give it as a
      string ("0.01") to avoid float surprises; floats are read through `str()`.
    - `symbols`: an allow-list; when set, any other symbol is rejected (`unknown_symbol`).
      When None, any non-empty symbol opens a book on its first order.
    - `depth`: the number of levels per side in `book` (L2) messages; 0 disables them.
    - `self_trade_prevention`: when two orders of the same `trader_id` would match, the
      resting (maker) order is cancelled instead (reason `self_trade_prevention`) and the
      incoming order continues. Orders without a `trader_id` never trigger it.
    - `duplicate_id_window`: how many of a symbol's most recently accepted order ids the
      duplicate check remembers (besides every resting id, which is always a duplicate).
      An older id that no longer rests may be used again, and a cancel or modify naming
      it is `unknown_order`. It bounds the snapshot (~39 bytes per id) and the memory of
      a long-running engine; it is part of the state, so changing it changes output.

    The lot size is 1: quantities are integer lots.
    """

    default_symbol: str = DEFAULT_SYMBOL
    tick_size: str | float | Decimal = DEFAULT_TICK_SIZE
    tick_sizes: Mapping[str, str | float | Decimal] = field(default_factory=dict)
    symbols: Iterable[str] | None = None
    depth: int = DEFAULT_DEPTH
    self_trade_prevention: bool = True
    duplicate_id_window: int = DEFAULT_ID_WINDOW

    def __post_init__(self) -> None:
        if self.depth < 0:
            raise ValueError(f"depth must be >= 0, got {self.depth}")
        if self.duplicate_id_window < 0:
            raise ValueError(f"duplicate_id_window must be >= 0, got {self.duplicate_id_window}")
        if not self.default_symbol:
            raise ValueError("default_symbol must be a non-empty string")
        if self.symbols is not None:
            object.__setattr__(self, "symbols", frozenset(self.symbols))
        object.__setattr__(self, "tick_sizes", dict(self.tick_sizes))
        # Parse every tick size now so a bad one fails at start-up, not on the first order.
        TickSize(self.tick_size)
        for size in self.tick_sizes.values():
            TickSize(size)

    def allows(self, symbol: str) -> bool:
        return self.symbols is None or symbol in self.symbols

    def tick_for(self, symbol: str) -> TickSize:
        return TickSize(self.tick_sizes.get(symbol, self.tick_size))
