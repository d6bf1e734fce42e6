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
from dataclasses import dataclass, field
from itertools import pairwise

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


def rebuild(records: dict[str, SnapshotRecord], values: list, committed: int) -> tuple[str, int]:
    """The rebuilt books' state hash, and how many orders the rebuild replayed from."""
    plan = plan_replay(records.values(), committed=committed, low_watermark=0)
    matcher = Matcher()
    for snapshot in records.values():
        matcher.load_symbol(bytes(snapshot.state))
    replay_orders(
        matcher,
        values[plan.replay_from : plan.replay_to],
        {symbol: snapshot.offset for symbol, snapshot in records.items()},
    )
    return matcher.state_hash(), committed - plan.replay_from


@dataclass
class Life:
    wrong: list[int] = field(default_factory=list)  # offsets where a rebuild differed
    written: dict[str, list[int]] = field(default_factory=dict)  # symbol -> record offsets
    serialized: dict[str, list[int]] = field(default_factory=dict)  # symbol -> offsets
    longest_replay: int = 0


def sequences(matcher: Matcher) -> dict[str, int]:
    return {symbol: matcher.book(symbol).sequence for symbol in matcher.symbols()}


def simulate(
    *,
    every: int = 400,
    batch: int = 50,
    too_large: Callable[[str], bool] = lambda symbol: False,
    stamp_floor: bool = True,
    report_skips: bool = True,
    max_lag: int | None = None,
) -> Life:
    """Run the partition, rebuilding it after every transaction."""
    orders = partition_orders()
    values = [(offset, encode(order)) for offset, order in enumerate(orders)]
    live = Matcher()
    rounds = SnapshotRounds(0, max_lag=max_lag)
    records: dict[str, SnapshotRecord] = {}  # the latest record per symbol (compaction)
    life = Life()
    since, offset = 0, 0
    for start in range(0, len(orders), batch):
        chunk = orders[start : start + batch]
        for order in chunk:
            live.process(order)
        offset += len(chunk)
        since += len(chunk)
        if not rounds.in_progress and since >= every:
            rounds.begin(sequences(live), offset)
            since = 0
        if rounds.in_progress:
            symbol = rounds.next_symbol()
            if symbol is not None:
                floor = rounds.floor if stamp_floor else offset
                value = snapshot_record(live, "g", symbol, 0, offset, floor, None)
                life.serialized.setdefault(symbol, []).append(offset)
                sequence = live.book(symbol).sequence
                if too_large(symbol):
                    if report_skips:
                        rounds.skipped(sequence)
                else:
                    records[symbol] = decode_snapshot(value)
                    rounds.written(len(value), sequence, offset)
                    life.written.setdefault(symbol, []).append(offset)
            if rounds.finished:
                rounds.end()
        # The transaction committed; the owner dies now and another one rebuilds.
        rebuilt, replayed = rebuild(records, values, offset)
        if rebuilt != live.state_hash():
            life.wrong.append(offset)
        life.longest_replay = max(life.longest_replay, replayed)
    return life


def test_recovery_is_exact_after_every_transaction():
    assert simulate().wrong == []


def test_recovery_is_exact_with_other_round_and_batch_sizes():
    assert simulate(every=150, batch=20).wrong == []


def test_without_the_floor_a_symbol_that_has_no_record_yet_is_lost():
    # The same rounds, each record stamped with its own offset as floor: once another
    # symbol's newer record moves the replay's start, a symbol still waiting for its
    # first record loses the orders before it.
    assert simulate(stamp_floor=False).wrong != []


def test_a_symbol_too_large_to_snapshot_keeps_the_floor_where_it_was():
    # ZZZ never gets a record; BBB and MMM do, round after round.
    assert simulate(too_large=lambda symbol: symbol == "ZZZ").wrong == []


def test_the_floor_must_not_move_after_a_round_that_skipped_a_record():
    assert simulate(too_large=lambda symbol: symbol == "ZZZ", report_skips=False).wrong != []


