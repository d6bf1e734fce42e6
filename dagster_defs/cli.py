"""`orderbook platform …`: materialise an hour from the terminal, or open the Dagster UI."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

platform_app = typer.Typer(help="The data platform: hourly ingestion, analytics, checks, UI.")
console = Console()

REPO_ROOT = Path(__file__).resolve().parent.parent

HourOption = Annotated[
    str | None,
    typer.Option("--hour", help="UTC hour as YYYY-MM-DDTHH (default: the current hour)."),
]
LakeOption = Annotated[
    str | None,
    typer.Option("--lake", help="Lake root: a folder or s3://bucket[/prefix] (default: local)."),
]


def quiet_dagster_warnings() -> None:
    """Terminal runs print their own summary; the UI keeps the run's full event log.

    Hides Dagster's preview/beta notices and the backfill-policy notice of the mixed
    ingestion + analytics selection, which say nothing a user of the command can act on.
    """
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", message="Asset job .* varying BackfillPolicies")
    logging.getLogger("dagster").setLevel(logging.WARNING)


def _settings(ctx: typer.Context):
    from orderbook_platform.config import load_settings

    if ctx.obj and "settings" in ctx.obj:
        return ctx.obj["settings"]
    return load_settings()


def parse_hour(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    for pattern in ("%Y-%m-%dT%H", "%Y-%m-%dT%H:%M", "%Y-%m-%d-%H:%M", "%Y-%m-%d %H"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise typer.BadParameter(f"not an hour: {text!r} (expected YYYY-MM-DDTHH)")


def check_partitioned(moment: datetime) -> datetime:
    from dagster_defs.partitions import PARTITIONS_START_ENV, floor_hour, partitions_start

    start = partitions_start()
    if floor_hour(moment) < start:
        raise typer.BadParameter(
            f"{moment:%Y-%m-%dT%H} is before the first partition {start:%Y-%m-%dT%H}; "
            f"set {PARTITIONS_START_ENV} to an earlier day to backfill older history"
        )
    return moment


def frame_table(frame: pl.DataFrame, title: str, max_rows: int = 20) -> Table:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(column, justify="right" if frame[column].dtype.is_numeric() else "left")
    for row in frame.head(max_rows).iter_rows():
        table.add_row(
            *(
                f"{v:,.4f}"
                if isinstance(v, float)
                else f"{v:%H:%M}"
                if isinstance(v, datetime)
                else str(v)
                for v in row
            )
        )
    if frame.height > max_rows:
        table.caption = f"{max_rows} of {frame.height} rows"
    return table


def print_summary(summary) -> None:
    console.print(f"[bold]Hour {summary.partition_key} UTC[/] → lake {summary.lake_root}")
    failed = [name for name, passed in summary.checks.items() if not passed]
    console.print(
        f"checks: {len(summary.checks) - len(failed)}/{len(summary.checks)} passed"
        + (f" — [red]failed: {', '.join(failed)}[/]" if failed else "")
    )
    if summary.ohlc is not None:
        candles = summary.ohlc.select(
            "symbol", "minute", "open", "high", "low", "close", "volume", "trade_count", "vwap"
        )
        console.print(frame_table(candles.tail(15), "OHLC 1m (last 15 minutes)"))
    if summary.vwap is not None:
        console.print(frame_table(summary.vwap, "VWAP per symbol"))
    if summary.fill_rate is not None:
        rates = summary.fill_rate.select(
            "order_type", "time_in_force", "side", "strategy", "orders", "submitted", "filled",
            "fill_rate", "median_time_to_first_fill_ms",
        )  # fmt: skip
        console.print(frame_table(rates, "Fill rates"))
    if summary.chart:
        console.print(f"chart: {summary.chart}")
    for failure in summary.failures:
        console.print(f"failed: {failure}", style="red", highlight=False, markup=False)
    if not summary.success:
        console.print("[yellow]the run did not fully succeed: see the UI for details[/]")
    console.print(
        "Open the UI with [bold]make ui[/] (or `orderbook platform ui`), then http://127.0.0.1:3000"
    )


@platform_app.command("materialize")
def materialize_command(
    ctx: typer.Context, hour: HourOption = None, lake: LakeOption = None
) -> None:
    """Ingest one hour from Kafka with Spark, run the checks and the analytics, print them."""
    quiet_dagster_warnings()  # before the definitions are imported: they warn at import
    from dagster_defs.run_hour import materialize_hour

    settings = _settings(ctx)
    moment = check_partitioned(parse_hour(hour))
    with console.status(f"materialising {moment:%Y-%m-%d %H}:00 UTC (Spark start-up included)"):
        summary = materialize_hour(settings, moment, lake, console_log_level="WARNING")
    print_summary(summary)
    if not summary.success:
        raise typer.Exit(1)


@platform_app.command("ui")
def ui_command(
    ctx: typer.Context,
    lake: LakeOption = None,
    port: Annotated[int, typer.Option("--port", help="Webserver port.")] = 3000,
) -> None:
    """Start `dagster dev -w workspace.yaml` with a persistent DAGSTER_HOME in the state dir."""
    from dagster_defs.run_hour import platform_env

    settings = _settings(ctx)
    env = {**os.environ, **platform_env(settings, lake)}
    console.print(f"DAGSTER_HOME={env['DAGSTER_HOME']}; UI on http://127.0.0.1:{port}")
    command = [
        sys.executable, "-m", "dagster", "dev", "-w", str(REPO_ROOT / "workspace.yaml"),
        "-h", "127.0.0.1", "-p", str(port),
    ]  # fmt: skip
    raise typer.Exit(subprocess.call(command, env=env, cwd=REPO_ROOT))
