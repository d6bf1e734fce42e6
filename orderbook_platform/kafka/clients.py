"""confluent-kafka clients configured from the platform settings (security included)."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from orderbook_platform.config import KafkaSettings

# librdkafka logs transient states (e.g. "coordinator load in progress" right after the
# broker starts) as warnings; errors still surface through delivery reports and exceptions.
_log = logging.getLogger("orderbook.kafka")
_log.setLevel(logging.ERROR)


def admin_client(settings: KafkaSettings, **overrides: Any) -> AdminClient:
    return AdminClient(settings.client_config(logger=_log, **overrides))


def producer(settings: KafkaSettings, **overrides: Any) -> Producer:
    """An idempotent producer: retries never duplicate or reorder within a partition."""
    config = {
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        **overrides,
    }
    return Producer(settings.client_config(logger=_log, **config))


def consumer(settings: KafkaSettings, group_id: str, **overrides: Any) -> Consumer:
    """A consumer that sees only committed transactional data."""
    config = {
        "group.id": group_id,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        **overrides,
    }
    return Consumer(settings.client_config(logger=_log, **config))
