"""Hypothesis properties of the matcher over random order streams."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import EngineConfig
from engine.events import BOOK, ORDER_EVENTS, PRICES, TRADES, key_of, topic_of
from engine.matching import Matcher
from orderbook_platform.contracts import BookLevel, Order, encode
from tests.engine.helpers import run, tagged

pytestmark = pytest.mark.unit

SYMBOLS = ("AAA", "BBB")
TRADERS = ("T1", "T2", "T3", None)
DEPTH = 3
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def decode_stream(codes: list[int]) -> list[Order]:
    """Build a stream from integers, one per order, reading fields off mixed-radix digits.

    One integer per order keeps hypothesis fast (it draws and shrinks a flat list), and
    shrinking toward 0 yields the plainest order: a GTC buy limit of 1 at 99.00 in AAA.
    Prices sit on a narrow band (0.25 ticks around 100) so orders cross often.
    """
    orders: list[Order] = []
    placed: list[tuple[str, str]] = []  # (order id, symbol) of new orders so far

    for i, code in enumerate(codes):

        def digit(radix: int) -> int:
            nonlocal code
            code, value = divmod(code, radix)
            return value

        kind = ("limit",) * 6 + ("market", "cancel", "cancel", "modify", "modify")
        kind = kind[digit(11)]
        symbol = SYMBOLS[digit(2)]
        trader = TRADERS[digit(4)]
        time = 1_000 + i
        if kind in ("cancel", "modify") and placed:
            order_id, symbol = placed[digit(997) % len(placed)]
            if kind == "cancel":
                orders.append(Order(order_id, "cancel", time=time, symbol=symbol))
                continue
            price_digit, quantity_digit = digit(10), digit(17)
            orders.append(
                Order(
                    order_id,
                    "modify",
                    price=None if price_digit == 9 else 99 + price_digit * 0.25,
                    quantity=None if quantity_digit == 8 else quantity_digit - 8,
                    time=time,
                    symbol=symbol,
                )
            )
            continue
        order_id = f"o{i}"
        quantity = (digit(8) + 1) * (1, -1)[digit(2)]
        if kind == "market":
            order = Order(
                order_id,
                "market",
                quantity=quantity,
                time=time,
                symbol=symbol,
                trader_id=trader,
                time_in_force=(None, "FOK")[digit(2)],
            )
        else:
            order = Order(
                order_id,
                "limit",
                price=99 + digit(9) * 0.25,
                quantity=quantity,
                time=time,
                symbol=symbol,
                trader_id=trader,
                time_in_force=(None, "GTC", "IOC", "FOK")[digit(4)],
                post_only=digit(6) == 5,
            )
        placed.append((order_id, symbol))
        orders.append(order)
    return orders


def order_streams(max_size: int = 150) -> st.SearchStrategy[list[Order]]:
    return st.lists(st.integers(0, 2**48), min_size=20, max_size=max_size).map(decode_stream)


def new_matcher() -> Matcher:
    return Matcher(EngineConfig(tick_size="0.25", depth=DEPTH))


def actual_top(matcher: Matcher, symbol: str) -> tuple[list[BookLevel], list[BookLevel]]:
    """The top DEPTH levels recomputed from the resting orders."""
    book = matcher.book(symbol)
    sides = []
    for side in (book.bids, book.asks):
        levels = []
        for level in list(side.best_first())[:DEPTH]:
            live = list(level.live_orders())
            levels.append(
                BookLevel(
                    book.tick.to_price(level.price), sum(o.remaining for o in live), len(live)
                )
            )
        sides.append(levels)
    return sides[0], sides[1]


@PROPERTY_SETTINGS
@given(order_streams())
def test_the_book_is_never_crossed_at_rest(orders: list[Order]) -> None:
    matcher = new_matcher()
    for order in orders:
        matcher.process(order)
        for symbol in matcher.symbols():
            book = matcher.book(symbol)
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is None or ask is None or bid < ask


@PROPERTY_SETTINGS
@given(order_streams())
def test_quantity_is_conserved_for_every_order(orders: list[Order]) -> None:
    """filled + resting + cancelled/expired == submitted, for orders never modified."""
    matcher = new_matcher()
    events = run(matcher, orders)
    submitted: dict[tuple[str, str], int] = {}
    closed: dict[tuple[str, str], int] = defaultdict(int)
    filled: dict[tuple[str, str], int] = defaultdict(int)
    modified: set[tuple[str, str]] = set()
    for topic, symbol, message in tagged(events):
        if topic == TRADES:
            assert message.quantity > 0
            filled[(symbol, message.left_order_id)] += message.quantity
            filled[(symbol, message.right_order_id)] += message.quantity
        elif topic == ORDER_EVENTS:
            key = (symbol, message.order_id)
            if message.event == "accepted":
                submitted[key] = message.quantity
            elif message.event in ("cancelled", "expired"):
                closed[key] += message.remaining
            elif message.event == "modified":
                modified.add(key)
    for key, quantity in submitted.items():
        if key in modified:
            continue
        symbol, order_id = key
        resting = matcher.book(symbol).orders.get(order_id)
        open_quantity = resting.remaining if resting else 0
        assert filled[key] + open_quantity + closed[key] == quantity, key


@PROPERTY_SETTINGS
@given(order_streams())
def test_makers_are_consumed_in_price_then_queue_order(orders: list[Order]) -> None:
    """An incoming order touches the front of each level's queue, best level first."""
    matcher = new_matcher()
    for order in orders:
        symbol = order.symbol
        book = matcher.book(symbol)
        queues = {}
        if book is not None:
            for side in (book.bids, book.asks):
                for level in side.best_first():
                    queues[(side.sign, level.price)] = [o.order_id for o in level.live_orders()]
            where = {o.order_id: (book.side_of(o).sign, o.price) for o in book.orders.values()}
        events = matcher.process(order)
        touched: list[str] = []
        for message in events:
            topic = topic_of(message)
            if topic == TRADES:
                touched.append(message.left_order_id)
            elif topic == ORDER_EVENTS and message.reason == "self_trade_prevention":
                touched.append(message.order_id)
        if not touched:
            continue
        # Consecutive duplicates are one maker filled in several steps; never happens,
        # but a prefix check must see each maker once.
        levels_seen: list[tuple[int, int]] = []
        per_level: dict[tuple[int, int], list[str]] = defaultdict(list)
        for maker_id in touched:
            level_key = where[maker_id]
            if not levels_seen or levels_seen[-1] != level_key:
                assert level_key not in levels_seen, "a level was left and revisited"
                levels_seen.append(level_key)
            per_level[level_key].append(maker_id)
        sign = levels_seen[0][0]
        level_prices = [price for _, price in levels_seen]
        assert level_prices == sorted(level_prices, reverse=sign == 1)
        for level_key, makers in per_level.items():
            assert makers == queues[level_key][: len(makers)]


