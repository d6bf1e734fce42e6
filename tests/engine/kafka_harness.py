"""Drive `orderbook engine run` as a real subprocess against the session stack.

Not a test module: the integration tests in test_service.py import it. Everything
here talks to the real broker; the only in-process engine is the offline reference
(one Matcher per partition over that partition's orders in offset order).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from engine.config import EngineConfig
from engine.events import key_of, topic_of
from engine.matching import Matcher
from engine.recovery import SnapshotRecord, latest_snapshots
from orderbook_platform.config import Settings
from orderbook_platform.contracts import ContractError, decode_order, encode
from orderbook_platform.testing import settings_env

ENGINE_RUN = [sys.executable, "-m", "orderbook_platform.cli.main", "engine", "run"]
OUTPUT_TOPICS = ("trades", "prices", "book", "order_events")
# Only a guard against a hung test: never a statement about speed.
PATIENCE_S = 240.0


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6].upper()}"


def spread_symbols(prefix: str, count: int, partitions: int = 3) -> list[str]:
    """Fresh symbols that land on every partition in turn.

    librdkafka's default partitioner (consistent_random) puts a keyed record on
    crc32(key) % partitions; choosing symbols by it makes every test multi-partition.
    """
    symbols: list[str] = []
    while len(symbols) < count:
        candidate = unique(prefix)
        if zlib.crc32(candidate.encode()) % partitions == len(symbols) % partitions:
            symbols.append(candidate)
    return symbols


def wait_for(condition: Callable[[], object], what: str, patience_s: float = PATIENCE_S) -> object:
    deadline = time.monotonic() + patience_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


# --------------------------------------------------------------------------- the process


class EngineProcess:
    """One `orderbook engine run` child with JSON logs captured to a file."""

    def __init__(
        self,
        settings: Settings,
        log_dir: Path,
        *,
        group: str,
        instance_id: str,
        args: Iterable[str] = (),
    ) -> None:
        self.settings = settings
        self.group = group
        self.instance_id = instance_id
        self.args = [
            "--group", group, "--instance-id", instance_id, "--metrics-port", "0",
            "--session-timeout-ms", "6000", *args,
        ]  # fmt: skip
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"engine-{instance_id}-{uuid.uuid4().hex[:6]}.log"
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    def start(self) -> EngineProcess:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*ENGINE_RUN, *self.args],
                stdout=log, stderr=subprocess.STDOUT, env=settings_env(self.settings),
            )  # fmt: skip
        started = wait_for(
            lambda: self._find_log("engine starting") or self._exited(), "the engine to start"
        )
        assert isinstance(started, dict), f"engine exited early:\n{self.log_text()}"
        self.port = started["metrics_port"]
        return self

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def logs(self) -> list[dict]:
        entries = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # the line being written right now
        return entries

    def _find_log(self, event: str) -> dict | None:
        return next((e for e in self.logs() if e.get("event") == event), None)

    def events(self, event: str) -> list[dict]:
        return [e for e in self.logs() if e.get("event") == event]

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def health(self) -> dict:
        return json.loads(self.get("/healthz")[1])

    def metric(self, name: str) -> float:
        """Sum of a metric's samples (all label sets); 0 if absent."""
        total = 0.0
        for line in self.get("/metrics")[1].decode().splitlines():
            if line.startswith(name) and line[len(name)] in " {":
                total += float(line.rsplit(" ", 1)[1])
        return total

    def orders_applied(self) -> float:
        try:
            return self.metric("orderbook_engine_orders_total")
        except OSError:
            return 0.0  # the port closes while the process dies

    def kill9(self) -> None:
        self.process.kill()
        self.process.wait()

    def terminate(self) -> int:
        """SIGTERM and the exit status (the graceful path)."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=PATIENCE_S)

    def ensure_dead(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# --------------------------------------------------------------------------- the broker


def _client(settings: Settings, **extra) -> Consumer:
    return Consumer(
        settings.kafka.client_config(
            **{
                "group.id": f"test-reader-{uuid.uuid4().hex[:6]}",
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
                **extra,
            }
        )
    )


def watermarks(settings: Settings, topic: str) -> dict[int, tuple[int, int]]:
    """(low, high) watermark per partition (read_committed: high is the last stable offset)."""
    client = _client(settings)
    try:
        partitions = client.list_topics(topic, timeout=10).topics[topic].partitions
        return {
            p: client.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            for p in partitions
        }
    finally:
        client.close()


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """High watermark per partition (read_committed: the last stable offset)."""
    return {p: high for p, (_, high) in watermarks(settings, topic).items()}


def commit_group_at(settings: Settings, group: str, offsets: dict[int, int]) -> None:
    """Start a fresh group at these `orders` offsets (orders before them are history)."""
    client = _client(settings, **{"group.id": group})
    try:
        client.commit(
            offsets=[TopicPartition("orders", p, o) for p, o in offsets.items()],
            asynchronous=False,
        )
    finally:
        client.close()


def committed(settings: Settings, group: str, partitions: Iterable[int]) -> dict[int, int]:
    """The group's last committed offsets, without waiting for open transactions.

    (Under read_committed librdkafka asks for stable offsets and waits while a
    transaction holding offsets is open, which a busy engine nearly always has.)
    """
    client = _client(settings, **{"group.id": group, "isolation.level": "read_uncommitted"})
    try:
        result = client.committed([TopicPartition("orders", p) for p in partitions], timeout=30)
        return {tp.partition: tp.offset for tp in result}
    finally:
        client.close()


def caught_up(settings: Settings, group: str, targets: dict[int, int]) -> bool:
    done = committed(settings, group, targets)
    return all(done[p] >= target for p, target in targets.items())


class Record(NamedTuple):
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


def produce(settings: Settings, items: Iterable[tuple[bytes | None, bytes | None]]) -> list[Record]:
    """Produce (key, value) pairs to `orders`; returns where each landed, in input order."""
    producer = Producer(
        settings.kafka.client_config(**{"enable.idempotence": True, "linger.ms": 5})
    )
    landed: dict[int, Record] = {}

    def delivered(index: int, key, value):
        def report(error, message) -> None:
            assert error is None, error
            landed[index] = Record(
                message.partition(), message.offset(), key, value, message.timestamp()[1]
            )

        return report

    for index, (key, value) in enumerate(items):
        while True:
            try:
                producer.produce("orders", value, key, on_delivery=delivered(index, key, value))
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(60) == 0
    return [landed[i] for i in range(len(landed))]


def produce_orders(settings: Settings, orders: Iterable) -> list[Record]:
    return produce(settings, ((o.symbol.encode(), encode(o)) for o in orders))


def read_topic(settings: Settings, topic: str, start: dict[int, int] | None = None) -> list[Record]:
    """Every committed record of `topic` from `start` (default: the beginning) to its end."""
    client = _client(settings)
    records: list[Record] = []
    try:
        partitions = client.list_topics(topic, timeout=10).topics[topic].partitions
        for partition in sorted(partitions):
            offset = (start or {}).get(partition, 0)
            client.assign([TopicPartition(topic, partition, offset)])
            at_end = False
            while not at_end:
                first = client.poll(10)
                assert first is not None, f"no end-of-partition from {topic} [{partition}]"
                for message in [first, *client.consume(5000, 0)]:
                    if message.error() is not None:
                        at_end = message.error().code() == KafkaError._PARTITION_EOF
                        continue
                    records.append(
                        Record(
                            partition, message.offset(), message.key(), message.value(),
                            message.timestamp()[1],
                        )
                    )  # fmt: skip
            client.unassign()
    finally:
        client.close()
    return records


def wait_until_settled(settings: Settings, topics: Iterable[str]) -> None:
    """Wait until no transaction is open on `topics` (last stable offset == high watermark).

    A replica killed mid-transaction leaves its transaction open until the broker times
    it out (transaction.timeout.ms); read_committed readers stop at it until then.
    """

    def settled() -> bool:
        uncommitted = _client(settings, **{"isolation.level": "read_uncommitted"})
        try:
            for topic in topics:
                stable = end_offsets(settings, topic)
                for partition, lso in stable.items():
                    tp = TopicPartition(topic, partition)
                    if uncommitted.get_watermark_offsets(tp, timeout=10)[1] != lso:
                        return False
            return True
        finally:
            uncommitted.close()

    wait_for(settled, f"open transactions on {', '.join(topics)} to end")


def outputs_by_symbol(
    settings: Settings, start: dict[str, dict[int, int]], symbols: set[str]
) -> dict[tuple[str, str], list[bytes]]:
    """(topic, symbol) -> values in publication order, for the given symbols only."""
    wait_until_settled(settings, OUTPUT_TOPICS)
    result: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    for topic in OUTPUT_TOPICS:
        for record in read_topic(settings, topic, start[topic]):
            symbol = record.key.decode() if record.key else ""
            if symbol in symbols:
                result[topic, symbol].append(record.value)
    return result


def offline_replay(
    orders: Iterable[Record], symbols: set[str], config: EngineConfig | None = None
) -> tuple[dict[tuple[str, str], list[bytes]], dict[int, Matcher]]:
    """The reference: a Matcher per partition over its orders in offset order."""
    matchers: dict[int, Matcher] = defaultdict(lambda: Matcher(config or EngineConfig()))
    result: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    for record in sorted(orders, key=lambda r: (r.partition, r.offset)):
        try:
            order = decode_order(record.value or b"")
        except ContractError:
            continue
        for message in matchers[record.partition].process(order):
            key = key_of(message)
            if key in symbols:
                result[topic_of(message), key].append(encode(message))
    return result, dict(matchers)


def snapshots_of(settings: Settings, group: str) -> dict[str, SnapshotRecord]:
    """The latest snapshot record per symbol of `group`, over all partitions."""
    wait_until_settled(settings, ["engine.snapshots"])
    latest: dict[str, SnapshotRecord] = {}
    by_partition: dict[int, list[Record]] = defaultdict(list)
    for record in read_topic(settings, "engine.snapshots"):
        by_partition[record.partition].append(record)
    for records in by_partition.values():
        latest.update(latest_snapshots(((r.key, r.value) for r in records), group))
    return latest


def start_offsets(settings: Settings) -> dict[str, dict[int, int]]:
    return {topic: end_offsets(settings, topic) for topic in (*OUTPUT_TOPICS, "orders.dlq")}
