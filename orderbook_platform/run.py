"""`orderbook run` (what `make run` calls): the whole platform, end to end, bounded in time.

1. the local stack (Kafka + S3) and the declared topics;
2. the matching engine as a child process (`orderbook engine run`);
3. a live trader swarm for a bounded time, then its summary;
4. the engine drains and stops gracefully;
5. Dagster materialises the current hour: Spark ingestion, checks, polars analytics.
The stack is left running so the UI (`make ui`) can show what was just built.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime

from rich.console import Console

from orderbook_platform.config import Settings
from orderbook_platform.errors import PlatformError
from orderbook_platform.stack import Stack
from orderbook_platform.stack.processes import free_port

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def _step(title: str) -> None:
    console.rule(f"[bold]{title}")


def start_engine(settings: Settings) -> tuple[subprocess.Popen, int, object]:
    """Start `orderbook engine run` and wait until its /readyz says running."""
    port = free_port()
    log_path = settings.stack.state_dir.expanduser().resolve() / "engine.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "orderbook_platform.cli.main", "engine", "run",
         "--metrics-port", str(port), "--instance-id", "make-run"],
        stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
    )  # fmt: skip
    deadline = time.monotonic() + 90
    with err_console.status("starting the matching engine"):
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise PlatformError(f"the engine exited with {process.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            process.terminate()
            raise PlatformError(f"the engine did not become ready within 90 s; see {log_path}")
    console.print(
        f"engine running (pid {process.pid}): metrics http://127.0.0.1:{port}/metrics, "
        f"health /healthz, log {log_path}"
    )
    return process, port, log


def engine_health(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return json.loads(r.read())
    except OSError:
        return {}


def stop_engine(process: subprocess.Popen, timeout: float = 60) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def run_platform(
    settings: Settings, *, swarm_seconds: int, traders: int, platform: bool, activity: float = 5.0
) -> None:
    from orderbook_platform.cli.stack import print_endpoints
    from orderbook_platform.kafka.topics import apply_topics

    _step("1. local stack")
    print_endpoints(Stack(settings, err_console).up())
    settings.resolve_local_stack()  # loaded before the stack was up
    report = apply_topics(settings)
    console.print(
        f"topics: {len(report.changes)} declared, {len(report.changed)} changed "
        f"({', '.join(f'{c.topic} {c.action}' for c in report.changed) or 'none'})"
    )

    _step("2. matching engine")
    engine, port, log = start_engine(settings)
    started_at = datetime.now(UTC)
    try:
        _step(f"3. live swarm: {traders} traders for {swarm_seconds} s")
        from traders.cli import print_swarm_summary, run_swarm
        from traders.settings import load_pool_settings

        pool_settings = load_pool_settings(
            None, traders=traders, duration_s=float(swarm_seconds), activity=activity
        )
        print_swarm_summary(run_swarm(settings, pool_settings))
    finally:
        health = engine_health(port)
        code = stop_engine(engine)
        log.close()
    console.print(
        f"engine stopped (exit {code}); last commit age {health.get('last_commit_age_s', '?')} s"
    )
    if code not in (0, None):
        raise PlatformError(f"the engine exited with {code}; see its log under the state dir")

    if not platform:
        return
    _step("4. data platform: materialise the current hour")
    from dagster_defs.cli import print_summary, quiet_dagster_warnings

    quiet_dagster_warnings()  # before the definitions are imported: they warn at import
    from dagster_defs.run_hour import materialize_hour

    with err_console.status(
        f"Dagster: Spark ingestion + checks + analytics for {started_at:%Y-%m-%d %H}:00 UTC"
    ):
        summary = materialize_hour(settings, started_at, console_log_level="WARNING")
    print_summary(summary)
    console.print(
        "Stack left running. Stop it with [bold]uv run orderbook stack down[/] "
        "([bold]--purge[/] also deletes its data)."
    )
    if not summary.success:
        raise PlatformError("the hour's materialisation did not fully succeed (see above)")
