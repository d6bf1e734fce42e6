"""`orderbook traders run` and `orderbook simulate`: Typer commands, no import-time work.

    orderbook traders run --traders 500 --mix noise=0.5,mm=0.05 --symbols XYZ,ABC --duration 60
    orderbook simulate --duration 1h --traders 1000 --seed 7 --out sim/ --report [--to-kafka]

`traders_app` is mounted by the main CLI under `traders`; `simulate_command` is
registered there as the top-level `simulate`. Standalone: `python -m traders.cli ...`.
User errors raise `PlatformError` (one line, non-zero exit, via the main CLI).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from orderbook_platform.errors import PlatformError

traders_app = typer.Typer(
    name="traders",
    help="The trader swarm: run it live against the engine through Kafka.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `1h`, `1h30m`, `2d` -> seconds (positive)."""
    text = text.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d)", text)
        if not parts or "".join(f"{n}{u}" for n, u in parts) != text.replace(" ", ""):
            raise PlatformError(
                f"invalid duration {text!r} (examples: 90s, 15m, 1h, 1h30m)"
            ) from None
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not seconds > 0:
        raise PlatformError(f"duration must be positive, got {text!r}")
    return seconds


def parse_start(text: str | None) -> int | None:
    """`--start`: an ISO date/time (UTC unless it says otherwise), `today` or `now` -> epoch ns."""
    if text is None:
        return None
    if text == "now":
        return int(datetime.now(UTC).timestamp()) * 1_000_000_000
    if text == "today":
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return int(midnight.timestamp()) * 1_000_000_000
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PlatformError(f"invalid --start {text!r}: use ISO 8601, 'today' or 'now'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000) * 1000


def _symbols(text: str | None) -> list[str] | None:
    if text is None:
        return None
    symbols = [s.strip() for s in text.split(",") if s.strip()]
    if not symbols:
        raise PlatformError("--symbols needs at least one symbol")
    return symbols


def _mix(text: str | None) -> dict[str, float] | None:
    from traders.swarm import MixError, parse_mix

    if text is None:
        return None
    try:
        return parse_mix(text)
    except MixError as exc:
        raise PlatformError(str(exc)) from None


# ---------------------------------------------------------------------- traders run


@traders_app.callback()
def _traders() -> None:
    """The trader swarm."""


@traders_app.command("run")
def run_command(
    ctx: typer.Context,
    traders: Annotated[
        int | None, typer.Option("--traders", "-n", help="Traders (1..10000).")
    ] = None,
    mix: Annotated[
        str | None,
        typer.Option(
            help="Strategy weights, e.g. noise=0.5,fundamental=0.4,mm=0.03,momentum=0.07."
        ),
    ] = None,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated symbols.")] = None,
    duration: Annotated[
        str | None, typer.Option(help="Stop after this long (30s, 5m, 1h); default: until SIGTERM.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the strategies' RNGs.")] = None,
    trader_rate_limit: Annotated[float | None, typer.Option(help="Orders/s per trader.")] = None,
    pool_rate_limit: Annotated[float | None, typer.Option(help="Orders/s for the pool.")] = None,
    activity: Annotated[
        float | None, typer.Option(help="Multiplies every trader's decision rate.")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus /metrics on this port.")
    ] = None,
    metrics_host: Annotated[
        str | None,
        typer.Option(
            help="Address to bind /metrics and /healthz to (IP or host name): 127.0.0.1 "
            "unless configured; 0.0.0.0 for every interface, e.g. on Kubernetes."
        ),
    ] = None,
    summary: Annotated[
        Path | None, typer.Option("--summary", help="Write the final summary JSON here.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="YAML config (its `traders:` section); default $OB_CONFIG."
        ),
    ] = None,
) -> None:
    """Run N traders live against the engine through Kafka; print a summary on exit."""
    from orderbook_platform.config import load_settings
    from traders.settings import load_pool_settings

    pool_settings = load_pool_settings(
        config,
        traders=traders,
        mix=_mix(mix),
        symbols=_symbols(symbols),
        duration_s=None if duration is None else parse_duration(duration),
        seed=seed,
        trader_rate_limit=trader_rate_limit,
        pool_rate_limit=pool_rate_limit,
        activity=activity,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        summary_path=summary,
    )
    obj = ctx.find_root().obj
    settings = obj.get("settings") if isinstance(obj, dict) else None
    if settings is None:
        settings = load_settings(config)
    result = run_swarm(settings, pool_settings)
    print_swarm_summary(result)


def run_swarm(settings, pool_settings, *, progress: bool = True) -> dict:
    """Run the live pool until SIGTERM/SIGINT or its duration; returns its summary.

    The main CLI's `orderbook run` (`make run`) can call this for a bounded run.
    """
    import signal
    import sys
    import threading
    import time

    from traders.metrics import PoolMetrics
    from traders.pool import TraderPool, connect, latest_mids

    metrics = None
    if pool_settings.metrics_port is not None:
        # First: a host or port that cannot be bound fails before any Kafka client exists.
        metrics = PoolMetrics()
        host = pool_settings.metrics_host
        port = metrics.serve(pool_settings.metrics_port, host)
        if progress:
            sys.stderr.write(f"traders: /metrics and /healthz on {host} port {port}\n")
    try:
        start_prices = latest_mids(settings, list(pool_settings.symbols))
        producer, consumer = connect(settings)
    except BaseException:
        if metrics is not None:
            metrics.stop()
        raise
    pool = TraderPool(pool_settings, producer, consumer, metrics=metrics, start_prices=start_prices)
    previous = {}
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: pool.stop())
    reporter = None
    if progress:
        reporter = threading.Thread(target=_progress, args=(pool, sys.stderr, time), daemon=True)
        reporter.start()
    try:
        pool.run(pool_settings.duration_s)
    finally:
        pool.stop()  # also ends the progress reporter when the duration ran out
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        consumer.close()
        if metrics is not None:
            metrics.stop()
    summary = pool.summary()
    if pool_settings.summary_path is not None:
        pool_settings.summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _progress(pool, stream, time_module) -> None:
    """One status line every 5 s (stderr), from a daemon thread: reads counters only."""
    last = 0
    while not pool.stopping.wait(5.0):
        stats = pool.stats
        sent = stats.orders_sent
        mids = ", ".join(
            f"{s} {v.tick_size.mid_price(v.best_bid, v.best_ask):.2f}/{v.spread}t"
            for s, v in pool.views.items()
            if v.best_bid is not None and v.best_ask is not None
        )
        stream.write(
            f"traders: {sent:,} orders (+{(sent - last) / 5:,.0f}/s), {stats.fills:,} fills, "
            f"queue {len(pool.producer):,}; {mids or 'no two-sided book yet'}\n"
        )
        stream.flush()
        last = sent


