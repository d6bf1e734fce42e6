"""The `orderbook` console script, run as a user runs it (a real subprocess)."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def orderbook(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orderbook_platform.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80", **(env or {})},
        timeout=60,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("stack", "bogus"),
        ("roundtrip", "--count", "many"),
        ("roundtrip", "--count", "0"),
        ("topics", "apply", "--no-such-flag"),
    ],
)
def test_a_bad_argument_gives_one_line_and_a_non_zero_exit(args):
    result = orderbook(*args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert "Traceback" not in result.stderr + result.stdout


def test_a_missing_config_file_gives_one_line_and_exit_1(tmp_path):
    result = orderbook("--config", str(tmp_path / "nope.yaml"), "topics", "list")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: config file not found")
    assert "Traceback" not in result.stderr


def test_an_unreachable_port_conflict_is_reported_not_raised(tmp_path):
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = orderbook(
            "stack",
            "up",
            env={
                "OB__STACK__STATE_DIR": str(tmp_path / "state"),
                "OB__STACK__KAFKA_PORT": str(port),
            },
        )
    assert result.returncode == 1
    assert f"port 127.0.0.1:{port} is taken by another process" in result.stderr
    assert "Traceback" not in result.stderr


def test_topics_list_shows_every_declared_topic():
    result = orderbook("topics", "list", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    for topic in ("orders", "trades", "prices", "book", "order_events", "orders.dlq"):
        assert topic in result.stdout


@pytest.mark.parametrize(
    "args",
    [("topics", "apply"), ("roundtrip", "-n", "1"), ("platform", "ui", "--port", "1")],
)
def test_a_kafka_command_with_no_stack_here_and_no_settings_refuses_in_one_line(args, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OB")}
    result = subprocess.run(
        [sys.executable, "-m", "orderbook_platform.cli.main", *args],
        capture_output=True, text=True, cwd=tmp_path, env={**env, "COLUMNS": "200"}, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: no local stack is running in .orderbook; start one with "
        "`orderbook stack up` or set OB__KAFKA__BOOTSTRAP_SERVERS"
    )
