"""The pure parts of recovery: choosing snapshots, planning the replay, replaying.

The Kafka parts (reading partitions, committed offsets) are covered by the
integration tests in test_service.py against the real broker.
"""

from __future__ import annotations

import msgspec
import pytest

from engine.config import EngineConfig
from engine.feeder import generate_orders
from engine.intake import MAX_ORDER_BYTES
from engine.matching import Matcher
from engine.recovery import (
    SNAPSHOT_RECORD_VERSION,
    ReplayPlan,
    SnapshotRecord,
    decode_snapshot,
    encode_snapshot,
    latest_snapshots,
    load_records,
    plan_replay,
    replay_orders,
    snapshot_key,
    snapshot_record,
)
from orderbook_platform.contracts import encode
from tests.engine.poison import poison_orders, through_live_path

pytestmark = pytest.mark.unit


def record(symbol: str, offset: int, group: str = "g", state: bytes = b"{}") -> SnapshotRecord:
    return SnapshotRecord(SNAPSHOT_RECORD_VERSION, group, symbol, 0, offset, msgspec.Raw(state))


def entry(r: SnapshotRecord) -> tuple[bytes, bytes]:
    return snapshot_key(r.group, r.symbol), encode_snapshot(r)


def test_snapshot_record_embeds_the_book_bytes_unchanged():
    matcher = Matcher()
    for order in generate_orders(500, seed=3, symbols=["AAA"]):
        matcher.process(order)
    state = matcher.snapshot_symbol("AAA")
    decoded = decode_snapshot(encode_snapshot(record("AAA", 500, state=state)))
    assert bytes(decoded.state) == state
    assert (decoded.symbol, decoded.offset, decoded.group) == ("AAA", 500, "g")


def test_snapshot_key_names_group_and_symbol_unambiguously():
    assert snapshot_key("orderbook-engine", "XYZ") == b'["orderbook-engine","XYZ"]'
    assert snapshot_key("a", "b/c") != snapshot_key("a/b", "c")


def test_latest_snapshots_keeps_the_newest_record_of_each_symbol_of_its_group():
    records = [
        entry(record("AAA", 10)),
        entry(record("BBB", 10)),
        entry(record("AAA", 20)),
        entry(record("AAA", 99, group="other")),
        entry(record("CCC", 5, group="g-longer")),  # a group whose name extends ours
    ]
    latest = latest_snapshots(records, "g")
    assert {s: r.offset for s, r in latest.items()} == {"AAA": 20, "BBB": 10}


def test_latest_snapshots_forgets_a_symbol_after_a_tombstone_and_skips_garbage():
    records = [
        entry(record("AAA", 10)),
        (snapshot_key("g", "AAA"), None),
        (snapshot_key("g", "BBB"), b"not json"),
        (None, encode_snapshot(record("CCC", 1))),
    ]
    assert latest_snapshots(records, "g") == {}


def test_plan_without_snapshot_or_commit_starts_at_the_partition_start():
    plan = plan_replay([], None, 0)
    assert (plan.replay_from, plan.replay_to, plan.resume_at) == (0, 0, 0)


def test_plan_without_snapshot_replays_everything_before_the_committed_offset():
    plan = plan_replay([], 700, 0)
    assert (plan.replay_from, plan.replay_to, plan.resume_at) == (0, 700, 700)


def test_plan_replays_from_the_oldest_snapshot_to_the_committed_offset():
    plan = plan_replay([record("AAA", 400), record("BBB", 300)], 900, 0)
    assert (plan.replay_from, plan.replay_to, plan.resume_at) == (300, 900, 900)


def test_plan_trusts_a_snapshot_ahead_of_a_stale_committed_offset():
    # The snapshot was committed with offsets >= its own, so the outputs up to it exist.
    plan = plan_replay([record("AAA", 500)], 450, 0)
    assert (plan.replay_from, plan.replay_to, plan.resume_at) == (500, 500, 500)


def test_plan_never_reads_below_the_low_watermark():
    plan = plan_replay([record("AAA", 100)], 900, 250)
    assert (plan.replay_from, plan.replay_to, plan.resume_at) == (250, 900, 900)


def feed(matcher: Matcher, orders) -> None:
    for order in orders:
        matcher.process(order)


def test_snapshot_plus_replay_rebuilds_the_uninterrupted_book():
    orders = list(generate_orders(6000, seed=11, symbols=["AAA", "BBB", "CCC"]))
    values = [(offset, encode(order)) for offset, order in enumerate(orders)]
    live = Matcher()
    feed(live, orders[:2500])
    snapshots = {s: (live.snapshot_symbol(s), 2500) for s in live.symbols()}
    feed(live, orders[2500:])

    rebuilt = Matcher()
    for state, _ in snapshots.values():
        rebuilt.load_symbol(state)
    applied = replay_orders(rebuilt, values[2500:], {s: o for s, (_, o) in snapshots.items()})
    assert applied == 3500
    assert rebuilt.state_hash() == live.state_hash()


