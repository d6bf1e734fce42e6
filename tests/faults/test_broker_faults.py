"""S3: the broker killed with SIGKILL and restarted 3 times while the engine and a live
trader swarm run. Both must resume with no one's help, each within 60 s of the restart,
and the engine's outputs must still equal the offline replay of the committed `orders`.
An engine stuck on the dead broker exits by design (docs/engine-service.md, "Deadlines
and a stuck engine") and is started again here as its Deployment would; the report says
how often that happened.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

from orderbook_platform.stack import Stack
from orderbook_platform.stack.faults import kill_broker, restart_broker
from orderbook_platform.testing import settings_env
from tests.engine.kafka_harness import PATIENCE_S, committed, end_offsets, wait_for
from tests.faults.harness import Scenario
from tests.faults.report import Fault, ScenarioResult

pytestmark = pytest.mark.integration

# The promise under test (docs/reliability.md, "Bounded recovery").
RESUME_WITHIN_S = 60.0
TRADERS = [sys.executable, "-m", "orderbook_platform.cli.main", "traders", "run"]


def _total(offsets: dict[int, int]) -> int:
    return sum(max(0, o) for o in offsets.values())


def _quiet(read):
    """A read right after a restart may meet a coordinator still loading: try again."""
    try:
        return read()
    except KafkaException:
        return None


def _read(read, what: str):
    """The first answer of `read` once the broker answers it."""
    answers: list = []
    wait_for(lambda: (value := _quiet(read)) is not None and not answers.append(value), what)
    return answers[0]


@pytest.mark.faults(short=True)
def test_s3_broker_killed_three_times_engine_and_traders_resume(
    fault_stack: tuple[Stack, Path], tmp_path: Path, order_count: int, result: ScenarioResult
):
    """S3: broker SIGKILL + restart 3 times mid-run; engine and traders resume in 60 s."""
    stack = fault_stack[0]
    scenario = Scenario(stack, tmp_path, "s3")
    orders = scenario.generate(order_count, seed=303)
    chunks = [orders[i * len(orders) // 4 : (i + 1) * len(orders) // 4] for i in range(4)]
    settings = scenario.settings
    traders_log = tmp_path / "traders.log"
    with open(traders_log, "wb") as log:
        traders = subprocess.Popen(
            [*TRADERS, "--traders", "30", "--symbols", ",".join(scenario.symbols), "--seed", "3"],
            stdout=log, stderr=subprocess.STDOUT, env=settings_env(settings),
        )  # fmt: skip

    def orders_end() -> int:
        return _total(end_offsets(settings, "orders"))

    def group_done() -> int:
        return _total(committed(settings, scenario.group, scenario.target))

    exits: list[int] = []

    def supervise() -> bool:
        """Start the engine again when it exited, as its Deployment would (an engine
        stuck on a dead broker exits 3 by design: docs/engine-service.md); never counts
        as progress itself."""
        if scenario.engines[-1].process.poll() is not None:
            exits.append(scenario.engines[-1].process.returncode)
            scenario.engine("broker").start()
        return False

    try:
        floor = orders_end() + len(chunks[0]) // 4
        scenario.seed(chunks[0])
        scenario.engine("broker").start()
        for round_ in range(3):
            # Kill once a quarter of the latest chunk is matched (the traders' orders keep
            # the engine busy even when it has caught up with the chunk).
            wait_for(lambda f=floor: supervise() or group_done() >= f, "the engine to be busy")
            at = scenario.progress()
            kill_broker(stack)
            fault = Fault("broker SIGKILL + restart", at_progress=round(at, 3))
            result.faults.append(fault)
            restart_broker(stack)
            restarted = time.monotonic()

            # The traders: new orders reach `orders` (nothing else writes it meanwhile).
            before = _read(orders_end, "the broker to answer")
            wait_for(lambda b=before: (_quiet(orders_end) or 0) > b, "the traders to produce")
            traders_back = time.monotonic() - restarted

            # The engine: the group commits past where it stood after the restart.
            floor = orders_end() + len(chunks[round_ + 1]) // 4
            scenario.seed(chunks[round_ + 1])
            stood = _read(group_done, "the group coordinator to answer")
            exits_before = len(exits)
            wait_for(
                lambda s=stood: supervise() or (_quiet(group_done) or 0) > s,
                "the engine to commit again",
            )
            engine_back = time.monotonic() - restarted
            fault.recovery_s = round(max(engine_back, traders_back), 2)
            fault.detail = (
                f"engine {engine_back:.1f} s, traders {traders_back:.1f} s; "
                f"engine exits restarted: {exits[exits_before:]}"
            )
            assert traders.poll() is None, traders_log.read_text()[-3000:]

        traders.send_signal(signal.SIGTERM)
        assert traders.wait(timeout=PATIENCE_S) == 0, traders_log.read_text()[-3000:]
        scenario.target = end_offsets(settings, "orders")
        scenario.wait_done()
        engine = scenario.engines[-1]
        assert engine.terminate() == 0, engine.log_text()[-3000:]
    finally:
        if traders.poll() is None:
            traders.kill()
            traders.wait()
        scenario.cleanup()
    result.notes.append(f"engine exits (restarted as a Deployment would): {exits}")
    verdict = scenario.verdict()
    verdict.record(result)
    verdict.assert_exact()
    # Checked last, so that a slow recovery still reports every round and the verdict.
    slow = [f.detail for f in result.faults if f.recovery_s >= RESUME_WITHIN_S]
    assert not slow, f"resumed later than {RESUME_WITHIN_S:.0f} s after a restart: {slow}"
