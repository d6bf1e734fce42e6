"""`orderbook stack up | status | down | logs`, and the pytest session fixtures, use this."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from orderbook_platform.config import STACK_STATE_FILE, Settings, StackState
from orderbook_platform.stack.errors import StackError
from orderbook_platform.stack.jars import fetch_jars
from orderbook_platform.stack.kafka_broker import KafkaBroker
from orderbook_platform.stack.processes import port_is_open
from orderbook_platform.stack.s3_server import S3Server


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    s3_endpoint: str
    s3_bucket: str
    state_dir: Path


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    running: bool
    pid: int | None
    endpoint: str
    answering: bool
    log_file: Path


class Stack:
    def __init__(self, settings: Settings, console: Console | None = None) -> None:
        self.settings = settings
        self.console = console or Console(stderr=True)
        self.state_dir = settings.stack.state_dir.expanduser().resolve()
        self.jars_dir = settings.stack.jars_dir.expanduser().resolve()
        self.kafka = KafkaBroker(settings.stack, self.state_dir)
        self.s3 = S3Server(settings.stack, settings.s3, self.state_dir)

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(
            kafka_bootstrap=self.kafka.bootstrap,
            s3_endpoint=self.s3.endpoint,
            s3_bucket=self.settings.s3.bucket,
            state_dir=self.state_dir,
        )

    def _components(self) -> list[KafkaBroker | S3Server]:
        return [self.kafka, self.s3]

    def up(self) -> Endpoints:
        """Start whatever is not running yet and wait until both answer. Idempotent."""
        host = self.settings.stack.host
        to_start = [c for c in self._components() if not c.process.is_running()]
        for component in to_start:
            for port in component.ports:
                if port_is_open(host, port):
                    raise StackError(
                        f"port {host}:{port} is taken by another process; free it or choose "
                        f"another port (OB__STACK__KAFKA_PORT, OB__STACK__CONTROLLER_PORT, "
                        f"OB__STACK__S3_PORT)"
                    )
        fetch_jars(self.jars_dir, self.console)
        for component in to_start:
            component.prepare(self.jars_dir)
            component.start(self.jars_dir)
        if to_start:
            names = ", ".join(c.process.name for c in to_start)
            with self.console.status(f"[bold]Starting {names}[/]"):
                self._wait_until_ready(to_start)
        if self.s3.ensure_bucket():
            self.console.log(f"created bucket s3://{self.settings.s3.bucket}")
        if to_start or not self.state_file.exists():
            self._write_state()
        return self.endpoints

    @property
    def state_file(self) -> Path:
        return self.state_dir / STACK_STATE_FILE

    def _write_state(self) -> None:
        """Record where this stack listens: commands with no explicit settings connect here."""
        cluster_id = self.kafka.cluster_id
        if cluster_id is None:
            raise StackError(f"the broker in {self.kafka.home} has no cluster id")
        client = self.kafka.client_settings()
        StackState(
            cluster_id=cluster_id,
            kafka_bootstrap=self.kafka.bootstrap,
            kafka_security_protocol=client.security_protocol,  # type: ignore[arg-type]
            kafka_sasl_mechanism=client.sasl_mechanism,  # type: ignore[arg-type]
            kafka_sasl_username=client.sasl_username,
            kafka_sasl_password=client.sasl_password,
            s3_endpoint=self.s3.endpoint,
        ).write(self.state_dir)

    def _wait_until_ready(self, components: list[KafkaBroker | S3Server]) -> None:
        deadline = time.monotonic() + self.settings.stack.start_timeout_s
        pending = list(components)
        while pending:
            for component in list(pending):
                if component.process.exited_early():
                    raise StackError(
                        f"{component.process.name} exited during start-up; last log lines "
                        f"({component.process.log_file}):\n{component.process.tail(15)}"
                    )
                if component.is_ready():
                    pending.remove(component)
            if pending and time.monotonic() > deadline:
                for component in pending:
                    component.process.stop(timeout=5)
                names = ", ".join(c.process.name for c in pending)
                raise StackError(
                    f"{names} did not answer within {self.settings.stack.start_timeout_s:.0f}s; "
                    f"see {self.state_dir}/*/*.log"
                )
            if pending:
                time.sleep(0.25)

    def status(self) -> list[ComponentStatus]:
        return [
            ComponentStatus(
                name=component.process.name,
                running=component.process.is_running(),
                pid=component.process.pid(),
                endpoint=endpoint,
                answering=component.process.is_running() and component.is_ready(),
                log_file=component.process.log_file,
            )
            for component, endpoint in (
                (self.kafka, self.kafka.bootstrap),
                (self.s3, self.s3.endpoint),
            )
        ]

    def down(self, purge: bool = False) -> list[str]:
        """Stop both processes (S3 first, Kafka gets time for a controlled shutdown)."""
        self.state_file.unlink(missing_ok=True)  # before the stop: no one connects meanwhile
        stopped = [c.process.name for c in (self.s3, self.kafka) if c.process.stop()]
        if purge:
            for component in self._components():
                shutil.rmtree(component.home, ignore_errors=True)
            if self.state_dir.exists() and not any(self.state_dir.iterdir()):
                self.state_dir.rmdir()
        return stopped

    def log_file(self, component: str) -> Path:
        for c in self._components():
            if c.process.name == component or (component == "s3" and c is self.s3):
                return c.process.log_file
        raise StackError(f"unknown component {component!r}: choose kafka or s3")
