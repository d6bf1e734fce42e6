"""`orderbook engine run` while its broker crashes or freezes (a real broker of its own).

These tests kill -9, SIGSTOP and restart the broker, so they run on a private stack (not
the session one other tests share), started once for the module. The engine runs with a
short stall timeout; every wait has a generous give-up guard (a hang detector, never a
statement about speed), in multiples of that timeout.
"""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

from engine.feeder import generate_orders
from orderbook_platform.config import Settings
from orderbook_platform.stack import Stack
from orderbook_platform.stack.faults import freeze_broker, kill_broker, restart_broker, thaw_broker
from orderbook_platform.testing import private_stack
from tests.engine.kafka_harness import (
    EngineProcess,
    caught_up,
    commit_group_at,
    end_offsets,
    offline_replay,
    outputs_by_symbol,
    produce_orders,
    spread_symbols,
    start_offsets,
    unique,
    wait_for,
)
from tests.engine.test_service import assert_same_outputs

pytestmark = pytest.mark.integration

STALL_S = 12.0
# A hang detector: the engine must have resumed or exited well within this.
GIVE_UP_S = 6 * STALL_S


@pytest.fixture(scope="module")
def broker() -> Iterator[tuple[Stack, Settings]]:
    with private_stack("ob-engine-faults-") as (stack, _):
        yield stack, stack.settings


@pytest.fixture
def broker_back(broker: tuple[Stack, Settings]) -> Iterator[tuple[Stack, Settings]]:
    """The broker, running and answering again after the test, whatever it did to it."""
    yield broker
    stack, settings = broker
    if stack.kafka.process.is_running():
        thaw_broker(stack)
    else:
        restart_broker(stack)
    # A thawed broker has lost its controller lease and briefly leads no partition.
    wait_for(lambda: _serving(settings), "the broker to lead its partitions again")


def _serving(settings: Settings) -> bool:
    try:
        end_offsets(settings, "orders")
        return True
    except KafkaException:
        return False


def _fresh_group(settings: Settings, name: str) -> str:
    group = unique(f"test-{name}-")
    commit_group_at(settings, group, end_offsets(settings, "orders"))
    return group


def _engine(settings: Settings, tmp_path: Path, group: str, *args: str) -> EngineProcess:
    return EngineProcess(
        settings, tmp_path, group=group, instance_id=unique("f"),
        args=["--stall-timeout-seconds", str(STALL_S), *args],
    )  # fmt: skip


def _backlog(settings: Settings, prefix: str, count: int, seed: int) -> tuple[list, list[str]]:
    symbols = spread_symbols(prefix, 6)
    orders = generate_orders(
        count, seed=seed, symbols=symbols, start_ns=time.time_ns(), step_ns=20_000
    )
    return produce_orders(settings, orders), symbols


def _quietly_caught_up(settings: Settings, group: str, target: dict[int, int]) -> bool:
    try:
        return caught_up(settings, group, target)
    except KafkaException:
        return False  # the broker is not back yet


def _health(engine: EngineProcess) -> tuple[int, dict] | None:
    try:
        status, body = engine.get("/healthz")
    except OSError:
        return None  # the process is gone, or its port is closing
    return status, json.loads(body)


def test_after_a_broker_kill_9_the_engine_resumes_or_exits_and_stays_exact(
    broker_back: tuple[Stack, Settings], tmp_path: Path
):
    stack, settings = broker_back
    group = _fresh_group(settings, "brokerkill")
    start = start_offsets(settings)
    produced, symbols = _backlog(settings, "BK", 20_000, random.Random(5456).randrange(2**32))
    target = end_offsets(settings, "orders")
    args = ["--batch-size", "500", "--snapshot-every", "5000"]
    engines = [_engine(settings, tmp_path, group, *args).start()]
    try:
        wait_for(lambda: engines[0].orders_applied() >= 3_000, "the engine to be under way")
        kill_broker(stack)
        restart_broker(stack)
        outcome = wait_for(
            lambda: (
                ("exited" if engines[0].process.poll() is not None else None)
                or ("caught up" if _quietly_caught_up(settings, group, target) else None)
            ),
            "the engine to resume committing or exit after the broker came back",
            patience_s=GIVE_UP_S,
        )
        if outcome == "exited":
            # Its orchestrator would restart it; recovery rebuilds the books exactly.
            assert engines[0].process.returncode != 0, engines[0].log_text()[-3000:]
            engines.append(_engine(settings, tmp_path, group, *args).start())
            wait_for(lambda: caught_up(settings, group, target), "the restarted engine")
        assert engines[-1].terminate() == 0, engines[-1].log_text()[-3000:]
    finally:
        for engine in engines:
            engine.ensure_dead()

    expected, _ = offline_replay(produced, set(symbols))
    assert sum(len(expected["trades", s]) for s in symbols) > 1_000
    assert_same_outputs(outputs_by_symbol(settings, start, set(symbols)), expected, symbols)


