"""A broker of a test's own whose retention check runs every second.

The session stack's broker checks retention every 5 minutes (the Kafka default), too
seldom for a test to see a deletion; and tests that delete records must not do it on the
topics every other test reads. Only the broker is started: these tests need no S3.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orderbook_platform.config import Settings
from orderbook_platform.stack.jars import fetch_jars
from orderbook_platform.stack.kafka_broker import KafkaBroker
from orderbook_platform.testing import apply_topics_on_new_broker, stack_settings_for

RETENTION_CHECK_MS = 1000


class FastRetentionBroker(KafkaBroker):
    def _properties(self) -> str:
        return super()._properties() + (
            f"log.retention.check.interval.ms={RETENTION_CHECK_MS}\nlog.initial.task.delay.ms=0\n"
        )


@contextmanager
def private_broker(apply: bool = True) -> Iterator[Settings]:
    """Settings of a fresh single-node broker (declared topics applied unless `apply` is
    false); stopped and removed on exit."""
    with tempfile.TemporaryDirectory(prefix="ob-broker-") as tmp:
        settings = stack_settings_for(Path(tmp) / ".orderbook")
        broker = FastRetentionBroker(settings.stack, settings.stack.state_dir)
        jars = fetch_jars(settings.stack.jars_dir)
        broker.prepare(jars)
        broker.start(jars)
        try:
            deadline = time.monotonic() + settings.stack.start_timeout_s
            while not broker.is_ready():
                if broker.process.exited_early() or time.monotonic() > deadline:
                    raise RuntimeError(f"private broker did not start:\n{broker.process.tail(15)}")
                time.sleep(0.25)
            if apply:
                apply_topics_on_new_broker(settings)
            yield settings
        finally:
            broker.process.stop(timeout=30)
