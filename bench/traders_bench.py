"""Trader-swarm benchmark: live-mode order generation, and the fast-forward simulation.

    uv run python bench/traders_bench.py                      # both parts, no Kafka
    uv run python bench/traders_bench.py --kafka HOST:PORT    # also produce to a real broker

1. Live mode, 1,000 traders on one core: the pool's decision path (`TraderPool.wake_due`:
   scheduling, token buckets, strategy decisions, Order construction, JSON encoding,
   `produce`) with every trader always due. The producer is a null sink that keeps
   the bytes; after each pass the bench acknowledges the orders the way the engine
   would (accepted / expired / cancelled / modified, no matching), outside the timed
   part, so strategies keep deciding as they do live instead of filling up their
   open-order caps. Baseline in the same run: the original project's bot loop
   (uuid4 ids, a random limit order within 1% of the last price, `json.dumps`).
   With `--kafka`, the same decision path produces into a scratch topic
   (`bench.traders.orders`) through the idempotent producer, flushed at the end.
2. `simulate --duration 1h --traders 1000` wall time (files written to a temp dir),
   next to the engine's own replay of the simulation's orders.jsonl (JSONL in, the
   four files out) as the baseline: the ratio is what strategies and bookkeeping cost
   on top of matching.

Figures only; no assertions on time. Load average and CPU time are printed because
the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import EngineConfig
from engine.replay import replay
from orderbook_platform.contracts import Order, OrderEvent, Price
from traders.pool import TraderPool
from traders.settings import PoolSettings
from traders.simulate import SimulationConfig, simulate

SECOND = 1_000_000_000


class NullProducer:
    """Keeps what is produced; `len()` is what the pool's backpressure reads."""

    def __init__(self) -> None:
        self.values: list[bytes] = []

    def produce(self, topic: str, *, value: bytes, key: bytes, timestamp: int) -> None:
        self.values.append(value)

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return 0

    def __len__(self) -> int:
        return 0


class NullConsumer:
    def consume(self, num_messages: int, timeout: float) -> list:
        return []

    def close(self) -> None:
        pass


_decode_orders = msgspec.json.Decoder(Order).decode_lines


def acknowledge(pool: TraderPool, values: list[bytes]) -> None:
    """What the engine would say about each order, minus matching (not timed)."""
    if not values:
        return
    for order in _decode_orders(b"\n".join(values)):
        kind = order.order_type
        if kind == "limit" and order.time_in_force is None:
            event = OrderEvent(order.order_id, "accepted", symbol=order.symbol, trader_id=order.trader_id,
                               remaining=abs(order.quantity))  # fmt: skip
        elif kind == "cancel":
            event = OrderEvent(
                order.order_id, "cancelled", symbol=order.symbol, trader_id=order.trader_id
            )
        elif kind == "modify":
            event = OrderEvent(order.order_id, "modified", symbol=order.symbol, trader_id=order.trader_id,
                               price=order.price, remaining=None if order.quantity is None else abs(order.quantity))  # fmt: skip
        else:
            event = OrderEvent(
                order.order_id, "expired", symbol=order.symbol, trader_id=order.trader_id
            )
        pool.on_order_event(event)


