"""Snapshot rounds one record at a time: recovery stays exact at every crash point.

A partition's life is simulated without Kafka: batches of orders through a live
matcher, each batch one "transaction" that may write one snapshot record, chosen by
SnapshotRounds exactly as the service chooses it. After every transaction the partition
is rebuilt as a new owner would (the latest record per symbol, plan_replay,
replay_orders up to the committed offset) and must equal the live books. Symbols appear
over time, including in the middle of a round.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.feeder import generate_orders
from engine.matching import Matcher
from engine.recovery import (
    SnapshotRecord,
    decode_snapshot,
    plan_replay,
    replay_orders,
    snapshot_record,
)
from engine.snapshot_rounds import SnapshotRounds
from orderbook_platform.contracts import encode

pytestmark = pytest.mark.unit


def partition_orders() -> list:
    """BBB alone, then ZZZ joins, then MMM: each new symbol arrives between rounds or
    inside one."""
    return [
        *generate_orders(700, seed=31, symbols=["BBB"]),
        *generate_orders(1300, seed=32, symbols=["ZZZ", "BBB2"]),
        *generate_orders(1500, seed=33, symbols=["MMM", "ZZZ2", "BBB3"]),
    ]


def rebuild(records: dict[str, SnapshotRecord], values: list, committed: int) -> str:
    plan = plan_replay(records.values(), committed=committed, low_watermark=0)
    matcher = Matcher()
    for snapshot in records.values():
        matcher.load_symbol(bytes(snapshot.state))
    replay_orders(
        matcher,
        values[plan.replay_from : plan.replay_to],
        {symbol: snapshot.offset for symbol, snapshot in records.items()},
    )
    return matcher.state_hash()


def simulate(
    *,
    every: int = 400,
    batch: int = 50,
    too_large: Callable[[str], bool] = lambda symbol: False,
    stamp_floor: bool = True,
    report_skips: bool = True,
) -> list[int]:
    """Run the partition; returns the offsets where a rebuild differed from the live books."""
    orders = partition_orders()
    values = [(offset, encode(order)) for offset, order in enumerate(orders)]
    live = Matcher()
    rounds = SnapshotRounds(0)
    records: dict[str, SnapshotRecord] = {}  # the latest record per symbol (compaction)
    since, offset, wrong = 0, 0, []
    for start in range(0, len(orders), batch):
        chunk = orders[start : start + batch]
        for order in chunk:
            live.process(order)
        offset += len(chunk)
        since += len(chunk)
        if not rounds.in_progress and since >= every:
            rounds.begin(live.symbols(), offset)
            since = 0
        if rounds.in_progress:
            symbol = rounds.next_symbol()
            if symbol is not None:
                floor = rounds.floor if stamp_floor else offset
                value = snapshot_record(live, "g", symbol, 0, offset, floor, None)
                if too_large(symbol):
                    if report_skips:
                        rounds.skipped()
                else:
                    records[symbol] = decode_snapshot(value)
                    rounds.written(len(value))
            if rounds.finished:
                rounds.end()
        # The transaction committed; the owner dies now and another one rebuilds.
        if rebuild(records, values, offset) != live.state_hash():
            wrong.append(offset)
    return wrong


def test_recovery_is_exact_after_every_transaction():
    assert simulate() == []


def test_recovery_is_exact_with_other_round_and_batch_sizes():
    assert simulate(every=150, batch=20) == []


def test_without_the_floor_a_symbol_that_has_no_record_yet_is_lost():
    # The same rounds, each record stamped with its own offset as floor: once another
    # symbol's newer record moves the replay's start, a symbol still waiting for its
    # first record loses the orders before it.
    assert simulate(stamp_floor=False) != []


def test_a_symbol_too_large_to_snapshot_keeps_the_floor_where_it_was():
    # ZZZ never gets a record; BBB and MMM do, round after round.
    assert simulate(too_large=lambda symbol: symbol == "ZZZ") == []


def test_the_floor_must_not_move_after_a_round_that_skipped_a_record():
    assert simulate(too_large=lambda symbol: symbol == "ZZZ", report_skips=False) != []


def test_a_round_takes_its_symbols_in_order_and_a_complete_one_moves_the_floor():
    rounds = SnapshotRounds(7)
    assert not rounds.in_progress
    rounds.begin(["CCC", "AAA", "BBB"], 100)
    taken = []
    while (symbol := rounds.next_symbol()) is not None:
        taken.append(symbol)
        rounds.written(10 * len(taken))
    assert taken == ["AAA", "BBB", "CCC"]
    assert rounds.finished
    assert rounds.floor == 7  # records of this round carried the old floor
    summary = rounds.end()
    assert (summary.start, summary.records, summary.bytes, summary.largest) == (100, 3, 60, 30)
    assert summary.complete
    assert rounds.floor == 100
    assert not rounds.in_progress


def test_an_incomplete_round_leaves_the_floor_and_ending_early_is_an_error():
    rounds = SnapshotRounds(7)
    rounds.begin(["AAA", "BBB"], 100)
    assert rounds.next_symbol() == "AAA"
    rounds.skipped()
    with pytest.raises(RuntimeError):
        rounds.end()
    assert rounds.next_symbol() == "BBB"
    rounds.written(5)
    summary = rounds.end()
    assert not summary.complete
    assert rounds.floor == 7


def test_an_empty_partition_finishes_its_round_at_once():
    rounds = SnapshotRounds(0)
    rounds.begin([], 40)
    assert rounds.finished
    assert rounds.next_symbol() is None
    assert rounds.end().complete
    assert rounds.floor == 40
