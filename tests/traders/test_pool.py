"""The live pool's loop without Kafka: a loopback producer/consumer around the engine core."""

from __future__ import annotations

from collections import Counter, defaultdict, deque

import pytest

from engine.config import EngineConfig
from engine.events import topic_of
from engine.matching import Matcher
from orderbook_platform.contracts import decode_order, encode
from traders.pool import TraderPool
from traders.settings import PoolSettings

pytestmark = pytest.mark.unit

SECOND = 1_000_000_000
T0 = 1_795_424_400_000_000_000


class Message:
    def __init__(self, topic: str, value: bytes) -> None:
        self._topic, self._value = topic, value

    def topic(self) -> str:
        return self._topic

    def value(self) -> bytes:
        return self._value

    def error(self) -> None:
        return None


class Loopback:
    """Producer and consumer in one: produced orders are matched when the pool polls."""

    def __init__(self, symbols: list[str]) -> None:
        self.matcher = Matcher(EngineConfig(default_symbol=symbols[0], symbols=symbols))
        self.queue: list[tuple[bytes, bytes, int]] = []
        self.outbox: deque[Message] = deque()
        self.produced: list[tuple[bytes, bytes, int]] = []
        self.trades = []
        self.stuck = False  # pretend the broker is down: nothing is delivered

    def produce(self, topic: str, *, value: bytes, key: bytes, timestamp: int) -> None:
        assert topic == "orders"
        self.queue.append((value, key, timestamp))

    def poll(self, timeout: float) -> int:
        if self.stuck:
            return 0
        delivered = len(self.queue)
        for value, key, timestamp in self.queue:
            self.produced.append((value, key, timestamp))
            for message in self.matcher.process(decode_order(value)):
                topic = topic_of(message)
                if topic == "trades":
                    self.trades.append(message)
                self.outbox.append(Message(topic, encode(message)))
        self.queue.clear()
        return delivered

    def flush(self, timeout: float) -> int:
        self.poll(0)
        return len(self.queue)

    def __len__(self) -> int:
        return len(self.queue)

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        batch = []
        while self.outbox and len(batch) < num_messages:
            batch.append(self.outbox.popleft())
        return batch

    def close(self) -> None:
        pass


def make_pool(traders: int = 200, **overrides) -> tuple[TraderPool, Loopback]:
    config = PoolSettings(traders=traders, symbols=["XYZ", "ABC"], run_id="t", seed=3, **overrides)
    loopback = Loopback(list(config.symbols))
    pool = TraderPool(config, loopback, loopback, clock=lambda: T0)
    return pool, loopback


def run_for(pool: TraderPool, seconds: float, step_ms: int = 20) -> None:
    for tick in range(int(seconds * 1000 / step_ms)):
        pool.step(T0 + tick * step_ms * 1_000_000)


def test_a_swarm_trades_and_every_inventory_equals_the_sum_of_its_fills():
    pool, loopback = make_pool(activity=5.0)
    run_for(pool, 60)
    pool.drain(grace_s=0)
    assert pool.stats.drained and pool.open_order_count() == 0
    assert len(loopback.trades) > 100
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for trade in loopback.trades:
        side = 1 if trade.action == "Buy" else -1
        expected[(trade.taker_trader_id, trade.symbol)] += side * trade.quantity
        expected[(trade.maker_trader_id, trade.symbol)] -= side * trade.quantity
    for trader in pool.traders:
        for symbol, position in trader.positions.items():
            assert position.inventory == expected[(trader.trader_id, symbol)]
    summary = pool.summary()
    assert summary["orders_sent"] == len(loopback.produced)
    assert set(summary["top_pnl"]) == {"noise", "fundamental", "mm", "momentum"}
    assert summary["market"]["XYZ"]["trades_seen"] > 0
    # The last two-sided quote survives the drain that empties the book.
    assert (
        summary["market"]["XYZ"]["mid"] is not None
        and summary["market"]["XYZ"]["spread_ticks"] >= 1
    )


def test_orders_are_keyed_by_symbol_with_the_order_time_as_record_timestamp():
    pool, loopback = make_pool(activity=5.0)
    run_for(pool, 5)
    assert loopback.produced
    for value, key, timestamp in loopback.produced:
        order = decode_order(value)
        assert key == order.symbol.encode()
        assert timestamp == order.time // 1_000_000
        assert order.trader_id.startswith("t.")


def test_each_trader_stays_within_its_rate_limit():
    rate, burst, seconds = 0.5, 4, 20
    pool, loopback = make_pool(
        traders=100, activity=50.0, trader_rate_limit=rate, trader_burst=burst
    )
    run_for(pool, seconds)
    per_trader = Counter(decode_order(value).trader_id for value, _, _ in loopback.produced)
    assert max(per_trader.values()) <= burst + rate * seconds
    assert pool.stats.throttled_trader > 0


