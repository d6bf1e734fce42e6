"""Unit tests of the service's small parts: options, intake, telemetry, the feeder."""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from engine.feeder import generate_orders
from engine.intake import MAX_DEAD_LETTER_VALUE_BYTES, MAX_ORDER_BYTES, dead_letter, decode_input
from engine.service_config import ServiceConfig, ServiceConfigError
from engine.telemetry import RUNNING, STOPPING, Health, JsonFormatter, Metrics, TelemetryServer
from orderbook_platform.contracts import ContractError, encode
from orderbook_platform.metrics_http import MetricsBindError

pytestmark = pytest.mark.unit


def test_transactional_id_is_stable_per_group_and_instance():
    assert ServiceConfig().transactional_id == "orderbook-engine-0"
    assert ServiceConfig(instance_id="7", group="blue").transactional_id == "blue-7"


def test_the_two_producers_ids_are_distinct_stable_and_belong_to_the_instance():
    first, second = ServiceConfig(instance_id="7", group="blue").transactional_ids
    assert first == ServiceConfig(instance_id="7", group="blue").transactional_id
    assert second != first and second.startswith(first)
    others = set(ServiceConfig(instance_id="8", group="blue").transactional_ids)
    others |= set(ServiceConfig(instance_id="7", group="green").transactional_ids)
    others |= set(ServiceConfig(instance_id="7-b", group="blue").transactional_ids)
    others |= set(ServiceConfig(instance_id="7.b", group="blue").transactional_ids)
    assert not others & {first, second}  # no other instance or group can fence these


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"instance_id": "a b"}, "--instance-id"),
        ({"group": ""}, "--group"),
        ({"batch_size": 0}, "--batch-size"),
        ({"snapshot_every": 0}, "--snapshot-every"),
        ({"metrics_port": 70000}, "--metrics-port"),
        ({"metrics_host": ""}, "--metrics-host"),
        ({"metrics_host": "0.0.0.0:9464"}, "--metrics-host"),
        ({"metrics_host": "http://0.0.0.0"}, "--metrics-host"),
        ({"metrics_host": "[::]"}, "--metrics-host"),
        ({"metrics_host": "not a host"}, "--metrics-host"),
        ({"metrics_host": "127.1"}, "--metrics-host"),
        ({"metrics_host": "10.0.0.256"}, "--metrics-host"),
        ({"metrics_host": "-engine"}, "--metrics-host"),
        ({"metrics_host": "a" * 64 + ".svc"}, "--metrics-host"),
        ({"max_idle_seconds": 0}, "--max-idle-seconds"),
    ],
)
def test_bad_service_options_are_user_errors(options, message):
    with pytest.raises(ServiceConfigError, match=message):
        ServiceConfig(**options)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "0.0.0.0", "::", "::1", "localhost", "engine-0.engine.trading.svc."]
)
def test_metrics_host_takes_ip_literals_and_host_names(host):
    assert ServiceConfig(metrics_host=host).metrics_host == host


def _engine_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orderbook_platform.cli.main", "engine", "run", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_engine_run_with_a_bad_option_prints_one_line_and_fails():
    completed = _engine_run("--batch-size", "0")
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == ["error: --batch-size must be >= 1, got 0"]


def test_engine_run_with_a_bad_metrics_host_prints_one_line_and_fails():
    completed = _engine_run("--metrics-host", "0.0.0.0:9464")
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == [
        "error: --metrics-host must be an IP address or a host name, got '0.0.0.0:9464'"
    ]


def test_engine_run_that_cannot_bind_its_metrics_port_prints_one_line_and_fails():
    # Fails before any Kafka connection: the telemetry server starts first.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = _engine_run("--metrics-host", "127.0.0.1", "--metrics-port", str(port))
    assert completed.returncode == 1
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith(f"error: cannot serve /metrics on 127.0.0.1 port {port}: ")


