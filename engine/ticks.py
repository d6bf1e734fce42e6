"""Decimal prices at the edge, integer ticks inside.

A tick size is held as an exact fraction `units / scale` where `scale` is a power of
ten (0.01 -> 1/100, 0.25 -> 25/100, 5 -> 5/1). Converting ticks back to a price is
then one integer product and one int/int true division, which Python rounds
correctly: the result is the double nearest to the exact decimal, i.e. the same float
a JSON parser produces for "100.25". No `round()` and no string formatting on the hot
path.

Converting a price to ticks cannot be exact, because the price arrives as a binary
float. A price is *on tick* when `x = price / tick` lies within a tolerance of the
integer `n = round(x)`:

    abs(x - n) <= max(ABSOLUTE_TOLERANCE, abs(x) * RELATIVE_TOLERANCE)

The absolute part (1e-9 ticks) covers ordinary prices; the relative part (1e-14)
covers large tick counts, where the rounding error of the two float inputs and the
division (about 3.3e-16 relative) grows past 1e-9 ticks (e.g. 23456.78 / 0.01).
Prices above MAX_PRICE_TICKS are refused, so the tolerance stays below 0.01 tick.
An off-tick price is rejected, never rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Final

from mypy_extensions import mypyc_attr

ABSOLUTE_TOLERANCE: Final = 1e-9
RELATIVE_TOLERANCE: Final = 1e-14
# Above this many ticks the relative tolerance would exceed 0.01 tick.
MAX_PRICE_TICKS: Final = 10**12


# Memo sizes: a book touches few distinct prices, but a hostile stream could send many.
_MEMO_LIMIT: Final = 1 << 16


@mypyc_attr(acyclic=True)
class TickSize:
    """One instrument's tick size, with exact ticks -> price conversion.

    Both directions are memoised (`tick_memo`: on-tick float price -> ticks,
    `price_memo`: ticks -> float price) because float<->int conversion
    and int true division are a large share of the per-order cost in CPython, while a
    book sees few distinct prices. The memos are pure caches: clearing them changes
    nothing but speed.
    """

    __slots__ = (
        "exact_limit",
        "price_memo",
        "scale",
        "scale_float",
        "text",
        "tick",
        "tick_memo",
        "units",
    )

    def __init__(self, tick_size: str | float | int | Decimal) -> None:
        try:
            exact = Decimal(str(tick_size))
        except InvalidOperation:
            raise ValueError(f"tick size is not a number: {tick_size!r}") from None
        if not exact.is_finite() or exact <= 0:
            raise ValueError(f"tick size must be a positive finite number: {tick_size!r}")
        exact = exact.normalize()
        _, digits, exponent = exact.as_tuple()
        assert isinstance(exponent, int)  # finite decimals have an integer exponent
        mantissa = int("".join(map(str, digits)))
        # Typed, so that compiled code does native integer arithmetic on them.
        self.units: int = mantissa * 10**exponent if exponent >= 0 else mantissa
        self.scale: int = 1 if exponent >= 0 else 10**-exponent
        self.tick = float(exact)
        self.scale_float: float = float(self.scale)
        # exact_ticks: below this, n * units is exact as a float (< 2**53).
        self.exact_limit: int = min(MAX_PRICE_TICKS, 2**53 // self.units)
        # Canonical text, e.g. "0.01" or "5"; snapshots record it to catch a config change.
        self.text = format(exact, "f")
        self.tick_memo: dict[float, int] = {}
        self.price_memo: dict[int, float] = {}

    def to_ticks(self, price: float) -> int | None:
        """The integer tick count of a positive on-tick price, or None if it is off tick."""
        x = price / self.tick
        n = round(x)
        error = x - n
        tolerance = ABSOLUTE_TOLERANCE if x < 1e5 else x * RELATIVE_TOLERANCE
        if -tolerance <= error <= tolerance:
            return n
        return None

    def exact_ticks(self, price: float) -> int:
        """The ticks of `price` if it is exactly the float of an on-tick decimal, else 0.

        A shortcut for the common case, never a different rule: the float of an
        on-tick decimal (what a JSON parser gives for "100.25") is `n * units / scale`
        correctly rounded, which is what `to_price(n)` returns, and `price / tick` is
        then within a few ulps of `n`, far inside the tolerance of `to_ticks` and
        validation.limit_ticks, so they accept it with the same `n`. Anything else
        (off tick, near tick, out of range, NaN) gets 0 and takes the exact path.
        Compiled, this is native float arithmetic: no hashing, no memo lookup.
        """
        x = price / self.tick
        if not 0.5 <= x < MAX_PRICE_TICKS:
            return 0
        n = int(x + 0.5)
        if n < self.exact_limit and float(n * self.units) / self.scale_float == price:
            return n
        return 0

    def to_price(self, ticks: int) -> float:
        """The decimal price of `ticks`, as the float nearest to the exact decimal."""
        price = self.price_memo.get(ticks)
        if price is None:
            price = ticks * self.units / self.scale
            if len(self.price_memo) >= _MEMO_LIMIT:
                self.price_memo.clear()
            self.price_memo[ticks] = price
        return price

    def remember(self, price: float, ticks: int) -> None:
        """Memoise a validated on-tick price (see validation.limit_ticks)."""
        memo = self.tick_memo
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[price] = ticks

    def mid_price(self, bid_ticks: int, ask_ticks: int) -> float:
        """The mid of two tick prices (may fall on a half tick, e.g. 100.255)."""
        return (bid_ticks + ask_ticks) * self.units / (2 * self.scale)

    def __repr__(self) -> str:
        return f"TickSize({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TickSize) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)
