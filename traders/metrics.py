"""Prometheus metrics and health of the live pool, on the engine's conventions.

A registry of its own (`orderbook_traders_*`), served with `/healthz` by the
platform's shared server (`orderbook_platform.metrics_http`, as the engine's) on a daemon
thread, on the host it is given (the pool's `metrics_host`, loopback unless set):
`/metrics` (Prometheus text), `/healthz` (JSON; 200 while the loop runs and has turned
within the last 10 s, 503 otherwise). Counters are synced from `PoolStats`
once per loop pass (deltas), so the hot path only bumps plain ints.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from orderbook_platform.metrics_http import MetricsServer

if TYPE_CHECKING:
    from traders.pool import TraderPool

NAMESPACE = "orderbook_traders"


class PoolMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry = registry or CollectorRegistry()
        self.orders = Counter(
            "orders", "Orders produced, by type.", ["type"], namespace=NAMESPACE, registry=registry
        )
        self.decisions = Counter(
            "decisions", "Trader decisions taken.", namespace=NAMESPACE, registry=registry
        )
        self.fills = Counter(
            "fills",
            "Fills of our traders seen on `trades`.",
            namespace=NAMESPACE,
            registry=registry,
        )
        self.market_messages = Counter(
            "market_messages", "Market-data messages consumed, by topic.", ["topic"],
            namespace=NAMESPACE, registry=registry,
        )  # fmt: skip
        self.limited = Counter(
            "limited", "Decisions postponed by a limit, by limit.", ["limit"],
            namespace=NAMESPACE, registry=registry,
        )  # fmt: skip
        self.traders = Gauge(
            "traders", "Traders in this pool.", namespace=NAMESPACE, registry=registry
        )
        # Set by the pool's periodic sweep: counting walks every trader.
        self.open_orders = Gauge(
            "open_orders",
            "Orders our traders believe open.",
            namespace=NAMESPACE,
            registry=registry,
        )
        self.producer_queue = Gauge(
            "producer_queue",
            "Messages waiting in the producer.",
            namespace=NAMESPACE,
            registry=registry,
        )
        self.pending_wakeups = Gauge(
            "pending_wakeups",
            "Scheduled wake-ups (at most 3 per trader).",
            namespace=NAMESPACE,
            registry=registry,
        )
        self._seen: dict[str, int] = {}
        self._pool: TraderPool | None = None
        self._server: MetricsServer | None = None

    def serve(self, port: int, host: str) -> int:
        """Serve /metrics and /healthz on `host`; returns the port (0 picks a free one).

        No default host: the caller says whether it serves loopback or the network
        (`PoolSettings.metrics_host`, 127.0.0.1 unless set).
        """
        self._server = MetricsServer(
            lambda: generate_latest(self.registry),
            {"/healthz": self.health},
            host,
            port,
            thread_name="traders-metrics",
        ).start()
        return self._server.port

    @property
    def address(self) -> tuple[str, int] | None:
        """The host and port being served, as bound; None before `serve`."""
        return None if self._server is None else self._server.address

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def health(self) -> tuple[bool, dict[str, Any]]:
        pool = self._pool
        if pool is None:
            return False, {"state": "starting"}
        age = time.monotonic() - pool.last_turn
        report = {
            "state": pool.state,
            "run_id": pool.run_id,
            "traders": pool.count,
            "orders_sent": pool.stats.orders_sent,
            "last_loop_age_s": round(age, 3),
        }
        return pool.state == "running" and age < 10, report

    def _delta(self, name: str, value: int) -> int:
        before = self._seen.get(name, 0)
        self._seen[name] = value
        return value - before

    def update(self, pool: TraderPool) -> None:
        self._pool = pool
        stats = pool.stats
        for order_type, value in stats.orders.items():
            if delta := self._delta(f"orders/{order_type}", value):
                self.orders.labels(order_type).inc(delta)
        for topic, value in stats.market_messages.items():
            if delta := self._delta(f"market/{topic}", value):
                self.market_messages.labels(topic).inc(delta)
        for limit, value in (
            ("trader", stats.throttled_trader),
            ("pool", stats.throttled_pool),
            ("backpressure", stats.backpressure),
        ):
            if delta := self._delta(f"limit/{limit}", value):
                self.limited.labels(limit).inc(delta)
        if delta := self._delta("decisions", stats.decisions):
            self.decisions.inc(delta)
        if delta := self._delta("fills", stats.fills):
            self.fills.inc(delta)
        self.traders.set(pool.count)
        self.producer_queue.set(len(pool.producer))
        self.pending_wakeups.set(len(pool.heap))