def _configs_built_by_engine_run(monkeypatch, *args: str) -> list[ServiceConfig]:
    """`orderbook engine run ARGS` in process, with the service replaced by a recorder."""
    from typer.testing import CliRunner

    import engine.service
    import engine.telemetry
    from orderbook_platform.cli.main import app

    built: list[ServiceConfig] = []
    monkeypatch.setattr(engine.service, "run_service", lambda _s, config: built.append(config))
    monkeypatch.setattr(engine.telemetry, "configure_logging", lambda: None)
    result = CliRunner().invoke(app, ["engine", "run", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return built


def test_engine_run_passes_metrics_host_to_the_service(monkeypatch):
    (config,) = _configs_built_by_engine_run(monkeypatch, "--metrics-host", "0.0.0.0")
    assert config.metrics_host == "0.0.0.0"


def test_engine_run_binds_metrics_to_loopback_by_default(monkeypatch):
    (config,) = _configs_built_by_engine_run(monkeypatch)
    assert config.metrics_host == "127.0.0.1"
    assert config == ServiceConfig(metrics_host=config.metrics_host)


def test_intake_refuses_tombstones_garbage_and_oversized_records():
    for value, reason in (
        (None, "tombstone"),
        (b"{", "truncated"),
        (b"x" * (MAX_ORDER_BYTES + 1), "limit"),
    ):
        with pytest.raises(ContractError, match=reason):
            decode_input(value)
    order = next(generate_orders(1))
    assert decode_input(encode(order)) == order


def test_dead_letter_keeps_the_original_bytes_and_truncates_only_enormous_ones():
    letter = dead_letter("orders", 2, 41, b"K", b"\x00bad", "nope", 123)
    assert (letter.partition, letter.offset, letter.timestamp_ms) == (2, 41, 123)
    assert base64.b64decode(letter.value_base64) == b"\x00bad"
    assert base64.b64decode(letter.key_base64) == b"K"
    huge = dead_letter("orders", 0, 0, None, b"y" * (MAX_DEAD_LETTER_VALUE_BYTES + 10), "big", None)
    assert len(base64.b64decode(huge.value_base64)) == MAX_DEAD_LETTER_VALUE_BYTES
    assert "truncated" in huge.error and huge.key_base64 is None


def test_generated_orders_are_deterministic_and_cover_every_instruction():
    first = list(generate_orders(5000, seed=42, symbols=["A", "B"]))
    assert first == list(generate_orders(5000, seed=42, symbols=["A", "B"]))
    assert first != list(generate_orders(5000, seed=43, symbols=["A", "B"]))
    kinds = {o.order_type for o in first}
    assert kinds == {"limit", "market", "cancel", "modify"}
    assert {o.time_in_force for o in first if o.order_type == "limit"} >= {
        "GTC",
        "IOC",
        "FOK",
        None,
    }
    assert any(o.post_only for o in first)
    assert len({o.trader_id for o in first}) > 5


def test_json_logs_are_one_object_per_line_with_extra_fields():
    record = logging.LogRecord("orderbook.engine", logging.INFO, __file__, 1, "hello", None, None)
    record.partition = 2
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert (entry["event"], entry["level"], entry["partition"]) == ("hello", "info", 2)


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_health_and_metrics_endpoints_follow_the_service_state():
    metrics = Metrics()
    health = Health("3", "grp")
    server = TelemetryServer(metrics, health, "127.0.0.1", 0).start()
    try:
        status, body = _get(server.port, "/healthz")
        assert status == 200 and json.loads(body)["state"] == "starting"
        assert _get(server.port, "/readyz")[0] == 503
        health.state = RUNNING
        health.assigned = [0, 2]
        metrics.orders.inc(5)
        assert _get(server.port, "/readyz")[0] == 200
        assert json.loads(_get(server.port, "/healthz")[1])["assigned_partitions"] == [0, 2]
        assert b"orderbook_engine_orders_total 5.0" in _get(server.port, "/metrics")[1]
        health.state = STOPPING
        assert _get(server.port, "/healthz")[0] == 503
    finally:
        server.stop()


def _connects(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port (refused: False)."""
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except ConnectionRefusedError:
        return False


# Every 127.0.0.0/8 address is this machine's loopback (Linux), so 127.0.0.2 tells a server
# bound to every interface from one bound to 127.0.0.1 only, without a second interface.


def test_telemetry_bound_to_every_interface_answers_on_any_local_address():
    server = TelemetryServer(Metrics(), Health("0", "grp"), "0.0.0.0", 0).start()
    try:
        assert _get(server.port, "/healthz")[0] == 200
        assert _connects("127.0.0.2", server.port)
    finally:
        server.stop()


def test_telemetry_on_the_default_host_answers_on_loopback_only():
    server = TelemetryServer(Metrics(), Health("0", "grp"), ServiceConfig().metrics_host, 0)
    server.start()
    try:
        assert _get(server.port, "/healthz")[0] == 200
        assert not _connects("127.0.0.2", server.port)
    finally:
        server.stop()


def test_telemetry_binds_an_ipv6_host():
    server = TelemetryServer(Metrics(), Health("0", "grp"), "::1", 0).start()
    try:
        with urllib.request.urlopen(f"http://[::1]:{server.port}/healthz", timeout=5) as response:
            assert response.status == 200
        assert not _connects("127.0.0.1", server.port)
    finally:
        server.stop()


def test_telemetry_that_cannot_bind_is_a_user_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = f"cannot serve /metrics on 127.0.0.1 port {port}: "
        with pytest.raises(MetricsBindError, match=re.escape(message)):
            TelemetryServer(Metrics(), Health("0", "grp"), "127.0.0.1", port)
    with pytest.raises(MetricsBindError, match=re.escape("on 192.0.2.1 port 0")):  # TEST-NET-1
        TelemetryServer(Metrics(), Health("0", "grp"), "192.0.2.1", 0)
