"""Where a small transaction's time goes: the engine's commit cycle against a private broker.

    uv run python bench/kafka_txn_bench.py                 # 3 rounds of 400 cycles each
    uv run python bench/kafka_txn_bench.py --rounds 5 --cycles 1000

The engine's latency at low rates is one or two transaction cycles (docs/engine-service.md),
so this measures the cycle alone, with no engine, load generator or reader competing for
the two cores. Each cycle is what `engine/service.py` does for a small batch: begin, send
the consumer offsets to the transaction from a helper thread, produce 3 records to each
partition of the 4 output topics, wait for the offsets, commit. Variants, alternated
round by round so that the broker's drift hits each of them alike:

- baseline: the same records without a transaction (idempotent producer, `flush()` per
  cycle): the floor of a synchronous produce cycle on this machine;
- engine: the engine's producer settings (linger.ms 20, retry backoff 2 ms);
- engine, flush first: the same, but the records are flushed before waiting for the
  offsets, so the produce round trips overlap the offsets' ones;
- linger.ms 0: the records leave at once instead of with the commit;
- TCP_NODELAY: the engine's pair with Nagle's algorithm off on the client's sockets;
- one id per partition, parallel: one transaction per partition of `orders` (its own
  pair of ids by turns), the three from threads at once, each writing only its
  partition of the 4 topics: what one producer per input partition would give;
- offsets only: no records, just the offsets and the commit.

Printed per variant: cycle mean / p50 / p99, the offsets wait and the commit call, and the
cycle's ratio to the baseline. No assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import cycle

from confluent_kafka import Consumer, Producer, TopicPartition

from engine.service_config import PRODUCER_TUNING

OUTPUTS = ("trades", "prices", "book", "order_events")
Cycle = tuple[float, float, float]  # seconds: the cycle, the offsets wait, the commit call
RECORD = b'{"symbol":"XYZ","sequence":1}'


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Probe:
    def __init__(self, bootstrap: str, per_partition: int) -> None:
        self.bootstrap = bootstrap
        self.per_partition = per_partition
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap, "group.id": "txn-bench",
                "enable.auto.commit": False, "isolation.level": "read_committed",
            }
        )  # fmt: skip
        self.consumer.subscribe(["orders"])
        while not self.consumer.assignment():  # offsets need a group member's metadata
            self.consumer.poll(0.2)
        self.partitions = sorted(tp.partition for tp in self.consumer.assignment())
        self.helper = ThreadPoolExecutor(len(self.partitions), thread_name_prefix="send-offsets")
        self.workers = ThreadPoolExecutor(len(self.partitions), thread_name_prefix="txn")

    def producer(self, transactional_id: str | None, **overrides: object) -> Producer:
        config: dict[str, object] = {
            "bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all",
            "compression.type": "lz4", **PRODUCER_TUNING,
        }  # fmt: skip
        if transactional_id is not None:
            config["transactional.id"] = transactional_id
        config.update(overrides)
        producer = Producer(config)
        if transactional_id is not None:
            producer.init_transactions(30)
        return producer

    def _produce(self, producer: Producer, partitions: list[int]) -> None:
        for topic in OUTPUTS:
            for partition in partitions:
                for _ in range(self.per_partition):
                    producer.produce(topic, RECORD, b"XYZ", partition)

    def plain_cycle(self, producer: Producer) -> tuple[float, float, float]:
        start = time.perf_counter()
        self._produce(producer, self.partitions)
        producer.flush(30)
        return time.perf_counter() - start, 0.0, 0.0

    def txn_cycle(
        self,
        producer: Producer,
        *,
        records: bool = True,
        flush_first: bool = False,
        partitions: list[int] | None = None,
    ) -> tuple[float, float, float]:
        """(cycle, offsets wait from the start, commit call) in seconds."""
        partitions = self.partitions if partitions is None else partitions
        start = time.perf_counter()
        producer.begin_transaction()
        offsets = [TopicPartition("orders", p, 0) for p in partitions]
        sending: Future = self.helper.submit(
            producer.send_offsets_to_transaction,
            offsets, self.consumer.consumer_group_metadata(), 30,
        )  # fmt: skip
        if records:
            self._produce(producer, partitions)
        if flush_first:
            producer.flush(30)
        sending.result()
        committing = time.perf_counter()
        producer.commit_transaction(30)
        end = time.perf_counter()
        return end - start, committing - start, end - committing

    def parallel_cycle(self, pairs: list[Iterator[Producer]]) -> tuple[float, float, float]:
        """One transaction per partition (its own ids, by turns), all at once."""
        start = time.perf_counter()
        futures = [
            self.workers.submit(self.txn_cycle, next(pair), partitions=[partition])
            for pair, partition in zip(pairs, self.partitions, strict=True)
        ]
        results = [f.result() for f in futures]
        end = time.perf_counter()
        return end - start, max(r[1] for r in results), max(r[2] for r in results)

    def close(self) -> None:
        self.workers.shutdown()
        self.helper.shutdown()
        self.consumer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=400, help="per variant and round")
    parser.add_argument("--warmup", type=int, default=1500, help="cycles before measuring")
    parser.add_argument("--per-partition", type=int, default=3)
    args = parser.parse_args(argv)

    from orderbook_platform.testing import private_stack

    with private_stack("kafka-txn-bench-") as (stack, _):
        probe = Probe(stack.settings.kafka.bootstrap_servers, args.per_partition)
        engine = probe.producer("txn-bench-engine")
        linger0 = probe.producer("txn-bench-linger0", **{"linger.ms": 0})
        plain = probe.producer(None)
        # Each pair takes its own turns (one counter shared by both pairs would, in the
        # warm-up's pair/pair0 loop, always pick the same member of each).
        pair = cycle([engine, probe.producer("txn-bench-engine+b")])
        pair0 = cycle([linger0, probe.producer("txn-bench-linger0+b", **{"linger.ms": 0})])

        per_partition = [
            cycle([probe.producer(f"txn-bench-p{p}"), probe.producer(f"txn-bench-p{p}+b")])
            for p in probe.partitions
        ]

        pair_nd = cycle(
            [
                probe.producer(f"txn-bench-nodelay{x}", **{"socket.nagle.disable": True})
                for x in ("", "+b")
            ]
        )

        def alternate(producers: Iterator[Producer], flush_first: bool = False) -> Cycle:
            return probe.txn_cycle(next(producers), flush_first=flush_first)

        variants: dict[str, Callable[[], Cycle]] = {
            "baseline (no transaction)": lambda: probe.plain_cycle(plain),
            "one id": lambda: probe.txn_cycle(engine),
            "one id, flush first": lambda: probe.txn_cycle(engine, flush_first=True),
            "one id, linger.ms 0": lambda: probe.txn_cycle(linger0),
            "two ids by turns (the engine)": lambda: alternate(pair),
            "two ids, flush first": lambda: alternate(pair, flush_first=True),
            "two ids, linger.ms 0": lambda: alternate(pair0),
            "two ids, TCP_NODELAY": lambda: alternate(pair_nd),
            "one id per partition, parallel": lambda: probe.parallel_cycle(per_partition),
            "offsets only": lambda: probe.txn_cycle(engine, records=False),
        }
        records = len(OUTPUTS) * len(probe.partitions) * args.per_partition
        print(
            f"{records} records per cycle over {len(probe.partitions)} partitions x "
            f"{len(OUTPUTS)} topics; warming up ({args.warmup} cycles) ...",
            flush=True,
        )
        for _ in range(args.warmup):
            probe.txn_cycle(engine)
            probe.txn_cycle(linger0)
            alternate(pair)
            alternate(pair0)
            probe.parallel_cycle(per_partition)
            alternate(pair_nd)
        rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, run_cycle in variants.items():
                rows[name].extend(run_cycle() for _ in range(args.cycles))
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"{args.rounds} rounds x {args.cycles} cycles per variant; load {load}")
        floor = statistics.mean(c for c, _, _ in rows["baseline (no transaction)"])
        for name, values in rows.items():
            cycles = [c * 1e3 for c, _, _ in values]
            waits = [o * 1e3 for _, o, _ in values]
            commits = [m * 1e3 for _, _, m in values]
            print(
                f"{name:30s} cycle mean {statistics.mean(cycles):5.1f} "
                f"p50 {percentile(cycles, 0.5):5.1f} p99 {percentile(cycles, 0.99):5.1f} ms"
                f" | offsets wait {statistics.mean(waits):4.1f} | commit "
                f"{statistics.mean(commits):4.1f} (p99 {percentile(commits, 0.99):4.1f}) ms"
                f" | {statistics.mean(cycles) / (floor * 1e3):4.1f}x baseline"
            )
        probe.close()


if __name__ == "__main__":
    main()
