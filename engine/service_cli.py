"""What `orderbook engine run | feed | top` do, behind the thin Typer commands in engine.cli.

Kept out of engine/cli.py so that importing the CLI never imports Kafka, and so the
commands there stay a declaration of options and one call.
"""

from __future__ import annotations

from typing import Any

from orderbook_platform.config import Settings, load_settings


def settings_from_context(ctx: Any) -> Settings:
    """The settings the root `orderbook` callback loaded, or fresh ones when run alone."""
    obj = getattr(ctx, "obj", None)
    while obj is None and ctx is not None and getattr(ctx, "parent", None) is not None:
        ctx = ctx.parent
        obj = getattr(ctx, "obj", None)
    if isinstance(obj, dict) and "settings" in obj:
        return obj["settings"]
    return load_settings()


def run(
    ctx: Any,
    *,
    instance_id: str,
    group: str,
    batch_size: int,
    snapshot_every: int,
    snapshot_seconds: float,
    metrics_port: int,
    metrics_host: str,
    max_idle_seconds: float | None,
    session_timeout_ms: int,
    stall_timeout_s: float,
) -> None:
    from engine.service import run_service
    from engine.service_config import ServiceConfig
    from engine.telemetry import configure_logging

    config = ServiceConfig(
        instance_id=instance_id,
        group=group,
        batch_size=batch_size,
        snapshot_every=snapshot_every,
        snapshot_seconds=snapshot_seconds,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        max_idle_seconds=max_idle_seconds,
        session_timeout_ms=session_timeout_ms,
        stall_timeout_s=stall_timeout_s,
    )
    settings = settings_from_context(ctx)
    configure_logging()
    run_service(settings, config)


def feed(ctx: Any, *, orders: int, rate: float, seed: int, symbols: str | None) -> None:
    from rich.console import Console

    from engine.feeder import DEFAULT_SYMBOLS, feed_orders

    names = [s.strip() for s in symbols.split(",") if s.strip()] if symbols else DEFAULT_SYMBOLS
    result = feed_orders(settings_from_context(ctx), orders, rate=rate, seed=seed, symbols=names)
    Console().print(
        f"fed {result.sent:,} orders in {result.seconds:.1f} s ({result.rate:,.0f}/s) "
        f"for {', '.join(names)}"
    )


def top(ctx: Any, *, seconds: float, symbols: str | None) -> None:
    from engine.feeder import show_top

    names = [s.strip() for s in symbols.split(",") if s.strip()] if symbols else None
    show_top(settings_from_context(ctx), seconds, symbols=names)
