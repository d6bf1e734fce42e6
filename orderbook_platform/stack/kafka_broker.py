"""A single-node Apache Kafka broker in KRaft mode (combined broker + controller)."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from orderbook_platform.config import StackSettings
from orderbook_platform.stack.errors import StackError
from orderbook_platform.stack.jars import classpath, require_java
from orderbook_platform.stack.processes import ManagedProcess, port_is_open

LOG4J2 = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka
        level: WARN
      - name: org.apache.kafka
        level: WARN
      - name: kafka.server.KafkaRaftServer
        level: INFO
      - name: state.change.logger
        level: WARN
"""


class KafkaBroker:
    def __init__(self, settings: StackSettings, state_dir: Path) -> None:
        self.settings = settings
        self.home = state_dir / "kafka"
        self.data_dir = self.home / "data"
        self.process = ManagedProcess("kafka", self.home, marker=str(self.home))

    @property
    def bootstrap(self) -> str:
        return f"{self.settings.host}:{self.settings.kafka_port}"

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.kafka_port, self.settings.controller_port)

    def _properties(self) -> str:
        s = self.settings
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={s.host}:{s.controller_port}",
                f"listeners=PLAINTEXT://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.controller_port}",
                f"advertised.listeners=PLAINTEXT://{s.host}:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={self.data_dir}",
                "num.partitions=3",
                # Topics are declared by `orderbook topics apply`, never created by accident.
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=3",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "transaction.state.log.num.partitions=3",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=168",
                "log.segment.bytes=67108864",
                "",
            ]
        )

    def prepare(self, jars_dir: Path) -> None:
        """Write the config and format the storage once (KRaft needs a cluster id)."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "server.properties").write_text(self._properties())
        (self.home / "log4j2.yaml").write_text(LOG4J2)
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = "-"
        while cluster_id.startswith("-"):  # a leading "-" would be parsed as an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(
            [
                require_java(), *self._jvm_flags(), "-cp", classpath(jars_dir, "kafka"),
                "kafka.tools.StorageTool", "format", "--standalone",
                "-t", cluster_id, "-c", str(self.home / "server.properties"),
            ],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {result.stderr or result.stdout}")

    def _jvm_flags(self) -> list[str]:
        return [
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={self.home}",
            "-Djava.awt.headless=true",
        ]

    def start(self, jars_dir: Path) -> None:
        heap = self.settings.kafka_heap
        self.process.start(
            [
                require_java(), f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20", *self._jvm_flags(),
                "-cp", classpath(jars_dir, "kafka"), "kafka.Kafka",
                str(self.home / "server.properties"),
            ]
        )  # fmt: skip

    def is_ready(self) -> bool:
        from confluent_kafka.admin import AdminClient

        if not port_is_open(self.settings.host, self.settings.kafka_port):
            return False
        admin = AdminClient(
            {"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 2000, "log_level": 0}
        )
        try:
            metadata = admin.list_topics(timeout=2)
        except Exception:
            return False
        return bool(metadata.brokers)
