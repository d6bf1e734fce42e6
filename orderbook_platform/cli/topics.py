"""`orderbook topics ...`: declare the platform's topics on the broker."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from orderbook_platform.cli.common import console, settings_from
from orderbook_platform.kafka.topics import Action, apply_topics, declared_topics

topics_app = typer.Typer(help="Create or update the platform's Kafka topics.")

_STYLE = {
    Action.CREATED: "green",
    Action.PARTITIONS: "yellow",
    Action.CONFIG: "yellow",
    Action.ADOPTED: "cyan",
    Action.DELETED: "red",
    Action.REFUSED: "red",
    Action.UNCHANGED: "dim",
}


@topics_app.command("apply")
def apply(
    ctx: typer.Context,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune", help="Delete topics this tool created that are no longer declared."
        ),
    ] = False,
) -> None:
    """Create missing topics, grow partitions, align configs. Idempotent."""
    report = apply_topics(settings_from(ctx), prune=prune)
    table = Table(title="topics apply")
    for column in ("topic", "action", "detail"):
        table.add_column(column)
    for change in report.changes:
        style = _STYLE[change.action]
        table.add_row(change.topic, f"[{style}]{change.action}[/]", change.detail)
    console.print(table)
    console.print(f"{len(report.changed)} change(s)")
    if any(c.action is Action.REFUSED for c in report.changes):
        raise typer.Exit(1)


@topics_app.command("list")
def list_topics(ctx: typer.Context) -> None:
    """Show the declared topics."""
    table = Table(title="declared topics")
    for column in ("topic", "partitions", "config", "purpose"):
        table.add_column(column)
    for spec in declared_topics(settings_from(ctx)):
        config = ", ".join(f"{k}={v}" for k, v in spec.config.items())
        table.add_row(spec.name, str(spec.partitions), config, spec.purpose)
    console.print(table)
