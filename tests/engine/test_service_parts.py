"""Unit tests of the service's small parts: options, intake, telemetry, the feeder."""

from __future__ import annotations

import base64
import json
import logging
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from engine.feeder import generate_orders
from engine.intake import MAX_DEAD_LETTER_VALUE_BYTES, MAX_ORDER_BYTES, dead_letter, decode_input
from engine.service import EngineService
from engine.service_config import ServiceConfig, ServiceConfigError
from engine.telemetry import RUNNING, STOPPING, Health, JsonFormatter, Metrics, TelemetryServer
from engine.watchdog import Watchdog
from orderbook_platform.config import load_settings
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


# --------------------------------------------------------------------------- deadlines


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_health_turns_unhealthy_only_when_input_waits_longer_than_the_stall_timeout():
    clock = _Clock()
    health = Health("0", "grp", stall_timeout_s=30, clock=clock)
    health.state = RUNNING
    clock.now += 3600  # idle for an hour: nothing to commit, nothing late
    assert health.healthy and health.report()["input_waiting_s"] is None
    health.input_arrived()
    clock.now += 20
    health.input_arrived()  # more input while the first still waits: the clock keeps going
    clock.now += 10.5
    report = health.report()
    assert report["stalled"] and report["input_waiting_s"] == 30.5
    assert not health.healthy
    health.committed()
    assert health.healthy and health.report()["last_commit_age_s"] == 0


def test_healthz_answers_503_once_the_service_is_stalled():
    clock = _Clock()
    health = Health("0", "grp", stall_timeout_s=30, clock=clock)
    health.state = RUNNING
    server = TelemetryServer(Metrics(), health, "127.0.0.1", 0).start()
    try:
        health.input_arrived()
        clock.now += 29
        assert _get(server.port, "/healthz")[0] == 200
        clock.now += 2
        status, body = _get(server.port, "/healthz")
        assert status == 503 and json.loads(body)["stalled"] is True
        assert json.loads(body)["state"] == RUNNING  # stalled, not stopped
    finally:
        server.stop()


def test_the_stall_timeout_must_exceed_the_transaction_timeout():
    with pytest.raises(ServiceConfigError, match="--stall-timeout-seconds"):
        ServiceConfig(stall_timeout_s=10, transaction_timeout_ms=10_000)
    config = ServiceConfig(stall_timeout_s=12, transaction_timeout_ms=10_000)
    assert config.phase_limit_s == 24
    # The default must let a replica stuck on a dead broker exit, restart and recover
    # within the 60 s the platform promises after a broker restart (docs/reliability.md).
    assert ServiceConfig().phase_limit_s <= 30


def test_engine_run_takes_the_stall_timeout_option():
    completed = _engine_run("--stall-timeout-seconds", "5")
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == [
        "error: --stall-timeout-seconds must be above the transaction timeout (10 s), got 5"
    ]


def _watchdog(clock: _Clock) -> tuple[Watchdog, list[tuple[str, dict]]]:
    expired: list[tuple[str, dict]] = []
    dog = Watchdog(60, 30, expire=lambda reason, fields: expired.append((reason, fields)))
    dog._clock = clock
    return dog, expired


def test_the_watchdog_expires_once_when_a_watched_phase_outlives_its_limit():
    clock = _Clock()
    dog, expired = _watchdog(clock)
    with dog.watch("a transaction"):
        dog.relabel("send_offsets_to_transaction")
        clock.now += 60
        assert not dog.check()
        clock.now += 1
        assert dog.check() and dog.check()
    assert len(expired) == 1
    reason, fields = expired[0]
    assert reason == "stuck in send_offsets_to_transaction for 61 s; exiting"
    assert fields == {"stuck_in": "send_offsets_to_transaction", "stuck_for_s": 61.0, "limit_s": 60}


def test_the_watchdog_lets_finished_and_unwatched_phases_be():
    clock = _Clock()
    dog, expired = _watchdog(clock)
    with dog.watch("poll"):
        clock.now += 59
    clock.now += 600  # between phases: idle
    assert not dog.check()
    with dog.watch("a transaction"):
        clock.now += 50
        with dog.unwatched("recovering partition 0"):
            clock.now += 600  # a long replay has deadlines of its own
            assert not dog.check()
        clock.now += 9  # 59 s of the transaction itself
        assert not dog.check()
        clock.now += 2
        assert dog.check()
    assert expired[0][1]["stuck_in"] == "a transaction"


