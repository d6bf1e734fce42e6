"""Turning an order's raw quantity and price into integer lots and ticks, or a reason code.

These run once per order, so each has a fast path for the well-formed case and falls
through to the exact diagnosis only when something is off.
"""

from __future__ import annotations

import math

from engine.events import (
    INVALID_PRICE,
    INVALID_QUANTITY,
    MISSING_PRICE,
    MISSING_QUANTITY,
    NON_POSITIVE_PRICE,
    OFF_TICK_PRICE,
    PRICE_OUT_OF_RANGE,
    ZERO_QUANTITY,
)
from engine.ticks import (
    ABSOLUTE_TOLERANCE,
    MAX_PRICE_TICKS,
    RELATIVE_TOLERANCE,
    TickSize,
)


def signed_lots(quantity: object) -> int | str:
    """A non-zero signed integer quantity, or a reject reason.

    An integral float (2.0) is accepted as the integer it equals: JSON writers differ on
    whether they print 2 or 2.0, and the value is unambiguous. A fractional float (1.5),
    NaN, an infinity or a bool is `invalid_quantity`; zero (or -0.0) is `zero_quantity`.
    """
    if type(quantity) is int:
        return quantity if quantity else ZERO_QUANTITY
    if quantity is None:
        return MISSING_QUANTITY
    if isinstance(quantity, bool):
        return INVALID_QUANTITY
    if isinstance(quantity, float):
        if not math.isfinite(quantity) or not quantity.is_integer():
            return INVALID_QUANTITY
        return int(quantity) or ZERO_QUANTITY
    if isinstance(quantity, int):
        return int(quantity) or ZERO_QUANTITY
    return INVALID_QUANTITY


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
