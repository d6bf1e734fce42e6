"""What the Kafka service needs to know beyond the matcher: identity, batching, snapshots.

Kept apart from `engine.config` (the pure core's configuration) because none of this
changes how orders match; it changes only how the service talks to Kafka.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orderbook_platform.errors import PlatformError
from orderbook_platform.metrics_http import is_bind_host

ORDERS = "orders"
DLQ = "orders.dlq"
SNAPSHOTS = "engine.snapshots"
DEFAULT_GROUP = "orderbook-engine"

# How the service's transactional producers are tuned (on top of the Kafka settings).
# The benches' stand-ins for its transaction cycle use the same (bench/).
PRODUCER_TUNING: dict[str, object] = {
    # Under a backlog a batch queues ~30k events while it is matched: a longer linger
    # sends them in fewer, larger produce requests (less broker CPU per order on a shared
    # machine). commit_transaction flushes and librdkafka's flush ignores linger.ms, so a
    # small batch's records go out with the commit; at low rates that costs nothing
    # measurable: with the producers taking turns, linger 0 gave the same 7.9 ms cycle
    # (bench/kafka_txn_bench).
    "linger.ms": 20,
    # A batch's events are queued until commit flushes them; never block there.
    "queue.buffering.max.messages": 2_000_000,
    # Right after a commit the coordinator is still writing that transaction's markers and
    # answers the same id's next AddPartitions/AddOffsets with CONCURRENT_TRANSACTIONS
    # until it is done; each retry waits the backoff, so the default (100 ms, growing to
    # 1 s) dominated small transactions (~100 ms per send_offsets measured; ~10 ms at 10
    # ms; less at 2 ms). Taking turns between two ids mostly avoids the wait altogether.
    "retry.backoff.ms": 2,
    "retry.backoff.max.ms": 20,
    # Nothing here reads per-message delivery reports (a failed message fails the
    # transaction's commit), so librdkafka reports only failures.
    "delivery.report.only.error": True,
}

# transactional.id and group.instance.id are built from these: a conservative set, which
# also leaves "+" free to mark the second producer's id (transactional_ids).
_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


class ServiceConfigError(PlatformError):
    """A bad service option; the CLI prints it as one line."""


@dataclass(frozen=True)
class ServiceConfig:
    """Options of `orderbook engine run`.

    - `instance_id`: stable per replica; the producer's `transactional.id` is
      `<group>-<instance_id>` (`orderbook-engine-0` by default), so a restarted replica
      fences its dead predecessor and aborts whatever transaction it left open. The group
      is part of it so that replica 0 of one deployment never fences replica 0 of another.
    - `group`: the consumer group; replicas in one group split the partitions of `orders`.
      Snapshots are keyed by group too, so two deployments never clobber each other's.
    - `batch_size`: most orders per transaction.
    - `snapshot_every` / `snapshot_seconds`: snapshot a partition's books once this many
      of its orders or seconds have passed since its last round (whichever comes first).
    - `metrics_port`: HTTP port of /metrics and /healthz; 0 picks a free one (logged).
    - `metrics_host`: the address that port is bound to: an IPv4 or IPv6 literal or a
      host name. Loopback by default, so a laptop run does not expose it; `0.0.0.0`
      (or `::`) on Kubernetes, where the kubelet and Prometheus come over the pod IP.
    - `max_idle_seconds`: exit 0 after this long without input (None: run until signalled).
    - `session_timeout_ms`: how long a dead replica keeps its partitions.
    - `transaction_timeout_ms`: how long the broker keeps a dead replica's open
      transaction (and with it the last stable offset of its outputs) before aborting it.
    - `stall_timeout_s`: the service's deadline. /healthz turns 503 once input has waited
      this long without a commit; each blocking Kafka call is given it as its own
      timeout; a phase of the loop (a transaction, an abort, connecting, a poll, closing)
      still running after twice this long ends the process (exit 3), as does a graceful
      stop still running this long after its signal (engine.watchdog). Above the
      transaction timeout: the broker resolves a transaction that outlives that by itself.
    """

    instance_id: str = "0"
    group: str = DEFAULT_GROUP
    batch_size: int = 10_000
    snapshot_every: int = 50_000
    snapshot_seconds: float = 60.0
    metrics_port: int = 9464
    metrics_host: str = "127.0.0.1"
    max_idle_seconds: float | None = None
    session_timeout_ms: int = 10_000
    transaction_timeout_ms: int = 10_000
    poll_timeout_s: float = 0.2
    stall_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        if not _ID_PATTERN.match(self.instance_id):
            raise ServiceConfigError(
                f"--instance-id must be 1-200 characters of [A-Za-z0-9._-], got {self.instance_id!r}"
            )
        if not _ID_PATTERN.match(self.group):
            raise ServiceConfigError(
                f"--group must be 1-200 characters of [A-Za-z0-9._-], got {self.group!r}"
            )
        if self.batch_size < 1:
            raise ServiceConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.snapshot_every < 1:
            raise ServiceConfigError(f"--snapshot-every must be >= 1, got {self.snapshot_every}")
        if self.snapshot_seconds <= 0:
            raise ServiceConfigError(f"--snapshot-seconds must be > 0, got {self.snapshot_seconds}")
        if not 0 <= self.metrics_port <= 65535:
            raise ServiceConfigError(f"--metrics-port must be 0..65535, got {self.metrics_port}")
        if not is_bind_host(self.metrics_host):
            raise ServiceConfigError(
                f"--metrics-host must be an IP address or a host name, got {self.metrics_host!r}"
            )
        if self.max_idle_seconds is not None and self.max_idle_seconds <= 0:
            raise ServiceConfigError(f"--max-idle-seconds must be > 0, got {self.max_idle_seconds}")
        if self.session_timeout_ms < 1000:
            raise ServiceConfigError("session timeout must be >= 1000 ms")
        if self.transaction_timeout_ms < 1000:
            raise ServiceConfigError("transaction timeout must be >= 1000 ms")
        if not self.stall_timeout_s > self.transaction_timeout_ms / 1000:
            raise ServiceConfigError(
                "--stall-timeout-seconds must be above the transaction timeout "
                f"({self.transaction_timeout_ms / 1000:g} s), got {self.stall_timeout_s:g}"
            )

    @property
    def phase_limit_s(self) -> float:
        """How long one phase of the loop may run before the watchdog ends the process."""
        return 2 * self.stall_timeout_s

    @property
    def transactional_id(self) -> str:
        return f"{self.group}-{self.instance_id}"

    @property
    def transactional_ids(self) -> tuple[str, str]:
        """The two producers' ids; successive transactions alternate between them.

        One transactional id cannot start a transaction until the coordinator has
        finished the previous one (its markers written); the other can, so alternating
        takes that wait out of every cycle (docs/engine-service.md, "One batch, one
        transaction"). The first is `transactional_id`, as before there were two; the
        second adds "+b", and "+" is not allowed in an instance id, so no other instance
        of the group has either of them (Kafka accepts any string as a transactional id).
        """
        return (self.transactional_id, f"{self.transactional_id}+b")