def test_the_watchdog_bounds_a_requested_stop_even_between_phases():
    clock = _Clock()
    dog, expired = _watchdog(clock)
    dog.stop_requested()
    clock.now += 30
    assert not dog.check()
    with dog.watch("commit_transaction"):
        clock.now += 1
        dog.stop_requested()  # a second signal does not restart the bound
        assert dog.check()
    reason, fields = expired[0]
    assert reason == "graceful stop did not finish in time; exiting"
    assert fields == {"stop_limit_s": 30, "stuck_in": "commit_transaction", "stuck_for_s": 1.0}


def _json_lines(text: str) -> list[str]:
    """The log lines of a child's stderr (an import may warn in plain text before them)."""
    return [line for line in text.splitlines() if line.startswith("{")]


def test_a_stuck_process_exits_3_with_one_log_line():
    script = (
        "import logging, time\n"
        "from engine.telemetry import configure_logging\n"
        "from engine.watchdog import Watchdog\n"
        "configure_logging()\n"
        "dog = Watchdog(0.2, 60, tick_s=0.05).start()\n"
        "with dog.watch('a call that never returns'):\n"
        "    time.sleep(600)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 3
    (line,) = _json_lines(completed.stderr)
    entry = json.loads(line)
    assert entry["level"] == "critical"
    assert entry["stuck_in"] == "a call that never returns"


def test_sigterm_reaches_the_watchdog_while_the_main_thread_is_stuck_in_c():
    # A read of a pipe nobody writes to blocks in C like a stuck librdkafka call: the
    # Python-level handler never runs, only the watchdog can end the process.
    script = (
        "import os, signal, sys\n"
        "from engine.telemetry import configure_logging\n"
        "from engine.watchdog import Watchdog\n"
        "configure_logging()\n"
        "signal.signal(signal.SIGTERM, lambda *_: None)\n"
        "dog = Watchdog(600, 0.5, tick_s=0.05).start(listen_for_signals=True)\n"
        "r, w = os.pipe()\n"
        "print('ready', flush=True)\n"
        "with dog.watch('a read that never returns'):\n"
        "    os.read(r, 1)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline() == "ready\n"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 3
        (line,) = _json_lines(process.stderr.read())
        assert json.loads(line)["event"] == "graceful stop did not finish in time; exiting"
    finally:
        process.kill()
        process.wait()


def test_a_nested_phase_has_its_own_bound_and_pauses_the_enclosing_one():
    clock = _Clock()
    dog, expired = _watchdog(clock)
    with dog.watch("a transaction"):
        clock.now += 40
        with dog.watch("abort_transaction"):
            clock.now += 59
            assert not dog.check()
        clock.now += 19  # 59 s of the transaction's own steps
        assert not dog.check()
        with dog.watch("abort_transaction"):
            clock.now += 61
            assert dog.check()
    assert expired[0][1]["stuck_in"] == "abort_transaction"


def test_a_process_that_cannot_exit_is_ended():
    # A non-daemon thread that never ends keeps the interpreter from exiting, as a client
    # that cannot be destroyed would.
    script = (
        "import threading, time\n"
        "from engine.telemetry import configure_logging\n"
        "from engine.watchdog import exit_within\n"
        "configure_logging()\n"
        "threading.Thread(target=time.sleep, args=(600,)).start()\n"
        "exit_within(0.2)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 3
    (line,) = _json_lines(completed.stderr)
    assert json.loads(line)["event"] == "process did not exit in time; exiting"


class _CachedFigures:
    """A consumer's local view: positions and the high watermarks of its last fetches."""

    def __init__(self, positions: dict[int, int], highs: dict[int, int]) -> None:
        self.positions, self.highs = positions, highs
        self.broken = False

    def position(self, partitions):
        if self.broken:
            raise KafkaException(KafkaError(KafkaError._STATE, "closed"))
        return [
            TopicPartition(tp.topic, tp.partition, self.positions[tp.partition])
            for tp in partitions
        ]

    def get_watermark_offsets(self, tp, cached=False):
        assert cached  # never a broker round trip from the loop
        return 0, self.highs[tp.partition]


def test_input_the_consumer_has_not_delivered_counts_as_waiting():
    service = EngineService(load_settings(), ServiceConfig())
    consumer = _CachedFigures({0: 10, 1: 5}, {0: 10, 1: 5})
    service._consumer = consumer
    service._partitions = dict.fromkeys((0, 1))
    service._note_lag()
    assert service.health.waiting_since is None
    consumer.highs[1] = 7  # fetched up to 7, stuck at 5
    service._note_lag()
    since = service.health.waiting_since
    assert since is not None
    consumer.broken = True  # no figures: the account stays as it is
    service._note_lag()
    assert service.health.waiting_since == since
    consumer.broken = False
    consumer.positions[1] = 7
    service._note_lag()
    assert service.health.waiting_since is None
    consumer.positions[0] = -1001  # not fetched yet: nothing known to wait
    service._note_lag()
    assert service.health.waiting_since is None
