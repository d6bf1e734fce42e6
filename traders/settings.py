"""Configuration of the live pool: CLI flags > `OB__TRADERS__*` env > YAML `traders:` > defaults.

The YAML file is the platform's config file (`--config` or `$OB_CONFIG`); the pool
reads its `traders:` section, e.g.

    traders:
      traders: 2000
      mix: noise=0.5,fundamental=0.4,mm=0.03,momentum=0.07
      symbols: [XYZ, ABC]
      trader_rate_limit: 2.0
      pool_rate_limit: 20000
      metrics_port: 9108
      metrics_host: 127.0.0.1   # loopback by default; 0.0.0.0 (or ::) to serve the network
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from orderbook_platform.config import ConfigError, FileSettings, select_config_file
from orderbook_platform.metrics_http import is_bind_host
from traders.swarm import DEFAULT_MIX, MixError, parse_mix

MAX_TRADERS = 10_000


class PoolSettings(FileSettings):
    model_config = SettingsConfigDict(
        env_prefix="OB__TRADERS__", env_nested_delimiter="__", extra="forbid"
    )
    yaml_section = "traders"  # the platform's file; absent or empty: defaults

    traders: int = Field(200, ge=1, le=MAX_TRADERS, description="Traders in this process.")
    mix: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MIX))
    symbols: list[str] = Field(default_factory=lambda: ["XYZ"], min_length=1)
    duration_s: float | None = Field(
        None, gt=0, description="Stop after this long; None: until SIGTERM."
    )
    seed: int = 0
    run_id: str | None = Field(
        None, description="Prefix of trader ids; default: derived from the start time."
    )
    tick_size: str = "0.01"
    start_price: float = Field(
        100.0, gt=0, description="Fair value at start for symbols with no mid on `prices` yet."
    )
    trader_rate_limit: float = Field(
        2.0, gt=0, description="Orders per second per trader (sustained)."
    )
    trader_burst: int = Field(
        8, ge=4, description="Token-bucket depth per trader (>= 4: one decision)."
    )
    pool_rate_limit: float = Field(
        20_000.0, gt=0, description="Orders per second for the whole pool."
    )
    pool_burst: int = Field(2_000, ge=4)
    max_in_flight: int = Field(
        20_000, ge=100, description="Producer queue length that pauses decisions."
    )
    activity: float = Field(1.0, gt=0, description="Multiplies every trader's decision rate.")
    stale_order_s: float = Field(
        60.0, gt=0, description="Forget orders unacknowledged after this long."
    )
    drain_timeout_s: float = Field(
        15.0, ge=0, description="On stop: time allowed to cancel and settle."
    )
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Prometheus /metrics port; None: off."
    )
    metrics_host: str = Field(
        "127.0.0.1",
        description="Address the metrics port is bound to: an IP literal or a host name.",
    )
    summary_path: Path | None = Field(None, description="Write the final summary (JSON) here.")

    @field_validator("mix", mode="before")
    @classmethod
    def _parse_mix(cls, value: Any) -> dict[str, float]:
        try:
            return parse_mix(value)
        except MixError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("metrics_host")
    @classmethod
    def _check_metrics_host(cls, value: str) -> str:
        if not is_bind_host(value):
            raise ValueError(
                "must be an IP address or a host name (no port or scheme), "
                f"e.g. 127.0.0.1, 0.0.0.0 or ::, got {value!r}"
            )
        return value

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [s.strip() for s in value.split(",") if s.strip()]
        return value


def load_pool_settings(config_file: Path | None = None, **overrides: Any) -> PoolSettings:
    """Pool settings; `overrides` (CLI flags) win, None values are ignored."""
    select_config_file(config_file)
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return PoolSettings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "traders"
        raise ConfigError(f"traders config: {where}: {first['msg']}") from None
