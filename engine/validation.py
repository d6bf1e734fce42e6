"""Turning an order's raw quantity and price into integer lots and ticks, or a reason code.

These run once per order, so each has a fast path for the well-formed case and falls
through to the exact diagnosis only when something is off.

The bounds come from what every output must be able to hold, not from the engine
(its integers are unbounded): the lake reads quantities, sizes and times as 64-bit
signed integers (Spark's LongType) and prices as doubles, and a value that does not
fit becomes NULL there. So:

- a quantity is at most MAX_LOTS lots either way. A notional in ticks (lots x price
  ticks) then stays below MAX_LOTS * ticks.MAX_PRICE_TICKS = 10**18, about a ninth of
  2**63, which leaves room for sums of many fills in consumers;
- an order's `time` (epoch ns, copied to every message it causes) is 0..MAX_TIME, the
  int64 range without negatives: 2**63 - 1 ns is the year 2262, and a negative time is
  before 1970, which no order of this exchange has. 0 is allowed: it is the contract's
  default for an order without `time`.

Strings are bounded by what the engine keeps, not by the lake: a new order's id and
trader id stay in memory and in every snapshot as long as it rests, and the id in the
duplicate-id window (200,000 per symbol by default) after that; a symbol names a book.
Only the 64 KiB record limit bounded them, so a producer could fill the window with
64 KiB ids (12 GiB per symbol) and the engine would die of it again after every
restart, its recovery replaying the same orders. MAX_ID_CHARS (a UUID is 36) and
MAX_SYMBOL_CHARS keep that to ~60 MB per symbol.
"""

from __future__ import annotations

import math
from typing import Final

from engine.events import (
    INVALID_PRICE,
    INVALID_QUANTITY,
    MISSING_PRICE,
    MISSING_QUANTITY,
    NON_POSITIVE_PRICE,
    OFF_TICK_PRICE,
    PRICE_OUT_OF_RANGE,
    QUANTITY_OUT_OF_RANGE,
    ZERO_QUANTITY,
)
from engine.ticks import (
    ABSOLUTE_TOLERANCE,
    MAX_PRICE_TICKS,
    RELATIVE_TOLERANCE,
    TickSize,
)

MAX_LOTS: Final = 10**6
MAX_TIME: Final = 2**63 - 1
MAX_ID_CHARS: Final = 256
MAX_SYMBOL_CHARS: Final = 64


def signed_lots(quantity: object) -> int | str:
    """A non-zero signed integer quantity of at most MAX_LOTS lots, or a reject reason.

    An integral float (2.0) is accepted as the integer it equals: JSON writers differ on
    whether they print 2 or 2.0, and the value is unambiguous. A fractional float (1.5),
    NaN, an infinity or a bool is `invalid_quantity`; zero (or -0.0) is `zero_quantity`;
    more than MAX_LOTS either way (10**30, 1e30) is `quantity_out_of_range`.
    """
    lots: int
    if type(quantity) is int:
        lots = quantity
    elif quantity is None:
        return MISSING_QUANTITY
    elif isinstance(quantity, bool):
        return INVALID_QUANTITY
    elif isinstance(quantity, float):
        if not math.isfinite(quantity) or not quantity.is_integer():
            return INVALID_QUANTITY
        lots = int(quantity)
    elif isinstance(quantity, int):
        lots = int(quantity)
    else:
        return INVALID_QUANTITY
    if not lots:
        return ZERO_QUANTITY
    if lots > MAX_LOTS or lots < -MAX_LOTS:
        return QUANTITY_OUT_OF_RANGE
    return lots


def valid_time(time: object) -> bool:
    """Whether an order's `time` is an int in 0..MAX_TIME (else `time_out_of_range`)."""
    if type(time) is not int:
        return False
    # `>> 63` is 0 exactly for 0..2**63 - 1. Compiled, it is native arithmetic, where a
    # comparison with MAX_TIME (beyond mypyc's 62-bit short ints) boxes `ns` each time.
    ns: int = time
    return not ns >> 63


def limit_ticks(tick: TickSize, price: object) -> int | str:
    """A limit price in ticks (an int >= 1), or a reject reason. Never rounds off-tick.

    Same tolerance rule as `TickSize.to_ticks`, inlined because it runs per order.
    """
    if type(price) is float and 0.0 < price < math.inf:
        known = tick.tick_memo.get(price)
        if known is not None:
            return known
        x = price / tick.tick
        if x >= MAX_PRICE_TICKS:
            return PRICE_OUT_OF_RANGE
        n = round(x)
        error = x - n
        tolerance = ABSOLUTE_TOLERANCE if x < 1e5 else x * RELATIVE_TOLERANCE
        if n < 1 or error > tolerance or error < -tolerance:
            return OFF_TICK_PRICE
        tick.remember(price, n)
        return n
    if price is None:
        return MISSING_PRICE
    if isinstance(price, bool) or not isinstance(price, int | float):
        return INVALID_PRICE
    if isinstance(price, int):
        if price <= 0:
            return NON_POSITIVE_PRICE
        try:
            return limit_ticks(tick, float(price))
        except OverflowError:
            return PRICE_OUT_OF_RANGE
    if math.isnan(price) or math.isinf(price):
        return INVALID_PRICE
    return NON_POSITIVE_PRICE