def test_replay_applies_an_order_only_to_books_that_have_not_seen_it():
    # Symbols snapshotted at different offsets: replay from the oldest, skip the rest.
    orders = list(generate_orders(3000, seed=5, symbols=["AAA", "BBB"]))
    values = [(offset, encode(order)) for offset, order in enumerate(orders)]
    live = Matcher()
    feed(live, orders[:1000])
    aaa = live.snapshot_symbol("AAA")
    feed(live, orders[1000:2000])
    bbb = live.snapshot_symbol("BBB")
    feed(live, orders[2000:])

    rebuilt = Matcher()
    rebuilt.load_symbol(aaa)
    rebuilt.load_symbol(bbb)
    replay_orders(rebuilt, values[1000:], {"AAA": 1000, "BBB": 2000})
    assert rebuilt.state_hash() == live.state_hash()


def test_replay_skips_what_the_live_loop_dead_letters():
    order = next(generate_orders(1, seed=1, symbols=["AAA"]))
    matcher = Matcher(EngineConfig())
    oversized = b" " * (MAX_ORDER_BYTES + 1)
    applied = replay_orders(
        matcher, [(0, b"garbage"), (1, None), (2, oversized), (3, encode(order))], {}
    )
    assert applied == 1
    assert matcher.symbols() == ["AAA"]


def test_a_snapshot_record_carries_the_book_its_offset_and_the_floor():
    live = Matcher()
    feed(live, generate_orders(800, seed=3, symbols=["AAA", "BBB"]))
    value = snapshot_record(live, "g", "BBB", 2, 800, 350, "replica-1")
    decoded = decode_snapshot(value)
    assert (decoded.group, decoded.symbol, decoded.partition, decoded.offset) == (
        "g",
        "BBB",
        2,
        800,
    )
    assert (decoded.floor, decoded.instance_id) == (350, "replica-1")
    assert bytes(decoded.state) == live.snapshot_symbol("BBB")
    assert decoded.replay_start == 350


def test_a_record_without_a_floor_still_decodes_and_starts_the_replay_at_its_offset():
    # Records written before the floor existed: a whole partition at one offset.
    old = b'{"version":1,"group":"g","symbol":"AAA","partition":0,"offset":42,"state":{}}'
    decoded = decode_snapshot(old)
    assert decoded.floor is None
    assert decoded.replay_start == 42
    assert plan_replay([decoded], committed=50, low_watermark=0).replay_from == 42


def test_plan_starts_the_replay_at_the_lowest_floor():
    floored = SnapshotRecord(
        SNAPSHOT_RECORD_VERSION, "g", "BBB", 0, 500, msgspec.Raw(b"{}"), None, 120
    )
    plan = plan_replay([record("AAA", 300), floored], committed=600, low_watermark=0)
    assert plan == ReplayPlan(120, 600, 600)


def test_loading_records_installs_the_books_and_tells_where_each_record_stands():
    live = Matcher()
    feed(live, generate_orders(600, seed=5, symbols=["AAA", "BBB"]))
    aaa = decode_snapshot(snapshot_record(live, "g", "AAA", 0, 600, 0, None))
    feed(live, generate_orders(300, seed=6, symbols=["BBB"]))
    bbb = decode_snapshot(snapshot_record(live, "g", "BBB", 0, 900, 0, None))
    fresh = Matcher()
    recorded = load_records(fresh, [aaa, bbb])
    assert fresh.snapshot() == live.snapshot()
    # Each book's sequence as its record holds it (the live one, which did not move
    # since), and the offset the record was written at.
    assert recorded == {
        "AAA": (live.book("AAA").sequence, 600),
        "BBB": (live.book("BBB").sequence, 900),
    }
    assert recorded["AAA"][0] > 0


def test_recovery_replays_poison_exactly_as_the_live_loop_treated_it():
    """Every poison value between real orders: the rebuilt books equal the live ones,
    from the partition's start and from a snapshot taken in the middle of the poison."""
    orders = list(generate_orders(400, seed=9, symbols=["POISON", "OTHER"]))
    values: list[bytes | None] = [encode(o) for o in orders[:200]]
    values += [p.value for p in poison_orders()] + [None]
    values += [encode(o) for o in orders[200:]]
    live = Matcher()
    through_live_path(live, values[:215])
    middle = {s: live.snapshot_symbol(s) for s in live.symbols()}
    through_live_path(live, values[215:])

    rebuilt = Matcher()
    replay_orders(rebuilt, list(enumerate(values)), {})
    assert rebuilt.state_hash() == live.state_hash()

    resumed = Matcher()
    for state in middle.values():
        resumed.load_symbol(state)
    replay_orders(resumed, list(enumerate(values))[215:], dict.fromkeys(middle, 215))
    assert resumed.state_hash() == live.state_hash()
