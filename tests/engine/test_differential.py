"""Differential test: the engine against a deliberately simple reference matcher.

The reference below is written from docs/engine.md, not from engine/: plain lists of
resting orders, a linear scan for the best maker on every fill, priority as a global
arrival stamp, and exact Decimal arithmetic for ticks. It is slow and obviously
correct; the engine must produce exactly the same trades (ids, sides, prices,
quantities, statuses, traders, order), the same order events, and the same books.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from engine.config import EngineConfig
from engine.events import ORDER_EVENTS, TRADES, topic_of
from engine.matching import Matcher
from orderbook_platform.contracts import Order

pytestmark = pytest.mark.unit

TICK = Decimal("0.01")
SYMBOLS = ("AAA", "BBB", "CCC")
TRADERS = ("T0", "T1", "T2", "T3", "T4", "T5", "T6", None)


# ---------------------------------------------------------------------- the reference


@dataclass
class RefOrder:
    order_id: str
    trader: str | None
    buy: bool
    price: int
    remaining: int
    filled: int
    taker_fills: int
    post_only: bool
    stamp: int


@dataclass
class RefBook:
    resting: list[RefOrder] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # every acceptance, in order


class Reference:
    """Output: ('trade', fields...) and ('event', order_id, kind, reason, filled, remaining)."""

    def __init__(self, stp: bool = True, window: int = 200_000) -> None:
        self.books: dict[str, RefBook] = {}
        self.stamp = 0
        self.stp = stp
        self.window = window
        self.out: list[tuple] = []

    def recent(self, book: RefBook) -> list[str]:
        """The ids of the last `window` acceptances (the duplicate-id window)."""
        return book.accepted[max(0, len(book.accepted) - self.window) :]

    # -- helpers
    def next_stamp(self) -> int:
        self.stamp += 1
        return self.stamp

    def event(self, order_id, kind, reason=None, filled=None, remaining=None) -> None:
        self.out.append(("event", order_id, kind, reason, filled, remaining))

    @staticmethod
    def ticks(price) -> int | str:
        if price is None:
            return "missing_price"
        if isinstance(price, float) and (math.isnan(price) or math.isinf(price)):
            return "invalid_price"
        if price <= 0:
            return "non_positive_price"
        exact = Decimal(repr(float(price))) / TICK
        if exact != exact.to_integral_value():
            return "off_tick_price"
        return int(exact)

    @staticmethod
    def lots(quantity) -> int | str:
        if quantity is None:
            return "missing_quantity"
        if isinstance(quantity, float):
            if math.isnan(quantity) or math.isinf(quantity) or quantity != int(quantity):
                return "invalid_quantity"
            quantity = int(quantity)
        return quantity if quantity != 0 else "zero_quantity"

    @staticmethod
    def crosses(maker: RefOrder, buy: bool, limit: int | None) -> bool:
        if limit is None:
            return True
        return maker.price <= limit if buy else maker.price >= limit

    def best_maker(self, book: RefBook, buy: bool) -> RefOrder | None:
        makers = [o for o in book.resting if o.buy != buy]
        if not makers:
            return None
        if buy:  # lowest ask, then oldest
            return min(makers, key=lambda o: (o.price, o.stamp))
        return min(makers, key=lambda o: (-o.price, o.stamp))

    # -- matching
    def take(self, book, taker_id, trader, buy, limit, remaining, fills) -> tuple[int, int]:
        while remaining > 0:
            maker = self.best_maker(book, buy)
            if maker is None or not self.crosses(maker, buy, limit):
                break
            if self.stp and trader is not None and maker.trader == trader:
                book.resting.remove(maker)
                self.event(
                    maker.order_id,
                    "cancelled",
                    "self_trade_prevention",
                    maker.filled,
                    maker.remaining,
                )
                continue
            quantity = min(remaining, maker.remaining)
            remaining -= quantity
            fills += 1
            maker.remaining -= quantity
            maker.filled += quantity
            self.out.append(
                (
                    "trade",
                    f"{taker_id}-{fills}",
                    maker.order_id,
                    taker_id,
                    quantity,
                    maker.price,
                    "Buy" if buy else "Sell",
                    "filled" if remaining == 0 else "partial",
                    maker.trader,
                    trader,
                )
            )
            if maker.remaining == 0:
                book.resting.remove(maker)
                self.event(maker.order_id, "filled", None, maker.filled, 0)
        return remaining, fills

    def liquidity(self, book, buy, limit, trader) -> int:
        return sum(
            o.remaining
            for o in book.resting
            if o.buy != buy
            and self.crosses(o, buy, limit)
            and not (self.stp and trader is not None and o.trader == trader)
        )

    def process(self, order: Order) -> None:
        symbol = order.symbol or "XYZ"
        book = self.books.setdefault(symbol, RefBook())
        kind = order.order_type
        if kind in ("limit", "market"):
            self.new_order(book, order, kind == "limit")
        elif kind == "cancel":
            self.cancel(book, order)
        elif kind == "modify":
            self.modify(book, order)
        else:
            self.event(order.order_id, "rejected", "unknown_order_type")

    def new_order(self, book: RefBook, order: Order, is_limit: bool) -> None:
        reject = lambda reason: self.event(order.order_id, "rejected", reason)  # noqa: E731
        tif = order.time_in_force or "GTC"
        if tif not in ("GTC", "IOC", "FOK"):
            return reject("unknown_time_in_force")
        quantity = self.lots(order.quantity)
        if isinstance(quantity, str):
            return reject(quantity)
        limit = None
        if is_limit:
            limit = self.ticks(order.price)
            if isinstance(limit, str):
                return reject(limit)
        elif order.post_only:
            return reject("post_only_market")
        if not order.order_id:
            return reject("invalid_order_id")
        if order.order_id in self.recent(book) or any(
            o.order_id == order.order_id for o in book.resting
        ):
            return reject("duplicate_order_id")
        buy = quantity > 0
        quantity = abs(quantity)
        best = self.best_maker(book, buy)
        would_cross = best is not None and self.crosses(best, buy, limit)
        if order.post_only and would_cross:
            return reject("post_only_would_cross")
        book.accepted.append(order.order_id)
        self.event(order.order_id, "accepted", None, 0, quantity)
        if tif == "FOK" and self.liquidity(book, buy, limit, order.trader_id) < quantity:
            return self.event(order.order_id, "expired", "fill_or_kill", 0, quantity)
        remaining, fills = self.take(book, order.order_id, order.trader_id, buy, limit, quantity, 0)
        filled = quantity - remaining
        if remaining == 0:
            self.event(order.order_id, "filled", None, filled, 0)
        elif not is_limit:
            self.event(order.order_id, "expired", "market_remainder", filled, remaining)
        elif tif != "GTC":
            self.event(order.order_id, "expired", "immediate_or_cancel", filled, remaining)
        else:
            book.resting.append(
                RefOrder(
                    order.order_id,
                    order.trader_id,
                    buy,
                    limit,
                    remaining,
                    filled,
                    fills,
                    order.post_only,
                    self.next_stamp(),
                )
            )

    def find(self, book: RefBook, order: Order) -> RefOrder | str:
        for resting in book.resting:
            if resting.order_id == order.order_id:
                if (
                    order.trader_id is not None
                    and resting.trader is not None
                    and order.trader_id != resting.trader
                ):
                    return "trader_mismatch"
                return resting
        return "order_not_resting" if order.order_id in self.recent(book) else "unknown_order"

    def cancel(self, book: RefBook, order: Order) -> None:
        resting = self.find(book, order)
        if isinstance(resting, str):
            return self.event(order.order_id, "rejected", resting)
        book.resting.remove(resting)
        self.event(
            resting.order_id, "cancelled", "cancel_request", resting.filled, resting.remaining
        )

    def modify(self, book: RefBook, order: Order) -> None:
        resting = self.find(book, order)
        if isinstance(resting, str):
            return self.event(order.order_id, "rejected", resting)
        if order.price is None and order.quantity is None:
            return self.event(order.order_id, "rejected", "nothing_to_modify")
        price = resting.price
        if order.price is not None:
            price = self.ticks(order.price)
            if isinstance(price, str):
                return self.event(order.order_id, "rejected", price)
        remaining = resting.remaining
        if order.quantity is not None:
            quantity = self.lots(order.quantity)
            if isinstance(quantity, str):
                return self.event(order.order_id, "rejected", quantity)
            if (quantity > 0) != resting.buy:
                return self.event(order.order_id, "rejected", "side_change")
            remaining = abs(quantity)
        if price == resting.price:
            if remaining > resting.remaining:
                resting.stamp = self.next_stamp()
            resting.remaining = remaining
            return self.event(resting.order_id, "modified", None, resting.filled, remaining)
        best = self.best_maker(book, resting.buy)
        if resting.post_only and best is not None and self.crosses(best, resting.buy, price):
            return self.event(order.order_id, "rejected", "post_only_would_cross")
        book.resting.remove(resting)
        self.event(resting.order_id, "modified", None, resting.filled, remaining)
        left, fills = self.take(
            book,
            resting.order_id,
            resting.trader,
            resting.buy,
            price,
            remaining,
            resting.taker_fills,
        )
        resting.filled += remaining - left
        if left == 0:
            return self.event(resting.order_id, "filled", None, resting.filled, 0)
        resting.price, resting.remaining, resting.taker_fills = price, left, fills
        resting.stamp = self.next_stamp()
        book.resting.append(resting)

    def picture(self, symbol: str) -> list[tuple]:
        book = self.books.get(symbol, RefBook())
        ordered = sorted(
            book.resting, key=lambda o: (not o.buy, -o.price if o.buy else o.price, o.stamp)
        )
        return [(o.order_id, o.buy, o.price, o.remaining, o.filled) for o in ordered]


# ---------------------------------------------------------------------- the stream


def random_stream(seed: int, size: int) -> list[Order]:
    """Every order type and TIF, post-only, invalid values, 3 symbols, 8 traders.

    Prices stay within ~12 ticks of a drifting mid so books stay small (the reference
    is O(book) per fill) and orders cross often; most limits are passive so that
    cancels and modifies find live orders.
    """
    rng = random.Random(seed)
    mids = dict.fromkeys(SYMBOLS, 10_000)
    placed: dict[str, list[str]] = {s: [] for s in SYMBOLS}
    orders: list[Order] = []
    for i in range(size):
        symbol = rng.choice(SYMBOLS)
        if rng.random() < 0.02:
            mids[symbol] += rng.choice((-1, 1))
        mid = mids[symbol]
        trader = rng.choice(TRADERS)
        time = 1_764_064_800_000_000_000 + i
        roll = rng.random()
        if roll < 0.22 and placed[symbol]:
            recent = placed[symbol]
            index = rng.randrange(max(0, len(recent) - 40), len(recent))
            # Mostly forget what was cancelled; sometimes cancel it again.
            target = recent.pop(index) if rng.random() < 0.9 else recent[index]
            orders.append(
                Order(
                    target, "cancel", time=time, symbol=symbol, trader_id=rng.choice((None, trader))
                )
            )
            continue
        if roll < 0.34 and placed[symbol]:
            target = rng.choice(placed[symbol][-40:])
            price = None if rng.random() < 0.4 else (mid + rng.randint(-12, 12)) / 100
            quantity = (
                None
                if price is not None and rng.random() < 0.5
                else rng.choice((-1, 1)) * rng.randint(1, 30)
            )
            orders.append(
                Order(target, "modify", price=price, quantity=quantity, time=time, symbol=symbol)
            )
            continue
        order_id = f"{symbol}-{i}"
        if rng.random() < 0.01:
            order_id = rng.choice(placed[symbol]) if placed[symbol] else ""
        buy = rng.random() < 0.5
        quantity = (1 if buy else -1) * rng.randint(1, 30)
        odd = rng.random()
        if odd < 0.01:
            quantity = rng.choice((0, 1.5, 2.0, math.nan, None))
        offset = 0
        if roll < 0.42:
            orders.append(
                Order(order_id, "market", quantity=quantity, time=time, symbol=symbol,
                      trader_id=trader, time_in_force=rng.choice((None, None, "FOK")))
            )  # fmt: skip
        else:
            # Mostly passive (rests on its own side), sometimes through the mid.
            offset = rng.randint(1, 12) if rng.random() < 0.85 else -rng.randint(0, 6)
            price = (mid - offset if buy else mid + offset) / 100
            if 0.01 <= odd < 0.02:
                price = rng.choice((None, 0.0, -1.0, price + 0.005, math.inf))
            orders.append(
                Order(order_id, "limit" if odd < 0.995 else "stop", price=price, quantity=quantity,
                      time=time, symbol=symbol, trader_id=trader,
                      time_in_force="DAY" if odd > 0.99 else rng.choice((None, "GTC", "IOC", "FOK")),
                      post_only=rng.random() < 0.08)
            )  # fmt: skip
        order = orders[-1]
        passive = (
            order.order_type == "limit" and offset > 0 and order.time_in_force in (None, "GTC")
        )
        if passive or odd < 0.05:
            placed[symbol].append(order_id)  # mostly ids that rest, for cancel/modify
    return orders


def engine_view(events) -> list[tuple]:
    out = []
    for m in events:
        topic = topic_of(m)
        if topic == TRADES:
            out.append(
                ("trade", m.trade_id, m.left_order_id, m.right_order_id, m.quantity,
                 round(m.price * 100), m.action, m.status, m.maker_trader_id, m.taker_trader_id)
            )  # fmt: skip
        elif topic == ORDER_EVENTS:
            out.append(("event", m.order_id, m.event, m.reason, m.filled, m.remaining))
    return out


def engine_picture(matcher: Matcher, symbol: str) -> list[tuple]:
    book = matcher.book(symbol)
    if book is None:
        return []
    return [(o.order_id, o.is_buy, o.price, o.remaining, o.filled) for o in book.resting_orders()]


@pytest.mark.parametrize(("seed", "size"), [(1, 40_000), (2, 30_000), (3, 30_000)])
def test_engine_matches_the_reference_on_random_streams(seed: int, size: int) -> None:
    orders = random_stream(seed, size)
    reference = Reference()
    matcher = Matcher(EngineConfig())
    for index, order in enumerate(orders):
        before = len(reference.out)
        reference.process(order)
        expected = reference.out[before:]
        actual = engine_view(matcher.process(order))
        assert actual == expected, f"order #{index}: {order}"
    for symbol in SYMBOLS:
        assert engine_picture(matcher, symbol) == reference.picture(symbol)
    traded = sum(1 for item in reference.out if item[0] == "trade")
    assert traded > size // 10  # the stream really exercises matching


def assert_same_events(orders: list[Order], reference: Reference, matcher: Matcher) -> None:
    """Feed both, order by order; each order's events must be the reference's."""
    for index, order in enumerate(orders):
        before = len(reference.out)
        reference.process(order)
        assert engine_view(matcher.process(order)) == reference.out[before:], f"#{index}: {order}"


def test_engine_matches_the_reference_without_self_trade_prevention() -> None:
    orders = random_stream(4, 10_000)
    reference = Reference(stp=False)
    assert_same_events(orders, reference, Matcher(EngineConfig(self_trade_prevention=False)))


@pytest.mark.parametrize("window", [0, 25])
def test_engine_matches_the_reference_with_a_small_duplicate_id_window(window: int) -> None:
    orders = random_stream(5, 20_000)
    reference = Reference(window=window)
    matcher = Matcher(EngineConfig(duplicate_id_window=window))
    assert_same_events(orders, reference, matcher)
    for symbol in SYMBOLS:
        assert engine_picture(matcher, symbol) == reference.picture(symbol)
    # The window really decided something: ids accepted twice, and cancels of ids that
    # were accepted once but have left the window.
    accepted = [item[1] for item in reference.out if item[0] == "event" and item[2] == "accepted"]
    assert len(accepted) - len(set(accepted)) > 20
    unknown = {
        item[1] for item in reference.out if item[0] == "event" and item[3] == "unknown_order"
    }
    assert len(unknown & set(accepted)) > 20
