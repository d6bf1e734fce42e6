"""The engine through Kafka: sustained orders/s with transactions, and produce-to-trade latency.

    uv run python bench/engine_kafka_bench.py                       # 100k orders, rates 2k,10k
    uv run python bench/engine_kafka_bench.py --orders 200000 --rates 5000 --sweep 1000,5000

Starts its own stack (KRaft broker + S3Proxy) on free ports in a temporary directory
and removes it at the end. Everything runs as separate processes, as in production:
the engine is `orderbook engine run`; the baselines and the latency reader are this
script in worker mode.

Figures printed:
- throughput from a backlog: N seeded orders are produced first, then the consumer
  is started and timed from its first committed progress to the moment its committed
  offsets reach the end of `orders` (polled every 20 ms); besides orders/s of wall time,
  orders per CPU-second of the consumer process (all its threads, librdkafka's too) and
  the CPU the process and the broker used, because on a shared machine wall time mostly
  measures the neighbours;
  * engine: decode, match, produce every event, transactions (EOS);
  * baseline "passthrough": consume -> produce each record unchanged to a private topic,
    no transactions (idempotent producer, async offset commits): the floor of any
    Python consume-produce loop on this machine;
  * baseline "passthrough + txn": the same with transactions, to separate the cost of
    transactions from the cost of matching;
- latency at a paced rate, after --warmup seconds of unmeasured load (a fresh broker's
  JVM commits transactions several times slower until its hot paths are compiled):
  orders are produced at R/s with `time` = now; a reader
  process consumes `trades` (read_committed) and measures now - trade.time, i.e. from
  the taker order's produce call to the trade being readable (p50/p99/p99.9/max); the
  same for the passthrough baseline's output and for a "null engine": a transactional
  consume-produce loop shaped like the engine (each order to the same partition of four
  topics, two transactional ids by turns, offsets sent from a helper thread) that does
  no matching, the floor under the engine's latency on the same broker and host. The
  two stay up side by side, each reading its own input topic, and their latency runs
  alternate, --rounds of each per rate, so that both see the same minutes of this
  shared machine; their figures pool the rounds, and the engine's p99 is printed as a
  ratio to the null engine's. Next to the engine's latency, from the
  engine's /metrics over the same interval: mean batch size, transaction and commit
  time, and the share of transactions and of commits slower than 25 and 50 ms. With
  --replicas N the latency runs have N engines in the group (each with its own
  transactional ids), as a deployment scales; the backlog run always has one.
No assertions: the targets (>= 50k orders/s, p99 < 50 ms) are reported, not enforced.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from array import array
from collections.abc import Callable
from functools import partial
from pathlib import Path

import msgspec
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from engine.service_config import PRODUCER_TUNING, ServiceConfig

PASSTHROUGH = "bench.passthrough"
# The null engine's outputs: the engine's four output topics, under names of their own.
FANOUT = tuple(f"bench.fanout.{topic}" for topic in ("trades", "prices", "book", "order_events"))
# Its input, apart from `orders`, so that the engine and the null engine can both stay up
# while the latency runs alternate between them: each idles while the other is measured.
FANOUT_INPUT = "bench.fanout.orders"
SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOG", "META", "NFLX")


# --------------------------------------------------------------------------- workers


def _ready() -> Callable[[], bool]:
    """Tell the parent this worker is ready; returns whether SIGTERM has asked it to stop."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    return stop.is_set


def _next_batch(consumer: Consumer, timeout_s: float, most: int) -> list:
    """Wait up to `timeout_s` for one record, then take what else is ready, up to `most`."""
    first = consumer.poll(timeout_s)
    return [] if first is None else [first, *consumer.consume(most - 1, 0)]


