"""What every fault scenario shares: seeding orders, driving engines, checking the result.

Not a test module. The engine processes and the Kafka reading come from
tests/engine/kafka_harness.py; this adds the suite's verdict: the outputs of the real
engine(s) against an offline replay of the *committed* `orders` (read back from the
broker with read_committed, partition by partition in offset order), counted as lost,
duplicated and reordered trades per symbol, plus the final book of every symbol against
the replay's.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from engine.feeder import generate_orders
from orderbook_platform.config import Settings
from orderbook_platform.stack import Stack
from tests.engine.kafka_harness import (
    OUTPUT_TOPICS,
    EngineProcess,
    Record,
    commit_group_at,
    committed,
    end_offsets,
    offline_replay,
    outputs_by_symbol,
    produce,
    produce_orders,
    read_topic,
    snapshots_of,
    spread_symbols,
    start_offsets,
    unique,
    wait_for,
)
from tests.faults.report import ScenarioResult

# Engine options for the scenarios: transactions small enough that a kill lands between
# and inside them, and snapshot rounds often enough that restarts go through recovery.
ENGINE_ARGS = ("--batch-size", "2000", "--snapshot-every", "10000")
SYMBOLS = 6  # two per partition of `orders`


@dataclass
class Verdict:
    orders: int
    trades: int
    lost: int
    duplicated: int
    unexpected: int
    reordered: int
    book_hash_equal: bool
    hashes: dict[str, str]  # topic -> sha256 of the engine's outputs, and "book_state"
    replay_hashes: dict[str, str]
    mismatches: list[str] = field(default_factory=list)

    def assert_exact(self) -> None:
        """0 lost, 0 duplicated, 0 reordered, byte-equal outputs and books."""
        problems = list(self.mismatches)
        for name in ("lost", "duplicated", "unexpected", "reordered"):
            if getattr(self, name):
                problems.append(f"{getattr(self, name)} {name} trades")
        if not self.book_hash_equal:
            problems.append("final books differ from the replay's")
        assert not problems, "; ".join(problems[:20])

    def record(self, result: ScenarioResult) -> None:
        result.orders = self.orders
        result.trades = self.trades
        result.lost = self.lost
        result.duplicated = self.duplicated + self.unexpected
        result.reordered = self.reordered
        result.book_hash_equal = self.book_hash_equal


def sha256_lines(values: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for value in values:
        digest.update(value)
        digest.update(b"\n")
    return digest.hexdigest()


def outputs_hashes(outputs: dict[tuple[str, str], list[bytes]], symbols: list[str]) -> dict:
    return {
        topic: sha256_lines(v for s in sorted(symbols) for v in outputs.get((topic, s), []))
        for topic in OUTPUT_TOPICS
    }


def count_trade_faults(got: list[bytes], wanted: list[bytes]) -> tuple[int, int, int, int]:
    """(lost, duplicated, unexpected, reordered) of one symbol's trades, by trade_id.

    Reordered counts the trades published after one that the replay puts later (the
    replay's order is the sequence order)."""
    want_ids = [orjson.loads(v)["trade_id"] for v in wanted]
    got_ids = [orjson.loads(v)["trade_id"] for v in got]
    position = {trade_id: i for i, trade_id in enumerate(want_ids)}
    counts = Counter(got_ids)
    lost = sum(1 for t in want_ids if t not in counts)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    unexpected = sum(n for t, n in counts.items() if t not in position)
    reordered, last, seen = 0, -1, set()
    for trade_id in got_ids:
        if trade_id in seen or trade_id not in position:
            continue
        seen.add(trade_id)
        if position[trade_id] < last:
            reordered += 1
        last = max(last, position[trade_id])
    return lost, duplicated, unexpected, reordered


class Scenario:
    """One scenario's symbols, consumer group and offsets on the suite's stack."""

    def __init__(self, stack: Stack, log_dir: Path, name: str, *, symbols: int = SYMBOLS):
        self.stack = stack
        self.settings: Settings = stack.settings
        self.log_dir = log_dir
        self.name = name
        self.symbols = spread_symbols(f"{name.upper()}", symbols)
        self.group = self.fresh_group()
        self.orders_start = end_offsets(self.settings, "orders")
        # Where every topic stood before the scenario: outputs, DLQ and `orders` itself.
        self.start = {**start_offsets(self.settings), "orders": self.orders_start}
        self.target: dict[int, int] = dict(self.orders_start)
        self.engines: list[EngineProcess] = []
        self.started = time.monotonic()

    def fresh_group(self, at: dict[int, int] | None = None) -> str:
        """A new consumer group positioned at `at` (default: the current end of `orders`)."""
        group = unique(f"faults-{self.name}-")
        commit_group_at(self.settings, group, at or end_offsets(self.settings, "orders"))
        return group

    # ------------------------------------------------------------------ input

    def generate(
        self, count: int, seed: int, *, start_ns: int | None = None, step_ns: int = 20_000
    ) -> list:
        return list(
            generate_orders(
                count, seed=seed, symbols=self.symbols,
                start_ns=time.time_ns() if start_ns is None else start_ns, step_ns=step_ns,
            )
        )  # fmt: skip

    def seed(self, orders: list) -> list[Record]:
        produced = produce_orders(self.settings, orders)
        self.target = end_offsets(self.settings, "orders")
        return produced

    def seed_raw(self, items: Iterable[tuple[bytes | None, bytes | None]]) -> list[Record]:
        produced = produce(self.settings, items)
        self.target = end_offsets(self.settings, "orders")
        return produced

    # ------------------------------------------------------------------ engines

    def engine(self, instance_id: str, *, group: str | None = None, args=ENGINE_ARGS):
        engine = EngineProcess(
            self.settings, self.log_dir, group=group or self.group, instance_id=instance_id,
            args=args,
        )  # fmt: skip
        self.engines.append(engine)
        return engine

    def progress(self, group: str | None = None) -> float:
        """Share of this scenario's `orders` the group has committed, 0..1."""
        done = committed(self.settings, group or self.group, self.target)
        total = sum(self.target[p] - self.orders_start.get(p, 0) for p in self.target)
        moved = sum(
            max(0, min(done[p], self.target[p]) - self.orders_start.get(p, 0)) for p in self.target
        )
        return moved / total if total else 1.0

    def wait_progress(self, at_least: float, what: str, group: str | None = None) -> float:
        def reached() -> float | None:
            value = self.progress(group)
            if value >= at_least:
                return value
            alive = [e for e in self.engines if e.process and e.process.poll() is None]
            if self.engines and not alive:  # nothing can make progress: say why at once
                last = self.engines[-1]
                raise AssertionError(
                    f"every engine exited (last: {last.process.returncode}) before {what}:\n"
                    f"{last.log_text()[-3000:]}"
                )
            return None

        return wait_for(reached, what)  # type: ignore[return-value]

    def wait_done(self, group: str | None = None) -> None:
        self.wait_progress(1.0, f"group {group or self.group} to consume every order", group)

    def cleanup(self) -> None:
        for engine in self.engines:
            engine.ensure_dead()

    # ------------------------------------------------------------------ verdict

    def committed_orders(self) -> list[Record]:
        """This scenario's committed `orders`, read back from the broker, offset order."""
        records = read_topic(self.settings, "orders", self.orders_start)
        return [r for r in records if r.offset < self.target.get(r.partition, 0)]

    def verdict(
        self,
        *,
        group: str | None = None,
        start: dict[str, dict[int, int]] | None = None,
        orders: list[Record] | None = None,
    ) -> Verdict:
        """The engine's outputs since `start` against the offline replay of `orders`."""
        orders = self.committed_orders() if orders is None else orders
        wanted, matchers = offline_replay(orders, set(self.symbols))
        got = outputs_by_symbol(self.settings, start or self.start, set(self.symbols))
        lost = duplicated = unexpected = reordered = trades = 0
        mismatches: list[str] = []
        for symbol in self.symbols:
            t = count_trade_faults(
                got.get(("trades", symbol), []), wanted.get(("trades", symbol), [])
            )
            lost, duplicated = lost + t[0], duplicated + t[1]
            unexpected, reordered = unexpected + t[2], reordered + t[3]
            trades += len(wanted.get(("trades", symbol), []))
            for topic in OUTPUT_TOPICS:
                mine, theirs = got.get((topic, symbol), []), wanted.get((topic, symbol), [])
                if mine != theirs:
                    mismatches.append(
                        f"{topic}/{symbol}: engine {len(mine)} messages, replay {len(theirs)}"
                    )
        partition_of = {r.key.decode(): r.partition for r in orders if r.key}
        snapshots = snapshots_of(self.settings, group or self.group)
        engine_books, replay_books = [], []
        for symbol in sorted(self.symbols):
            record = snapshots.get(symbol)
            engine_books.append(bytes(record.state) if record is not None else b"")
            replay_books.append(matchers[partition_of[symbol]].snapshot_symbol(symbol))
        hashes = outputs_hashes(got, self.symbols)
        replay_hashes = outputs_hashes(wanted, self.symbols)
        hashes["book_state"] = sha256_lines(engine_books)
        replay_hashes["book_state"] = sha256_lines(replay_books)
        return Verdict(
            orders=len(orders), trades=trades, lost=lost, duplicated=duplicated,
            unexpected=unexpected, reordered=reordered,
            book_hash_equal=hashes["book_state"] == replay_hashes["book_state"],
            hashes=hashes, replay_hashes=replay_hashes, mismatches=mismatches,
        )  # fmt: skip


def timed(condition: Callable[[], object], what: str) -> float:
    """Seconds until `condition` holds (a measurement for the report, never asserted
    tighter than the harness's patience unless the scenario's promise says so)."""
    began = time.monotonic()
    wait_for(condition, what)
    return time.monotonic() - began