def make_pool(traders: int, producer) -> TraderPool:
    config = PoolSettings(
        traders=traders, run_id="bench", seed=1, activity=1e6, trader_rate_limit=1e9, trader_burst=10**9,
        pool_rate_limit=1e12, pool_burst=10**12, max_in_flight=10**9,
    )  # fmt: skip
    pool = TraderPool(config, producer, NullConsumer(), clock=lambda: 1_795_424_400 * SECOND)
    # A two-sided market with some history, so every strategy has something to act on.
    view = pool.views["XYZ"]
    for second in range(0, 400):
        bid = 9_995 + (second // 20) % 7
        view.on_price(Price((bid + bid + 2) / 200, bid / 100, (bid + 2) / 100, 10, 10, "XYZ",
                            1_795_424_400 * SECOND + second * SECOND))  # fmt: skip
    return pool


def live_orders_per_second(traders: int, seconds: float, producer=None) -> tuple[float, int, float]:
    """(orders/s in the decision path, orders, cpu seconds) for `seconds` of wall time."""
    sink = producer or NullProducer()
    pool = make_pool(traders, sink)
    now = pool.clock() + 400 * SECOND
    produced = 0
    timed = 0.0
    cpu = 0.0
    deadline = time.perf_counter() + seconds
    null = isinstance(sink, NullProducer)
    while time.perf_counter() < deadline:
        now += SECOND
        for fair_value in pool.fair_values.values():
            fair_value.advance_to(now)
        before = sum(pool.stats.orders.values())
        t0, c0 = time.perf_counter(), time.process_time()
        pool.wake_due(now, limit=traders * 3)
        if not null:
            sink.poll(0)
        timed += time.perf_counter() - t0
        cpu += time.process_time() - c0
        produced += sum(pool.stats.orders.values()) - before
        if null:
            acknowledge(pool, sink.values)
            sink.values.clear()
    if not null:
        t0, c0 = time.perf_counter(), time.process_time()
        sink.flush(60)
        timed += time.perf_counter() - t0
        cpu += time.process_time() - c0
    return produced / timed, produced, cpu


def baseline_orders_per_second(traders: int, seconds: float) -> tuple[float, float]:
    """The original project's bots: uuid4, random limit within 1% of last, json.dumps."""
    rng = random.Random(1)
    last = [100.0] * traders
    sink: list[bytes] = []
    produced = 0
    deadline = time.perf_counter() + seconds
    t0, c0 = time.perf_counter(), time.process_time()
    while time.perf_counter() < deadline:
        for i in range(traders):
            price = round(last[i] * (1 + rng.uniform(-0.01, 0.01)), 2)
            quantity = rng.randint(1, 10) * (1 if rng.random() < 0.5 else -1)
            sink.append(
                json.dumps(
                    {
                        "order_id": str(uuid.uuid4()),
                        "order_type": "limit",
                        "price": price,
                        "quantity": quantity,
                        "time": time.time_ns(),
                    }
                ).encode()
            )
            produced += 1
        sink.clear()
    return produced / (time.perf_counter() - t0), produced / (time.process_time() - c0)


def kafka_producer(bootstrap: str):
    from confluent_kafka.admin import NewTopic

    from orderbook_platform.config import KafkaSettings
    from orderbook_platform.kafka.clients import admin_client, producer

    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    admin = admin_client(kafka)
    if "bench.traders.orders" not in admin.list_topics(timeout=10).topics:
        for future in admin.create_topics([NewTopic("bench.traders.orders", 3, 1)]).values():
            future.result(30)
    writer = producer(kafka, **{"linger.ms": 5, "queue.buffering.max.messages": 1_000_000})

    class Scratch:
        def produce(self, topic: str, *, value: bytes, key: bytes, timestamp: int) -> None:
            while True:
                try:
                    writer.produce(
                        "bench.traders.orders", value=value, key=key, timestamp=timestamp
                    )
                    return
                except BufferError:
                    writer.poll(0.01)

        def poll(self, timeout: float) -> int:
            return writer.poll(timeout)

        def flush(self, timeout: float) -> int:
            return writer.flush(timeout)

        def __len__(self) -> int:
            return len(writer)

    return Scratch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traders", type=int, default=1000)
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="Wall time of each live measurement."
    )
    parser.add_argument("--sim-duration", type=float, default=3600.0)
    parser.add_argument(
        "--kafka", metavar="BOOTSTRAP", help="Also measure producing to this broker."
    )
    parser.add_argument("--skip-sim", action="store_true")
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus"
    )

    # Wall-clock rates suffer on a shared machine; the per-CPU-second rates do not, so
    # the ratios are taken on those.
    rate, orders, cpu = live_orders_per_second(args.traders, args.seconds)
    base_wall, base_cpu = baseline_orders_per_second(args.traders, args.seconds)
    print(
        f"live decisions ({args.traders:,} traders, no Kafka): {orders / cpu:,.0f} orders per CPU-second "
        f"({rate:,.0f} orders/s wall, {orders:,} orders)"
    )
    print(
        f"baseline (original bots: uuid4 + json.dumps):       {base_cpu:,.0f} orders per CPU-second "
        f"({base_wall:,.0f} orders/s wall)"
    )
    print(f"ratio: swarm decision path = {orders / cpu / base_cpu:.2f}x the baseline")
    if args.kafka:
        rate_k, orders_k, cpu_k = live_orders_per_second(
            args.traders, args.seconds, kafka_producer(args.kafka)
        )
        print(
            f"live decisions with Kafka ({args.kafka}): {orders_k / cpu_k:,.0f} orders per CPU-second "
            f"of this process incl. librdkafka threads ({rate_k:,.0f} orders/s wall, {orders_k:,} orders, flushed)"
        )
        print(f"ratio: with Kafka = {orders_k / cpu_k / (orders / cpu):.2f}x without")
    if args.skip_sim:
        return
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "sim"
        t0, c0 = time.perf_counter(), time.process_time()
        result = simulate(
            SimulationConfig(duration_s=args.sim_duration, traders=args.traders, seed=0), out
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        stats = replay(out / "orders.jsonl", Path(scratch) / "replay", EngineConfig(depth=5))
        print(f"simulate {args.sim_duration:,.0f} s, {args.traders:,} traders: {wall:.2f} s wall, {cpu:.2f} s CPU "
              f"({result.counts['orders']:,} orders, {result.counts['trades']:,} trades)")  # fmt: skip
        print(f"baseline (engine replay of the same orders.jsonl): {stats.seconds:.2f} s")
        print(f"ratio: simulation = {wall / stats.seconds:.2f}x the replay")


if __name__ == "__main__":
    main()
