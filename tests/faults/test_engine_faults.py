"""S1, S2, S4, S5, S6: the matching engine's processes killed, frozen, doubled, rebalanced,
and fed resent orders, against the suite's own broker. See docs/reliability.md.

Every engine is a real `orderbook engine run` child process, so SIGKILL, SIGSTOP and
SIGTERM are real signals; every verdict is the offline replay of the committed `orders`.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import orjson
import pytest

from orderbook_platform.contracts import encode
from orderbook_platform.stack import Stack
from tests.engine.kafka_harness import PATIENCE_S, offline_replay, start_offsets, wait_for
from tests.faults.harness import Scenario
from tests.faults.report import Fault, ScenarioResult

pytestmark = pytest.mark.integration

# The service's transaction timeout (engine.service_config.ServiceConfig): a zombie frozen
# longer than this has had its open transaction aborted by the broker.
TRANSACTION_TIMEOUT_S = 10.0


@pytest.mark.faults
def test_s1_three_runs_give_identical_hashes(
    fault_stack: tuple[Stack, Path], tmp_path: Path, order_count: int, result: ScenarioResult
):
    """S1: three engine runs over the same orders give identical hashes of every output."""
    scenario = Scenario(fault_stack[0], tmp_path, "s1")
    scenario.seed(scenario.generate(order_count, seed=101))
    verdicts = []
    try:
        for run in range(3):
            group = scenario.fresh_group(at=scenario.orders_start)
            start = start_offsets(scenario.settings)
            engine = scenario.engine(f"run{run}", group=group).start()
            scenario.wait_done(group)
            assert engine.terminate() == 0, engine.log_text()[-3000:]
            verdicts.append(scenario.verdict(group=group, start=start))
    finally:
        scenario.cleanup()
    for verdict in verdicts:
        verdict.record(result)  # identical runs: the last one stands for all
        verdict.assert_exact()
    assert verdicts[0].trades > order_count // 20  # the stream really trades
    first = verdicts[0].hashes
    assert all(v.hashes == first for v in verdicts[1:]), [v.hashes for v in verdicts]
    assert first == verdicts[0].replay_hashes
    result.notes.append(f"hashes: {first}")


@pytest.mark.faults(short=True)
def test_s2_engine_killed_three_times_then_stopped(
    fault_stack: tuple[Stack, Path], tmp_path: Path, order_count: int, result: ScenarioResult
):
    """S2: the engine SIGKILLed 3 times after >= 20% new progress each, then SIGTERM."""
    scenario = Scenario(fault_stack[0], tmp_path, "s2")
    scenario.seed(scenario.generate(order_count, seed=202))
    mark = 0.0
    try:
        for _ in range(3):
            engine = scenario.engine("crash").start()
            if result.faults:
                result.faults[-1].recovery_s = _progress_after(scenario, mark)
            scenario.wait_progress(mark + 0.2, "20% more of the orders committed")
            engine.kill9()
            mark = scenario.progress()
            assert mark < 1.0, "the engine finished before it could be killed; seed more orders"
            result.faults.append(Fault("engine SIGKILL", at_progress=round(mark, 3)))
        final = scenario.engine("crash").start()
        result.faults[-1].recovery_s = _progress_after(scenario, mark)
        scenario.wait_done()
        assert final.terminate() == 0, final.log_text()[-3000:]
        result.faults.append(Fault("engine SIGTERM", at_progress=1.0))
    finally:
        scenario.cleanup()
    verdict = scenario.verdict()
    verdict.record(result)
    verdict.assert_exact()
    recoveries = [
        e for engine in scenario.engines[1:] for e in engine.events("partition recovered")
    ]
    assert any(r["snapshot_symbols"] and r["replayed"] for r in recoveries), recoveries


def _progress_after(scenario: Scenario, mark: float) -> float:
    """Seconds until the group commits past `mark` (the time to recover)."""
    began = time.monotonic()
    wait_for(lambda: scenario.progress() > mark, "progress after the fault")
    return round(time.monotonic() - began, 2)


@pytest.mark.faults
def test_s4_a_frozen_zombie_is_fenced_and_produces_nothing(
    fault_stack: tuple[Stack, Path], tmp_path: Path, order_count: int, result: ScenarioResult
):
    """S4: SIGSTOP past the transaction timeout, a replacement with the same id, SIGCONT."""
    scenario = Scenario(fault_stack[0], tmp_path, "s4")
    scenario.seed(scenario.generate(order_count, seed=404))
    try:
        zombie = scenario.engine("twin").start()
        scenario.wait_progress(0.2, "the first engine's progress")
        zombie.process.send_signal(signal.SIGSTOP)
        mark = scenario.progress()
        time.sleep(TRANSACTION_TIMEOUT_S + 2)  # the fault's length, not a timing assert
        successor = scenario.engine("twin").start()
        result.faults.append(
            Fault("engine SIGSTOP + same-id replacement", at_progress=round(mark, 3))
        )
        result.faults[-1].recovery_s = _progress_after(scenario, mark)
        zombie.process.send_signal(signal.SIGCONT)
        result.faults.append(Fault("zombie SIGCONT", at_progress=round(scenario.progress(), 3)))
        assert zombie.process.wait(timeout=PATIENCE_S) != 0, "the zombie went on after SIGCONT"
        scenario.wait_done()
        assert successor.terminate() == 0, successor.log_text()[-3000:]
    finally:
        scenario.cleanup()
    fatal = zombie.events("engine stopping on a fatal error")
    assert fatal and "fenced" in fatal[0]["reason"].lower(), zombie.log_text()[-3000:]
    verdict = scenario.verdict()
    verdict.record(result)
    verdict.assert_exact()


@pytest.mark.faults
def test_s5_two_replicas_and_rebalances_under_load(
    fault_stack: tuple[Stack, Path], tmp_path: Path, order_count: int, result: ScenarioResult
):
    """S5: two replicas, a join, a leave and a rejoin while orders keep arriving."""
    scenario = Scenario(fault_stack[0], tmp_path, "s5")
    orders = scenario.generate(order_count, seed=505)
    thirds = [orders[: len(orders) // 3], orders[len(orders) // 3 : 2 * len(orders) // 3]]
    thirds.append(orders[2 * len(orders) // 3 :])
    try:
        scenario.seed(thirds[0])
        a = scenario.engine("a").start()
        scenario.wait_progress(0.3, "replica a's progress")
        b = scenario.engine("b").start()
        result.faults.append(Fault("replica b joins (rebalance)", round(scenario.progress(), 3)))
        scenario.seed(thirds[1])
        wait_for(lambda: _split(a, b), "the two replicas to split the partitions")
        assert a.terminate() == 0, a.log_text()[-3000:]
        result.faults.append(
            Fault("replica a leaves, SIGTERM (rebalance)", round(scenario.progress(), 3))
        )
        scenario.seed(thirds[2])
        wait_for(lambda: b.health()["assigned_partitions"] == [0, 1, 2], "b to take over")
        a2 = scenario.engine("a").start()
        result.faults.append(Fault("replica a rejoins (rebalance)", round(scenario.progress(), 3)))
        wait_for(lambda: _split(a2, b), "the two replicas to split the partitions again")
        scenario.wait_done()
        assert a2.terminate() == 0 and b.terminate() == 0
    finally:
        scenario.cleanup()
    verdict = scenario.verdict()
    verdict.record(result)
    verdict.assert_exact()


def _split(a, b) -> bool:
    first, second = a.health()["assigned_partitions"], b.health()["assigned_partitions"]
    return bool(first) and bool(second) and sorted(first + second) == [0, 1, 2]


@pytest.mark.faults
def test_s6_resent_orders_are_rejected_as_duplicates(
    fault_stack: tuple[Stack, Path], tmp_path: Path, order_count: int, result: ScenarioResult
):
    """S6: 1% of the orders resent with the same order_id: rejected, trades unchanged."""
    scenario = Scenario(fault_stack[0], tmp_path, "s6")
    rng = random.Random(606)
    orders = scenario.generate(order_count, seed=606)
    # Plain resting limits only: each is accepted the first time, so its copy must be
    # refused as a duplicate (a resent cancel would be refused as unknown instead).
    plain = [
        i for i, o in enumerate(orders)
        if o.order_type == "limit" and not o.post_only and o.time_in_force is None
    ]  # fmt: skip
    resent = set(rng.sample(plain, order_count // 100))
    items, originals = [], []
    for index, order in enumerate(orders):
        items.append((order.symbol.encode(), encode(order)))
        originals.append(len(items) - 1)
        if index in resent:
            items.append((order.symbol.encode(), encode(order)))  # the very same bytes
    try:
        landed = scenario.seed_raw(items)
        result.faults.append(Fault(f"{len(resent)} orders resent with the same order_id"))
        engine = scenario.engine("dup").start()
        scenario.wait_done()
        assert engine.terminate() == 0, engine.log_text()[-3000:]
    finally:
        scenario.cleanup()
    verdict = scenario.verdict()
    verdict.record(result)
    verdict.assert_exact()
    # Without the copies the trades are the same: every copy was refused and did nothing
    # (but its reject took an output sequence number, so sequences are left out here).
    without_copies, _ = offline_replay([landed[i] for i in originals], set(scenario.symbols))
    with_copies, _ = offline_replay(landed, set(scenario.symbols))
    for symbol in scenario.symbols:
        assert _unsequenced(with_copies["trades", symbol]) == _unsequenced(
            without_copies["trades", symbol]
        ), symbol
    resent_ids = {orders[i].order_id for i in resent}
    refused = {
        event["order_id"]
        for symbol in scenario.symbols
        for event in map(orjson.loads, with_copies["order_events", symbol])
        if event.get("event") == "rejected" and event.get("reason") == "duplicate_order_id"
    }
    assert refused == resent_ids


def _unsequenced(values: list[bytes]) -> list[dict]:
    return [{k: v for k, v in orjson.loads(value).items() if k != "sequence"} for value in values]