def test_a_round_takes_its_symbols_in_order_and_a_complete_one_moves_the_floor():
    rounds = SnapshotRounds(7)
    assert not rounds.in_progress
    rounds.begin({"CCC": 1, "AAA": 1, "BBB": 1}, 100)
    taken = []
    while (symbol := rounds.next_symbol()) is not None:
        taken.append(symbol)
        rounds.written(10 * len(taken), 1, 100)
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
    rounds.begin({"AAA": 1, "BBB": 1}, 100)
    assert rounds.next_symbol() == "AAA"
    rounds.skipped(1)
    with pytest.raises(RuntimeError):
        rounds.end()
    assert rounds.next_symbol() == "BBB"
    rounds.written(5, 1, 100)
    summary = rounds.end()
    assert not summary.complete
    assert rounds.floor == 7


def test_an_empty_partition_finishes_its_round_at_once():
    rounds = SnapshotRounds(0)
    rounds.begin({}, 40)
    assert rounds.finished
    assert rounds.next_symbol() is None
    assert rounds.end().complete
    assert rounds.floor == 40


# ------------------------------------------------------------- books that did not change

# BBB trades in the first 700 orders only, ZZZ and BBB2 until 2,000: after that their
# books stand still while the partition goes on.
LAG = 1000


def test_rounds_leave_out_books_that_have_not_changed_and_recovery_stays_exact():
    every_round = simulate()
    only_changes = simulate(max_lag=LAG)
    assert only_changes.wrong == []
    # Every round rewrites BBB when every book is written ...
    assert len(every_round.written["BBB"]) > len(only_changes.written["BBB"])
    # ... and with the change check, no record of BBB is written while it stands still,
    # except to keep its record within LAG orders of the round.
    idle = [o for o in only_changes.written["BBB"] if o > 800]
    gaps = [b - a for a, b in pairwise(idle)]
    assert all(gap > LAG for gap in gaps)


def test_a_record_that_falls_too_far_behind_is_written_again_so_the_replay_stays_short():
    bounded = simulate(max_lag=LAG)
    unbounded = simulate(max_lag=10**9)
    assert bounded.wrong == [] and unbounded.wrong == []
    # An idle book's old record is where a rebuild starts replaying.
    assert unbounded.longest_replay > 2 * LAG
    assert bounded.longest_replay <= LAG + 2 * 400  # the lag, a round's wait and length


def test_a_book_too_large_to_snapshot_is_not_serialized_again_until_it_changes():
    life = simulate(too_large=lambda symbol: symbol == "ZZZ", max_lag=LAG)
    assert life.wrong == []
    assert "ZZZ" not in life.written
    # ZZZ stops trading at 2,000. Rounds go on (MMM trades to the end and is written
    # in each), but ZZZ gets one more attempt, for its last change, and then none.
    assert len([o for o in life.written["MMM"] if o > 2000]) >= 2
    assert len([o for o in life.serialized["ZZZ"] if o > 2000]) <= 1


def test_a_round_leaves_out_what_its_records_hold_and_counts_it():
    rounds = SnapshotRounds(0, {"AAA": (5, 100), "BBB": (3, 100), "CCC": (9, 10)}, max_lag=200)
    # AAA unchanged; BBB changed; CCC unchanged but its record is 290 orders behind.
    rounds.begin({"AAA": 5, "BBB": 4, "CCC": 9, "DDD": 1}, 300)
    taken = []
    while (symbol := rounds.next_symbol()) is not None:
        taken.append(symbol)
        rounds.written(1, {"BBB": 4, "CCC": 9, "DDD": 1}[symbol], 300)
    summary = rounds.end()
    assert taken == ["BBB", "CCC", "DDD"]
    assert summary.unchanged == 1 and summary.complete
    assert rounds.recorded["BBB"] == (4, 300)
    assert rounds.floor == 300


def test_without_a_lag_every_round_writes_every_book():
    rounds = SnapshotRounds(0, {"AAA": (5, 100)})
    rounds.begin({"AAA": 5}, 150)
    assert rounds.next_symbol() == "AAA"


def test_a_book_too_large_at_its_sequence_is_left_out_and_the_round_stays_incomplete():
    rounds = SnapshotRounds(7, max_lag=1000)
    rounds.begin({"AAA": 2}, 100)
    assert rounds.next_symbol() == "AAA"
    rounds.skipped(2)
    rounds.end()
    rounds.begin({"AAA": 2}, 200)
    assert rounds.next_symbol() is None
    summary = rounds.end()
    assert not summary.complete and rounds.floor == 7
    rounds.begin({"AAA": 3}, 300)  # it changed: try again
    assert rounds.next_symbol() == "AAA"
