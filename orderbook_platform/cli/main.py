"""The `orderbook` command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from confluent_kafka import KafkaException
from rich.table import Table

# typer >= 0.25 vendors its own click; its exceptions live here, not in `click`.
from typer._click import exceptions as click_errors

from dagster_defs.cli import platform_app
from engine.cli import engine_app
from orderbook_platform.cli.common import (
    ConfigOption,
    console,
    err_console,
    set_settings,
    settings_from,
)
from orderbook_platform.cli.stack import stack_app
from orderbook_platform.cli.topics import topics_app
from orderbook_platform.errors import PlatformError
from traders.cli import simulate_command, traders_app

app = typer.Typer(
    name="orderbook",
    help="Orderbook platform: a simulated exchange and the data platform on top of it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")
app.add_typer(engine_app, name="engine")
app.add_typer(traders_app, name="traders")
app.add_typer(platform_app, name="platform")
app.command("simulate")(simulate_command)


@app.callback()
def root(ctx: typer.Context, config: ConfigOption = None) -> None:
    set_settings(ctx, config)


schemas_app = typer.Typer(help="The JSON Schemas of the message contracts.")
app.add_typer(schemas_app, name="schemas")


@schemas_app.command("write")
def schemas_write(
    directory: Annotated[Path, typer.Option("--dir", help="Target folder.")] = Path("schemas"),
) -> None:
    """Regenerate the JSON Schema files from the contract code."""
    from orderbook_platform.contracts.schemas import write_all

    for path in write_all(directory):
        console.print(f"wrote {path}")


@app.command("roundtrip")
def roundtrip_command(
    ctx: typer.Context,
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="Messages to send.")] = 10_000,
) -> None:
    """Produce orders and read them back through the broker; print a summary."""
    from orderbook_platform.roundtrip import round_trip

    with err_console.status(f"round trip of {count:,} orders"):
        result = round_trip(settings_from(ctx), count=count)
    print_round_trip(result)
    if result.matched != result.sent:
        raise PlatformError(f"round trip lost or altered {result.sent - result.matched} message(s)")


def print_round_trip(result) -> None:
    table = Table(title=f"Round trip through topic '{result.topic}'")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("sent", f"{result.sent:,}")
    table.add_row("received (read_committed)", f"{result.received:,}")
    table.add_row("byte-identical", f"{result.matched:,}")
    table.add_row("payload", f"{result.bytes_sent / 1e6:.2f} MB")
    table.add_row("produce rate", f"{result.sent / result.produce_seconds:,.0f} msg/s")
    table.add_row("latency p50", f"{result.latency_p50_ms:.1f} ms")
    table.add_row("latency p99", f"{result.latency_p99_ms:.1f} ms")
    console.print(table)


@app.command("run")
def run_command(
    ctx: typer.Context,
    swarm_seconds: Annotated[
        int, typer.Option("--swarm-seconds", min=5, help="How long the live swarm trades.")
    ] = 45,
    traders: Annotated[int, typer.Option("--traders", min=1, max=10_000)] = 300,
    platform: Annotated[
        bool, typer.Option("--platform/--no-platform", help="Materialise the hour with Dagster.")
    ] = True,
) -> None:
    """The platform's main job: stack, topics, engine, a live swarm, then the data platform."""
    from orderbook_platform.run import run_platform

    run_platform(
        settings_from(ctx), swarm_seconds=swarm_seconds, traders=traders, platform=platform
    )


def main() -> None:
    """Entry point: user errors become one line on stderr and a non-zero exit."""
    try:
        code = app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        err_console.print(exc.ctx.get_help() if exc.ctx else exc.format_message())
        sys.exit(2)
    except click_errors.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        err_console.print(f"[red]error:[/] {exc.format_message()}{hint}", highlight=False)
        sys.exit(2)
    except typer.Abort:
        err_console.print("[red]aborted[/]")
        sys.exit(130)
    except click_errors.ClickException as exc:
        err_console.print(f"[red]error:[/] {exc.format_message()}", highlight=False)
        sys.exit(exc.exit_code)
    except PlatformError as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(1)
    except KafkaException as exc:
        err_console.print(f"[red]kafka error:[/] {exc.args[0].str()}", highlight=False)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
