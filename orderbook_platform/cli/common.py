"""What every CLI command shares: the console and loading settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orderbook_platform.config import Settings, load_settings

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (default: $OB_CONFIG)."),
]


def settings_from(ctx: typer.Context) -> Settings:
    """Settings loaded once per invocation by the root callback."""
    return ctx.obj["settings"]


def set_settings(ctx: typer.Context, config: Path | None) -> None:
    ctx.ensure_object(dict)
    if "settings" not in ctx.obj:
        ctx.obj["settings"] = load_settings(config)