def test_the_pool_rate_limit_caps_the_whole_pool():
    pool, loopback = make_pool(traders=300, activity=50.0, pool_rate_limit=100, pool_burst=50)
    run_for(pool, 10)
    assert len(loopback.produced) <= 50 + 100 * 10
    assert pool.stats.throttled_pool > 0


def test_backpressure_stops_decisions_and_nothing_piles_up():
    pool, loopback = make_pool(traders=300, activity=20.0, max_in_flight=100)
    loopback.stuck = True
    run_for(pool, 10)
    assert len(loopback.queue) < 100 + 4  # at most one decision past the mark
    assert pool.stats.backpressure > 0
    assert len(pool.heap) <= 3 * pool.count
    loopback.stuck = False
    run_for(pool, 1)
    assert loopback.produced


def test_market_data_reaches_every_interested_trader_once():
    pool, _loopback = make_pool(activity=5.0)
    run_for(pool, 10)
    makers = [i for i, t in enumerate(pool.traders) if t.wants_quotes]
    assert makers
    # A market maker has at most one pending reaction however many quotes changed.
    keys = [pool.wake_key(entry) for entry in pool.heap]
    assert all(key < 3 * pool.count for key in keys)
    pending = Counter(key % pool.count for key in keys if key // pool.count == 1)
    assert all(count == 1 for count in pending.values())
    assert pool.stats.market_messages["prices"] > 0


def test_metrics_follow_the_pool_stats():
    from prometheus_client import generate_latest

    from traders.metrics import PoolMetrics

    metrics = PoolMetrics()
    config = PoolSettings(traders=100, symbols=["XYZ"], run_id="m", seed=1, activity=5.0)
    loopback = Loopback(["XYZ"])
    pool = TraderPool(config, loopback, loopback, clock=lambda: T0, metrics=metrics)
    run_for(pool, 10)
    text = generate_latest(metrics.registry).decode()
    sent = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("orderbook_traders_orders_total{")
    )
    assert sent == pool.stats.orders_sent > 0
    assert "orderbook_traders_traders 100.0" in text


def test_ten_thousand_traders_fit_in_one_pool():
    pool, loopback = make_pool(traders=10_000)
    run_for(pool, 5, step_ms=100)
    assert pool.count == 10_000 and len(pool.by_id) == 10_000
    assert len(pool.heap) <= 3 * pool.count
    assert loopback.produced


def test_the_summary_prints_orders_trades_fill_rate_market_and_top_pnl(capsys):
    from traders.cli import print_swarm_summary

    pool, _ = make_pool(activity=5.0)
    run_for(pool, 20)
    pool.drain(grace_s=0)
    print_swarm_summary(pool.summary())
    out = capsys.readouterr().out
    for text in (
        "orders sent",
        "trades",
        "fill rate",
        "XYZ last mid / spread",
        "top trader PnL",
        "fundamental",
    ):
        assert text in out


def test_a_pool_starts_from_the_market_s_last_mid_when_it_is_known():
    config = PoolSettings(traders=10, symbols=["XYZ", "ABC"], run_id="s", seed=1)
    loopback = Loopback(["XYZ", "ABC"])
    pool = TraderPool(config, loopback, loopback, clock=lambda: T0, start_prices={"XYZ": 120.5})
    assert pool.fair_values["XYZ"].value == pytest.approx(120.5)
    assert pool.views["XYZ"].reference == 12_050
    assert pool.fair_values["ABC"].value == pytest.approx(config.start_price)


def test_metrics_and_health_are_served_over_http():
    import json
    import urllib.error
    import urllib.request

    from traders.metrics import PoolMetrics

    metrics = PoolMetrics()
    port = metrics.serve(0, host="127.0.0.1")
    try:
        config = PoolSettings(traders=20, symbols=["XYZ"], run_id="h", seed=1)
        loopback = Loopback(["XYZ"])
        pool = TraderPool(config, loopback, loopback, clock=lambda: T0, metrics=metrics)
        with pytest.raises(urllib.error.HTTPError) as starting:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert starting.value.code == 503
        pool.state = "running"
        run_for(pool, 1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert json.loads(response.read())["state"] == "running"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert b"orderbook_traders_traders 20.0" in response.read()
    finally:
        metrics.stop()


def test_heap_entries_order_like_time_key_pairs_and_decode_back():
    import heapq
    import random

    pool, _ = make_pool(traders=50)
    rng = random.Random(7)
    pairs = [
        (T0 + rng.randrange(-5, 5) * 1_000_000, rng.randrange(3 * pool.count)) for _ in range(500)
    ]
    entries = [time << pool.key_bits | key for time, key in pairs]
    heapq.heapify(entries)
    popped = [heapq.heappop(entries) for _ in range(len(pairs))]
    assert [(pool.wake_time(e), pool.wake_key(e)) for e in popped] == sorted(pairs)
