"""The engine service's core settings: `OB__ENGINE__*` env > YAML `engine:` > defaults.

The YAML file is the platform's config file (`--config` or `$OB_CONFIG`); the engine
reads its `engine:` section, e.g.

    engine:
      duplicate_id_window: 200000

Only the Kafka service reads these (the replay CLI takes flags). The default symbol stays
the platform-wide `default_symbol` setting.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from engine.book import DEFAULT_ID_WINDOW
from engine.config import EngineConfig
from orderbook_platform.config import FileSettings, Settings


class EngineSettings(FileSettings):
    model_config = SettingsConfigDict(
        env_prefix="OB__ENGINE__", env_nested_delimiter="__", extra="forbid"
    )
    yaml_section = "engine"  # the platform's file; absent or empty: defaults

    duplicate_id_window: int = Field(
        DEFAULT_ID_WINDOW,
        ge=0,
        description="Accepted order ids per symbol that the duplicate check remembers.",
    )


def engine_config_from(settings: Settings) -> EngineConfig:
    """The service's `EngineConfig`: the platform's default symbol plus `engine:` settings."""
    engine = EngineSettings()
    return EngineConfig(
        default_symbol=settings.default_symbol,
        duplicate_id_window=engine.duplicate_id_window,
    )
