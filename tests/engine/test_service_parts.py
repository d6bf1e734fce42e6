"""Unit tests of the service's small parts: options, intake, telemetry, the feeder."""

from __future__ import annotations

import base64
import json
import logging
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

pytestmark = pytest.mark.unit


def test_transactional_id_is_stable_per_group_and_instance():
    assert ServiceConfig().transactional_id == "orderbook-engine-0"
    assert ServiceConfig(instance_id="7", group="blue").transactional_id == "blue-7"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"instance_id": "a b"}, "--instance-id"),
        ({"group": ""}, "--group"),
        ({"batch_size": 0}, "--batch-size"),
        ({"snapshot_every": 0}, "--snapshot-every"),
        ({"metrics_port": 70000}, "--metrics-port"),
        ({"max_idle_seconds": 0}, "--max-idle-seconds"),
    ],
)
def test_bad_service_options_are_user_errors(options, message):
    with pytest.raises(ServiceConfigError, match=message):
        ServiceConfig(**options)


def test_engine_run_with_a_bad_option_prints_one_line_and_fails():
    completed = subprocess.run(
        [sys.executable, "-m", "orderbook_platform.cli.main", "engine", "run", "--batch-size", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == ["error: --batch-size must be >= 1, got 0"]


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
