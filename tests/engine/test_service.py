"""`orderbook engine run` against the real broker, as a real subprocess.

The session stack is shared with other tests, so every test uses symbols of its own
and a fresh consumer group that starts at the current end of `orders`, and compares
only its own symbols. The reference is the offline replay: one Matcher per partition
over that partition's orders in offset order.
"""

from __future__ import annotations

import base64
import gc
import json
import random
import signal
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException

from engine.feeder import generate_orders
from engine.service import EngineService
from engine.service_config import ServiceConfig
from orderbook_platform.config import Settings
from orderbook_platform.contracts import Order, decode_dead_letter, decode_order_event, encode
from tests.engine.kafka_harness import (
    OUTPUT_TOPICS,
    EngineProcess,
    Record,
    caught_up,
    commit_group_at,
    end_offsets,
    offline_replay,
    outputs_by_symbol,
    produce,
    produce_orders,
    read_topic,
    snapshots_of,
    spread_symbols,
    start_offsets,
    unique,
    wait_for,
)

pytestmark = pytest.mark.integration


def fresh_group(settings: Settings, name: str) -> str:
    """A new consumer group positioned at the current end of `orders`."""
    group = unique(f"test-{name}-")
    commit_group_at(settings, group, end_offsets(settings, "orders"))
    return group


def assert_same_outputs(
    got: dict[tuple[str, str], list[bytes]],
    expected: dict[tuple[str, str], list[bytes]],
    symbols: list[str],
) -> None:
    """Per symbol and topic: the same messages, byte for byte, in the same order."""
    for symbol in symbols:
        for topic in OUTPUT_TOPICS:
            actual, wanted = got.get((topic, symbol), []), expected.get((topic, symbol), [])
            if actual == wanted:
                continue
            first = next(
                (i for i, (a, w) in enumerate(zip(actual, wanted, strict=False)) if a != w),
                min(len(actual), len(wanted)),
            )
            pytest.fail(
                f"{topic}/{symbol}: engine published {len(actual)}, replay {len(wanted)}; "
                f"first difference at #{first}:\n"
                f"  engine: {actual[first] if first < len(actual) else None!r}\n"
                f"  replay: {wanted[first] if first < len(wanted) else None!r}"
            )


def test_kill_9_and_restart_publish_exactly_the_offline_replay(settings: Settings, tmp_path: Path):
    rng = random.Random(20261125)
    symbols = spread_symbols("K", 6)
    group = fresh_group(settings, "crash")
    start = start_offsets(settings)
    orders = generate_orders(
        100_000, seed=rng.randrange(2**32), symbols=symbols, start_ns=time.time_ns(),
        step_ns=20_000,
    )  # fmt: skip
    produced = produce_orders(settings, orders)
    assert {r.partition for r in produced} == {0, 1, 2}
    target = end_offsets(settings, "orders")
    # Small snapshot interval and batches so kills land between and inside snapshot rounds.
    args = ["--snapshot-every", "6000", "--batch-size", "1000"]

    engines: list[EngineProcess] = []
    kill_points = [rng.randint(1_000, 30_000) for _ in range(4)]
    try:
        for point in kill_points:
            engine = EngineProcess(
                settings, tmp_path, group=group, instance_id="crash", args=args
            ).start()
            engines.append(engine)
            wait_for(
                lambda e=engine, p=point: (
                    e.orders_applied() >= p or caught_up(settings, group, target)
                ),
                f"the engine to apply {point} orders",
            )
            engine.kill9()
        final = EngineProcess(settings, tmp_path, group=group, instance_id="crash", args=args)
        engines.append(final.start())
        wait_for(lambda: caught_up(settings, group, target), "the engine to consume everything")
        assert final.terminate() == 0, final.log_text()[-3000:]
    finally:
        for engine in engines:
            engine.ensure_dead()

    expected, matchers = offline_replay(produced, set(symbols))
    got = outputs_by_symbol(settings, start, set(symbols))
    assert sum(len(expected["trades", s]) for s in symbols) > 10_000  # the stream really trades
    assert_same_outputs(got, expected, symbols)

    # The final book of every symbol equals the replay's, as its last snapshot says. A
    # round leaves out a book that has not changed since its record, so a record may be
    # older than the end of its partition, but never ahead of it.
    snapshots = snapshots_of(settings, group)
    partition_of = {r.key.decode(): r.partition for r in produced}
    for symbol in symbols:
        assert bytes(snapshots[symbol].state) == matchers[partition_of[symbol]].snapshot_symbol(
            symbol
        ), symbol
        assert snapshots[symbol].offset <= target[partition_of[symbol]]

    # The restarts really went through the snapshot + replay path.
    recoveries = [e for engine in engines[1:] for e in engine.events("partition recovered")]
    assert any(r["snapshot_symbols"] and r["replayed"] for r in recoveries), recoveries


