"""S7: every hostile value of tests/engine/poison.py mixed into a realistic stream.

The engine must not stop (0 crashes), every poison record must end either in
`orders.dlq` with its coordinates or as the `rejected` event its specification names,
and the rest of the stream must match the offline replay exactly.
"""

from __future__ import annotations

import base64
import random
from pathlib import Path

import orjson
import pytest

from orderbook_platform.contracts import decode_dead_letter, encode
from orderbook_platform.stack import Stack
from tests.engine.kafka_harness import read_topic
from tests.engine.poison import DEAD_LETTER, poison_orders
from tests.faults.harness import Scenario
from tests.faults.report import Fault, ScenarioResult

pytestmark = pytest.mark.integration


@pytest.mark.faults(short=True)
def test_s7_poison_input_is_dead_lettered_or_rejected_and_nothing_stops(
    fault_stack: tuple[Stack, Path], tmp_path: Path, order_count: int, result: ScenarioResult
):
    """S7: every kind of poison input, on every symbol: 0 crashes, 100% DLQ or rejected."""
    scenario = Scenario(fault_stack[0], tmp_path, "s7")
    rng = random.Random(707)
    items: list[tuple[bytes | None, bytes | None]] = [
        (o.symbol.encode(), encode(o)) for o in scenario.generate(order_count, seed=707)
    ]
    # One copy of every kind per symbol, at random places in the stream, keyed by the
    # symbol (a keyed record's partition is its symbol's, as for real orders).
    poison: dict[int, tuple[str, str, str]] = {}  # item index -> (symbol, name, expected)
    spots = sorted(rng.sample(range(len(items)), len(scenario.symbols) * len(poison_orders())))
    planted = [(s, p) for s in scenario.symbols for p in poison_orders(s)]
    rng.shuffle(planted)
    for offset, (spot, (symbol, kind)) in enumerate(zip(spots, planted, strict=True)):
        items.insert(spot + offset, (symbol.encode(), kind.value))
        poison[spot + offset] = (symbol, kind.name, kind.expected)
    for name in sorted({p.name for p in poison_orders()}):
        result.faults.append(Fault(f"poison: {name}", detail=f"x{len(scenario.symbols)}"))
    try:
        landed = scenario.seed_raw(items)
        engine = scenario.engine("poison").start()
        scenario.wait_done()
        assert engine.process.poll() is None, engine.log_text()[-3000:]  # never stopped
        assert engine.terminate() == 0, engine.log_text()[-3000:]
    finally:
        scenario.cleanup()
    assert len(scenario.engines) == 1  # no restart was needed either

    # Dead letters: exactly the values specified as such, each with its coordinates.
    want_dead = {
        (landed[i].partition, landed[i].offset): landed[i]
        for i, (_, _, expected) in poison.items()
        if expected == DEAD_LETTER
    }
    letters = [
        decode_dead_letter(r.value)
        for r in read_topic(scenario.settings, "orders.dlq", scenario.start["orders.dlq"])
    ]
    dead = {(d.partition, d.offset): d for d in letters if d.topic == "orders"}
    assert set(dead) == set(want_dead), (
        f"missing from the DLQ: {sorted(set(want_dead) - set(dead))[:10]}, "
        f"unexpected: {sorted(set(dead) - set(want_dead))[:10]}"
    )
    for coordinates, letter in dead.items():
        assert base64.b64decode(letter.value_base64) == want_dead[coordinates].value
        assert letter.error

    # Rejects: every other poison value, with the reason its specification names.
    verdict = scenario.verdict(
        orders=[r for r in scenario.committed_orders() if (r.partition, r.offset) not in dead]
    )
    verdict.record(result)
    verdict.assert_exact()  # and the rest of the stream matched exactly
    events = read_topic(scenario.settings, "order_events", scenario.start["order_events"])
    rejected = {
        (r.key.decode(), e["order_id"]): e["reason"]
        for r in events
        if r.key and (e := orjson.loads(r.value)).get("event") == "rejected"
    }
    for symbol, name, expected in poison.values():
        if expected != DEAD_LETTER:
            assert rejected.get((symbol, f"poison-{name}")) == expected, (symbol, name)
    handled = len(dead) + sum(1 for _, _, e in poison.values() if e != DEAD_LETTER)
    assert handled == len(poison)
    result.notes.append(f"{len(poison)} poison records: {len(dead)} dead-lettered, rest rejected")