def _worker_passthrough(bootstrap: str, group: str, transactional: bool) -> None:
    """consume `orders` -> produce the same bytes to PASSTHROUGH, same partition."""
    # Without transactions, offsets are stored after their records are produced and
    # committed by librdkafka every 100 ms (at-least-once). Committing after every
    # batch, as this baseline once did, sent ~100 OffsetCommits a second at 2k/s; on a
    # busy broker they queued, the heartbeats behind them timed out, the group
    # rebalanced, and one run reported a p50 of 39 s for the baseline.
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap, "group.id": group,
            "enable.auto.commit": not transactional, "enable.auto.offset.store": False,
            "auto.commit.interval.ms": 100,
            "auto.offset.reset": "earliest", "isolation.level": "read_committed",
            "fetch.wait.max.ms": 100,
        }
    )  # fmt: skip
    config = {
        "bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
        "linger.ms": 2, "compression.type": "lz4", "queue.buffering.max.messages": 2_000_000,
        "retry.backoff.ms": 10, "retry.backoff.max.ms": 100,
    }  # fmt: skip
    if transactional:
        config["transactional.id"] = f"bench-passthrough-{group}"
    producer = Producer(config)
    if transactional:
        producer.init_transactions(30)
    consumer.subscribe(["orders"])
    stopped = _ready()
    produce = producer.produce
    while not stopped():
        batch = _next_batch(consumer, 0.2, 2000)
        if not batch:
            continue
        if transactional:
            producer.begin_transaction()
        offsets: dict[int, int] = {}
        for message in batch:
            if message.error() is not None:
                continue
            partition = message.partition()
            produce(PASSTHROUGH, message.value(), message.key(), partition,
                    timestamp=message.timestamp()[1])  # fmt: skip
            offsets[partition] = message.offset() + 1
        positions = [TopicPartition("orders", p, o) for p, o in offsets.items()]
        if transactional:
            producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata())
            producer.commit_transaction()
        else:
            producer.poll(0)
            consumer.store_offsets(offsets=positions)
    producer.flush(30)
    consumer.close()


def _worker_fanout(bootstrap: str, group: str) -> None:
    """The null engine: consume FANOUT_INPUT -> each record to the four FANOUT topics.

    Everything the engine's transaction cycle does, without the matching: each batch
    is one transaction that writes every order, unchanged, to the same partition of
    four topics (the shape of the engine's output: 4 topics x the partitions it owns),
    with the offsets sent from a helper thread while the records are produced, and two
    transactional ids taking turns (docs/engine-service.md). Its produce->readable
    latency is the floor under the engine's on the same broker and host.
    """
    from concurrent.futures import ThreadPoolExecutor
    from itertools import cycle

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
            "auto.offset.reset": "latest", "isolation.level": "read_committed",
            "fetch.wait.max.ms": 100,
        }
    )  # fmt: skip
    producers = []
    for turn in ("a", "b"):
        producer = Producer(
            {
                "bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                "compression.type": "lz4", **PRODUCER_TUNING,
                "transactional.id": f"bench-fanout-{group}-{turn}",
            }
        )  # fmt: skip
        producer.init_transactions(30)
        producers.append(producer)
    turns = cycle(producers)
    helper = ThreadPoolExecutor(1, thread_name_prefix="send-offsets")
    consumer.subscribe([FANOUT_INPUT])
    stopped = _ready()
    while not stopped():
        batch = [m for m in _next_batch(consumer, 0.2, 2000) if m.error() is None]
        if not batch:
            continue
        offsets = {message.partition(): message.offset() + 1 for message in batch}
        producer = next(turns)
        producer.begin_transaction()
        positions = [TopicPartition(FANOUT_INPUT, p, o) for p, o in offsets.items()]
        sending = helper.submit(
            producer.send_offsets_to_transaction, positions, consumer.consumer_group_metadata()
        )
        for message in batch:
            for topic in FANOUT:
                producer.produce(topic, message.value(), message.key(),
                                 message.partition(), timestamp=message.timestamp()[1])  # fmt: skip
        sending.result()
        producer.commit_transaction()
    helper.shutdown()
    consumer.close()


