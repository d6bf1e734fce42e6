"""`make soak DURATION=30m`: the whole platform for a while, with a fault every few minutes.

    uv run --frozen python -m tests.faults.soak --duration 30m [--traders 1000]
        [--fault-every 3m] [--materialize-every 10m] [--report soak-report.json]

On a stack of its own (free ports, a temporary state dir) it runs the engine
(`orderbook engine run`), a live swarm (`orderbook traders run --traders 1000`) and, now
and then, a short materialisation of the current hour (`orderbook platform materialize`),
all as real child processes. Every few minutes one fault, in turn: the engine SIGKILLed,
the broker SIGKILLed and restarted, the engine frozen (SIGSTOP) past its session timeout.
A process that exits is started again, as a supervisor would, and counted.

Every 10 s it samples the RSS of every process, the engine group's consumer lag and the
order-to-trade latency (a trade's arrival on `trades` minus its taker order's time). At
the end it drains, stops everything and checks the invariants of the fault suite (the
engine's outputs equal the offline replay of every committed order, the final books
too), then fits a least-squares line to each series and fails if memory or lag grows
faster than the thresholds. Lives with the fault suite because it shares its verdict
(tests/faults/harness.py); it is not a pytest test: it runs for minutes to hours.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException

from orderbook_platform.config import Settings
from orderbook_platform.stack.faults import kill_broker, restart_broker
from orderbook_platform.testing import private_stack, settings_env
from tests.engine.kafka_harness import EngineProcess, committed, end_offsets, spread_symbols
from tests.faults.harness import Scenario, Verdict

CLI = [sys.executable, "-m", "orderbook_platform.cli.main"]
SAMPLE_EVERY_S = 10.0
# A fault's recovery window: lag samples in it are left out of the lag's trend.
RECOVERY_WINDOW_S = 60.0


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m|h)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"a duration like 90s, 30m or 2h, got {text!r}")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2)]


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def slope_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 3:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return 60.0 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


@dataclass
class Sample:
    t: float
    rss_mb: dict[str, float | None]
    pids: dict[str, int | None]
    lag: int | None
    latency_p99_ms: float | None
    trades_seen: int


@dataclass
class SoakReport:
    duration_s: float
    traders: int
    symbols: list[str]
    faults: list[dict] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=dict)
    materializations: list[dict] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)
    invariants: dict = field(default_factory=dict)
    trends: dict = field(default_factory=dict)
    latency_p99_ms: float | None = None
    passed: bool = False
    problems: list[str] = field(default_factory=list)


class TradeLatency:
    """Reads `trades` (read_committed) and keeps arrival minus taker time, in ms."""

    def __init__(self, settings: Settings) -> None:
        self.consumer = Consumer(
            settings.kafka.client_config(
                **{
                    "group.id": f"soak-latency-{uuid.uuid4().hex[:6]}",
                    "isolation.level": "read_committed",
                    "auto.offset.reset": "latest",
                    "enable.auto.commit": False,
                }
            )
        )
        self.window: list[float] = []
        self.all: list[float] = []
        self.seen = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="trade-latency", daemon=True)

    def start(self) -> None:
        self.consumer.subscribe(["trades"])
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                messages = self.consumer.consume(1000, 0.5)
            except KafkaException:
                continue  # the broker is down for a fault: try again
            now_ms = time.time_ns() / 1e6
            batch = []
            for message in messages:
                if (
                    message.error() is not None
                    and message.error().code() != KafkaError._PARTITION_EOF
                ):
                    continue
                if message.error() is None and message.value():
                    taker_ns = orjson.loads(message.value()).get("time")
                    if taker_ns:
                        batch.append(now_ms - taker_ns / 1e6)
            with self.lock:
                self.window += batch
                self.all += batch
                self.seen += len(batch)

    def take_window(self) -> list[float]:
        with self.lock:
            window, self.window = self.window, []
        return window

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.consumer.close()


def p99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1)


class Soak:
    def __init__(self, args: argparse.Namespace, stack, state: Path) -> None:
        self.args = args
        self.stack = stack
        self.settings: Settings = stack.settings
        self.logs = state / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.scenario = Scenario(stack, self.logs, "soak")
        self.symbols = spread_symbols("SK", 6)
        self.scenario.symbols = self.symbols
        self.report = SoakReport(args.duration, args.traders, self.symbols)
        self.report.restarts = {"engine": 0, "traders": 0}
        self.engine: EngineProcess | None = None
        self.traders: subprocess.Popen | None = None
        self.began = time.monotonic()
        self.last_fault_at: float | None = None
        self.materializing: tuple[subprocess.Popen, str, float] | None = None
        self.tick: Callable[[], None] = lambda: None

    # ------------------------------------------------------------------ processes

    def start_engine(self) -> None:
        self.engine = self.scenario.engine("soak-0", args=())
        self.engine.start()

    def start_traders(self) -> None:
        log = open(self.logs / f"traders-{uuid.uuid4().hex[:6]}.log", "wb")  # noqa: SIM115
        self.traders = subprocess.Popen(
            [
                *CLI, "traders", "run", "--traders", str(self.args.traders),
                "--symbols", ",".join(self.symbols), "--seed", "14",
            ],
            stdout=log, stderr=subprocess.STDOUT, env=settings_env(self.settings),
        )  # fmt: skip

    def supervise(self) -> None:
        """Start again whatever exited (what Kubernetes would do), and count it."""
        if self.engine is not None and self.engine.process.poll() is not None:
            self.report.restarts["engine"] += 1
            self.start_engine()
        if self.traders is not None and self.traders.poll() is not None:
            self.report.restarts["traders"] += 1
            self.start_traders()

    # ------------------------------------------------------------------ faults

    def inject(self, number: int) -> None:
        kind = ("engine SIGKILL", "broker SIGKILL + restart", "engine SIGSTOP 15 s")[number % 3]
        began = time.monotonic()
        before = self.committed_total()
        if kind == "engine SIGKILL":
            self.engine.kill9()
            self.start_engine()
        elif kind.startswith("broker"):
            kill_broker(self.stack)
            restart_broker(self.stack)
        else:
            self.engine.process.send_signal(signal.SIGSTOP)
            time.sleep(15)  # past the engine's 10 s session timeout
            self.engine.process.send_signal(signal.SIGCONT)
        recovered = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            self.supervise()
            self.tick()  # keep sampling while the platform recovers
            total = self.committed_total()
            if total is not None and before is not None and total > before:
                recovered = round(time.monotonic() - began, 1)
                break
            time.sleep(0.5)
        self.last_fault_at = time.monotonic()
        self.report.faults.append(
            {"at_s": round(began - self.began, 1), "kind": kind, "recovery_s": recovered}
        )
        print(f"[soak] fault {kind}: recovered in {recovered} s", flush=True)

    # ------------------------------------------------------------------ samples

    def committed_total(self) -> int | None:
        try:
            ends = end_offsets(self.settings, "orders")
            done = committed(self.settings, self.scenario.group, ends)
        except KafkaException:
            return None
        return sum(max(0, o) for o in done.values())

    def lag(self) -> int | None:
        try:
            ends = end_offsets(self.settings, "orders")
            done = committed(self.settings, self.scenario.group, ends)
        except KafkaException:
            return None
        # The end is read first: orders consumed between the two reads count as no lag.
        start = self.scenario.orders_start
        return sum(max(0, ends[p] - max(done[p], start.get(p, 0))) for p in ends)

    def sample(self, latency: TradeLatency) -> Sample:
        pids = {
            "engine": self.engine.process.pid if self.engine else None,
            "traders": self.traders.pid if self.traders else None,
            "kafka": self.stack.kafka.process.pid(),
            "s3": self.stack.s3.process.pid(),
        }
        return Sample(
            t=round(time.monotonic() - self.began, 1),
            rss_mb={name: rss_mb(pid) for name, pid in pids.items()},
            pids=pids,
            lag=self.lag(),
            latency_p99_ms=p99(latency.take_window()),
            trades_seen=latency.seen,
        )

    # ------------------------------------------------------------------ materialise

    def materialize(self, lake: Path) -> None:
        """Start a materialisation of the current hour in the background (one at a time)."""
        if self.materializing is not None:
            return
        hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
        log = open(self.logs / f"materialize-{uuid.uuid4().hex[:6]}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [*CLI, "platform", "materialize", "--hour", hour, "--lake", str(lake)],
            stdout=log, stderr=subprocess.STDOUT, env=settings_env(self.settings),
        )  # fmt: skip
        self.materializing = (process, hour, time.monotonic())
        print(f"[soak] materialising {hour}", flush=True)

    def materialized(self, wait: bool = False) -> None:
        """Record the background materialisation once it has ended."""
        if self.materializing is None:
            return
        process, hour, began = self.materializing
        if wait:
            process.wait(timeout=900)
        if process.poll() is None:
            return
        self.materializing = None
        entry = {
            "at_s": round(began - self.began, 1), "hour": hour, "exit": process.returncode,
            "seconds": round(time.monotonic() - began, 1),
        }  # fmt: skip
        self.report.materializations.append(entry)
        print(f"[soak] materialised {hour}: exit {process.returncode}", flush=True)

    # ------------------------------------------------------------------ the run

    def run(self) -> SoakReport:
        args = self.args
        self.start_engine()
        self.start_traders()
        latency = TradeLatency(self.settings)
        latency.start()
        samples: list[Sample] = []
        lake = self.logs.parent / "lake"
        end = self.began + args.duration
        next_sample = [time.monotonic()]
        next_fault = next_materialize = time.monotonic()
        next_fault += args.fault_every
        next_materialize += args.materialize_every
        faults = 0

        def tick() -> None:
            """A sample when one is due, and the background materialisation's end."""
            now = time.monotonic()
            self.materialized()
            if now < next_sample[0]:
                return
            samples.append(self.sample(latency))
            s = samples[-1]
            print(
                f"[soak] t={s.t:.0f}s lag={s.lag} p99={s.latency_p99_ms} ms "
                f"rss={ {k: round(v) for k, v in s.rss_mb.items() if v} }",
                flush=True,
            )
            next_sample[0] = now + SAMPLE_EVERY_S

        self.tick = tick
        try:
            while time.monotonic() < end:
                now = time.monotonic()
                self.supervise()
                tick()
                if now >= next_fault:
                    self.inject(faults)
                    faults += 1
                    next_fault = time.monotonic() + args.fault_every
                if now >= next_materialize:
                    self.materialize(lake)
                    next_materialize = time.monotonic() + args.materialize_every
                time.sleep(0.5)
            self.materialized(wait=True)
            self.traders.send_signal(signal.SIGTERM)
            self.traders.wait(timeout=120)
            self.scenario.target = end_offsets(self.settings, "orders")
            try:
                self.scenario.wait_done()
                self.engine.terminate()
            except AssertionError as exc:  # still report everything measured so far
                self.report.problems.append(f"the engine did not drain: {exc}"[:2000])
        finally:
            latency.stop()
            running = [self.traders, self.materializing[0] if self.materializing else None]
            for process in running:
                if process is not None and process.poll() is None:
                    process.kill()
            self.scenario.cleanup()
        self.report.samples = [asdict(s) for s in samples]
        self.report.latency_p99_ms = p99(latency.all)
        self.check(samples)
        return self.report

    def check(self, samples: list[Sample]) -> None:
        report = self.report
        if report.problems:  # not drained: a verdict would only count the backlog as lost
            report.invariants = {"checked": False}
        else:
            self._verdict(self.scenario.verdict())
        self._trends(samples)

    def _verdict(self, verdict: Verdict) -> None:
        report = self.report
        report.invariants = {
            "orders": verdict.orders, "trades": verdict.trades, "lost": verdict.lost,
            "duplicated": verdict.duplicated + verdict.unexpected, "reordered": verdict.reordered,
            "book_hash_equal": verdict.book_hash_equal, "mismatches": verdict.mismatches[:20],
        }  # fmt: skip
        if verdict.lost or verdict.duplicated or verdict.unexpected or verdict.reordered:
            report.problems.append(f"invariants broken: {report.invariants}")
        if verdict.mismatches or not verdict.book_hash_equal:
            report.problems.append("outputs or books differ from the offline replay")

    def _trends(self, samples: list[Sample]) -> None:
        report = self.report
        # Memory: per process incarnation (a restart starts a new one), after a warm-up.
        warm = [s for s in samples if s.t >= self.args.warmup]
        for name in ("engine", "traders", "kafka", "s3"):
            by_pid: dict[int, list[tuple[float, float]]] = {}
            for s in warm:
                pid, value = s.pids.get(name), s.rss_mb.get(name)
                if pid is not None and value is not None:
                    by_pid.setdefault(pid, []).append((s.t, value))
            longest = max(by_pid.values(), key=len, default=[])
            slope = round(slope_per_min(longest), 3)
            report.trends[f"rss_{name}_mb_per_min"] = slope
            report.trends[f"rss_{name}_samples"] = len(longest)
            if len(longest) >= 5 and slope > self.args.max_rss_slope:
                report.problems.append(
                    f"{name} RSS grows {slope} MB/min (> {self.args.max_rss_slope})"
                )
        # Lag: outside the recovery windows of the faults.
        fault_times = [f["at_s"] for f in report.faults]
        steady = [
            (s.t, float(s.lag))
            for s in warm
            if s.lag is not None
            and not any(0 <= s.t - at <= RECOVERY_WINDOW_S + 20 for at in fault_times)
        ]
        lag_slope = round(slope_per_min(steady), 2)
        report.trends["lag_orders_per_min"] = lag_slope
        report.trends["lag_samples"] = len(steady)
        if len(steady) >= 5 and lag_slope > self.args.max_lag_slope:
            report.problems.append(
                f"lag grows {lag_slope} orders/min (> {self.args.max_lag_slope})"
            )
        for materialisation in report.materializations:
            if materialisation["exit"] != 0:
                report.problems.append(f"materialisation failed: {materialisation}")
        report.passed = not report.problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soak", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=parse_duration, default=parse_duration("30m"))
    parser.add_argument("--traders", type=int, default=1000)
    parser.add_argument("--fault-every", type=parse_duration, default=None)
    parser.add_argument("--materialize-every", type=parse_duration, default=None)
    parser.add_argument("--warmup", type=parse_duration, default=None)
    parser.add_argument("--max-rss-slope", type=float, default=2.0, help="MB per minute")
    parser.add_argument("--max-lag-slope", type=float, default=100.0, help="orders per minute")
    parser.add_argument(
        "--report", type=Path, default=Path(os.environ.get("SOAK_REPORT", "soak-report.json"))
    )
    args = parser.parse_args(argv)
    # Short runs still see every kind of fault and a materialisation or two.
    args.fault_every = args.fault_every or min(180.0, args.duration / 4)
    args.materialize_every = args.materialize_every or min(600.0, args.duration / 2)
    args.warmup = args.warmup if args.warmup is not None else min(120.0, args.duration / 5)
    with private_stack("orderbook-soak-") as (stack, state):
        report = Soak(args, stack, Path(tempfile.mkdtemp(dir=state))).run()
    args.report.write_text(json.dumps(asdict(report), indent=2) + "\n")
    inv = report.invariants
    print(
        f"soak {args.duration:.0f} s: {inv.get('orders')} orders, {inv.get('trades')} trades, "
        f"lost {inv.get('lost')}, duplicated {inv.get('duplicated')}, reordered "
        f"{inv.get('reordered')}, books equal {inv.get('book_hash_equal')}; "
        f"{len(report.faults)} faults, restarts {report.restarts}; "
        f"order-to-trade p99 {report.latency_p99_ms} ms; trends {report.trends}"
    )
    for problem in report.problems:
        print(f"FAILED: {problem}")
    print(f"report: {args.report}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
