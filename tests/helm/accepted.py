"""The OB__ variables the platform reads, derived from its code (never a copy of a list).

- the pydantic settings: `Settings` (OB__KEY, OB__SECTION__KEY for its nested models),
  `EngineSettings` (OB__ENGINE__*) and `PoolSettings` (OB__TRADERS__*), from their
  model fields and env prefixes;
- the Dagster code location: every `dg.EnvVar` its resources are bound to
  (`dagster_defs.definitions.default_resources()`) and the lake root it reads at run time.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic_settings import BaseSettings


def _settings_names(settings: type[BaseSettings]) -> set[str]:
    prefix = settings.model_config.get("env_prefix", "")
    delimiter = settings.model_config.get("env_nested_delimiter") or "__"
    names = set()
    for field, info in settings.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= {f"{prefix}{field}{delimiter}{sub}".upper() for sub in annotation.model_fields}
        else:
            names.add(f"{prefix}{field}".upper())
    return names


def _env_vars_of(resource: Any) -> set[str]:
    import dagster as dg

    names = set()
    for field in type(resource).model_fields:
        value = getattr(resource, field, None)
        if isinstance(value, dg.EnvVar):
            names.add(value.env_var_name)
        elif isinstance(value, dg.ConfigurableResource):
            names |= _env_vars_of(value)
    return names


@functools.cache
def settings_env_names() -> frozenset[str]:
    from engine.settings import EngineSettings
    from orderbook_platform.config import Settings
    from traders.settings import PoolSettings

    return frozenset(
        _settings_names(Settings) | _settings_names(EngineSettings) | _settings_names(PoolSettings)
    )


@functools.cache
def dagster_env_names() -> frozenset[str]:
    from dagster_defs.definitions import default_resources
    from dagster_defs.resources import LAKE_ROOT_ENV

    names = {LAKE_ROOT_ENV}
    for resource in default_resources().values():
        names |= _env_vars_of(resource)
    return frozenset(names)


def accepted_env_names() -> frozenset[str]:
    return settings_env_names() | dagster_env_names()
