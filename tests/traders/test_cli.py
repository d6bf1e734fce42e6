"""The command line: simulate and traders run options, one-line errors, settings sources."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from orderbook_platform.cli.common import ConfigOption, set_settings
from orderbook_platform.errors import PlatformError
from traders.cli import parse_duration, parse_start, simulate_command, traders_app
from traders.settings import load_pool_settings

pytestmark = pytest.mark.unit

app = typer.Typer()
app.command("simulate")(simulate_command)
app.add_typer(traders_app, name="traders")
runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("2d", 172800)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "x", "1y", "-5", "0s", "1h x"])
def test_bad_durations_are_user_errors(text):
    with pytest.raises(PlatformError):
        parse_duration(text)


def test_start_accepts_iso_dates_as_utc():
    assert parse_start("2026-11-23T09:00:00") == 1_795_424_400_000_000_000
    assert parse_start("2026-11-23T10:00:00+01:00") == 1_795_424_400_000_000_000
    with pytest.raises(PlatformError):
        parse_start("yesterday")


def test_simulate_writes_the_files_and_the_report(tmp_path):
    result = runner.invoke(
        app,
        [
            "simulate",
            "--duration",
            "3m",
            "--traders",
            "50",
            "--seed",
            "1",
            "--out",
            str(tmp_path),
            "--report",
        ],
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.iterdir()} == {
        "orders.jsonl", "trades.jsonl", "prices.jsonl", "order_events.jsonl", "book.jsonl", "realism.json",
    }  # fmt: skip
    report = json.loads((tmp_path / "realism.json").read_text())
    assert report["run"]["seed"] == 1 and "XYZ" in report["symbols"]
    assert "median_spread_ticks" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "1h"], "--out DIR is required"),
        (["--duration", "soon", "--out", "X"], "invalid duration"),
        (["--traders", "0", "--out", "X"], "--traders must be >= 1"),
        (["--mix", "hft=1", "--out", "X"], "unknown strategy"),
        (["--symbols", ",", "--out", "X"], "at least one symbol"),
    ],
)
def test_simulate_refuses_bad_arguments_with_a_platform_error(args, message, tmp_path):
    result = runner.invoke(app, ["simulate", *[a.replace("X", str(tmp_path / "o")) for a in args]])
    assert result.exit_code != 0
    assert isinstance(result.exception, PlatformError) and message in str(result.exception)


def test_pool_settings_come_from_flags_over_env_over_yaml(tmp_path, monkeypatch):
    config = tmp_path / "ob.yaml"
    config.write_text(
        "traders:\n  traders: 300\n  symbols: [AAA, BBB]\n  pool_rate_limit: 500\n  mix: noise=1\n"
    )
    monkeypatch.setenv("OB__TRADERS__POOL_RATE_LIMIT", "700")
    # load_pool_settings exports the file as $OB_CONFIG; monkeypatch restores it after.
    monkeypatch.setenv("OB_CONFIG", str(config))
    settings = load_pool_settings(config, traders=None, trader_rate_limit=3.0)
    assert settings.traders == 300 and settings.symbols == ["AAA", "BBB"]
    assert settings.pool_rate_limit == 700 and settings.trader_rate_limit == 3.0
    assert settings.mix == {"noise": 1.0}
    assert load_pool_settings(config, traders=20).traders == 20


def test_pool_settings_refuse_bad_values_in_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("OB_CONFIG", raising=False)
    from orderbook_platform.config import ConfigError

    with pytest.raises(ConfigError, match="traders"):
        load_pool_settings(None, traders=20_000)
    with pytest.raises(ConfigError, match="unknown strategy"):
        load_pool_settings(None, mix={"hft": 1})
    with pytest.raises(ConfigError, match="not found"):
        load_pool_settings(tmp_path / "missing.yaml")


def test_pool_settings_without_a_traders_section_use_defaults(tmp_path, monkeypatch):
    config = tmp_path / "ob.yaml"
    config.write_text("kafka:\n  bootstrap_servers: x:1\n")
    monkeypatch.setenv("OB_CONFIG", str(config))
    assert load_pool_settings(config).traders == 200


def test_traders_run_refuses_a_bad_traders_count_before_connecting():
    result = runner.invoke(app, ["traders", "run", "--traders", "0"])
    assert result.exit_code != 0 and "traders" in str(result.exception)


def test_the_commands_mount_under_a_root_app_like_the_main_cli():
    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context, config: ConfigOption = None) -> None:
        set_settings(ctx, config)

    root.add_typer(traders_app, name="traders")
    root.command("simulate")(simulate_command)
    assert runner.invoke(root, ["traders", "run", "--help"]).exit_code == 0
    result = runner.invoke(
        root, ["simulate", "--duration", "1m", "--traders", "20", "--out", "/dev/null/x"]
    )
    assert result.exit_code != 0 and isinstance(result.exception, PlatformError)


# ---------------------------------------------------------------- the metrics host


@pytest.fixture
def no_traders_env(monkeypatch):
    """No config file and no OB__TRADERS__* of the caller's shell."""
    import os

    monkeypatch.delenv("OB_CONFIG", raising=False)
    for name in list(os.environ):
        if name.startswith("OB__TRADERS__"):
            monkeypatch.delenv(name)


