"""S3Proxy with its filesystem backend: an S3-compatible server over a local folder."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

from orderbook_platform.config import S3Settings, StackSettings
from orderbook_platform.stack.errors import StackError
from orderbook_platform.stack.jars import classpath, require_java
from orderbook_platform.stack.processes import ManagedProcess

LOGBACK = """\
<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{24} - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.gaul.s3proxy" level="INFO"/>
  <root level="WARN"><appender-ref ref="STDOUT"/></root>
</configuration>
"""


class S3Server:
    def __init__(self, settings: StackSettings, s3: S3Settings, state_dir: Path) -> None:
        self.settings = settings
        self.s3 = s3
        self.home = state_dir / "s3"
        self.data_dir = self.home / "data"
        self.process = ManagedProcess("s3proxy", self.home, marker=str(self.home))

    @property
    def endpoint(self) -> str:
        return f"http://{self.settings.host}:{self.settings.s3_port}"

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.s3_port,)

    def prepare(self, jars_dir: Path) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.home / "logback.xml").write_text(LOGBACK)
        (self.home / "s3proxy.properties").write_text(
            "\n".join(
                [
                    f"s3proxy.endpoint={self.endpoint}",
                    "s3proxy.authorization=aws-v2-or-v4",
                    f"s3proxy.identity={self.s3.access_key}",
                    f"s3proxy.credential={self.s3.secret_key.get_secret_value()}",
                    "jclouds.provider=filesystem-nio2",
                    f"jclouds.filesystem.basedir={self.data_dir}",
                    "",
                ]
            )
        )

    def start(self, jars_dir: Path) -> None:
        heap = self.settings.s3_heap
        self.process.start(
            [
                require_java(), f"-Xmx{heap}",
                f"-Dlogback.configurationFile={self.home / 'logback.xml'}",
                "-cp", classpath(jars_dir, "s3proxy"), "org.gaul.s3proxy.Main",
                "--properties", str(self.home / "s3proxy.properties"),
            ]
        )  # fmt: skip

    def is_ready(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint, timeout=1)
        except urllib.error.HTTPError:
            return True  # anonymous requests are refused: the server is answering
        except OSError:
            return False
        return True

    def ensure_bucket(self) -> bool:
        """Create the configured bucket if absent; True if it was created."""
        from botocore.exceptions import BotoCoreError, ClientError

        from orderbook_platform.s3 import s3_client

        client = s3_client(self.s3.model_copy(update={"endpoint_url": self.endpoint}))
        deadline = time.monotonic() + 15
        while True:  # the HTTP port can answer a moment before the blob store is ready
            try:
                existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
                if self.s3.bucket in existing:
                    return False
                client.create_bucket(Bucket=self.s3.bucket)
                return True
            except (BotoCoreError, ClientError) as exc:
                if time.monotonic() > deadline:
                    raise StackError(f"S3 server did not accept requests: {exc}") from None
                time.sleep(0.5)
