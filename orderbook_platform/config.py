"""Platform configuration: pydantic-settings, env vars `OB__SECTION__KEY`, optional YAML file.

Precedence, highest first: explicit arguments, environment (`OB__KAFKA__BOOTSTRAP_SERVERS`),
the YAML file named by `OB_CONFIG` (or passed as `--config`), then the defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from orderbook_platform.errors import PlatformError

CONFIG_FILE_ENV = "OB_CONFIG"


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "localhost:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: Path | None = None
    client_id: str = "orderbook-platform"
    # Anything else librdkafka understands, passed through unchanged.
    extra: dict[str, str | int | bool] = Field(default_factory=dict)

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        """The librdkafka config shared by every producer, consumer and admin client."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
            "client.id": self.client_id,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username is not None:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_ca_location is not None:
            config["ssl.ca.location"] = str(self.ssl_ca_location)
        config.update(self.extra)
        config.update(overrides)
        return config

    def java_client_options(self) -> dict[str, str]:
        """The same security settings for Java clients (Spark's `kafka.`-prefixed options)."""
        options = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            options["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username is not None and self.sasl_password is not None:
            module = (
                "org.apache.kafka.common.security.plain.PlainLoginModule"
                if self.sasl_mechanism == "PLAIN"
                else "org.apache.kafka.common.security.scram.ScramLoginModule"
            )
            secret = self.sasl_password.get_secret_value()
            options["sasl.jaas.config"] = (
                f'{module} required username="{self.sasl_username}" password="{secret}";'
            )
        if self.ssl_ca_location is not None:
            options["ssl.truststore.type"] = "PEM"
            options["ssl.truststore.location"] = str(self.ssl_ca_location)
        return options


class S3Settings(BaseModel):
    endpoint_url: str | None = "http://localhost:9000"
    bucket: str = "orderbook"
    access_key: str = "orderbook"
    secret_key: SecretStr = SecretStr("orderbook-secret")
    region: str = "us-east-1"


class StackSettings(BaseModel):
    """The local, Docker-free stack: a KRaft broker and an S3 server as child processes."""

    state_dir: Path = Path(".orderbook")
    jars_dir: Path = (
        Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")))
        / "orderbook-platform"
        / "jars"
    )
    host: str = "127.0.0.1"
    kafka_port: int = 9092
    controller_port: int = 9093
    s3_port: int = 9000
    kafka_heap: str = "512m"
    s3_heap: str = "256m"
    start_timeout_s: float = 90.0


class TopicSettings(BaseModel):
    partitions: int = 3
    replication_factor: int = 1


class ConfigError(PlatformError):
    """A configuration problem a user can fix; printed as one line by the CLI."""


def select_config_file(config_file: Path | None) -> None:
    """Make `config_file` (a `--config` flag) the YAML file every settings class reads.

    It takes the place of `$OB_CONFIG`; with None, `$OB_CONFIG` (if set) must name a file.
    """
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"config file not found: {config_file}")
        os.environ[CONFIG_FILE_ENV] = str(config_file)
    else:
        path = os.environ.get(CONFIG_FILE_ENV)
        if path and not Path(path).is_file():
            raise ConfigError(f"config file not found: {path} (from ${CONFIG_FILE_ENV})")


def yaml_file_source(
    settings_cls: type[BaseSettings], section: str | None = None
) -> PydanticBaseSettingsSource | None:
    """The YAML file named by `$OB_CONFIG` as a settings source; None when it is unset.

    With `section`, only that top-level mapping of the file is read: the platform's one
    file holds every component's settings, and a file without the section (or with an
    empty one) is fine, it just sets nothing.
    """
    config_file = os.environ.get(CONFIG_FILE_ENV)
    if not config_file:
        return None
    data = yaml.safe_load(Path(config_file).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{config_file}: the file must be a mapping")
    if section is not None:
        data = data.get(section) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{config_file}: `{section}:` must be a mapping")
    return InitSettingsSource(settings_cls, init_kwargs=data)


class FileSettings(BaseSettings):
    """Settings from explicit arguments > env vars > the YAML file (`yaml_section` of it)."""

    yaml_section: ClassVar[str | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if (file_source := yaml_file_source(settings_cls, cls.yaml_section)) is not None:
            sources.append(file_source)
        return tuple(sources)


class Settings(FileSettings):
    model_config = SettingsConfigDict(
        env_prefix="OB__",
        env_nested_delimiter="__",
        extra="ignore",
    )

    default_symbol: str = "XYZ"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    stack: StackSettings = Field(default_factory=StackSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)

    @model_validator(mode="after")
    def _clients_follow_the_local_stack(self) -> Settings:
        # Unless set explicitly, clients talk to the local stack wherever its ports are.
        if "bootstrap_servers" not in self.kafka.model_fields_set:
            self.kafka.bootstrap_servers = f"{self.stack.host}:{self.stack.kafka_port}"
        if "endpoint_url" not in self.s3.model_fields_set:
            self.s3.endpoint_url = f"http://{self.stack.host}:{self.stack.s3_port}"
        return self


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings; `config_file` takes the place of `$OB_CONFIG`."""
    select_config_file(config_file)
    return Settings(**overrides)