def print_swarm_summary(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"trader swarm {summary['run_id']}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("traders", f"{summary['traders']:,}")
    table.add_row("seconds", f"{summary['seconds']:.1f}")
    table.add_row("orders sent", f"{summary['orders_sent']:,}")
    for order_type, count in sorted(summary["orders_by_type"].items()):
        table.add_row(f"  {order_type}", f"{count:,}")
    trades = sum(market["trades_seen"] for market in summary["market"].values())
    table.add_row("trades", f"{trades:,}")
    table.add_row("fills (either side ours)", f"{summary['fills']:,}")
    rate = summary["fill_rate"]
    table.add_row("fill rate (lots)", "n/a" if rate is None else f"{rate:.1%}")
    for symbol, market in summary["market"].items():
        mid = market["mid"]
        table.add_row(
            f"{symbol} last mid / spread",
            "n/a" if mid is None else f"{mid:.3f} / {market['spread_ticks']} ticks",
        )
    table.add_row("settled on exit", "yes" if summary["drained"] else "NO")
    console.print(table)
    pnl = Table(title="top trader PnL per strategy")
    for column in ("strategy", "trader", "PnL", "realised", "inventory"):
        pnl.add_column(column, justify="right" if column in ("PnL", "realised") else "left")
    for kind, entries in summary["top_pnl"].items():
        for entry in entries:
            inventory = ", ".join(f"{s} {q:+d}" for s, q in entry["inventory"].items())
            pnl.add_row(
                kind,
                entry["trader_id"],
                f"{entry['pnl']:,.2f}",
                f"{entry['realised']:,.2f}",
                inventory,
            )
    console.print(pnl)


# ---------------------------------------------------------------------- simulate


def simulate_command(
    duration: Annotated[str, typer.Option(help="Simulated time: 90s, 15m, 1h, 1d.")] = "1h",
    traders: Annotated[int, typer.Option("--traders", "-n", help="Traders (>= 1).")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives byte-identical files.")] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output directory (required).")
    ] = None,
    mix: Annotated[
        str | None, typer.Option(help="Strategy weights; default: the tuned mix.")
    ] = None,
    symbols: Annotated[str, typer.Option(help="Comma-separated symbols.")] = "XYZ",
    start: Annotated[
        str | None,
        typer.Option(
            help="Simulated start (ISO 8601 UTC, 'today', 'now'); default 2026-11-23T09:00Z."
        ),
    ] = None,
    book: Annotated[bool, typer.Option(help="Also write book.jsonl (L2).")] = True,
    report: Annotated[
        bool, typer.Option("--report", help="Print the realism report; write DIR/realism.json.")
    ] = False,
    to_kafka: Annotated[
        bool,
        typer.Option(
            "--to-kafka", help="Publish the files to their topics with the original timestamps."
        ),
    ] = False,
    kafka_topics: Annotated[
        str | None,
        typer.Option(
            help="With --to-kafka: only these topics (e.g. 'orders' to let a live engine match)."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="YAML config for --to-kafka; default $OB_CONFIG."),
    ] = None,
) -> None:
    """Fast-forward simulation: traders + engine core on a simulated clock, into JSONL files."""
    import time

    from traders.realism import format_report
    from traders.simulate import DEFAULT_START_NS, SimulationConfig, simulate, write_report

    if out is None:
        raise PlatformError("--out DIR is required")
    if out.exists() and not out.is_dir():
        raise PlatformError(f"--out is not a directory: {out}")
    if traders < 1:
        raise PlatformError(f"--traders must be >= 1, got {traders}")
    start_ns = parse_start(start)
    mix_weights = _mix(mix)
    try:
        sim_config = SimulationConfig(
            duration_s=parse_duration(duration),
            traders=traders,
            seed=seed,
            symbols=tuple(_symbols(symbols) or ()),
            start_ns=DEFAULT_START_NS if start_ns is None else start_ns,
            write_book=book,
            **({} if mix_weights is None else {"mix": mix_weights}),
        )
    except ValueError as exc:
        raise PlatformError(str(exc)) from None
    began = time.perf_counter()
    try:
        result = simulate(sim_config, out)
    except OSError as exc:
        raise PlatformError(f"cannot write to {out}: {exc.strerror or exc}") from None
    wall = time.perf_counter() - began
    counts = ", ".join(f"{topic} {n:,}" for topic, n in result.counts.items())
    typer.echo(
        f"simulated {sim_config.duration_s:,.0f} s with {traders:,} traders in {wall:.2f} s -> {out} ({counts})"
    )
    if report:
        write_report({**result.realism, "run": result.summary()}, out / "realism.json")
        typer.echo(format_report(result.realism))
        typer.echo(f"realism report: {out / 'realism.json'}")
    if to_kafka:
        from orderbook_platform.config import load_settings
        from traders.publish import publish_directory

        topics = _symbols(kafka_topics) if kafka_topics else None
        published = publish_directory(load_settings(config), out, topics)
        typer.echo("published: " + ", ".join(f"{topic} {n:,}" for topic, n in published.items()))


if __name__ == "__main__":
    # Standalone: `python -m traders.cli traders run ...` / `python -m traders.cli simulate ...`.
    standalone = typer.Typer(
        add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True
    )
    standalone.add_typer(traders_app, name="traders")
    standalone.command("simulate")(simulate_command)
    try:
        standalone()
    except PlatformError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
