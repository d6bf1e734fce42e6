"""The engine service's observability: Prometheus metrics, health over HTTP, JSON logs.

- `/metrics`: Prometheus text format from the service's own registry (not the process
  global one, so two services in one test process never collide).
- `/healthz`: JSON `{state, instance_id, group, assigned_partitions, last_commit_age_s,
  input_waiting_s, stalled, ...}`; 200 while the process is healthy (starting,
  recovering, running, and not stalled), 503 once it is stopping or failed, or stalled:
  input has waited longer than the stall timeout for a commit (an idle engine, with
  nothing to commit, never stalls). `/readyz` answers 200 only while running.
- Logs: one JSON object per line on stderr, `{"ts", "level", "logger", "event", ...fields}`.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from orderbook_platform.metrics_http import MetricsServer

STARTING = "starting"
RECOVERING = "recovering"
RUNNING = "running"
STOPPING = "stopping"
FAILED = "failed"
_HEALTHY = (STARTING, RECOVERING, RUNNING)

_BATCH_SIZES = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)
_LATENCIES = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_GC_PAUSES = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


class Metrics:
    """Every metric the service exports, on a private registry."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        ns = "orderbook_engine"
        self.orders = Counter(
            "orders", "Orders consumed and applied (valid or rejected).", namespace=ns,
            registry=registry,
        )  # fmt: skip
        self.events = Counter(
            "events", "Messages produced, by output topic.", ["topic"], namespace=ns,
            registry=registry,
        )  # fmt: skip
        self.dlq = Counter(
            "dlq", "Undecodable inputs sent to the dead-letter topic.", namespace=ns,
            registry=registry,
        )  # fmt: skip
        self.rejects = Counter(
            "rejects", "Orders rejected by validation, by reason.", ["reason"], namespace=ns,
            registry=registry,
        )  # fmt: skip
        self.transactions = Counter(
            "transactions", "Transactions by outcome (committed, aborted).", ["outcome"],
            namespace=ns, registry=registry,
        )  # fmt: skip
        self.recoveries = Counter(
            "recoveries", "Partition rebuilds from snapshot + replay.", namespace=ns,
            registry=registry,
        )  # fmt: skip
        self.replayed = Counter(
            "replayed_orders", "Orders re-applied during recoveries (outputs discarded).",
            namespace=ns, registry=registry,
        )  # fmt: skip
        self.snapshots = Counter(
            "snapshot_records", "Per-symbol snapshot records written.", namespace=ns,
            registry=registry,
        )  # fmt: skip
        self.snapshot_bytes = Gauge(
            "snapshot_round_bytes", "Total value bytes of the latest snapshot round.",
            namespace=ns, registry=registry,
        )  # fmt: skip
        self.snapshot_largest = Gauge(
            "snapshot_largest_record_bytes", "Largest record of the latest snapshot round.",
            namespace=ns, registry=registry,
        )  # fmt: skip
        self.batch_size = Histogram(
            "batch_size", "Input messages per transaction.", namespace=ns,
            buckets=_BATCH_SIZES, registry=registry,
        )  # fmt: skip
        self.batch_seconds = Histogram(
            "batch_seconds", "Wall time of one transaction, process to commit.",
            namespace=ns, buckets=_LATENCIES, registry=registry,
        )  # fmt: skip
        self.commit_seconds = Histogram(
            "commit_seconds", "send_offsets_to_transaction + commit_transaction wall time.",
            namespace=ns, buckets=_LATENCIES, registry=registry,
        )  # fmt: skip
        self.assigned = Gauge(
            "assigned_partitions", "Partitions of `orders` this replica owns.", namespace=ns,
            registry=registry,
        )  # fmt: skip
        self.last_commit = Gauge(
            "last_commit_timestamp_seconds", "Unix time of the last committed transaction.",
            namespace=ns, registry=registry,
        )  # fmt: skip
        self.gc_pause_seconds = Histogram(
            "gc_pause_seconds", "Pauses of the cyclic garbage collector, by generation.",
            ["generation"], namespace=ns, buckets=_GC_PAUSES, registry=registry,
        )  # fmt: skip
        self.gc_frozen_objects = Gauge(
            "gc_frozen_objects", "Objects moved out of the collector's reach (engine/heap.py).",
            namespace=ns, registry=registry,
        )  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)


class Health:
    """The service's state as /healthz reports it; written by the service thread only
    (and by the watchdog, which marks it failed just before it ends the process)."""

    def __init__(
        self,
        instance_id: str,
        group: str,
        stall_timeout_s: float = math.inf,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.instance_id = instance_id
        self.group = group
        self.stall_timeout_s = stall_timeout_s
        self._clock = clock
        self.state = STARTING
        self.assigned: list[int] = []
        self.last_commit: float | None = None  # clock() of the last commit
        # clock() since when input has been waiting for a commit (polled and not committed
        # yet, or known to the consumer and not delivered); None while nothing waits.
        self.waiting_since: float | None = None
        self.orders = 0

    def input_arrived(self) -> None:
        """Input was polled; it waits until a commit covers it (or forever, if stuck)."""
        if self.waiting_since is None:
            self.waiting_since = self._clock()

    def nothing_waiting(self) -> None:
        """No input waits for a commit (none polled, none left to fetch)."""
        self.waiting_since = None

    def committed(self) -> None:
        """Everything polled so far is committed."""
        self.last_commit = self._clock()
        self.waiting_since = None

    def report(self) -> dict[str, Any]:
        now = self._clock()
        last, waiting = self.last_commit, self.waiting_since
        waited = None if waiting is None else now - waiting
        return {
            "state": self.state,
            "instance_id": self.instance_id,
            "group": self.group,
            "assigned_partitions": list(self.assigned),
            "last_commit_age_s": None if last is None else round(now - last, 3),
            "input_waiting_s": None if waited is None else round(waited, 3),
            "stalled": waited is not None and waited > self.stall_timeout_s,
            "stall_timeout_s": self.stall_timeout_s,
            "orders": self.orders,
        }

    @property
    def healthy(self) -> bool:
        return self._healthy(self.report())

    def _healthy(self, report: dict[str, Any]) -> bool:
        return report["state"] in _HEALTHY and not report["stalled"]


class TelemetryServer:
    """/metrics, /healthz and /readyz on a daemon thread (the platform's shared server)."""

    def __init__(self, metrics: Metrics, health: Health, host: str, port: int) -> None:
        def healthz() -> tuple[bool, dict[str, Any]]:
            report = health.report()
            return health._healthy(report), report

        def readyz() -> tuple[bool, dict[str, Any]]:
            report = health.report()
            return report["state"] == RUNNING, report

        self._server = MetricsServer(
            metrics.render,
            {"/healthz": healthz, "/readyz": readyz},
            host,
            port,
            thread_name="telemetry",
        )

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> TelemetryServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


# --------------------------------------------------------------------------- logging

_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record; `extra={...}` keys become top-level fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """Route every logger (librdkafka's included) to JSON lines on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
