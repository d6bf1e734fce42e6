"""Rebuild the books of one partition of `orders`: latest snapshot, then a silent replay.

The snapshot topic (`engine.snapshots`, compacted) has the same partition count as
`orders`; partition p holds the books of the symbols whose orders arrive on orders
partition p. A record is keyed by `[group, symbol]` and says "this is symbol S's book
after applying every order of partition p before offset R". The service writes a record
in the same transaction as the consumer offset R, so a record is visible
(read_committed) only if its outputs and offsets are. A round writes the symbols of p
one per transaction (so a round's pause is one book's, not all of them), and each record
also carries a `floor`: the start of p's last round that wrote every symbol. A symbol
with no record at all first traded after that start, since that round would have
written it otherwise (`snapshot_record`).

Rebuilding partition p (`recover_partition`):

1. C = the group's committed offset of p, read with require-stable semantics (librdkafka
   does so under read_committed), so a dead replica's open transaction is resolved first.
2. Read snapshot partition p to its last stable offset; keep the latest record per key
   of this group. Each record carries its own R_s.
3. Replay orders p from the lowest R_s or floor of any record (the partition's start if
   there is no record) up to C through a fresh matcher with outputs discarded; an order
   of symbol s at offset o is applied only if o >= R_s (every order of a symbol without
   a record is applied). Per-symbol offsets make this exact although the symbols of a
   round are written at different offsets, because the books of different symbols never
   interact; the floor makes the replay start early enough for a symbol that has no
   record yet.
4. Consumption resumes at max(C, max R_s): a snapshot is only ever committed together
   with offsets at least as far, so R_s > C means C was read before that commit landed.

The pure parts (`latest_snapshots`, `plan_replay`, `replay_orders`) take plain values
so they are unit-tested without a broker; `read_partition` is the only Kafka I/O.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import msgspec
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from engine.config import EngineConfig
from engine.intake import decode_input
from engine.matching import Matcher
from engine.service_config import ORDERS, SNAPSHOTS
from orderbook_platform.contracts import ContractError

SNAPSHOT_RECORD_VERSION = 1
_log = logging.getLogger("orderbook.engine.recovery")


class SnapshotRecord(msgspec.Struct, omit_defaults=True):
    """One symbol's book on `engine.snapshots`.

    `offset` is the next offset of `orders` partition `partition` that the book has not
    applied. `state` is `Matcher.snapshot_symbol()` (canonical JSON) embedded as is,
    so it costs no base64 and the record stays readable with any JSON tool. `floor`
    (additive; absent in records that predate it, which were written a whole partition
    at one offset) is where a replay of the partition must start at the latest: see the
    module docstring.
    """

    version: int
    group: str
    symbol: str
    partition: int
    offset: int
    state: msgspec.Raw
    instance_id: str | None = None
    floor: int | None = None

    @property
    def replay_start(self) -> int:
        """The latest offset a replay of this record's partition may start at."""
        return self.offset if self.floor is None else min(self.offset, self.floor)


_encode_record = msgspec.json.Encoder().encode
_decode_record = msgspec.json.Decoder(SnapshotRecord).decode
_encode_key = msgspec.json.Encoder().encode


def snapshot_key(group: str, symbol: str) -> bytes:
    """`["<group>","<symbol>"]`: compaction keeps one record per book per deployment."""
    return _encode_key((group, symbol))


def encode_snapshot(record: SnapshotRecord) -> bytes:
    return _encode_record(record)


def decode_snapshot(data: bytes) -> SnapshotRecord:
    return _decode_record(data)


# --------------------------------------------------------------------------- pure logic


def snapshot_record(
    matcher: Matcher,
    group: str,
    symbol: str,
    partition: int,
    offset: int,
    floor: int,
    instance_id: str | None,
) -> bytes:
    """The snapshot record of `symbol`'s book at `offset` (its partition's next order).

    `floor` must be the start of the partition's last round that wrote every symbol it
    had then (or, before any such round, where this owner's recovery replay started):
    a symbol that still has no record first traded at or after it.
    """
    return encode_snapshot(
        SnapshotRecord(
            SNAPSHOT_RECORD_VERSION,
            group,
            symbol,
            partition,
            offset,
            msgspec.Raw(matcher.snapshot_symbol(symbol)),
            instance_id,
            floor,
        )
    )