@PROPERTY_SETTINGS
@given(order_streams())
def test_fill_or_kill_fills_completely_or_trades_nothing(orders: list[Order]) -> None:
    matcher = new_matcher()
    for order in orders:
        events = matcher.process(order)
        if order.time_in_force != "FOK" or events[0].event != "accepted":
            continue
        traded = sum(
            m.quantity
            for m in events
            if topic_of(m) == TRADES and m.right_order_id == order.order_id
        )
        [final] = [
            m for m in events
            if topic_of(m) == ORDER_EVENTS and m.order_id == order.order_id and m.event in ("filled", "expired")
        ]  # fmt: skip
        if final.event == "filled":
            assert traded == abs(order.quantity)
        else:
            assert traded == 0 and final.filled == 0


@PROPERTY_SETTINGS
@given(order_streams())
def test_prices_and_book_are_published_exactly_when_the_top_changes(orders: list[Order]) -> None:
    matcher = new_matcher()
    last_price: dict[str, tuple] = {}
    last_depth: dict[str, tuple] = {}
    for order in orders:
        for topic, symbol, message in tagged(matcher.process(order)):
            if topic == PRICES:
                top = (message.best_bid, message.bid_size, message.best_ask, message.ask_size)
                assert last_price.get(symbol, (None,) * 4) != top
                last_price[symbol] = top
            elif topic == BOOK:
                depth = (message.bids, message.asks)
                assert last_depth.get(symbol, ([], [])) != depth
                last_depth[symbol] = depth
        for symbol in matcher.symbols():
            bids, asks = actual_top(matcher, symbol)
            top = (
                bids[0].price if bids else None,
                bids[0].quantity if bids else None,
                asks[0].price if asks else None,
                asks[0].quantity if asks else None,
            )
            assert last_price.get(symbol, (None,) * 4) == top
            assert last_depth.get(symbol, ([], [])) == (bids, asks)


@PROPERTY_SETTINGS
@given(order_streams())
def test_sequence_numbers_of_each_symbol_are_consecutive(orders: list[Order]) -> None:
    sequences: dict[str, list[int]] = defaultdict(list)
    for _, symbol, message in tagged(run(new_matcher(), orders)):
        sequences[symbol].append(message.sequence)
    for numbers in sequences.values():
        assert numbers == list(range(1, len(numbers) + 1))


@PROPERTY_SETTINGS
@given(order_streams(), st.data())
def test_snapshot_restore_continue_equals_an_uninterrupted_run(
    orders: list[Order], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(orders)))
    straight = new_matcher()
    expected = [(topic_of(m), key_of(m), encode(m)) for m in run(straight, orders)]

    first = new_matcher()
    head = [(topic_of(m), key_of(m), encode(m)) for m in run(first, orders[:cut])]
    second = Matcher.restore(first.snapshot(), new_matcher().config)
    assert second.state_hash() == first.state_hash()
    tail = [(topic_of(m), key_of(m), encode(m)) for m in run(second, orders[cut:])]
    assert head + tail == expected
    assert second.state_hash() == straight.state_hash()


@PROPERTY_SETTINGS
@given(order_streams(), st.integers(0, 8), st.data())
def test_snapshot_restore_continue_equals_an_uninterrupted_run_with_a_small_id_window(
    orders: list[Order], window: int, data: st.DataObject
) -> None:
    config = EngineConfig(tick_size="0.25", depth=DEPTH, duplicate_id_window=window)
    cut = data.draw(st.integers(0, len(orders)))
    straight = Matcher(config)
    expected = [(topic_of(m), key_of(m), encode(m)) for m in run(straight, orders)]

    first = Matcher(config)
    head = [(topic_of(m), key_of(m), encode(m)) for m in run(first, orders[:cut])]
    second = Matcher.restore(first.snapshot(), config)
    assert second.state_hash() == first.state_hash()
    tail = [(topic_of(m), key_of(m), encode(m)) for m in run(second, orders[cut:])]
    assert head + tail == expected
    assert second.state_hash() == straight.state_hash()


@PROPERTY_SETTINGS
@given(order_streams())
def test_replaying_the_same_input_twice_gives_the_same_state_hash(orders: list[Order]) -> None:
    first, second = new_matcher(), new_matcher()
    out_first = [(topic_of(m), key_of(m), encode(m)) for m in run(first, orders)]
    out_second = [(topic_of(m), key_of(m), encode(m)) for m in run(second, orders)]
    assert out_first == out_second
    assert first.state_hash() == second.state_hash()
