"""`orderbook stack ...`: the local Kafka + S3 stack."""

from __future__ import annotations

import contextlib
import subprocess
from typing import Annotated

import typer
from rich.table import Table

from orderbook_platform.cli.common import console, err_console, settings_from
from orderbook_platform.stack import Endpoints, Stack
from orderbook_platform.stack.jars import fetch_jars

stack_app = typer.Typer(help="Run the local stack: a KRaft Kafka broker and an S3 server.")


def print_endpoints(endpoints: Endpoints) -> None:
    table = Table(title="Local stack", show_header=True)
    table.add_column("service")
    table.add_column("endpoint")
    table.add_row("Kafka (KRaft)", endpoints.kafka_bootstrap)
    table.add_row("S3 (S3Proxy)", f"{endpoints.s3_endpoint}  bucket={endpoints.s3_bucket}")
    table.add_row("state dir", str(endpoints.state_dir))
    console.print(table)


@stack_app.command()
def fetch(ctx: typer.Context) -> None:
    """Fetch the JVM artifacts (Kafka, Spark connectors, S3Proxy) from Maven Central."""
    settings = settings_from(ctx)
    path = fetch_jars(settings.stack.jars_dir, err_console)
    console.print(f"JVM artifacts: {path}")


@stack_app.command()
def up(ctx: typer.Context) -> None:
    """Start the broker and the S3 server (idempotent) and print their endpoints."""
    print_endpoints(Stack(settings_from(ctx), err_console).up())


@stack_app.command()
def status(ctx: typer.Context) -> None:
    """Show whether each component runs and answers."""
    table = Table(title="Local stack")
    for column in ("component", "state", "pid", "endpoint", "log"):
        table.add_column(column)
    components = Stack(settings_from(ctx), err_console).status()
    for c in components:
        state = (
            "[green]up[/]"
            if c.answering
            else "[yellow]starting[/]"
            if c.running
            else "[red]down[/]"
        )
        table.add_row(c.name, state, str(c.pid or "-"), c.endpoint, str(c.log_file))
    console.print(table)
    if not all(c.answering for c in components):
        raise typer.Exit(3)


@stack_app.command()
def down(
    ctx: typer.Context,
    purge: Annotated[bool, typer.Option("--purge", help="Also delete the data.")] = False,
) -> None:
    """Stop both components cleanly."""
    stopped = Stack(settings_from(ctx), err_console).down(purge=purge)
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    if purge:
        console.print("data purged")


@stack_app.command()
def logs(
    ctx: typer.Context,
    component: Annotated[str, typer.Argument(help="kafka or s3")] = "kafka",
    lines: Annotated[int, typer.Option("--lines", "-n", min=1)] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
) -> None:
    """Print (or follow) a component's log."""
    path = Stack(settings_from(ctx), err_console).log_file(component)
    if not path.exists():
        console.print(f"no log yet at {path}")
        return
    args = ["tail", "-n", str(lines), *(["-F"] if follow else []), str(path)]
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run(args, check=False)
