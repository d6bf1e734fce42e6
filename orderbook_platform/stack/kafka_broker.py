"""A single-node Apache Kafka broker in KRaft mode (combined broker + controller)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import uuid
from pathlib import Path
from typing import Any

from orderbook_platform.config import KafkaSettings, StackSettings, broker_cluster_id, jaas_quote
from orderbook_platform.stack.errors import StackError
from orderbook_platform.stack.jars import classpath, require_java
from orderbook_platform.stack.processes import ManagedProcess, port_is_open

SCRAM_ITERATIONS = 8192

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


def _properties_value(value: str) -> str:
    # java.util.Properties reads a backslash as an escape; a leading space would be dropped.
    escaped = value.replace("\\", "\\\\")
    return "\\" + escaped if escaped.startswith(" ") else escaped


class KafkaBroker:
    def __init__(self, settings: StackSettings, state_dir: Path) -> None:
        self.settings = settings
        self.home = state_dir / "kafka"
        self.data_dir = self.home / "data"
        self.credentials_file = self.home / "scram.json"
        self.process = ManagedProcess("kafka", self.home, marker=str(self.home))
        self._password: str | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.settings.host}:{self.settings.kafka_port}"

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.kafka_port, self.settings.controller_port)

    @property
    def cluster_id(self) -> str | None:
        return broker_cluster_id(self.data_dir)

    def client_settings(self) -> KafkaSettings:
        """What a client needs to reach this broker (its SASL user, if it has one).

        Once the broker's config is written, it decides: a later `stack status` without
        `stack.kafka_sasl` still reaches a broker that was started with it.
        """
        written = self._written_properties()
        stored = self._stored_credentials()
        mechanism = written.get("sasl.enabled.mechanisms") if written else self.settings.kafka_sasl
        if mechanism is None:
            return KafkaSettings(bootstrap_servers=self.bootstrap)
        if written and stored is not None:
            username, password = str(stored["username"]), str(stored["password"])
        else:
            username, password = self.settings.kafka_sasl_username, self.sasl_password()
        return KafkaSettings.model_validate(
            {
                "bootstrap_servers": self.bootstrap,
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": mechanism,
                "sasl_username": username,
                "sasl_password": password,
            }
        )

    def sasl_password(self) -> str:
        """The SASL user's password: the one the storage was formatted with, once it was."""
        if self._password is not None:
            return self._password
        configured = self.settings.kafka_sasl_password
        stored = self._stored_credentials()
        if stored is not None:
            if stored.get("username") != self.settings.kafka_sasl_username or (
                configured is not None and configured.get_secret_value() != stored["password"]
            ):
                raise StackError(
                    f"the broker in {self.home} was created with another SASL user or "
                    "password; `orderbook stack down --purge` deletes it (and its data)"
                )
            self._password = str(stored["password"])
        elif configured is not None:
            self._password = configured.get_secret_value()
        else:
            self._password = secrets.token_urlsafe(24)
        return self._password

    def _written_properties(self) -> dict[str, str]:
        try:
            lines = (self.home / "server.properties").read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return {}
        return dict(line.split("=", 1) for line in lines if "=" in line and line[0] != "#")

    def _stored_credentials(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.credentials_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def _listener(self) -> str:
        return "PLAINTEXT" if self.settings.kafka_sasl is None else "SASL_PLAINTEXT"

    def _properties(self) -> str:
        s = self.settings
        listener = self._listener()
        sasl: list[str] = []
        if s.kafka_sasl is not None:
            # The broker's own clients (transaction markers) use the same user, so the
            # credential must exist before it starts: `format --add-scram` creates it.
            jaas = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f"username={jaas_quote(s.kafka_sasl_username)} "
                f"password={jaas_quote(self.sasl_password())};"
            )
            sasl = [
                f"sasl.enabled.mechanisms={s.kafka_sasl}",
                f"sasl.mechanism.inter.broker.protocol={s.kafka_sasl}",
                f"listener.name.sasl_plaintext.{s.kafka_sasl.lower()}.sasl.jaas.config="
                + _properties_value(jaas),
            ]
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={s.host}:{s.controller_port}",
                f"listeners={listener}://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.controller_port}",
                f"advertised.listeners={listener}://{s.host}:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                f"inter.broker.listener.name={listener}",
                # The controller listener stays PLAINTEXT: it is bound to the stack's host
                # and only the broker itself (same process) talks to it.
                f"listener.security.protocol.map=CONTROLLER:PLAINTEXT,{listener}:{listener}",
                *sasl,
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

    def _scram_credential(self) -> str:
        """The `--add-scram` argument that creates the SASL user at format time.

        The tool splits its argument at commas and has no escapes, so the password goes in
        salted (RFC 5802 SaltedPassword, base64) and any character in it is fine.
        """
        mechanism = self.settings.kafka_sasl
        assert mechanism is not None
        user = self.settings.kafka_sasl_username
        if not re.fullmatch(r"[A-Za-z0-9._@-]+", user):
            raise StackError(
                f"stack.kafka_sasl_username {user!r}: use letters, digits and . _ @ - only"
            )
        salt = secrets.token_bytes(32)
        digest = "sha256" if mechanism == "SCRAM-SHA-256" else "sha512"
        salted = hashlib.pbkdf2_hmac(digest, self.sasl_password().encode(), salt, SCRAM_ITERATIONS)
        b64 = base64.b64encode
        return (
            f"{mechanism}=[name={user},iterations={SCRAM_ITERATIONS},"
            f"salt={b64(salt).decode()},saltedpassword={b64(salted).decode()}]"
        )

    def _write_private(self, path: Path, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(path, 0o600)  # an older file keeps its mode through O_CREAT

    def prepare(self, jars_dir: Path) -> None:
        """Write the config and format the storage once (KRaft needs a cluster id)."""
        self.home.mkdir(parents=True, exist_ok=True)
        formatted = (self.data_dir / "meta.properties").exists()
        if formatted and self.settings.kafka_sasl and self._stored_credentials() is None:
            raise StackError(
                f"the broker in {self.home} was created without SASL users; "
                "`orderbook stack down --purge` deletes it (and its data) to start over with SASL"
            )
        self._write_private(self.home / "server.properties", self._properties())
        (self.home / "log4j2.yaml").write_text(LOG4J2)
        if formatted:
            return
        cluster_id = "-"
        while cluster_id.startswith("-"):  # a leading "-" would be parsed as an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        scram: list[str] = []
        if self.settings.kafka_sasl is not None:
            scram = ["--add-scram", self._scram_credential()]
        result = subprocess.run(
            [
                require_java(), *self._jvm_flags(), "-cp", classpath(jars_dir, "kafka"),
                "kafka.tools.StorageTool", "format", "--standalone",
                "-t", cluster_id, "-c", str(self.home / "server.properties"), *scram,
            ],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {result.stderr or result.stdout}")
        if self.settings.kafka_sasl is not None:
            self._write_private(
                self.credentials_file,
                json.dumps(
                    {
                        "username": self.settings.kafka_sasl_username,
                        "password": self.sasl_password(),
                    }
                ),
            )

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
        config = self.client_settings().client_config(**{"socket.timeout.ms": 2000})
        admin = AdminClient({**config, "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=2)
        except Exception:
            return False
        return bool(metadata.brokers)