def _worker_reader(bootstrap: str, topic: str, since_ns: int, samples: str) -> None:
    """Read `topic` from its end; on SIGTERM write the latencies (ns) of the records since
    `since_ns` to the file `samples` (int64s) and print their stats."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap, "group.id": f"bench-reader-{uuid.uuid4().hex[:6]}",
            "isolation.level": "read_committed", "enable.auto.commit": False,
            "fetch.wait.max.ms": 5,
        }
    )  # fmt: skip
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    start = []
    for partition in partitions:
        high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
        start.append(TopicPartition(topic, partition, high))
    consumer.assign(start)
    decode = msgspec.json.Decoder(dict).decode
    latencies: list[int] = []
    stopped = _ready()
    while not stopped():
        batch = _next_batch(consumer, 0.1, 5001)
        if not batch:
            continue
        received = time.time_ns()
        for message in batch:
            if message.error() is not None:
                continue
            sent = decode(message.value()).get("time") or 0
            if sent >= since_ns:
                latencies.append(received - sent)
    consumer.close()
    Path(samples).write_bytes(array("q", latencies).tobytes())
    print(json.dumps(_percentiles(latencies)), flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _latest_owned(log: Path) -> list[int]:
    """The partitions an engine said it owns in its latest assignment line."""
    owned: list[int] = []
    for line in log.read_text().splitlines():
        if line.startswith("{") and '"owned"' in line:
            owned = json.loads(line)["owned"]
    return owned


def replicas_metrics(logs: list[Path]) -> dict[str, float]:
    """engine_metrics summed over the replicas (sums, counts and buckets all add up)."""
    total: dict[str, float] = {}
    for log in logs:
        for name, value in engine_metrics(log).items():
            total[name] = total.get(name, 0.0) + value
    return total


def engine_metrics(log: Path) -> dict[str, float]:
    """The engine's histogram sums and counts, from its /metrics (port in its log)."""
    import urllib.request

    port = next(
        json.loads(line)["metrics_port"]
        for line in log.read_text().splitlines()
        if '"engine starting"' in line
    )
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {
        name: float(value)
        for name, value in (line.split(" ", 1) for line in text.splitlines() if line[:1] != "#")
        if name.startswith("orderbook_engine_")
        and (name.endswith(("_sum", "_count")) or name.startswith(_SLOW_BUCKETS))
    }


_SLOW_BUCKETS = ("orderbook_engine_batch_seconds_bucket", "orderbook_engine_commit_seconds_bucket")