def latest_snapshots(
    records: Iterable[tuple[bytes | None, bytes | None]], group: str
) -> dict[str, SnapshotRecord]:
    """The latest record per symbol of `group` from (key, value) pairs in log order.

    Other groups' records are skipped by key before any value is decoded; a tombstone
    (None value) removes the symbol; an undecodable value is logged and skipped.
    """
    latest: dict[bytes, bytes | None] = {}
    prefix = _encode_key((group,))[:-1] + b","  # '["<group>",'
    for key, value in records:
        if key is None or not key.startswith(prefix):
            continue
        latest[key] = value
    result: dict[str, SnapshotRecord] = {}
    for key, value in latest.items():
        if value is None:
            continue
        try:
            record = decode_snapshot(value)
        except msgspec.DecodeError as exc:
            _log.error("undecodable snapshot record skipped", extra={"key": key, "error": str(exc)})
            continue
        if record.group == group and record.version == SNAPSHOT_RECORD_VERSION:
            result[record.symbol] = record
    return result


@dataclass(frozen=True)
class ReplayPlan:
    replay_from: int  # first orders offset to read
    replay_to: int  # exclusive: orders before it are replayed silently
    resume_at: int  # where live consumption continues


def plan_replay(
    snapshots: Iterable[SnapshotRecord], committed: int | None, low_watermark: int
) -> ReplayPlan:
    """Where to replay from and where to resume (see the module docstring, steps 3-4).

    `committed` is None when the group has no offset for the partition. Offsets below
    `low_watermark` are gone (retention); the replay starts at what still exists.
    """
    records = list(snapshots)
    offsets = [record.offset for record in records]
    start = min(r.replay_start for r in records) if records else low_watermark
    resume = max([*offsets, committed if committed is not None else low_watermark])
    start = max(start, low_watermark)
    resume = max(resume, start)
    return ReplayPlan(start, resume, resume)


def load_records(matcher: Matcher, records: Iterable[SnapshotRecord]) -> dict[str, tuple[int, int]]:
    """Install each record's book; returns symbol -> (its book's sequence, the record's
    offset), what a snapshot round needs to leave out books that have not changed since."""
    recorded: dict[str, tuple[int, int]] = {}
    for record in records:
        symbol = matcher.load_symbol(bytes(record.state))
        book = matcher.book(symbol)
        if book is not None:
            recorded[symbol] = (book.sequence, record.offset)
    return recorded


def replay_orders(
    matcher: Matcher,
    orders: Iterable[tuple[int, bytes | None]],
    symbol_offsets: dict[str, int],
) -> int:
    """Apply (offset, value) orders to `matcher`, discarding outputs; returns how many.

    An order is skipped if undecodable (it went to the DLQ live) or if its symbol's book
    came from a snapshot taken after it. Exceptions from the matcher are swallowed the
    same way the live loop swallows them, so the rebuilt book equals the live one.
    """
    default_symbol = matcher.config.default_symbol
    process = matcher.process
    applied = 0
    for offset, value in orders:
        try:
            order = decode_input(value)
        except ContractError:
            continue  # dead-lettered when it was live
        symbol = order.symbol if order.symbol is not None else default_symbol
        covered = symbol_offsets.get(symbol)
        if covered is not None and offset < covered:
            continue
        try:
            process(order)
        except Exception:
            _log.exception("matcher raised during replay", extra={"offset": offset})
        applied += 1
    return applied


# --------------------------------------------------------------------------- Kafka I/O


class RecoveryTimeout(KafkaException):
    pass


