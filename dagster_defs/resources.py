"""Dagster resources: Spark, the lake, Kafka, market conventions and alert targets.

Every field left unset falls back, at run time, to the platform settings
(`orderbook_platform.config.load_settings()`, i.e. `OB__SECTION__KEY` variables or the YAML
file): nothing is read from the environment when this module is imported. Secrets are bound
as `dg.EnvVar` in `definitions.py`, so they never appear in run config or the UI.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_pyspark import PySparkResource
from pydantic import Field

from dagster_defs.lake import Lake, S3Access
from orderbook_platform.config import KafkaSettings, Settings, load_settings

LAKE_ROOT_ENV = "OB__LAKE__ROOT"


def _settings() -> Settings:
    return load_settings()


class LakeResource(dg.ConfigurableResource):
    """The parquet lake: a local folder (default `<state_dir>/lake`) or `s3://bucket[/prefix]`."""

    root: str | None = None
    s3_endpoint_url: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str | None = None
    # S3 writes from Spark go through a local staging folder by default (see ingest_topic);
    # "direct" makes Spark commit to s3a:// itself, for stores that support it (AWS, MinIO).
    s3_write_mode: str = "staged"

    def s3_access(self) -> S3Access:
        s3 = _settings().s3
        return S3Access(
            endpoint_url=self.s3_endpoint_url or s3.endpoint_url,
            access_key=self.s3_access_key or s3.access_key,
            secret_key=self.s3_secret_key or s3.secret_key.get_secret_value(),
            region=self.s3_region or s3.region,
        )

    def lake(self) -> Lake:
        """`root`, else `$OB__LAKE__ROOT` (read at run time), else `<state_dir>/lake`."""
        root = (
            self.root
            or os.environ.get(LAKE_ROOT_ENV)
            or str((_settings().stack.state_dir / "lake").resolve())
        )
        if root.startswith(("s3://", "s3a://")):
            return Lake(root, self.s3_access())
        return Lake(str(Path(root).expanduser().resolve()))

    def staging_dir(self) -> Path | None:
        if self.s3_write_mode == "direct":
            return None
        return Path(tempfile.gettempdir()) / "orderbook-lake-staging"


class KafkaResource(dg.ConfigurableResource):
    """The broker the raw assets read; unset fields come from the platform settings."""

    bootstrap_servers: str | None = None
    security_protocol: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None

    def settings(self) -> KafkaSettings:
        overrides = {
            k: v
            for k, v in {
                "bootstrap_servers": self.bootstrap_servers,
                "security_protocol": self.security_protocol,
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_username": self.sasl_username,
                "sasl_password": self.sasl_password,
            }.items()
            if v is not None
        }
        base = _settings().kafka
        return KafkaSettings.model_validate({**base.model_dump(), **overrides})

    def spark_options(self) -> dict[str, str]:
        """The `kafka.`-prefixed options of Spark's Kafka source (security included)."""
        from dagster_defs.ingestion.spark_kafka import spark_kafka_options

        return spark_kafka_options(self.settings())


class SparkResource(PySparkResource):
    """A SparkSession with the Maven-fetched Kafka and S3A jars (`spark.jars`, no Ivy).

    `master` is `local[*]` by default and a cluster URL in production; `spark_config` adds or
    overrides any setting. JVM options apply only at a process's first `getOrCreate()`.
    """

    spark_config: dict[str, Any] = Field(default_factory=dict)
    master: str = "local[*]"
    jars_dir: str | None = None
    driver_memory: str = "2g"
    shuffle_partitions: int = 4
    # S3A settings of the lake's store; unset fields come from the platform settings.
    s3_endpoint_url: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str | None = None

    @classmethod
    def _is_dagster_maintained(cls) -> bool:
        return False

    def effective_config(self) -> dict[str, str]:
        from dagster_defs.ingestion.spark_kafka import spark_conf
        from orderbook_platform.stack.jars import fetch_jars, jar_files

        jars_dir = Path(self.jars_dir) if self.jars_dir else _settings().stack.jars_dir
        jars = jar_files(jars_dir, "spark") or jar_files(fetch_jars(jars_dir), "spark")
        return spark_conf(
            master=self.master,
            jars=jars,
            s3=LakeResource(
                s3_endpoint_url=self.s3_endpoint_url,
                s3_access_key=self.s3_access_key,
                s3_secret_key=self.s3_secret_key,
                s3_region=self.s3_region,
            ).s3_access(),
            driver_memory=self.driver_memory,
            shuffle_partitions=self.shuffle_partitions,
            extra=self.spark_config,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Deferred to first use: steps that never touch Spark never pay for a JVM.
        self._spark_session = None

    @property
    def spark_session(self) -> Any:
        if self._spark_session is None:
            from dagster_defs.ingestion.spark_kafka import spark_session

            self._spark_session = spark_session(self.effective_config())
        return self._spark_session


class MarketResource(dg.ConfigurableResource):
    """Market conventions the checks and analytics need: the tick size, per symbol if set."""

    tick_size: float = 0.01
    tick_sizes: dict[str, float] = Field(default_factory=dict)

    def tick_for(self, symbol: str) -> float:
        return self.tick_sizes.get(symbol, self.tick_size)


class AlertResource(dg.ConfigurableResource):
    """Where alerts go: always the log, plus a webhook (JSON POST) and Slack when configured."""

    webhook_url: str | None = None
    slack_channel: str | None = None
    slack_token: str | None = None

    def send(self, alert: Any, log: Any) -> list[str]:
        """Deliver one alert to every configured target; returns the targets reached."""
        from dagster_defs.automation.alerts import deliver, targets_for

        targets = targets_for(self.webhook_url, self.slack_channel, self.slack_token)
        return deliver(alert, targets, log)