def _order(symbol: str, order_id: str, kind: str, price=None, quantity=None) -> bytes:
    trader = "seller" if quantity is not None and quantity < 0 else "buyer"
    return encode(Order(order_id, kind, price, quantity, time.time_ns(), symbol, trader))


def test_poison_and_invalid_orders_end_in_the_dlq_or_as_rejects_and_matching_goes_on(
    settings: Settings, tmp_path: Path
):
    symbol = unique("P")
    key = symbol.encode()
    group = fresh_group(settings, "poison")
    start = start_offsets(settings)
    undecodable = [
        b"not json at all",
        b'{"order_id": 42, "order_type": "limit"}',
        b"[1, 2]",
        b"",
        None,
    ]
    items = [
        (key, _order(symbol, "ask-1", "limit", 100.0, -10)),
        *((key, value) for value in undecodable),
        (key, _order(symbol, "stop-1", "stop", 100.0, 5)),
        (key, _order(symbol, "off-tick", "limit", 100.001, 5)),
        (key, _order(symbol, "ask-1", "limit", 101.0, -3)),
        (key, _order(symbol, "ghost", "cancel")),
        (key, _order(symbol, "zero", "limit", 100.0, 0)),
        (key, _order(symbol, "bid-1", "limit", 100.0, 4)),
    ]
    landed = produce(settings, items)
    engine = EngineProcess(settings, tmp_path, group=group, instance_id="poison").start()
    try:
        target = {landed[-1].partition: landed[-1].offset + 1}
        wait_for(lambda: caught_up(settings, group, target), "the engine to pass the poison")
        assert engine.health()["state"] == "running"
        assert engine.metric("orderbook_engine_dlq_total") == len(undecodable)
        assert engine.terminate() == 0
    finally:
        engine.ensure_dead()

    poison = {(r.partition, r.offset): r for r in landed[1 : 1 + len(undecodable)]}
    letters = [
        decode_dead_letter(r.value) for r in read_topic(settings, "orders.dlq", start["orders.dlq"])
    ]
    mine = [d for d in letters if (d.partition, d.offset) in poison and d.topic == "orders"]
    assert len(mine) == len(undecodable)
    for letter in mine:
        source: Record = poison[letter.partition, letter.offset]
        assert base64.b64decode(letter.value_base64) == (source.value or b"")
        assert base64.b64decode(letter.key_base64) == key
        assert letter.error

    events = [
        decode_order_event(r.value)
        for r in read_topic(settings, "order_events", start["order_events"])
        if r.key == key
    ]
    rejects = {(e.order_id, e.reason) for e in events if e.event == "rejected"}
    assert rejects == {
        ("stop-1", "unknown_order_type"),
        ("off-tick", "off_tick_price"),
        ("ask-1", "duplicate_order_id"),
        ("ghost", "unknown_order"),
        ("zero", "zero_quantity"),
    }
    trade_records = [r for r in read_topic(settings, "trades", start["trades"]) if r.key == key]
    trades = [json.loads(r.value) for r in trade_records]
    # The record timestamp is the event time (the taker's `time`), in ms.
    assert [r.timestamp_ms for r in trade_records] == [t["time"] // 1_000_000 for t in trades]
    assert [
        (t["left_order_id"], t["right_order_id"], t["quantity"], t["price"]) for t in trades
    ] == [("ask-1", "bid-1", 4, 100.0)]
    expected, _ = offline_replay(landed, {symbol})
    assert_same_outputs(outputs_by_symbol(settings, start, {symbol}), expected, [symbol])


def test_two_engines_split_the_partitions_and_the_survivor_of_a_kill_takes_over(
    settings: Settings, tmp_path: Path
):
    symbols = spread_symbols("T", 9)
    group = fresh_group(settings, "pair")
    start = start_offsets(settings)
    first = EngineProcess(settings, tmp_path, group=group, instance_id="a").start()
    second: EngineProcess | None = None
    try:
        wait_for(
            lambda: first.health()["assigned_partitions"] == [0, 1, 2],
            "the first engine's assignment",
        )
        second = EngineProcess(settings, tmp_path, group=group, instance_id="b").start()

        def split() -> bool:
            a, b = first.health()["assigned_partitions"], second.health()["assigned_partitions"]
            return bool(a) and bool(b) and sorted(a + b) == [0, 1, 2]

        wait_for(split, "the two engines to split the partitions")
        orders = generate_orders(
            40_000, seed=99, symbols=symbols, start_ns=time.time_ns(), step_ns=50_000
        )
        produced = produce_orders(settings, orders)
        assert {r.partition for r in produced} == {0, 1, 2}
        target = end_offsets(settings, "orders")
        wait_for(
            lambda: first.orders_applied() >= 3000 or caught_up(settings, group, target),
            "the first engine to make progress",
        )
        first.kill9()
        wait_for(
            lambda: second.health()["assigned_partitions"] == [0, 1, 2], "the survivor to take over"
        )
        wait_for(lambda: caught_up(settings, group, target), "the survivor to consume everything")
        assert second.terminate() == 0
    finally:
        first.ensure_dead()
        if second is not None:
            second.ensure_dead()

    expected, _ = offline_replay(produced, set(symbols))
    assert_same_outputs(outputs_by_symbol(settings, start, set(symbols)), expected, symbols)


def test_metrics_and_health_endpoints_answer(settings: Settings, tmp_path: Path):
    group = fresh_group(settings, "telemetry")
    engine = EngineProcess(settings, tmp_path, group=group, instance_id="telemetry").start()
    try:
        wait_for(lambda: engine.health()["state"] == "running", "the engine to run")
        health = engine.health()
        assert health["instance_id"] == "telemetry" and health["group"] == group
        assert health["assigned_partitions"] == [0, 1, 2]
        assert engine.get("/readyz")[0] == 200
        status, body = engine.get("/metrics")
        assert status == 200
        text = body.decode()
        for name in (
            "orderbook_engine_orders_total",
            "orderbook_engine_dlq_total",
            "orderbook_engine_recoveries_total",
            "orderbook_engine_batch_size_bucket",
            "orderbook_engine_batch_seconds_bucket",
            "orderbook_engine_assigned_partitions",
        ):
            assert name in text, name
        assert engine.metric("orderbook_engine_assigned_partitions") == 3
        # The heap was settled at start and after the recovery of the assignment, each
        # with a full collection, which the pause histogram timed.
        assert engine.metric("orderbook_engine_gc_frozen_objects") > 10_000
        assert 'orderbook_engine_gc_pause_seconds_count{generation="2"}' in text
        assert engine.get("/nothing-here")[0] == 404
        assert engine.terminate() == 0
    finally:
        engine.ensure_dead()
    lines = [line for line in engine.log_text().splitlines() if line.strip()]
    assert lines and all(json.loads(line)["event"] for line in lines)  # one JSON object a line


def test_an_aborted_transaction_rebuilds_the_books_and_nothing_is_published_twice(
    settings: Settings, tmp_path: Path
):
    """In-process service on the real broker whose 3rd and 8th commits fail as abortable."""
    symbols = spread_symbols("A", 4)
    group = fresh_group(settings, "abort")
    start = start_offsets(settings)
    orders = generate_orders(20_000, seed=8, symbols=symbols, start_ns=time.time_ns())
    produced = produce_orders(settings, orders)
    assert {r.partition for r in produced} == {0, 1, 2}
    target = end_offsets(settings, "orders")

    class CommitsFailSometimes(EngineService):
        commits = 0

        def _commit(self) -> None:
            self.commits += 1
            if self.commits in (3, 8):
                raise KafkaException(
                    KafkaError(KafkaError._STATE, "injected failure", txn_requires_abort=True)
                )
            super()._commit()

    config = ServiceConfig(
        instance_id=unique("abort"), group=group, batch_size=500, snapshot_every=4000,
        metrics_port=0, session_timeout_ms=6000,
    )  # fmt: skip
    service = CommitsFailSometimes(settings, config)
    runner = threading.Thread(target=service.run, name="engine-under-test")
    runner.start()
    try:
        wait_for(lambda: caught_up(settings, group, target), "the engine to consume everything")
    finally:
        service.stop()
        runner.join()

    assert service.stats.aborted == 2
    assert service.stats.recoveries >= 3 + 2 * 3  # the assignment, then all partitions twice
    # The heap was settled with a full collection at start, after the assignment and
    # after each of the two rebuilds, and handed back to the collector at the stop.
    registry = service.metrics.registry
    full = registry.get_sample_value("orderbook_engine_gc_pause_seconds_count", {"generation": "2"})
    assert full is not None and full >= 4
    assert registry.get_sample_value("orderbook_engine_gc_frozen_objects") > 10_000
    assert gc.get_freeze_count() == 0
    expected, matchers = offline_replay(produced, set(symbols))
    assert_same_outputs(outputs_by_symbol(settings, start, set(symbols)), expected, symbols)
    snapshots = snapshots_of(settings, group)
    partition_of = {r.key.decode(): r.partition for r in produced}
    for symbol in symbols:
        book = matchers[partition_of[symbol]].snapshot_symbol(symbol)
        assert bytes(snapshots[symbol].state) == book, symbol


def test_an_engine_frozen_past_its_session_timeout_rejoins_without_duplicates(
    settings: Settings, tmp_path: Path
):
    symbols = spread_symbols("F", 4)
    group = fresh_group(settings, "frozen")
    start = start_offsets(settings)
    orders = generate_orders(40_000, seed=21, symbols=symbols, start_ns=time.time_ns())
    produced = produce_orders(settings, orders)
    assert {r.partition for r in produced} == {0, 1, 2}
    target = end_offsets(settings, "orders")
    engine = EngineProcess(
        settings, tmp_path, group=group, instance_id="frozen", args=["--batch-size", "1000"]
    ).start()
    try:
        wait_for(lambda: engine.orders_applied() >= 3000, "the engine to make progress")
        engine.process.send_signal(signal.SIGSTOP)
        time.sleep(9)  # past the 6 s session timeout: the group evicts the frozen member
        engine.process.send_signal(signal.SIGCONT)
        wait_for(lambda: caught_up(settings, group, target), "the engine to consume everything")
        assert engine.terminate() == 0
    finally:
        engine.ensure_dead()

    events = {e["event"] for e in engine.logs()}
    assert events & {"transaction aborted; rebuilding every owned partition", "partitions lost"}
    expected, _ = offline_replay(produced, set(symbols))
    assert_same_outputs(outputs_by_symbol(settings, start, set(symbols)), expected, symbols)


def test_a_second_engine_with_the_same_instance_id_fences_the_first(
    settings: Settings, tmp_path: Path
):
    symbols = spread_symbols("Z", 3)
    group = fresh_group(settings, "fence")
    start = start_offsets(settings)
    zombie = EngineProcess(settings, tmp_path, group=group, instance_id="twin").start()
    successor: EngineProcess | None = None
    try:
        wait_for(lambda: zombie.health()["assigned_partitions"] == [0, 1, 2], "the first engine")
        successor = EngineProcess(settings, tmp_path, group=group, instance_id="twin").start()
        wait_for(lambda: successor.health()["assigned_partitions"], "the successor's partitions")
        orders = generate_orders(6000, seed=4, symbols=symbols, start_ns=time.time_ns())
        produced = produce_orders(settings, orders)
        assert {r.partition for r in produced} == {0, 1, 2}
        target = end_offsets(settings, "orders")
        assert zombie.process.wait(timeout=120) == 1  # its first transaction finds it fenced
        wait_for(lambda: caught_up(settings, group, target), "the successor to consume everything")
        assert successor.terminate() == 0
    finally:
        zombie.ensure_dead()
        if successor is not None:
            successor.ensure_dead()

    fatal = zombie.events("engine stopping on a fatal error")
    assert fatal and fatal[0]["reason"].startswith("fenced"), zombie.log_text()[-2000:]
    assert zombie.log_text().rstrip().endswith(f"error: {fatal[0]['reason']}")  # the CLI's line
    expected, _ = offline_replay(produced, set(symbols))
    assert_same_outputs(outputs_by_symbol(settings, start, set(symbols)), expected, symbols)
