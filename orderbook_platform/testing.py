"""pytest fixtures backed by the real local stack: one KRaft Kafka + S3Proxy per session.

Loaded by `tests/conftest.py` (`pytest_plugins`). The stack is started by the same launcher as `orderbook stack up`, in a temporary state dir,
so the tests never collide with a stack a user is running on the default ports.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException

from orderbook_platform.config import Settings, load_settings
from orderbook_platform.kafka.topics import apply_topics
from orderbook_platform.stack import Stack
from orderbook_platform.stack.processes import free_port


def _distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def apply_topics_on_new_broker(settings: Settings, attempts: int = 10) -> None:
    """Apply the declared topics on a broker that has just started: a just-created topic
    can briefly lack a leader, so a KafkaException is retried (0.5 s apart)."""
    for attempt in range(attempts):
        try:
            apply_topics(settings)
            return
        except KafkaException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


def stack_settings_for(state_dir: Path, **stack: Any) -> Settings:
    """Settings of a stack on free ports in `state_dir`; `stack` adds stack settings
    (e.g. `kafka_sasl`; a SASL broker's clients then use `Stack.kafka.client_settings()`)."""
    kafka_port, controller_port, s3_port = _distinct_free_ports(3)
    return load_settings(
        stack={
            "state_dir": state_dir,
            "kafka_port": kafka_port,
            "controller_port": controller_port,
            "s3_port": s3_port,
            **stack,
        },
        kafka={"bootstrap_servers": f"127.0.0.1:{kafka_port}"},
        s3={"endpoint_url": f"http://127.0.0.1:{s3_port}"},
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that points a child `orderbook` process at the same stack."""
    return {
        **os.environ,
        "OB__STACK__STATE_DIR": str(settings.stack.state_dir),
        "OB__STACK__KAFKA_PORT": str(settings.stack.kafka_port),
        "OB__STACK__CONTROLLER_PORT": str(settings.stack.controller_port),
        "OB__STACK__S3_PORT": str(settings.stack.s3_port),
        "OB__KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "OB__S3__ENDPOINT_URL": str(settings.s3.endpoint_url),
    }


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = stack_settings_for(tmp_path_factory.mktemp("stack") / ".orderbook")
    running = Stack(settings)
    running.up()
    try:
        yield running
    finally:
        running.down(purge=True)


@pytest.fixture(scope="session")
def settings(stack: Stack) -> Settings:
    """Settings of the session stack, with every declared topic applied."""
    apply_topics(stack.settings)
    return stack.settings


@contextmanager
def private_stack(prefix: str) -> Iterator[tuple[Stack, Path]]:
    """A broker and S3Proxy on free ports in a temporary directory, every declared topic
    applied: (the running stack, the directory). Taken down and removed on exit.

    For the benchmarks, which run outside pytest and must never touch a user's stack.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        settings = stack_settings_for(Path(tmp) / ".orderbook")
        running = Stack(settings)
        print(f"starting a private stack on {settings.kafka.bootstrap_servers} ...", flush=True)
        running.up()
        try:
            apply_topics_on_new_broker(settings)
            yield running, Path(tmp)
        finally:
            running.down(purge=True)
