"""The engine service's core settings: `OB__ENGINE__*` env > YAML `engine:` > defaults.

The YAML file is the platform's config file (`--config` or `$OB_CONFIG`); the engine
reads its `engine:` section, e.g.

    engine:
      duplicate_id_window: 200000

Only the Kafka service reads these (the replay CLI takes flags and the defaults). The
default symbol stays the platform-wide `default_symbol` setting.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from engine.book import DEFAULT_ID_WINDOW
from engine.config import EngineConfig
from orderbook_platform.config import CONFIG_FILE_ENV, ConfigError, Settings


class EngineSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OB__ENGINE__", env_nested_delimiter="__", extra="forbid"
    )

    duplicate_id_window: int = Field(
        DEFAULT_ID_WINDOW,
        ge=0,
        description="Accepted order ids per symbol that the duplicate check remembers.",
    )

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
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            # The platform's file may have no `engine:` section at all: that is fine.
            section = (yaml.safe_load(Path(config_file).read_text()) or {}).get("engine") or {}
            if not isinstance(section, dict):
                raise ConfigError(f"{config_file}: `engine:` must be a mapping")
            sources.append(InitSettingsSource(settings_cls, init_kwargs=section))
        return tuple(sources)


def engine_config_from(settings: Settings) -> EngineConfig:
    """The service's `EngineConfig`: the platform's default symbol plus `engine:` settings."""
    engine = EngineSettings()
    return EngineConfig(
        default_symbol=settings.default_symbol,
        duplicate_id_window=engine.duplicate_id_window,
    )