def read_partition(
    reader: Consumer,
    topic: str,
    partition: int,
    start: int,
    stop: int | None = None,
    stall_timeout_s: float = 60.0,
) -> Iterator[Message]:
    """Messages of one partition from `start` to `stop` (exclusive) or to its end.

    `reader` must be an assign()-only consumer with `enable.partition.eof=true` and
    read_committed: the end is the partition-EOF event, which librdkafka raises at the
    last stable offset, past aborted records and control markers (offsets have gaps).
    """
    if stop is not None and start >= stop:
        return
    reader.assign([TopicPartition(topic, partition, start)])
    try:
        last_progress = time.monotonic()
        while True:
            # poll() then drain: consume(n, timeout) would wait for n messages even
            # after the end-of-partition event, costing `timeout` per read.
            first = reader.poll(0.5)
            messages = [] if first is None else [first, *reader.consume(2000, 0)]
            if not messages:
                if time.monotonic() - last_progress > stall_timeout_s:
                    raise RecoveryTimeout(
                        KafkaError(
                            KafkaError._TIMED_OUT,
                            f"no progress reading {topic} [{partition}] for {stall_timeout_s:.0f} s",
                        )
                    )
                continue
            last_progress = time.monotonic()
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        return
                    if error.fatal() or not error.retriable():
                        raise KafkaException(error)
                    continue
                if stop is not None and message.offset() >= stop:
                    return
                yield message
    finally:
        reader.unassign()


def committed_offset(
    consumer: Consumer, partition: int, timeout_s: float, deadline_s: float
) -> int | None:
    """The group's committed offset of orders `partition`, None if it has none.

    The fetch is stable: while a transaction with offsets for this partition is open
    (a dead replica's, until the broker aborts it) librdkafka keeps retrying, so this
    waits up to `deadline_s`, logging while it waits.
    """
    started = time.monotonic()
    while True:
        try:
            (result,) = consumer.committed([TopicPartition(ORDERS, partition)], timeout=timeout_s)
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() != KafkaError._TIMED_OUT or time.monotonic() - started > deadline_s:
                raise
            _log.info(
                "waiting for a pending transaction to resolve before reading the committed offset",
                extra={"partition": partition},
            )
            continue
        if result.error is not None:
            raise KafkaException(result.error)
        return result.offset if result.offset >= 0 else None


@dataclass
class RecoveredPartition:
    partition: int
    matcher: Matcher
    resume_at: int
    replay_from: int  # where the replay started: the floor of this owner's first round
    # symbol -> (its book's sequence, offset) as loaded from its record, before the replay
    recorded: dict[str, tuple[int, int]]
    snapshot_symbols: int
    snapshot_offset: int | None
    replayed: int
    seconds: float


def recover_partition(
    reader: Consumer,
    group: str,
    partition: int,
    committed: int | None,
    config: EngineConfig,
    stall_timeout_s: float = 60.0,
) -> RecoveredPartition:
    """A fresh matcher for orders `partition`, rebuilt to `committed` (module docstring)."""
    started = time.perf_counter()
    snapshot_low, _ = reader.get_watermark_offsets(TopicPartition(SNAPSHOTS, partition), timeout=30)
    snapshots = latest_snapshots(
        (
            (message.key(), message.value())
            for message in read_partition(
                reader, SNAPSHOTS, partition, snapshot_low, stall_timeout_s=stall_timeout_s
            )
        ),
        group,
    )
    matcher = Matcher(config)
    recorded = load_records(matcher, snapshots.values())
    orders_low, _ = reader.get_watermark_offsets(TopicPartition(ORDERS, partition), timeout=30)
    plan = plan_replay(snapshots.values(), committed, orders_low)
    lost = [r.symbol for r in snapshots.values() if r.offset < orders_low]
    if lost or (not snapshots and orders_low > 0):
        _log.warning(
            "orders before the partition's low watermark are gone (retention); "
            "books may miss their effect",
            extra={"partition": partition, "low_watermark": orders_low, "symbols": lost},
        )
    orders = read_partition(
        reader, ORDERS, partition, plan.replay_from, plan.replay_to,
        stall_timeout_s=stall_timeout_s,
    )  # fmt: skip
    replayed = replay_orders(
        matcher,
        ((message.offset(), message.value()) for message in orders),
        {symbol: record.offset for symbol, record in snapshots.items()},
    )
    return RecoveredPartition(
        partition=partition,
        matcher=matcher,
        resume_at=plan.resume_at,
        replay_from=plan.replay_from,
        recorded=recorded,
        snapshot_symbols=len(snapshots),
        snapshot_offset=min((r.offset for r in snapshots.values()), default=None),
        replayed=replayed,
        seconds=time.perf_counter() - started,
    )