@pytest.fixture
def swarm_runs(no_traders_env, monkeypatch):
    """`traders run` with the swarm replaced by a recorder of the settings it would run."""
    import traders.cli

    runs = []

    def record(settings, pool_settings, **_):
        runs.append(pool_settings)
        return {}

    monkeypatch.setattr(traders.cli, "run_swarm", record)
    monkeypatch.setattr(traders.cli, "print_swarm_summary", lambda summary: None)
    return runs


def test_traders_run_binds_metrics_to_loopback_unless_told(swarm_runs, monkeypatch):
    result = runner.invoke(app, ["traders", "run", "--metrics-port", "9108"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["traders", "run", "--metrics-port", "9108", "--metrics-host", "0.0.0.0"]
    )
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("OB__TRADERS__METRICS_HOST", "::")
    result = runner.invoke(app, ["traders", "run", "--metrics-port", "9108"])
    assert result.exit_code == 0, result.output
    assert [(s.metrics_host, s.metrics_port) for s in swarm_runs] == [
        ("127.0.0.1", 9108),
        ("0.0.0.0", 9108),
        ("::", 9108),
    ]


def test_traders_run_with_a_bad_metrics_host_fails_before_running(swarm_runs):
    from orderbook_platform.cli.main import app as main_app
    from orderbook_platform.config import ConfigError

    result = runner.invoke(main_app, ["traders", "run", "--metrics-host", "0.0.0.0:9108"])
    assert result.exit_code == 1
    assert isinstance(result.exception, ConfigError)
    assert "metrics_host" in str(result.exception) and "\n" not in str(result.exception)
    assert swarm_runs == []


def test_traders_run_with_a_bad_metrics_host_prints_one_line(swarm_runs, monkeypatch, capsys):
    import sys

    from orderbook_platform.cli.main import main

    argv = ["orderbook", "traders", "run", "--metrics-host", "0.0.0.0:9108"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: traders config: metrics_host: Value error, must be an IP address or a host "
        "name (no port or scheme), e.g. 127.0.0.1, 0.0.0.0 or ::, got '0.0.0.0:9108'"
    ]
    assert swarm_runs == []


@pytest.mark.parametrize(
    ("options", "host"),
    [({}, "127.0.0.1"), ({"metrics_host": "127.0.0.1"}, "127.0.0.1"), ({"metrics_host": "0.0.0.0"}, "0.0.0.0")],
)  # fmt: skip
def test_run_swarm_serves_metrics_on_the_configured_host(
    options, host, no_traders_env, monkeypatch, capsys
):
    import threading

    import traders.pool
    from traders.cli import run_swarm
    from traders.settings import PoolSettings

    bound = []

    class Consumer:
        def close(self) -> None:
            pass

    class Pool:
        """Stands in for TraderPool: notes where the metrics it was given are served."""

        def __init__(self, settings, producer, consumer, metrics=None, start_prices=None):
            self.metrics = metrics
            self.stopping = threading.Event()

        def run(self, duration_s) -> None:
            bound.append(self.metrics.address)

        def stop(self) -> None:
            self.stopping.set()

        def summary(self) -> dict:
            return {}

    monkeypatch.setattr(traders.pool, "latest_mids", lambda settings, symbols: {})
    monkeypatch.setattr(traders.pool, "connect", lambda settings: (None, Consumer()))
    monkeypatch.setattr(traders.pool, "TraderPool", Pool)
    pool_settings = PoolSettings(metrics_port=0, duration_s=1, **options)
    run_swarm(None, pool_settings)
    ((bound_host, port),) = bound
    assert bound_host == host and port > 0
    assert f"traders: /metrics and /healthz on {host} port {port}\n" in capsys.readouterr().err


def test_run_swarm_fails_on_a_taken_metrics_port_before_connecting(no_traders_env, monkeypatch):
    import socket

    import traders.pool
    from orderbook_platform.metrics_http import MetricsBindError
    from traders.cli import run_swarm
    from traders.settings import PoolSettings

    connected = []
    monkeypatch.setattr(traders.pool, "latest_mids", lambda settings, symbols: {})
    monkeypatch.setattr(traders.pool, "connect", lambda settings: connected.append(settings))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        pool_settings = PoolSettings(metrics_port=taken.getsockname()[1], duration_s=1)
        with pytest.raises(MetricsBindError):
            run_swarm(None, pool_settings, progress=False)
    assert connected == []
