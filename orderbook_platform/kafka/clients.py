"""confluent-kafka clients configured from the platform settings (security included).

Every client reports broker outages through one process-wide `BrokerOutage`: librdkafka
logs each failed connection attempt ("Connect to ... failed: Connection refused"), about
20 lines a second while a broker is down. Those lines are swallowed; the outage is
logged once when it starts ("broker unreachable since ...") and once when a client has a
broker connection up again ("broker reachable again after N s"). Clients retry with a
backoff (`RECONNECT`) instead of every ~50 ms.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient

from orderbook_platform.config import KafkaSettings

# librdkafka logs transient states (e.g. "coordinator load in progress" right after the
# broker starts) as warnings; errors still surface through delivery reports and exceptions.
_log = logging.getLogger("orderbook.kafka")
_log.setLevel(logging.ERROR)

# Reconnect attempts back off from 0.5 s to 5 s (librdkafka: 0.1 s to 10 s, but a refused
# connection fails at once and was retried every ~50 ms): fewer attempts while a broker is
# down, and still back within ~5 s of its return.
RECONNECT: dict[str, Any] = {"reconnect.backoff.ms": 500, "reconnect.backoff.max.ms": 5000}
# How often a client reports its brokers' states, which is how the end of an outage shows.
_STATS_INTERVAL_MS = 1000
_OUTAGE_CODES = frozenset(
    {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE}
)
# What librdkafka says of a connection that failed or dropped (facility FAIL / ERROR).
_OUTAGE_TEXT = ("Connection refused", "Connect to", "Disconnected", "brokers are down")


class BrokerOutage:
    """Whether the brokers answer, from every client's reports; logs each change once."""

    def __init__(self, log: logging.Logger | None = None) -> None:
        if log is None:
            log = logging.getLogger("orderbook.kafka.outage")
            log.setLevel(logging.INFO)  # under `orderbook.kafka`, which lets errors only
        self._log = log
        self._lock = threading.Lock()
        self.down_since: float | None = None  # time.monotonic() of the first failure
        self._down_wall: datetime | None = None
        self.suppressed = 0  # librdkafka reports swallowed during the current outage

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, detail: str) -> None:
        """A connection to a broker failed or dropped."""
        with self._lock:
            if self.down_since is not None:
                self.suppressed += 1
                return
            self.down_since = time.monotonic()
            self._down_wall = datetime.now(UTC)
            self.suppressed = 0
        since = self._down_wall.isoformat(timespec="seconds")
        self._log.warning(f"broker unreachable since {since}", extra={"detail": detail})

    def reachable(self) -> None:
        """A client has a broker connection up."""
        with self._lock:
            if self.down_since is None:
                return
            seconds = time.monotonic() - self.down_since
            suppressed = self.suppressed
            self.down_since = self._down_wall = None
        self._log.warning(
            f"broker reachable again after {seconds:.0f} s",
            extra={"outage_seconds": round(seconds, 1), "suppressed_reports": suppressed},
        )

    # ------------------------------------------------------------- librdkafka callbacks

    def error_cb(self, error: KafkaError) -> None:
        if error.code() in _OUTAGE_CODES:
            self.failed(error.str())
        else:
            _log.error("kafka client error", extra={"error": error.str(), "code": error.name()})

    def stats_cb(self, stats: str) -> None:
        try:
            brokers = json.loads(stats).get("brokers", {})
        except ValueError:
            return
        if any(broker.get("state") == "UP" for broker in brokers.values()):
            self.reachable()

    def filter(self, record: logging.LogRecord) -> bool:
        """The `orderbook.kafka` logger's filter: connection failures become outage state."""
        args = record.args if isinstance(record.args, tuple) else ()
        text = str(args[-1]) if args else record.getMessage()
        if any(marker in text for marker in _OUTAGE_TEXT):
            self.failed(text)
            return False
        return True


OUTAGE = BrokerOutage()
_log.addFilter(OUTAGE)
# The logger of clients that do not report outages: it swallows their connection
# failures too, but does not count them (see `_config`).
_quiet = logging.getLogger("orderbook.kafka.quiet")
_quiet.setLevel(logging.ERROR)
_quiet.addFilter(lambda record: not any(m in record.getMessage() for m in _OUTAGE_TEXT))


def _quiet_error(error: KafkaError) -> None:
    if error.code() not in _OUTAGE_CODES:
        _log.error("kafka client error", extra={"error": error.str(), "code": error.name()})


def _config(settings: KafkaSettings, overrides: dict[str, Any], report_outages: bool) -> dict:
    """A client's config; with `report_outages` it feeds OUTAGE.

    Only a client that is polled all the time may report: librdkafka queues its logs,
    errors and statistics until the next poll, so a client polled now and then (the
    engine's recovery reader, its transactional producers) would report an outage long
    after it ended, and pile up a statistics report every second in between.
    """
    if not report_outages:
        return settings.client_config(
            logger=_quiet, error_cb=_quiet_error, **{**RECONNECT, **overrides}
        )
    return settings.client_config(
        logger=_log,
        error_cb=OUTAGE.error_cb,
        stats_cb=OUTAGE.stats_cb,
        **{"statistics.interval.ms": _STATS_INTERVAL_MS, **RECONNECT, **overrides},
    )


def admin_client(settings: KafkaSettings, **overrides: Any) -> AdminClient:
    # Short-lived: a failure surfaces as the exception of its request.
    return AdminClient(settings.client_config(logger=_quiet, **overrides))


def producer(settings: KafkaSettings, report_outages: bool = False, **overrides: Any) -> Producer:
    """An idempotent producer: retries never duplicate or reorder within a partition."""
    config = {
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        **overrides,
    }
    return Producer(_config(settings, config, report_outages))


def consumer(
    settings: KafkaSettings, group_id: str, report_outages: bool = False, **overrides: Any
) -> Consumer:
    """A consumer that sees only committed transactional data."""
    config = {
        "group.id": group_id,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        **overrides,
    }
    return Consumer(_config(settings, config, report_outages))