def test_healthz_turns_503_while_commits_are_impossible_with_input_waiting(
    broker_back: tuple[Stack, Settings], tmp_path: Path
):
    stack, settings = broker_back
    group = _fresh_group(settings, "frozenhealth")
    _backlog(settings, "FH", 20_000, 7)
    engine = _engine(settings, tmp_path, group, "--batch-size", "500").start()
    try:
        wait_for(lambda: engine.orders_applied() >= 2_000, "the engine to be under way")
        assert engine.get("/healthz")[0] == 200
        freeze_broker(stack)
        unhealthy = wait_for(
            lambda: (h := _health(engine)) is not None and h[0] != 200 and h,
            "/healthz to turn unhealthy",
            patience_s=3 * STALL_S,
        )
        status, report = unhealthy
        assert status == 503, report
        assert report["stalled"] is True, report
        assert report["input_waiting_s"] > STALL_S, report
    finally:
        thaw_broker(stack)
        engine.ensure_dead()


def test_sigterm_while_a_kafka_call_is_stuck_ends_the_process(
    broker_back: tuple[Stack, Settings], tmp_path: Path
):
    stack, settings = broker_back
    group = _fresh_group(settings, "frozenterm")
    _backlog(settings, "FT", 20_000, 11)
    engine = _engine(settings, tmp_path, group, "--batch-size", "500").start()
    try:
        wait_for(lambda: engine.orders_applied() >= 2_000, "the engine to be under way")
        freeze_broker(stack)
        wait_for(
            lambda: (h := _health(engine)) is not None and (h[1].get("input_waiting_s") or 0) > 2,
            "a commit to be stuck",
            patience_s=3 * STALL_S,
        )
        engine.process.send_signal(signal.SIGTERM)
        wait_for(
            lambda: engine.process.poll() is not None,
            "the process to end after SIGTERM",
            patience_s=3 * STALL_S,
        )
        assert engine.process.returncode == 3, engine.log_text()[-3000:]
        last = [e for e in engine.logs() if e.get("level") == "critical"]
        assert len(last) == 1, last
        assert "stuck_in" in last[0], last[0]
    finally:
        thaw_broker(stack)
        engine.ensure_dead()


def test_an_idle_engine_rides_out_a_broker_outage_logged_once_at_its_start_and_end(
    broker_back: tuple[Stack, Settings], tmp_path: Path
):
    stack, settings = broker_back
    group = _fresh_group(settings, "outage")
    engine = _engine(settings, tmp_path, group).start()
    try:
        wait_for(lambda: engine.health()["assigned_partitions"], "the engine to own partitions")
        kill_broker(stack)
        # Nothing to commit, so nothing is late: /healthz must not cry wolf, however long
        # the broker is away (a restart would not bring it back). Ask all the while, well
        # past the stall timeout.
        seen: list[tuple[int, dict] | None] = []
        until = time.monotonic() + 1.5 * STALL_S
        while time.monotonic() < until:
            seen.append(_health(engine))
            time.sleep(0.5)
        assert seen and all(h is not None and h[0] == 200 for h in seen), seen[-3:]
        restart_broker(stack)
        wait_for(
            lambda: any(e["event"].startswith("broker reachable again") for e in engine.logs()),
            "the engine to log the end of the outage",
            patience_s=GIVE_UP_S,
        )
        # ... and it goes on matching without help.
        _backlog(settings, "OL", 300, 13)
        target = end_offsets(settings, "orders")
        wait_for(lambda: caught_up(settings, group, target), "the engine to resume")
        assert engine.terminate() == 0, engine.log_text()[-3000:]
    finally:
        engine.ensure_dead()

    events = [e["event"] for e in engine.logs()]
    down = [e for e in events if e.startswith("broker unreachable since")]
    up = [e for e in events if e.startswith("broker reachable again after")]
    assert len(down) == 1 and len(up) == 1, (down, up)
    assert events.index(down[0]) < events.index(up[0])
    refused = [line for line in engine.log_text().splitlines() if "Connection refused" in line]
    assert len(refused) <= 1, refused[:5]  # the outage line's detail, at most
