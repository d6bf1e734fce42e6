"""The order book's data structure: levels, FIFO queues, best prices, the watched top."""

from __future__ import annotations

import random

import pytest

from engine.book import OrderBook, RestingOrder
from engine.ticks import TickSize
from orderbook_platform.contracts import BookLevel

pytestmark = pytest.mark.unit


def resting(order_id: str, price: int, quantity: int, *, buy: bool = True) -> RestingOrder:
    return RestingOrder(order_id, None, buy, price, quantity, 0, 0, False)


def new_book(depth: int = 3) -> OrderBook:
    return OrderBook("XYZ", TickSize("0.01"), depth)


def expected_top(book: OrderBook, buy: bool, depth: int) -> list[BookLevel]:
    """The top levels recomputed from scratch from the resting orders."""
    levels: dict[int, list[RestingOrder]] = {}
    for order in book.orders.values():
        if order.is_buy == buy:
            levels.setdefault(order.price, []).append(order)
    prices = sorted(levels, reverse=buy)[:depth]
    return [
        BookLevel(book.tick.to_price(p), sum(o.remaining for o in levels[p]), len(levels[p]))
        for p in prices
    ]


def test_best_bid_is_the_highest_and_best_ask_the_lowest_price() -> None:
    book = new_book()
    for i, price in enumerate([100, 102, 101]):
        book.rest(resting(f"b{i}", price, 1))
    for i, price in enumerate([105, 103, 104]):
        book.rest(resting(f"a{i}", price, 1, buy=False))
    assert (book.best_bid(), book.best_ask()) == (102, 103)


def test_an_empty_book_has_no_best_prices() -> None:
    assert (new_book().best_bid(), new_book().best_ask()) == (None, None)


def test_a_level_queues_orders_first_in_first_out() -> None:
    book = new_book()
    for name in ("x", "y", "z"):
        book.rest(resting(name, 100, 1))
    [level] = book.bids.best_first()
    assert [o.order_id for o in level.live_orders()] == ["x", "y", "z"]
    assert (level.quantity, level.count) == (3, 3)


def test_removing_the_last_order_of_a_level_removes_the_level() -> None:
    book = new_book()
    order = resting("x", 100, 1)
    book.rest(order)
    book.remove(order)
    assert book.bids.keys == [] and book.bids.levels == {} and book.orders == {}


def test_removed_orders_are_skipped_and_the_queue_is_compacted_when_mostly_dead() -> None:
    book = new_book()
    orders = [resting(f"o{i}", 100, 1) for i in range(100)]
    for order in orders:
        book.rest(order)
    for order in orders[:90]:
        book.remove(order)
    [level] = book.bids.best_first()
    assert [o.order_id for o in level.live_orders()] == [f"o{i}" for i in range(90, 100)]
    assert len(level.orders) <= 2 * level.count + 16 + 1
    assert (level.quantity, level.count) == (10, 10)


def test_the_watched_top_levels_always_match_a_recomputation() -> None:
    rng = random.Random(3)
    book = new_book(depth=3)
    live: list[RestingOrder] = []
    for step in range(3000):
        if live and rng.random() < 0.45:
            order = live.pop(rng.randrange(len(live)))
            book.remove(order)
        else:
            buy = rng.random() < 0.5
            price = rng.randint(90, 99) if buy else rng.randint(101, 110)
            order = resting(f"o{step}", price, rng.randint(1, 5), buy=buy)
            book.rest(order)
            live.append(order)
        assert book.bids.top == expected_top(book, True, 3)
        assert book.asks.top == expected_top(book, False, 3)


def test_level_keys_stay_sorted_with_the_best_last_on_both_sides() -> None:
    book = new_book()
    for i, price in enumerate([100, 98, 99, 97]):
        book.rest(resting(f"b{i}", price, 1))
        book.rest(resting(f"a{i}", price + 10, 1, buy=False))
    assert book.bids.keys == sorted(book.bids.keys) and book.bids.keys[-1] == 100
    assert book.asks.keys == sorted(book.asks.keys) and -book.asks.keys[-1] == 107


def test_resting_orders_iterate_bids_then_asks_best_first_in_queue_order() -> None:
    book = new_book()
    for name, price, buy in [("b1", 99, True), ("b2", 100, True), ("b3", 100, True)]:
        book.rest(resting(name, price, 1, buy=buy))
    book.rest(resting("a1", 101, 1, buy=False))
    assert [o.order_id for o in book.resting_orders()] == ["b2", "b3", "b1", "a1"]


def test_the_duplicate_id_window_keeps_the_last_accepted_ids_and_every_resting_one() -> None:
    book = OrderBook("XYZ", TickSize("0.01"), 3, id_window=3)
    old = resting("old", 100, 1)
    book.accept_id("old")
    book.rest(old)
    for order_id in ("a", "b", "c", "d"):
        book.accept_id(order_id)
    assert book.window_ids() == ["b", "c", "d"]
    assert book.recent_set == {"b", "c", "d"}
    assert [book.is_duplicate(i) for i in ("a", "b", "d", "old")] == [False, True, True, True]
    book.remove(old)
    assert not book.is_duplicate("old")