def transaction_means(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Mean batch size, batch wall time and commit wait over the interval, and the share
    of transactions (batch) and of commits slower than 25 and 50 ms (the p99 tail's
    suspects: a transaction that slow delays every order queued behind it)."""
    means = {}
    for name in ("batch_size", "batch_seconds", "commit_seconds"):
        key = f"orderbook_engine_{name}"
        count = after[f"{key}_count"] - before[f"{key}_count"]
        total = after[f"{key}_sum"] - before[f"{key}_sum"]
        means[f"mean_{name}"] = total / count if count else 0.0
        if name == "batch_size" or not count:
            continue
        for limit in ("0.025", "0.05"):
            bucket = f'{key}_bucket{{le="{limit}"}}'
            within = after.get(bucket, 0.0) - before.get(bucket, 0.0)
            means[f"{name}_over_{int(float(limit) * 1000)}ms"] = 1 - within / count
    return means


def _percentiles(latencies_ns: list[int]) -> dict[str, float]:
    if not latencies_ns:
        return {"count": 0}
    values = sorted(latencies_ns)

    def at(q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] / 1e6

    return {
        "count": len(values),
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "p999_ms": at(0.999),
        "max_ms": values[-1] / 1e6,
        "mean_ms": statistics.fmean(values) / 1e6,
    }


# --------------------------------------------------------------------------- the driver


class Bench:
    def __init__(self, args: argparse.Namespace, settings, env: dict[str, str]) -> None:
        self.args = args
        self.settings = settings
        self.env = env
        self.bootstrap = settings.kafka.bootstrap_servers
        self.processes: list[subprocess.Popen] = []
        self.broker_pid = 0
        self.last_count = 0  # orders the last time_until_caught_up covered

    def spawn(self, argv: list[str], log: Path | None = None) -> subprocess.Popen:
        process = subprocess.Popen(
            argv, env=self.env, text=True,
            stdout=subprocess.PIPE if log is None else open(log, "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT if log is not None else None,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def worker(self, *worker_args: str) -> subprocess.Popen:
        process = self.spawn([sys.executable, __file__, "--worker", *worker_args])
        assert process.stdout.readline().strip() == "ready"
        return process

    def engine(
        self, group: str, log: Path, batch_size: int, instance: str = "bench"
    ) -> subprocess.Popen:
        argv = [
            sys.executable, "-m", "orderbook_platform.cli.main", "engine", "run",
            "--group", group, "--instance-id", instance, "--metrics-port", "0",
            "--batch-size", str(batch_size),
            "--snapshot-every", str(self.args.snapshot_every),
            "--snapshot-seconds", str(self.args.snapshot_seconds),
        ]  # fmt: skip
        return self.spawn(argv, log)

    def wait_for_split(self, logs: list[Path], timeout_s: float = 180.0) -> None:
        """Until every replica owns at least one partition of `orders` and together they
        own all of them (each log's latest "owned" list), or `timeout_s`."""
        everything = set(range(self.settings.topics.partitions))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            owned = [_latest_owned(log) for log in logs]
            if all(owned) and set().union(*owned) == everything:
                return
            time.sleep(0.2)
        raise RuntimeError(f"the replicas did not split the partitions in {timeout_s:.0f} s")

    def end_offsets(self, topic: str = "orders") -> dict[int, int]:
        client = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "bench-offsets"})
        try:
            return {
                p: client.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(self.settings.topics.partitions)
            }
        finally:
            client.close()

    def committed(self, client: Consumer, topic: str = "orders") -> dict[int, int]:
        tps = [TopicPartition(topic, p) for p in range(self.settings.topics.partitions)]
        while True:
            try:
                return {tp.partition: tp.offset for tp in client.committed(tps, timeout=10)}
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError._TIMED_OUT:
                    raise  # a saturated machine can time a poll out: poll again

    def time_until_caught_up(
        self,
        group: str,
        started: float | None = None,
        launch: Callable[[], subprocess.Popen] | None = None,
        topic: str = "orders",
    ) -> tuple[float, list[float]]:
        """Seconds from the first committed progress (or `started`) to the end of orders,
        and the CPU seconds the launched process and the broker used in that interval.

        The group's starting point is read before `launch()` starts the consumer, so a
        fast consumer cannot finish before the clock starts.
        """
        target = self.end_offsets(topic)
        # read_uncommitted: librdkafka's default (read_committed) asks for *stable*
        # offsets, which a consumer in back-to-back transactions rarely has, so the
        # poll would block instead of reporting the last committed position.
        client = Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": group,
             "isolation.level": "read_uncommitted"}
        )  # fmt: skip
        try:
            baseline = self.committed(client, topic)
            if launch is None and all(max(0, baseline[p]) >= target[p] for p in target):
                self.last_count = 0
                return 0.0, []  # nothing to wait for
            pids = (launch().pid, self.broker_pid) if launch is not None else ()
            first_progress = started
            counted_from = baseline  # the records committed when the clock starts
            cpu_at_start = [cpu_seconds(pid) for pid in pids]
            while True:
                done = self.committed(client, topic)
                now = time.perf_counter()
                if first_progress is None and done != baseline:
                    # The records of the first commit were processed before the clock
                    # started: they are not counted (with a consumer that commits every
                    # 100 ms, counting them inflated a 20k-order run to 800k orders/s).
                    first_progress, counted_from = now, done
                    cpu_at_start = [cpu_seconds(pid) for pid in pids]
                if first_progress is not None and all(done[p] >= target[p] for p in target):
                    used = [cpu_seconds(pid) - c for pid, c in zip(pids, cpu_at_start, strict=True)]
                    self.last_count = sum(target.values()) - sum(
                        max(0, o) for o in counted_from.values()
                    )
                    return now - first_progress, used
                time.sleep(0.02)
        finally:
            client.close()

    def throughput(self, group: str, launch: Callable[[], subprocess.Popen]) -> dict[str, float]:
        """Orders/s (wall), orders per CPU-second of the consumer, and the broker's CPU share."""
        seconds, (own, broker) = self.time_until_caught_up(group, launch=launch)
        count = self.last_count
        if seconds <= 0:
            raise SystemExit(
                f"{group}: the whole backlog went in one commit, too fast to time; "
                "use a larger --orders"
            )
        return {
            "orders": count,
            "wall": count / seconds,
            "per_cpu": count / own if own > 0 else 0.0,
            "cpu": own / seconds,
            "broker_cpu": broker / seconds,
            "load": os.getloadavg()[0],
        }

    def produce_backlog(self, count: int, seed: int) -> float:
        from engine.feeder import generate_orders
        from orderbook_platform.contracts import encode

        producer = Producer(
            {"bootstrap.servers": self.bootstrap, "enable.idempotence": True,
             "linger.ms": 20, "compression.type": "lz4"}
        )  # fmt: skip
        started = time.perf_counter()
        now = time.time_ns()
        for order in generate_orders(count, seed=seed, symbols=SYMBOLS, start_ns=now, step_ns=1000):
            while True:
                try:
                    producer.produce("orders", encode(order), order.symbol.encode(),
                                     timestamp=order.time // 1_000_000)  # fmt: skip
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.flush(120)
        return count / (time.perf_counter() - started)

    def ready_producer(self) -> Producer:
        """An idempotent producer that already has its producer id.

        A new idempotent producer holds its first records until InitProducerId
        completes (~0.5 s here): measured from the first produce call, that start-up
        alone put the p99 of every run near 500 ms. One record to a topic nobody reads
        for latency, flushed, gets it out of the way.
        """
        producer = Producer(
            {"bootstrap.servers": self.bootstrap, "enable.idempotence": True,
             "linger.ms": 0, "compression.type": "lz4"}
        )  # fmt: skip
        producer.produce("orders.dlq", b"bench warm-up")
        producer.flush(30)
        return producer

    def produce_paced(
        self, producer: Producer, rate: float, seconds: float, seed: int, topic: str = "orders"
    ) -> tuple[int, float]:
        """Produce at `rate`/s for `seconds` to `topic`, each order's time = now; returns
        (sent, rate)."""
        from engine.feeder import generate_orders
        from orderbook_platform.contracts import encode

        count = int(rate * seconds)
        started = time.perf_counter()
        sent = 0
        replace = msgspec.structs.replace
        # Symbols of their own: a fresh seed would start each symbol's random walk at
        # another price, and orders from two walks on one book sweep it end to end.
        symbols = [f"{symbol}.{seed}" for symbol in SYMBOLS]
        for order in generate_orders(count, seed=seed, symbols=symbols):
            ahead = started + sent / rate - time.perf_counter()
            if ahead > 0.001:
                producer.poll(0)
                time.sleep(ahead)
            order = replace(order, time=time.time_ns())
            while True:
                try:
                    producer.produce(topic, encode(order), order.symbol.encode(),
                                     timestamp=order.time // 1_000_000)  # fmt: skip
                    break
                except BufferError:
                    producer.poll(0.01)
            producer.poll(0)
            sent += 1
        producer.flush(60)
        return sent, sent / (time.perf_counter() - started)

    def latency(
        self,
        group: str,
        topic: str,
        rate: float,
        seed: int,
        seconds: float | None = None,
        input_topic: str = "orders",
    ) -> tuple[dict[str, float], array]:
        """Orders at `rate`/s to `input_topic`, read back from `topic`: (stats, samples in ns)."""
        producer = self.ready_producer()
        since = time.time_ns()
        with tempfile.NamedTemporaryFile(prefix="latency-", suffix=".bin") as samples_file:
            reader = self.worker("reader", self.bootstrap, topic, str(since), samples_file.name)
            seconds = self.args.seconds if seconds is None else seconds
            _sent, achieved = self.produce_paced(producer, rate, seconds, seed, input_topic)
            # wait for the last
            self.time_until_caught_up(group, started=time.perf_counter(), topic=input_topic)
            time.sleep(0.5)  # the last commit's markers
            reader.send_signal(signal.SIGTERM)
            out, _ = reader.communicate(timeout=60)
            samples = array("q")
            samples.frombytes(Path(samples_file.name).read_bytes())
        stats = json.loads(out.strip().splitlines()[-1])
        stats["offered_rate"] = achieved
        return stats, samples

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def _create_baseline_topics(bootstrap: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(topic, partitions, 1) for topic in (PASSTHROUGH, FANOUT_INPUT, *FANOUT)]
    )
    for future in futures.values():
        future.result(30)


def run(args: argparse.Namespace) -> None:
    from orderbook_platform.testing import private_stack, settings_env

    # SIGTERM/SIGHUP unwind like Ctrl-C, so the private stack is always taken down.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    with private_stack("engine-kafka-bench-") as (stack, tmp):
        settings = stack.settings
        bench = Bench(args, settings, settings_env(settings))
        bench.broker_pid = stack.kafka.process.pid() or 0
        try:
            _create_baseline_topics(settings.kafka.bootstrap_servers, settings.topics.partitions)
            results = measure(bench, tmp)
        finally:
            bench.stop_all()
    report(args, results)


def measure(bench: Bench, tmp: Path) -> dict:
    args = bench.args
    results: dict = {"latency": {}, "throughput": {}}
    results["produce_rate"] = bench.produce_backlog(args.orders, seed=args.seed)
    print(f"backlog of {args.orders:,} orders produced", flush=True)

    def record(name: str, figures: dict[str, float]) -> None:
        results["throughput"][name] = figures
        print(f"{name}: {figures['wall']:,.0f} orders/s, {figures['per_cpu']:,.0f} per CPU-s "
              f"(load {figures['load']:.1f})", flush=True)  # fmt: skip

    # Every backlog run reads the same orders: latency runs (which add orders) come last.
    for name, transactional in (("passthrough", "0"), ("passthrough + txn", "1")):
        group = f"bench-{name.replace(' + ', '-')}"
        launch = partial(bench.worker, "passthrough", bench.bootstrap, group, transactional)
        record(name, bench.throughput(group, launch))
        bench.stop_all()

    for batch_size in args.sweep:
        group = f"bench-engine-{batch_size}"
        launch = partial(bench.engine, group, tmp / f"engine-{batch_size}.log", batch_size)
        record(f"engine, batch {batch_size}", bench.throughput(group, launch))
        bench.stop_all()

    engine_log = tmp / "engine.log"
    launch = partial(bench.engine, "bench-engine", engine_log, args.batch_size)
    record(f"engine, batch {args.batch_size}", bench.throughput("bench-engine", launch))
    engines = [bench.processes[-1]]
    logs = [engine_log]
    # The latency runs with --replicas engines in the group, as a deployment scales: the
    # others join now, and the warm-up covers the hand-over of their partitions.
    for i in range(1, args.replicas):
        logs.append(tmp / f"engine-{i}.log")
        engines.append(bench.engine("bench-engine", logs[-1], args.batch_size, f"bench-{i}"))
    if args.replicas > 1:
        bench.wait_for_split(logs)
    # The null engine stays up beside the engine: each idles on its own input while the
    # other is measured, and the runs alternate so that both see the same hour.
    null_engine = bench.worker("fanout", bench.bootstrap, "bench-fanout")
    if args.warmup:
        # A fresh broker's JVM has not compiled its transaction paths yet: commits took
        # ~35 ms in the first minute and ~10 ms once warm. Latency is measured warm.
        warm, _ = bench.latency(
            "bench-engine", "trades", args.rates[0], seed=99, seconds=args.warmup
        )
        print(f"  (warm-up: {warm})", flush=True)
        warm, _ = bench.latency(
            "bench-fanout", FANOUT[0], args.rates[0], seed=98,
            seconds=min(args.warmup, 10.0), input_topic=FANOUT_INPUT,
        )  # fmt: skip
        print(f"  (null engine warm-up: {warm})", flush=True)
    for rate in args.rates:
        pooled: dict[str, array] = {"engine": array("q"), "null engine": array("q")}
        offered: dict[str, list[float]] = {"engine": [], "null engine": []}
        spent: dict[str, float] = {}  # the engine's metrics, summed over its rounds
        for round_ in range(args.rounds):
            seed = args.seed + 7 * int(rate) + 1000 * round_
            before = replicas_metrics(logs)
            stats, samples = bench.latency("bench-engine", "trades", rate, seed=seed)
            for name, value in replicas_metrics(logs).items():
                spent[name] = spent.get(name, 0.0) + value - before.get(name, 0.0)
            pooled["engine"].extend(samples)
            offered["engine"].append(stats["offered_rate"])
            floor, samples = bench.latency(
                "bench-fanout", FANOUT[0], rate, seed=seed, input_topic=FANOUT_INPUT
            )
            pooled["null engine"].extend(samples)
            offered["null engine"].append(floor["offered_rate"])
            print(
                f"  @ {rate:,.0f}/s round {round_ + 1}: engine p50 {stats['p50_ms']:.1f} / "
                f"p99 {stats['p99_ms']:.1f} ms, null engine p50 {floor['p50_ms']:.1f} / "
                f"p99 {floor['p99_ms']:.1f} ms",
                flush=True,
            )
        for name, samples in pooled.items():
            stats = _percentiles(list(samples))
            stats["offered_rate"] = statistics.mean(offered[name])
            if name == "engine":
                stats.update(transaction_means(dict.fromkeys(spent, 0.0), spent))
            results["latency"][name, rate] = stats
            print(f"  {name} latency @ {rate:,.0f}/s: {stats}", flush=True)
    for engine in engines:
        engine.send_signal(signal.SIGTERM)
    for engine in engines:
        engine.wait(60)
    null_engine.send_signal(signal.SIGTERM)
    null_engine.wait(60)

    worker = bench.worker("passthrough", bench.bootstrap, "bench-passthrough", "0")
    bench.time_until_caught_up("bench-passthrough")  # the engine's latency orders first
    for rate in args.rates:
        stats, _ = bench.latency("bench-passthrough", PASSTHROUGH, rate, seed=args.seed + int(rate))
        results["latency"]["passthrough", rate] = stats
        print(f"  passthrough latency @ {rate:,.0f}/s: {stats}", flush=True)
    worker.send_signal(signal.SIGTERM)
    worker.wait(60)

    lines = [
        json.loads(line)
        for log in logs
        for line in log.read_text().splitlines()
        if line.startswith("{")
    ]
    events: dict[str, int] = {}
    for line in lines:
        if line.get("event") == "engine stopped":
            for topic, count in line.get("events", {}).items():
                events[topic] = events.get(topic, 0) + count
    results["engine_events"] = events
    rounds = [line for line in lines if line.get("event") == "snapshot round"]
    results["largest_snapshot_record"] = max((r["largest_record_bytes"] for r in rounds), default=0)
    results["snapshot_rounds"] = (
        len(rounds),
        sum(r["records"] for r in rounds),
        sum(r.get("unchanged", 0) for r in rounds),
    )
    results["load"] = os.getloadavg()
    return results


def report(args: argparse.Namespace, results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Engine through Kafka ({args.orders:,} orders, batch {args.batch_size}; "
        f"latency runs with {args.replicas} replica{'s' if args.replicas > 1 else ''})"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("vs passthrough", justify="right")
    table.add_row("feeder produce rate", f"{results['produce_rate']:,.0f}/s", "")
    base = results["throughput"]["passthrough"]
    for name, figures in results["throughput"].items():
        table.add_row(
            f"{name} (backlog)",
            f"{figures['wall']:,.0f} orders/s ({figures['per_cpu']:,.0f} per CPU-s; "
            f"own CPU {figures['cpu']:.2f}, broker {figures['broker_cpu']:.2f}; "
            f"load {figures['load']:.1f})",
            f"{_ratio(figures['wall'], base['wall'])} wall, "
            f"{_ratio(figures['per_cpu'], base['per_cpu'])} per CPU-s",
        )
    latency = results["latency"]
    for (name, rate), stats in latency.items():
        if not stats.get("count"):
            table.add_row(f"{name} latency @ {rate:,.0f}/s", "no samples", "")
            continue
        floor = latency.get(("null engine", rate), {})
        versus = (
            f"p99 {_ratio(stats['p99_ms'], floor['p99_ms'])} the null engine's"
            if name == "engine" and floor.get("count")
            else ""
        )
        table.add_row(
            f"{name} produce->readable @ {rate:,.0f}/s",
            f"p50 {stats['p50_ms']:.1f} / p99 {stats['p99_ms']:.1f} / "
            f"p99.9 {stats['p999_ms']:.1f} / max {stats['max_ms']:.1f} ms "
            f"(n={stats['count']:,}, offered {stats['offered_rate']:,.0f}/s)",
            versus,
        )
    if results.get("engine_events"):
        table.add_row("engine events", json.dumps(results["engine_events"]), "")
    table.add_row("largest snapshot record", f"{results['largest_snapshot_record']:,} bytes", "")
    count, records, unchanged = results["snapshot_rounds"]
    table.add_row(
        "snapshot rounds",
        f"{count:,} rounds: {records:,} records written, {unchanged:,} unchanged books left out",
        "",
    )
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # a log file: keep each row on one line
    console.print(table)
    load = ", ".join(f"{x:.1f}" for x in results["load"])
    print(f"cpus: {os.cpu_count()}  load average at the end: {load}")
    print("targets: >= 50,000 orders/s sustained, p99 < 50 ms")


def _ratio(value: float, base: float) -> str:
    """`value / base` as "1.23x"; "n/a" when the base is 0 (a run too short for the
    CPU clock's 10 ms ticks, or one that measured nothing)."""
    return f"{value / base:.2f}x" if base else "n/a"


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        kind, *rest = sys.argv[2:]
        if kind == "passthrough":
            _worker_passthrough(rest[0], rest[1], rest[2] == "1")
        elif kind == "fanout":
            _worker_fanout(rest[0], rest[1])
        elif kind == "reader":
            _worker_reader(rest[0], rest[1], int(rest[2]), rest[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rates", type=lambda s: [float(r) for r in s.split(",")],
                        default=[2000.0, 10000.0])  # fmt: skip
    parser.add_argument("--seconds", type=float, default=5.0, help="per latency run")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="latency runs per rate for the engine and the null engine, alternated",
    )
    parser.add_argument("--warmup", type=float, default=30.0,
                        help="seconds of unmeasured paced load before the engine's latency runs")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=10_000,
                        help="the engine's (its default), for the backlog and latency runs")  # fmt: skip
    parser.add_argument("--sweep", type=lambda s: [int(b) for b in s.split(",") if b],
                        default=[], help="also time the backlog at these batch sizes")  # fmt: skip
    parser.add_argument("--snapshot-every", type=int, default=ServiceConfig.snapshot_every,
                        help="the engine's --snapshot-every (default: the engine's)")  # fmt: skip
    parser.add_argument("--snapshot-seconds", type=float, default=ServiceConfig.snapshot_seconds,
                        help="the engine's --snapshot-seconds (default: the engine's)")  # fmt: skip
    parser.add_argument("--replicas", type=int, default=1,
                        help="engines in the group for the latency runs (the backlog run uses one)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
