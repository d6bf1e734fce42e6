"""`orderbook engine ...`: the engine's command line (a Typer app, no import-time work).

    orderbook engine replay ORDERS.jsonl --out DIR [--tick-size 0.01] [--tick SYM=SIZE]
                                              [--symbols A,B] [--depth 10]
                                              [--duplicate-id-window 200000] ...

`engine_app` is mounted by the main CLI. The Kafka service's commands (`run`, `feed`,
`top`) are thin wrappers over engine.service_cli, imported inside each command, so that
importing this module never imports Kafka (the core and the replay never need it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.service_config import ServiceConfig

engine_app = typer.Typer(
    name="engine",
    help="The matching engine: replay an orders file (the Kafka service comes later).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@engine_app.callback()
def _engine() -> None:
    """The matching engine."""
    # A callback keeps `replay` a subcommand even while it is the only one.


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _parse_ticks(pairs: list[str]) -> dict[str, str]:
    ticks = {}
    for pair in pairs:
        symbol, sep, size = pair.partition("=")
        if not sep or not symbol or not size:
            raise _fail(f"--tick expects SYMBOL=SIZE, got {pair!r}")
        ticks[symbol] = size
    return ticks


@engine_app.command("replay")
def replay_command(
    orders: Annotated[
        Path, typer.Argument(help="Orders JSONL: one Order per line, as on the `orders` topic.")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output directory for the four JSONL files (required)."),
    ] = None,
    tick_size: Annotated[str, typer.Option(help="Tick size of every symbol.")] = "0.01",
    tick: Annotated[
        list[str] | None,
        typer.Option(help="Per-symbol tick size, SYMBOL=SIZE; repeatable."),
    ] = None,
    symbols: Annotated[
        str | None, typer.Option(help="Comma-separated allow-list; other symbols are rejected.")
    ] = None,
    default_symbol: Annotated[str, typer.Option(help="Symbol of orders that carry none.")] = "XYZ",
    depth: Annotated[int, typer.Option(help="Levels per side in `book` messages; 0 = off.")] = 10,
    self_trade_prevention: Annotated[
        bool, typer.Option(help="Cancel the resting order when a trader would trade with itself.")
    ] = True,
    duplicate_id_window: Annotated[
        int,
        typer.Option(help="Accepted order ids per symbol that the duplicate check remembers."),
    ] = 200_000,
    show_errors: Annotated[
        int, typer.Option(min=0, help="How many dead-lettered lines to list.")
    ] = 10,
    strict: Annotated[
        bool, typer.Option(help="Exit with status 1 if any line was dead-lettered.")
    ] = False,
) -> None:
    """Replay ORDERS through the matcher into OUT/{trades,prices,book,order_events}.jsonl.

    Lines the Kafka service would dead-letter go to OUT/orders.dlq.jsonl, with their line
    numbers; the run goes on.
    """
    # Imported here so that importing the CLI (e.g. for --help) stays cheap.
    from engine.config import EngineConfig
    from engine.replay import replay

    if out is None:
        raise _fail("--out DIR is required")
    if not orders.exists():
        raise _fail(f"orders file not found: {orders}")
    if not orders.is_file():
        raise _fail(f"not a file: {orders}")
    if out.exists() and not out.is_dir():
        raise _fail(f"--out is not a directory: {out}")
    allowed = None if symbols is None else [s.strip() for s in symbols.split(",") if s.strip()]
    if allowed == []:
        raise _fail(f"--symbols names no symbol: {symbols!r}")
    try:
        config = EngineConfig(
            default_symbol=default_symbol,
            tick_size=tick_size,
            tick_sizes=_parse_ticks(tick or []),
            symbols=allowed,
            depth=depth,
            self_trade_prevention=self_trade_prevention,
            duplicate_id_window=duplicate_id_window,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    try:
        stats = replay(orders, out, config)
    except OSError as exc:
        raise _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None

    _print_summary(stats, out, show_errors)
    if strict and stats.dead_letters:
        raise typer.Exit(1)


def _print_summary(stats, out: Path, show_errors: int) -> None:
    from rich.console import Console
    from rich.table import Table

    from engine import native

    table = Table(title=f"replay -> {out}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("input lines", f"{stats.lines:,}")
    table.add_row("orders", f"{stats.orders:,}")
    table.add_row("trades", f"{stats.trades:,}")
    table.add_row("rejected", f"{stats.rejected:,}")
    table.add_row("undecodable lines", f"{stats.undecodable:,}")
    if stats.engine_errors:
        table.add_row("engine errors", f"{stats.engine_errors:,}")
    for topic, count in stats.messages.items():
        table.add_row(f"{topic} messages", f"{count:,}")
    table.add_row("seconds", f"{stats.seconds:.3f}")
    table.add_row("orders/s", f"{stats.orders_per_second:,.0f}")
    table.add_row("state hash", stats.state_hash[:16])
    table.add_row("core", native.mode)
    console = Console()
    console.print(table)
    for error in stats.errors[:show_errors]:
        console.print(f"line {error.line}: {error.reason}", markup=False, highlight=False)
    if stats.dead_letters > show_errors:
        console.print(f"... {stats.dead_letters - show_errors:,} more dead-lettered lines")
    if stats.dead_letters:
        console.print(f"dead letters: {out / 'orders.dlq.jsonl'}", markup=False, highlight=False)


# --- The Kafka service and its demo helpers (engine/service.py, engine/feeder.py). Thin:
# options here, the work in engine.service_cli, imported lazily (Kafka stays unimported).


@engine_app.command("run")
def run_command(
    ctx: typer.Context,
    instance_id: Annotated[
        str, typer.Option(help="Stable replica id; transactional.id is <group>-<id>.")
    ] = "0",
    group: Annotated[str, typer.Option(help="Consumer group of the engine replicas.")] = (
        "orderbook-engine"
    ),
    batch_size: Annotated[int, typer.Option(help="Most orders per transaction.")] = 10_000,
    snapshot_every: Annotated[
        int, typer.Option(help="Snapshot a partition's books after this many of its orders.")
    ] = 50_000,
    snapshot_seconds: Annotated[
        float, typer.Option(help="... or after this many seconds with new orders.")
    ] = 60.0,
    metrics_port: Annotated[
        int, typer.Option(help="Port of /metrics and /healthz; 0 picks a free one (logged).")
    ] = 9464,
    metrics_host: Annotated[
        str,
        typer.Option(
            help="Address to bind /metrics and /healthz to (IP or host name); "
            "0.0.0.0 for every interface, e.g. on Kubernetes."
        ),
    ] = "127.0.0.1",
    max_idle_seconds: Annotated[
        float | None, typer.Option(help="Exit 0 after this many seconds without input.")
    ] = None,
    session_timeout_ms: Annotated[
        int, typer.Option(help="How long a dead replica keeps its partitions.")
    ] = 10_000,
    stall_timeout_seconds: Annotated[
        float,
        typer.Option(
            help="/healthz turns 503 once input waits this long for a commit; a Kafka call "
            "stuck twice this long ends the process (exit 3)."
        ),
    ] = ServiceConfig.stall_timeout_s,
) -> None:
    """Run the engine on Kafka: exactly-once transactions, snapshots, /metrics, /healthz."""
    from engine import service_cli

    service_cli.run(
        ctx, instance_id=instance_id, group=group, batch_size=batch_size,
        snapshot_every=snapshot_every, snapshot_seconds=snapshot_seconds,
        metrics_port=metrics_port, metrics_host=metrics_host, max_idle_seconds=max_idle_seconds,
        session_timeout_ms=session_timeout_ms, stall_timeout_s=stall_timeout_seconds,
    )  # fmt: skip


@engine_app.command("feed")
def feed_command(
    ctx: typer.Context,
    orders: Annotated[int, typer.Option(min=0, help="Orders to produce.")] = 10_000,
    rate: Annotated[float, typer.Option(min=0, help="Orders per second; 0 = unpaced.")] = 1000.0,
    seed: Annotated[int, typer.Option(help="Seed of the deterministic stream.")] = 7,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated symbols.")] = None,
) -> None:
    """Produce a deterministic stream of realistic orders to `orders`."""
    from engine import service_cli

    service_cli.feed(ctx, orders=orders, rate=rate, seed=seed, symbols=symbols)


@engine_app.command("top")
def top_command(
    ctx: typer.Context,
    seconds: Annotated[float, typer.Option(min=0, help="How long to watch.")] = 30.0,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated symbols.")] = None,
) -> None:
    """Show the live top of book per symbol from `prices`."""
    from engine import service_cli

    service_cli.top(ctx, seconds=seconds, symbols=symbols)


if __name__ == "__main__":
    engine_app()
