"""`orderbook engine run`: the matcher as an exactly-once Kafka consume-transform-produce loop.

One iteration is one Kafka transaction:

    poll orders (batch) -> begin -> per order: decode, match, produce events to the
    order's partition of trades/prices/book/order_events (or a DeadLetter to orders.dlq)
    -> [a snapshot record, one symbol per transaction while a round runs]
    -> send_offsets_to_transaction -> commit

so a batch's outputs, its consumer offsets and any snapshot covering it become visible
to read_committed readers together or not at all. Details and the reasons behind them
are in docs/engine-service.md; the invariants the code relies on:

- Every partition of `orders` has its own `Matcher`, so rebuilding, evicting or handing
  over one partition never touches another's books, and the offline reference ("replay
  each partition's orders in offset order") is literally what runs here.
- The book is not transactional. After any failed or aborted transaction every owned
  partition is rebuilt from its snapshot and a silent replay (engine.recovery) and the
  consumer is rewound to the committed offsets; no batch ever runs on a book that
  applied an aborted batch.
- No transaction is open while `poll()` runs, so rebalance callbacks (which evict or
  rebuild partitions) never race a transaction.
- Outputs go to the input's partition number, so per-symbol order is preserved.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections import Counter as Tally
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from engine import heap
from engine.config import EngineConfig
from engine.events import BOOK, ORDER_EVENTS, TOPIC_OF, TOPICS, key_of
from engine.intake import MAX_DEAD_LETTER_VALUE_BYTES, dead_letter, decode_input
from engine.matching import Matcher
from engine.recovery import committed_offset, recover_partition, snapshot_key, snapshot_record
from engine.service_config import DLQ, ORDERS, PRODUCER_TUNING, SNAPSHOTS, ServiceConfig
from engine.settings import engine_config_from
from engine.snapshot_rounds import SnapshotRounds
from engine.telemetry import (
    FAILED,
    RECOVERING,
    RUNNING,
    STOPPING,
    Health,
    Metrics,
    TelemetryServer,
)
from engine.watchdog import Watchdog, exit_within
from engine.wire import thread_encoder
from orderbook_platform.config import Settings
from orderbook_platform.contracts import ContractError, encode
from orderbook_platform.errors import PlatformError
from orderbook_platform.kafka.clients import consumer as make_consumer
from orderbook_platform.kafka.clients import producer as make_producer
from orderbook_platform.metrics_http import url_host

_log = logging.getLogger("orderbook.engine.service")

# The topic-level max.message.bytes of engine.snapshots (topics.py); a record above it
# would fail the whole transaction, so such a record is skipped (and logged) instead.
SNAPSHOT_MAX_BYTES = 16 * 1024 * 1024
# Brokers reject record timestamps too far in the future (Kafka 4 defaults
# log.message.timestamp.after.max.ms to one hour). An order claiming a time more than
# this ahead of now gets its own record's timestamp instead, so a bad clock upstream
# cannot make every transaction fail.
FUTURE_TOLERANCE_MS = 30 * 60 * 1000
_COMMIT_ATTEMPTS = 5
# A round leaves out a book that has not changed since its record, unless that record is
# more than this many rounds' worth of orders (--snapshot-every) behind: recovery
# replays from the oldest record, so this bounds the replay (engine.snapshot_rounds).
_UNCHANGED_LAG_ROUNDS = 10


class EngineStopped(PlatformError):
    """The service cannot go on (fenced, or a fatal Kafka error); exits non-zero."""


@dataclass(slots=True)
class PartitionState:
    """What the service holds for one owned partition of `orders`."""

    matcher: Matcher
    next_offset: int  # the next orders offset to apply; committed with each transaction
    since_snapshot: int = 0  # orders applied (incl. replayed) since its last round began
    snapshot_at: float = field(default_factory=time.monotonic)  # when that round began
    # Its snapshot rounds; the floor starts where this owner's recovery replay began.
    rounds: SnapshotRounds = field(default_factory=lambda: SnapshotRounds(0))


@dataclass
class ServiceStats:
    orders: int = 0
    dlq: int = 0
    committed: int = 0
    aborted: int = 0
    recoveries: int = 0
    events: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOPICS, 0))


class EngineService:
    def __init__(
        self,
        settings: Settings,
        config: ServiceConfig,
        engine_config: EngineConfig | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.engine_config = engine_config or engine_config_from(settings)
        self.metrics = Metrics()
        self.health = Health(config.instance_id, config.group, config.stall_timeout_s)
        self.watchdog = Watchdog(config.phase_limit_s, config.stall_timeout_s)
        self.watchdog.before_expiry = self._mark_failed
        self.stats = ServiceStats()
        self.metrics_port: int | None = None
        self._partitions: dict[int, PartitionState] = {}
        self._stop = threading.Event()
        self._keys: dict[str | None, bytes] = {}
        # Two transactional producers, used by turns (ServiceConfig.transactional_ids);
        # `_producer` is `_producers[_turn]`, the one of the transaction in progress.
        self._producers: list[Producer] = []
        self._turn = 0
        self._consumer: Consumer | None = None
        self._reader: Consumer | None = None
        self._last_activity = time.monotonic()  # input or (re)assignment, for max_idle
        self._offsets_sender = ThreadPoolExecutor(1, thread_name_prefix="send-offsets")

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Ask the loop to finish its current batch, snapshot, commit and leave."""
        self._stop.set()
        self.watchdog.stop_requested()

    def _mark_failed(self) -> None:
        self.health.state = FAILED

    def run(self, listen_for_signals: bool = False) -> ServiceStats:
        """Run until stopped (signal, `stop()`, or --max-idle-seconds); raise on fatal errors.

        `listen_for_signals` (main thread only) lets the watchdog bound a stop asked for
        by SIGTERM/SIGINT even while the main thread is stuck in a Kafka call.
        """
        server = TelemetryServer(
            self.metrics, self.health, self.config.metrics_host, self.config.metrics_port
        ).start()
        self.watchdog.start(listen_for_signals)
        self.metrics_port = server.port
        _log.info(
            "engine starting",
            extra={
                "instance_id": self.config.instance_id,
                "group": self.config.group,
                "transactional_ids": list(self.config.transactional_ids),
                "bootstrap_servers": self.settings.kafka.bootstrap_servers,
                "batch_size": self.config.batch_size,
                "snapshot_every": self.config.snapshot_every,
                "snapshot_seconds": self.config.snapshot_seconds,
                "metrics_host": self.config.metrics_host,
                "metrics_port": server.port,
                "metrics_url": f"http://{url_host(self.config.metrics_host)}:{server.port}/metrics",
                "stall_timeout_s": self.config.stall_timeout_s,
            },
        )
        pauses = heap.GcPauses(self.metrics.gc_pause_seconds).install()
        try:
            with self.watchdog.watch("connecting"):
                self._connect()
            # Everything imported and built so far lives as long as the process.
            self._settle_heap(full=True)
            self._loop()
            self._shutdown()
            return self.stats
        except BaseException:
            self.health.state = FAILED
            raise
        finally:
            pauses.remove()
            heap.release()
            try:
                with self.watchdog.watch("closing the Kafka clients"):
                    self._close()
            finally:
                self.watchdog.close()
                server.stop()

    def _settle_heap(self, full: bool) -> None:
        """Take what is alive now, the books included, out of the cyclic GC's full
        collections (engine/heap.py): they walked it all, stalling the transaction."""
        self.metrics.gc_frozen_objects.set(heap.settle(full))

    def _connect(self) -> None:
        config = self.config
        kafka = self.settings.kafka
        self._producers = [
            make_producer(
                kafka,
                **{
                    "transactional.id": transactional_id,
                    "transaction.timeout.ms": config.transaction_timeout_ms,
                    "client.id": f"{transactional_id}-producer",
                    # Snapshot records can be several MB; the topic allows 16 MiB.
                    "message.max.bytes": SNAPSHOT_MAX_BYTES + 64 * 1024,
                    **PRODUCER_TUNING,
                },
            )
            for transactional_id in config.transactional_ids
        ]
        self._check_topics()
        self._init_transactions()
        self._reader = make_consumer(
            kafka,
            f"{config.group}-recovery",  # never subscribes, never commits
            **{
                "enable.partition.eof": True,
                # The end of a partition is seen when a fetch comes back empty; the
                # broker holds an empty fetch this long, so keep it short.
                "fetch.wait.max.ms": 10,
                "client.id": f"{config.transactional_id}-recovery",
            },
        )
        self._consumer = make_consumer(
            kafka,
            config.group,
            report_outages=True,  # polled all the time, so its reports are current
            **{
                "partition.assignment.strategy": "cooperative-sticky",
                "session.timeout.ms": config.session_timeout_ms,
                "heartbeat.interval.ms": max(250, config.session_timeout_ms // 4),
                # Group requests share the broker connection with fetches; a shorter
                # long-poll keeps offset fetches during recovery from queueing behind one.
                "fetch.wait.max.ms": 100,
                "client.id": f"{config.transactional_id}-consumer",
            },
        )
        self._consumer.subscribe(
            [ORDERS], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )

    def _check_topics(self) -> None:
        metadata = self._producer.list_topics(timeout=self.config.stall_timeout_s).topics
        expected = [ORDERS, *TOPICS, DLQ, SNAPSHOTS]
        missing = [t for t in expected if t not in metadata or metadata[t].error is not None]
        if missing:
            raise PlatformError(
                f"topic(s) {', '.join(missing)} missing on {self.settings.kafka.bootstrap_servers}:"
                " run `orderbook topics apply`"
            )
        partitions = len(metadata[ORDERS].partitions)
        mismatched = [
            f"{t} has {len(metadata[t].partitions)}"
            for t in (*TOPICS, SNAPSHOTS)
            if len(metadata[t].partitions) != partitions
        ]
        if mismatched:
            raise PlatformError(
                f"outputs must have as many partitions as {ORDERS} ({partitions}): "
                + ", ".join(mismatched)
            )

    def _init_transactions(self) -> None:
        """Fence any earlier incarnation of this instance and abort its open transaction
        (on either of its transactional ids)."""
        for producer, transactional_id in zip(
            self._producers, self.config.transactional_ids, strict=True
        ):
            self.watchdog.relabel(f"init_transactions of {transactional_id}")
            for _ in range(10):
                try:
                    producer.init_transactions(self.config.stall_timeout_s)
                    break
                except KafkaException as exc:
                    error = exc.args[0]
                    if not error.retriable():
                        raise self._fatal(
                            "init_transactions failed", error, transactional_id
                        ) from None
                    _log.warning("init_transactions will be retried", extra={"error": error.str()})
            else:
                raise EngineStopped("init_transactions kept timing out; is the broker reachable?")

    def _loop(self) -> None:
        max_idle = self.config.max_idle_seconds
        self._last_activity = last_progress_log = time.monotonic()
        while not self._stop.is_set():
            with self.watchdog.watch("poll"):
                messages = self._poll_batch()
            now = time.monotonic()
            if messages:
                self._last_activity = now
                self.health.input_arrived()
                self._transaction(messages)
            else:
                self._note_lag()
                if self._due_partitions(now) or self._round_in_progress() is not None:
                    self._transaction([])
                elif max_idle is not None and now - self._last_activity >= max_idle:
                    idle = round(now - self._last_activity, 1)
                    _log.info("idle, stopping", extra={"idle_seconds": idle})
                    break
            if now - last_progress_log >= 10:
                last_progress_log = now
                self._log_progress()

    def _note_lag(self) -> None:
        """Tell /healthz whether input waits that the consumer has not delivered.

        Called when a poll came back empty: records between the consumer's position and
        the high watermark of its last fetch wait as much as polled ones (a fetch that
        stopped, a rewind after an abort), and none means nothing is waiting for a
        commit. Only cached figures: no broker round trip.
        """
        consumer = self._consumer
        if consumer is None or not self._partitions:
            self.health.nothing_waiting()
            return
        try:
            positions = consumer.position([TopicPartition(ORDERS, p) for p in self._partitions])
            waiting = any(
                tp.offset >= 0 and consumer.get_watermark_offsets(tp, cached=True)[1] > tp.offset
                for tp in positions
            )
        except KafkaException:
            return  # no figures: leave the account as it is
        if waiting:
            self.health.input_arrived()
        else:
            self.health.nothing_waiting()

    def _poll_batch(self) -> list[Message]:
        """Block until one message is ready, then take what else is ready, up to a batch.

        Unlike `consume(n, timeout)`, this never waits for a full batch under light
        load, which would add up to `timeout` to every order's latency.
        """
        first = self._consumer.poll(self.config.poll_timeout_s)
        if first is None:
            return []
        if self.config.batch_size == 1:
            return [first]
        return [first, *self._consumer.consume(self.config.batch_size - 1, 0)]

    def _shutdown(self) -> None:
        """Graceful stop: a last snapshot round and commit, then leave the group."""
        self.health.state = STOPPING
        if any(s.since_snapshot or s.rounds.in_progress for s in self._partitions.values()):
            self._transaction([], force_snapshot=True)
        _log.info("engine stopped", extra=self._totals())

    def _close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()  # leaves the group: the survivors rebalance at once
            except (KafkaException, RuntimeError) as exc:
                _log.warning("consumer close failed", extra={"error": str(exc)})
        if self._reader is not None:
            with contextlib.suppress(KafkaException, RuntimeError):
                self._reader.close()
        for producer in self._producers:
            # Nothing should be pending (each commit flushes); a fenced producer raises
            # here, which must not hide the error that stopped the loop.
            with contextlib.suppress(KafkaException):
                producer.flush(10)
        self._offsets_sender.shutdown(wait=True)

    # ------------------------------------------------------------------ transactions

    def _transaction(self, messages: list[Message], force_snapshot: bool = False) -> None:
        """Apply `messages` and, if due, a snapshot round, in one committed transaction.

        The offsets this transaction will commit are known as soon as the batch is:
        they are sent to the transaction from a helper thread while this thread
        matches, which hides the coordinator round trips (~10 ms a batch here) behind
        the work instead of adding them to every order's latency.
        """
        # Take turns: this producer's previous transaction finished a whole cycle ago,
        # so the coordinator has written its markers and begins the next at once.
        self._turn = 1 - self._turn
        with self.watchdog.watch("a transaction"):
            self._transaction_on(self._producer, messages, force_snapshot)

    def _transaction_on(
        self, producer: Producer, messages: list[Message], force_snapshot: bool
    ) -> None:
        watchdog, timeout_s = self.watchdog, self.config.stall_timeout_s
        started = time.perf_counter()
        watchdog.relabel("begin_transaction")
        try:
            producer.begin_transaction()
        except KafkaException as exc:  # only ever a broken producer (e.g. fenced)
            raise self._fatal("begin_transaction failed", exc.args[0]) from None
        offsets = self._offsets_after(messages)
        sending: Future | None = None
        try:
            if offsets:
                sending = self._offsets_sender.submit(
                    producer.send_offsets_to_transaction,
                    offsets,
                    self._consumer.consumer_group_metadata(),
                    timeout_s,
                )
            watchdog.relabel("matching a batch")
            applied = self._apply(messages) if messages else (0, 0, {}, Tally())
            self._snapshot_if_due(force_snapshot)
            committing = time.perf_counter()
            if sending is not None:
                # Bounded by the watchdog: librdkafka may not honour timeout_s here.
                watchdog.relabel("send_offsets_to_transaction")
                sending.result()
            if [tp.offset for tp in offsets] != [tp.offset for tp in self._offsets_after([])]:
                raise KafkaException(  # a bug if ever: never commit offsets that lie
                    KafkaError(KafkaError._STATE, "offsets moved", txn_requires_abort=True)
                )
            self._commit()
            self.metrics.commit_seconds.observe(time.perf_counter() - committing)
        except KafkaException as exc:
            watchdog.relabel("send_offsets_to_transaction, before an abort")
            _settle(sending)  # no other transactional call may overlap abort_transaction
            self._abort(exc)
            return
        except BaseException:
            watchdog.relabel("send_offsets_to_transaction, before a fatal error")
            _settle(sending)
            raise
        orders, dlq, events, rejects = applied
        seconds = time.perf_counter() - started
        self._account(len(messages), orders, dlq, events, rejects, seconds)

    def _offsets_after(self, messages: list[Message]) -> list[TopicPartition]:
        """The next offset of every owned partition once `messages` are applied."""
        after = {p: state.next_offset for p, state in self._partitions.items()}
        for message in messages:
            if message.error() is None:
                partition = message.partition()
                if partition in after and message.offset() >= after[partition]:
                    after[partition] = message.offset() + 1
        return [TopicPartition(ORDERS, p, offset) for p, offset in sorted(after.items())]

    def _commit(self) -> None:
        self.watchdog.relabel("commit_transaction")
        for attempt in range(1, _COMMIT_ATTEMPTS + 1):
            try:
                self._producer.commit_transaction(self.config.stall_timeout_s)
                return
            except KafkaException as exc:
                error = exc.args[0]
                if (
                    error.retriable()
                    and not error.txn_requires_abort()
                    and attempt < _COMMIT_ATTEMPTS
                ):
                    _log.warning("commit will be retried", extra={"error": error.str()})
                    continue
                raise

    def _abort(self, exc: Exception) -> None:
        error = exc.args[0] if isinstance(exc, KafkaException) else None
        if isinstance(error, KafkaError) and error.fatal():
            raise self._fatal("transaction failed", error) from None
        _log.warning(
            "transaction aborted; rebuilding every owned partition",
            extra={"error": error.str() if isinstance(error, KafkaError) else str(exc)},
        )
        with self.watchdog.watch("abort_transaction"):
            for _ in range(_COMMIT_ATTEMPTS):
                try:
                    self._producer.abort_transaction(self.config.stall_timeout_s)
                    break
                except KafkaException as abort_exc:
                    abort_error = abort_exc.args[0]
                    if abort_error.fatal() or not abort_error.retriable():
                        raise self._fatal("abort_transaction failed", abort_error) from None
        self.stats.aborted += 1
        self.metrics.transactions.labels("aborted").inc()
        self.watchdog.relabel("rebuilding the books after an abort")
        self._recover_owned()

    def _fatal(
        self, what: str, error: KafkaError, transactional_id: str | None = None
    ) -> EngineStopped:
        fenced = error.code() in (
            KafkaError._FENCED,
            KafkaError.PRODUCER_FENCED,
            KafkaError.INVALID_PRODUCER_EPOCH,
            KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        )
        reason = (
            "fenced: another process took over transactional.id "
            f"{transactional_id or self._producer_id()!r}"
            if fenced
            else f"{what}: {error.str()}"
        )
        _log.error(
            "engine stopping on a fatal error", extra={"reason": reason, "code": error.name()}
        )
        self.health.state = FAILED
        return EngineStopped(reason)

    @property
    def _producer(self) -> Producer:
        """The producer of the transaction in progress (or of the last one)."""
        return self._producers[self._turn]

    def _producer_id(self) -> str:
        """The transactional id of the producer in use."""
        return self.config.transactional_ids[self._turn]

    # ------------------------------------------------------------------ the hot path

    def _apply(self, messages: list[Message]) -> tuple[int, int, dict[str, int], Tally]:
        """Match a batch and queue its outputs; returns (orders, dlq, events, rejects).

        The per-order cost here is the service's throughput, so names are bound to
        locals and counting is done in plain dicts, flushed to Prometheus per batch.
        """
        produce = self._producer.produce
        partitions = self._partitions
        keys = self._keys
        encode_message = encode
        encode_book = thread_encoder().encode  # same bytes as encode, mostly from cache
        decode = decode_input
        topic_of = TOPIC_OF
        events = dict.fromkeys(TOPICS, 0)
        rejects: Tally = Tally()
        latest_ms = time.time_ns() // 1_000_000 + FUTURE_TOLERANCE_MS
        orders = dlq = 0
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise self._fatal("consumer failed", error)
                _log.warning("consumer error", extra={"error": error.str()})
                continue
            partition = message.partition()
            state = partitions.get(partition)
            offset = message.offset()
            # A message fetched before its partition was revoked, or before a rewind.
            if state is None or offset < state.next_offset:
                continue
            state.next_offset = offset + 1
            state.since_snapshot += 1
            value = message.value()
            try:
                order = decode(value)
            except ContractError as exc:
                self._dead_letter(message, exc.reason, _record_ms(message))
                dlq += 1
                continue
            try:
                outputs = state.matcher.process(order)
            except Exception as exc:  # a core bug must not stop the exchange
                _log.exception("matcher raised", extra={"partition": partition, "offset": offset})
                reason = f"engine error: {type(exc).__name__}: {exc}"
                self._dead_letter(message, reason, _record_ms(message))
                dlq += 1
                continue
            orders += 1
            event_ms = order.time // 1_000_000
            if event_ms <= 0 or event_ms > latest_ms:
                event_ms = _record_ms(message)
            for output in outputs:
                topic = topic_of[type(output)]
                symbol = output.symbol
                key_bytes = keys.get(symbol)
                if key_bytes is None:
                    key_bytes = keys[symbol] = key_of(output).encode()
                payload = encode_book(output) if topic == BOOK else encode_message(output)
                try:
                    produce(topic, payload, key_bytes, partition, timestamp=event_ms)
                except BufferError:
                    self._produce_when_room(topic, payload, key_bytes, partition, event_ms)
                events[topic] += 1
                if topic == ORDER_EVENTS and output.event == "rejected":
                    rejects[output.reason] += 1
        return orders, dlq, events, rejects

    def _produce_when_room(
        self, topic: str, value: bytes, key: bytes | None, partition: int, timestamp: int
    ) -> None:
        self.watchdog.relabel("produce, waiting for room in the producer's queue")
        while True:
            self._producer.poll(0.05)
            try:
                self._producer.produce(topic, value, key, partition, timestamp=timestamp)
                return
            except BufferError:
                continue

    def _dead_letter(self, message: Message, reason: str, record_ms: int) -> None:
        key = message.key()
        letter = dead_letter(
            message.topic(), message.partition(), message.offset(), key, message.value(),
            reason, record_ms,
        )  # fmt: skip
        payload = encode(letter)
        if key is not None:
            key = key[:MAX_DEAD_LETTER_VALUE_BYTES]
        try:
            self._producer.produce(DLQ, payload, key, 0, timestamp=record_ms)
        except BufferError:
            self._produce_when_room(DLQ, payload, key, 0, record_ms)

    def _account(
        self,
        inputs: int,
        orders: int,
        dlq: int,
        events: dict[str, int],
        rejects: Tally,
        seconds: float,
    ) -> None:
        metrics, stats = self.metrics, self.stats
        stats.orders += orders
        stats.dlq += dlq
        stats.committed += 1
        metrics.orders.inc(orders)
        if dlq:
            metrics.dlq.inc(dlq)
        for topic, count in events.items():
            if count:
                stats.events[topic] += count
                metrics.events.labels(topic).inc(count)
        for reason, count in rejects.items():
            metrics.rejects.labels(reason).inc(count)
        metrics.transactions.labels("committed").inc()
        if inputs:
            metrics.batch_size.observe(inputs)
            metrics.batch_seconds.observe(seconds)
        metrics.last_commit.set(time.time())
        self.health.committed()
        self.health.orders = stats.orders

    # ------------------------------------------------------------------ snapshots

    def _due_partitions(self, now: float) -> list[int]:
        """Partitions whose books changed and are --snapshot-every orders or
        --snapshot-seconds past their last round."""
        every, seconds = self.config.snapshot_every, self.config.snapshot_seconds
        return [
            partition
            for partition, state in self._partitions.items()
            if state.since_snapshot
            and (state.since_snapshot >= every or now - state.snapshot_at >= seconds)
        ]

    def _round_in_progress(self) -> int | None:
        """The partition (lowest first) whose snapshot round has records left, if any."""
        for partition in sorted(self._partitions):
            if self._partitions[partition].rounds.in_progress:
                return partition
        return None

    def _snapshot_if_due(self, everything: bool) -> None:
        """Write the next record of a snapshot round, starting one if a partition is due;
        with `everything`, a whole round of every partition that changed, at once.

        One record per transaction spreads the pause a round costs (each record
        serializes a whole book) over as many transactions as the partition has symbols,
        instead of stalling one transaction for all of them (engine.snapshot_rounds).
        """
        if everything:
            for partition in sorted(self._partitions):
                state = self._partitions[partition]
                if state.since_snapshot or state.rounds.in_progress:
                    self._begin_round(partition)
                    while state.rounds.in_progress:
                        self._write_next_record(partition)
            return
        partition = self._round_in_progress()
        if partition is None:
            due = self._due_partitions(time.monotonic())
            if not due:
                return
            partition = max(due, key=lambda p: self._partitions[p].since_snapshot)
            self._begin_round(partition)
        self._write_next_record(partition)

    def _begin_round(self, partition: int) -> None:
        state = self._partitions[partition]
        matcher = state.matcher
        state.rounds.begin(
            {symbol: _sequence(matcher, symbol) for symbol in matcher.symbols()},
            state.next_offset,
        )
        # Orders applied from now on count towards the next round.
        state.since_snapshot = 0
        state.snapshot_at = time.monotonic()

    def _write_next_record(self, partition: int) -> None:
        """One symbol's record at the partition's next offset; ends the round after the last."""
        state = self._partitions[partition]
        rounds = state.rounds
        symbol = rounds.next_symbol()
        if symbol is not None:
            value = snapshot_record(
                state.matcher, self.config.group, symbol, partition, state.next_offset,
                rounds.floor, self.config.instance_id,
            )  # fmt: skip
            if len(value) > SNAPSHOT_MAX_BYTES:
                # The symbol keeps its older record (or none), and the round does not
                # move the floor, so recovery replays far enough back: slower, exact.
                rounds.skipped(_sequence(state.matcher, symbol))
                _log.error(
                    "snapshot record too large, skipped",
                    extra={"symbol": symbol, "partition": partition, "bytes": len(value)},
                )
            else:
                key = snapshot_key(self.config.group, symbol)
                try:
                    self._producer.produce(SNAPSHOTS, value, key, partition)
                except BufferError:
                    self._produce_when_room(SNAPSHOTS, value, key, partition, 0)
                rounds.written(len(value), _sequence(state.matcher, symbol), state.next_offset)
        if rounds.finished:
            self._end_round(partition)

    def _end_round(self, partition: int) -> None:
        state = self._partitions[partition]
        summary = state.rounds.end()
        # The books have grown since the last settle; young generations only, no pause.
        self._settle_heap(full=False)
        self.metrics.snapshots.inc(summary.records)
        self.metrics.snapshot_bytes.set(summary.bytes)
        self.metrics.snapshot_largest.set(summary.largest)
        _log.info(
            "snapshot round",
            extra={
                "partition": partition,
                "records": summary.records,
                "bytes": summary.bytes,
                "largest_record_bytes": summary.largest,
                "started_at": summary.start,
                "ended_at": state.next_offset,
                "complete": summary.complete,
                "unchanged": summary.unchanged,
                "floor": state.rounds.floor,
            },
        )

    # ------------------------------------------------------------------ ownership

    def _recover(self, partition: int) -> PartitionState:
        """Rebuild one partition's books to the group's committed offset.

        Not watched: a long replay is progress, and both steps below have deadlines of
        their own (a fetch of the committed offset, a read that stalls).
        """
        timeout_s = self.config.transaction_timeout_ms / 1000 + 30
        with self.watchdog.unwatched(f"recovering partition {partition}"):
            committed = committed_offset(self._consumer, partition, 10, timeout_s)
            recovered = recover_partition(
                self._reader, self.config.group, partition, committed, self.engine_config,
                stall_timeout_s=timeout_s,
            )  # fmt: skip
        self.stats.recoveries += 1
        self.metrics.recoveries.inc()
        self.metrics.replayed.inc(recovered.replayed)
        _log.info(
            "partition recovered",
            extra={
                "partition": partition,
                "committed": committed,
                "resume_at": recovered.resume_at,
                "snapshot_symbols": recovered.snapshot_symbols,
                "snapshot_offset": recovered.snapshot_offset,
                "replayed": recovered.replayed,
                "seconds": round(recovered.seconds, 3),
            },
        )
        return PartitionState(
            recovered.matcher,
            recovered.resume_at,
            recovered.replayed,
            rounds=SnapshotRounds(
                recovered.replay_from,
                recovered.recorded,
                _UNCHANGED_LAG_ROUNDS * self.config.snapshot_every,
            ),
        )

    def _recover_owned(self) -> None:
        """After an abort: rebuild every owned partition and rewind the consumer to it.

        A partition the consumer no longer holds (lost while the transaction ran) is
        dropped; the rebalance callbacks of the next poll settle the rest.
        """
        self.health.state = RECOVERING
        still_assigned = {tp.partition for tp in self._consumer.assignment()}
        for partition in sorted(self._partitions):
            if partition not in still_assigned:
                del self._partitions[partition]
                continue
            state = self._partitions[partition] = self._recover(partition)
            try:
                self._consumer.seek(TopicPartition(ORDERS, partition, state.next_offset))
            except KafkaException as exc:
                # Consuming on from anywhere else would skip or repeat orders; a restart
                # (crash-only) is always safe, so stop rather than guess.
                raise self._fatal("rewinding the consumer failed", exc.args[0]) from None
        self._publish_assignment("partitions rebuilt after an abort", sorted(self._partitions))
        self._settle_heap(full=True)  # the rebuilt books; a recovery is a pause anyway
        self.health.state = RUNNING

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.health.state = RECOVERING
        assigned = []
        for tp in partitions:
            state = self._recover(tp.partition)
            self._partitions[tp.partition] = state
            assigned.append(TopicPartition(ORDERS, tp.partition, state.next_offset))
        consumer.incremental_assign(assigned)
        self._publish_assignment("partitions assigned", [tp.partition for tp in partitions])
        self._settle_heap(full=True)  # the rebuilt books; a recovery is a pause anyway
        self.health.state = STOPPING if self._stop.is_set() else RUNNING
        self._last_activity = time.monotonic()  # recovery time is not idle time

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # No transaction is open here (poll runs between transactions), so dropping the
        # books is all there is to do; the next owner rebuilds them from committed state.
        for tp in partitions:
            self._partitions.pop(tp.partition, None)
        consumer.incremental_unassign(partitions)
        self._publish_assignment("partitions revoked", [tp.partition for tp in partitions])

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._partitions.pop(tp.partition, None)
        consumer.incremental_unassign(partitions)
        self._publish_assignment("partitions lost", [tp.partition for tp in partitions])

    def _publish_assignment(self, what: str, changed: list[int]) -> None:
        owned = sorted(self._partitions)
        self.health.assigned = owned
        self.metrics.assigned.set(len(owned))
        _log.info(what, extra={"changed": changed, "owned": owned})

    # ------------------------------------------------------------------ reporting

    def _totals(self) -> dict[str, object]:
        stats = self.stats
        return {
            "orders": stats.orders,
            "dlq": stats.dlq,
            "transactions_committed": stats.committed,
            "transactions_aborted": stats.aborted,
            "recoveries": stats.recoveries,
            "events": dict(stats.events),
        }

    def _log_progress(self) -> None:
        _log.info("progress", extra={**self._totals(), "owned": sorted(self._partitions)})


def _record_ms(message: Message) -> int:
    """The input record's timestamp in ms (now if it has none)."""
    timestamp = message.timestamp()[1]
    return timestamp if timestamp > 0 else time.time_ns() // 1_000_000


def _settle(future: Future | None) -> None:
    """Wait for a background call to finish, ignoring how."""
    if future is not None:
        with contextlib.suppress(BaseException):
            future.result()


def _sequence(matcher: Matcher, symbol: str) -> int:
    """The sequence number of `symbol`'s book, which every event of the book moves.

    A round leaves out a book whose sequence is the one its record was written at. Were
    a change ever to leave the sequence alone, the book would keep its older record and
    recovery would replay from that record's offset: slower, still exact.
    """
    book = matcher.book(symbol)
    if book is None:
        raise KeyError(symbol)
    return book.sequence


def run_service(
    settings: Settings, config: ServiceConfig, engine_config: EngineConfig | None = None
) -> ServiceStats:
    """Run the service in this process until SIGTERM/SIGINT (graceful) or idle timeout."""
    service = EngineService(settings, config, engine_config)

    def _graceful(signum: int, _frame: object) -> None:
        _log.info("signal received, finishing the current batch", extra={"signal": signum})
        service.stop()

    previous = {sig: signal.signal(sig, _graceful) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return service.run(listen_for_signals=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        # Freeing the clients (rd_kafka_destroy) and joining threads at interpreter exit
        # happen after the watchdog has stopped; bound them too.
        exit_within(config.stall_timeout_s)
