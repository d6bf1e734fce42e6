"""Platform configuration: pydantic-settings, env vars `OB__SECTION__KEY`, optional YAML file.

Precedence, highest first: explicit arguments, environment (`OB__KAFKA__BOOTSTRAP_SERVERS`),
the YAML file named by `OB_CONFIG` (or passed as `--config`), then the defaults below.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, Field, PrivateAttr, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from orderbook_platform.errors import PlatformError

CONFIG_FILE_ENV = "OB_CONFIG"


STACK_STATE_FILE = "stack.json"

# librdkafka's OIDC settings: for Java clients they become the OAuthBearerLoginModule's
# options instead of passing through (Java has other names for them).
_RDKAFKA_OIDC_KEYS = frozenset(
    {
        "sasl.oauthbearer.method",
        "sasl.oauthbearer.client.id",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.scope",
        "sasl.oauthbearer.extensions",
        "sasl.oauthbearer.token.endpoint.url",
    }
)
_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "OAUTHBEARER": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule",
}
_OIDC_CALLBACK_HANDLER = (
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"
)


def jaas_quote(value: str) -> str:
    """`value` as a double-quoted JAAS option value.

    Kafka parses `sasl.jaas.config` with Java's StreamTokenizer: inside quotes a backslash
    starts an escape and a line break ends the string, so a password holding `"` or `\\`
    would otherwise end the value early or inject options.
    """
    if "\n" in value or "\r" in value:
        raise ConfigError("a Kafka SASL value cannot hold a line break (JAAS cannot express it)")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _java_value(value: str | int | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class KafkaSettings(BaseModel):
    # None: not set explicitly and no local stack running (see Settings); clients refuse.
    bootstrap_servers: str | None = None
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: Path | None = None
    client_id: str = "orderbook-platform"
    # Other client settings, passed to librdkafka and to Java clients (Spark) alike.
    extra: dict[str, str | int | bool] = Field(default_factory=dict)
    # Java-only client settings (Spark's Kafka source); they win over `extra`.
    java_extra: dict[str, str | int | bool] = Field(default_factory=dict)
    _unresolved: str | None = PrivateAttr(default=None)

    def bootstrap(self) -> str:
        """The bootstrap servers; a one-line ConfigError when there are none to use."""
        if self.bootstrap_servers is None:
            raise ConfigError(
                self._unresolved
                or "no Kafka bootstrap servers are set; set OB__KAFKA__BOOTSTRAP_SERVERS"
            )
        return self.bootstrap_servers

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        """The librdkafka config shared by every producer, consumer and admin client."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap(),
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
        """The same settings for Java clients (Spark's `kafka.`-prefixed options).

        `extra` passes through (values as Java strings) except librdkafka's OIDC settings,
        which become the OAUTHBEARER login module's options; `java_extra` comes last. A
        `sasl.jaas.config` in `java_extra` replaces the one built here.
        """
        options = {
            "bootstrap.servers": self.bootstrap(),
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            options["sasl.mechanism"] = self.sasl_mechanism
        if self.ssl_ca_location is not None:
            options["ssl.truststore.type"] = "PEM"
            options["ssl.truststore.location"] = str(self.ssl_ca_location)
        options |= {k: _java_value(v) for k, v in self.extra.items() if k not in _RDKAFKA_OIDC_KEYS}
        java_extra = {k: _java_value(v) for k, v in self.java_extra.items()}
        if self.sasl_mechanism and "sasl.jaas.config" not in java_extra:
            options |= self._java_sasl_options()
        return options | java_extra

    def _java_sasl_options(self) -> dict[str, str]:
        mechanism = self.sasl_mechanism
        assert mechanism is not None
        module = _LOGIN_MODULES[mechanism]
        if mechanism != "OAUTHBEARER":
            if self.sasl_username is None or self.sasl_password is None:
                raise ConfigError(
                    f"kafka.sasl_mechanism {mechanism} needs kafka.sasl_username and "
                    "kafka.sasl_password"
                )
            username = jaas_quote(self.sasl_username)
            password = jaas_quote(self.sasl_password.get_secret_value())
            return {
                "sasl.jaas.config": f"{module} required username={username} password={password};"
            }
        extra = {k: _java_value(v) for k, v in self.extra.items()}
        if extra.get("sasl.oauthbearer.method", "").lower() != "oidc" or not all(
            extra.get(f"sasl.oauthbearer.{key}")
            for key in ("client.id", "client.secret", "token.endpoint.url")
        ):
            raise ConfigError(
                "kafka.sasl_mechanism OAUTHBEARER reaches Java clients (Spark) only through "
                "OIDC: set sasl.oauthbearer.method=oidc, sasl.oauthbearer.client.id, "
                "sasl.oauthbearer.client.secret and sasl.oauthbearer.token.endpoint.url in "
                "kafka.extra, or a whole sasl.jaas.config in kafka.java_extra"
            )
        jaas = [
            module,
            "required",
            f"clientId={jaas_quote(extra['sasl.oauthbearer.client.id'])}",
            f"clientSecret={jaas_quote(extra['sasl.oauthbearer.client.secret'])}",
        ]
        if scope := extra.get("sasl.oauthbearer.scope"):
            jaas.append(f"scope={jaas_quote(scope)}")
        if extensions := extra.get("sasl.oauthbearer.extensions"):
            for pair in extensions.split(","):  # librdkafka: "key=value,key2=value2"
                key, _, value = pair.partition("=")
                jaas.append(f"extension_{key.strip()}={jaas_quote(value.strip())}")
        return {
            "sasl.jaas.config": " ".join(jaas) + ";",
            "sasl.oauthbearer.token.endpoint.url": extra["sasl.oauthbearer.token.endpoint.url"],
            "sasl.login.callback.handler.class": _OIDC_CALLBACK_HANDLER,
        }


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
    # SASL/SCRAM on the broker's client listener; None: PLAINTEXT. The user is created when
    # the storage is formatted; without a password a random one is generated and kept in
    # the state dir (clients with no explicit settings read it from there).
    kafka_sasl: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str = "orderbook"
    kafka_sasl_password: SecretStr | None = None
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
    def _clients_use_the_running_local_stack(self) -> Settings:
        self.resolve_local_stack()
        return self

    def resolve_local_stack(self) -> None:
        """Point the clients at the local stack running in `stack.state_dir`.

        Only what is not set explicitly (arguments, env, YAML) is filled in, from the state
        file that `orderbook stack up` writes, and only while that stack's broker runs.
        With neither, Kafka clients refuse to start (`KafkaSettings.bootstrap`) instead of
        trying a default port where some other stack may be listening.
        """
        kafka_explicit = "bootstrap_servers" in self.kafka.model_fields_set
        s3_explicit = "endpoint_url" in self.s3.model_fields_set
        if kafka_explicit and s3_explicit:
            return
        try:
            state = running_stack_state(self.stack.state_dir)
            problem = (
                f"no local stack is running in {self.stack.state_dir}; start one with "
                "`orderbook stack up` or set OB__KAFKA__BOOTSTRAP_SERVERS"
            )
        except ConfigError as exc:  # said when a client needs it, not by every command
            state, problem = None, str(exc)
        if state is None:
            if not kafka_explicit:
                self.kafka._unresolved = problem
            if not s3_explicit:
                _fill(self.s3, "endpoint_url", f"http://{self.stack.host}:{self.stack.s3_port}")
            return
        if not kafka_explicit:
            _fill(self.kafka, "bootstrap_servers", state.kafka_bootstrap)
            self.kafka._unresolved = None
            security = {
                "security_protocol": state.kafka_security_protocol,
                "sasl_mechanism": state.kafka_sasl_mechanism,
                "sasl_username": state.kafka_sasl_username,
                "sasl_password": state.kafka_sasl_password,
            }
            for name, value in security.items():
                if name not in self.kafka.model_fields_set:
                    _fill(self.kafka, name, value)
        if not s3_explicit:
            _fill(self.s3, "endpoint_url", state.s3_endpoint)


def _fill(model: BaseModel, name: str, value: Any) -> None:
    """Set a default-derived value without counting it as set explicitly."""
    setattr(model, name, value)
    model.model_fields_set.discard(name)


class StackState(BaseModel):
    """What `orderbook stack up` records in its state dir for the commands that follow."""

    cluster_id: str
    kafka_bootstrap: str
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    s3_endpoint: str

    def write(self, state_dir: Path) -> Path:
        path = state_dir / STACK_STATE_FILE
        data = self.model_dump(mode="json")
        if self.kafka_sasl_password is not None:
            data["kafka_sasl_password"] = self.kafka_sasl_password.get_secret_value()
        tmp = path.with_suffix(".tmp")
        # Owner-only: it can hold the broker's SASL password.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
        tmp.replace(path)
        return path


def broker_cluster_id(data_dir: Path) -> str | None:
    """The cluster id a KRaft broker's storage was formatted with (its meta.properties)."""
    try:
        lines = (data_dir / "meta.properties").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "cluster.id":
            return value.strip()
    return None


def running_stack_state(state_dir: Path) -> StackState | None:
    """The state of the stack in `state_dir` if its broker is running, else None."""
    from orderbook_platform.stack.processes import ManagedProcess

    state_dir = state_dir.expanduser().resolve()
    path = state_dir / STACK_STATE_FILE
    try:
        state = StackState.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as exc:
        raise ConfigError(f"unreadable stack state {path}: {exc}".splitlines()[0]) from None
    kafka_home = state_dir / "kafka"
    if ManagedProcess("kafka", kafka_home, marker=str(kafka_home)).pid() is None:
        return None  # a stale file (crash, `kill -9`): no one to connect to
    if broker_cluster_id(kafka_home / "data") != state.cluster_id:
        raise ConfigError(
            f"{path} names Kafka cluster {state.cluster_id}, but the broker in {state_dir} "
            "has another; run `orderbook stack up` again to rewrite it"
        )
    return state


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings; `config_file` takes the place of `$OB_CONFIG`."""
    select_config_file(config_file)
    return Settings(**overrides)
