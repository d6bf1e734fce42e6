"""The live pool: N traders in one process, trading through Kafka against the engine service.

One loop, no threads:

1. consume market data (`trades`, `prices`, `book`, `order_events`, read_committed) and
   hand each message to the shared views and to the traders it concerns: a trade to
   its maker and its taker, an order event to its trader, a top-of-book change to
   every market maker of that symbol (a broadcast costs one view update plus one
   scheduled reaction per interested trader);
2. advance each symbol's fair value (news) on the wall clock; a news jump wakes
   attentive fundamental traders;
3. wake the traders that are due, in time order, and produce their orders.

Limits, so nothing grows without bound:

- each trader has a token bucket (`trader_rate_limit`, `trader_burst`), the pool has
  one (`pool_rate_limit`), and a trader is asked to decide only when both hold
  MAX_ORDERS_PER_DECISION tokens; otherwise its wake-up is postponed, not queued twice;
- backpressure: while the producer's queue holds `max_in_flight` messages nobody
  decides (the wake-ups wait in the heap, which holds at most 3 entries per trader);
- every strategy caps its own open orders; orders never acknowledged are forgotten
  after `stale_order_s`.

Orders are produced by an idempotent producer, keyed by symbol, with the Kafka record
timestamp equal to the order's `time` (ms). On stop (SIGTERM or `duration_s`) the pool
stops deciding, cancels every resting order, and keeps consuming until every order is
settled or `drain_timeout_s` passes; inventories then match the `trades` topic.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from math import log as _log
from typing import Any, Protocol

import msgspec

from orderbook_platform.contracts import (
    BookDepth,
    Order,
    OrderEvent,
    Price,
    Trade,
)
from traders.base import MAX_ORDERS_PER_DECISION, Trader
from traders.market import SECOND, Market, SymbolView
from traders.news import FairValue
from traders.settings import PoolSettings
from traders.swarm import build_traders, news_wake, next_wake

log = logging.getLogger("orderbook.traders")

ORDERS_TOPIC = "orders"
MARKET_TOPICS = ("trades", "prices", "book", "order_events")
_STALE_SWEEP_NS = 5 * SECOND
_decode_trade = msgspec.json.Decoder(Trade).decode
_decode_price = msgspec.json.Decoder(Price).decode
_decode_book = msgspec.json.Decoder(BookDepth).decode
_decode_event = msgspec.json.Decoder(OrderEvent).decode
_encode = msgspec.json.Encoder().encode


class ProducerLike(Protocol):
    def produce(self, topic: str, *, value: bytes, key: bytes, timestamp: int) -> None: ...
    def poll(self, timeout: float) -> int: ...
    def flush(self, timeout: float) -> int: ...
    def __len__(self) -> int: ...


class ConsumerLike(Protocol):
    def consume(self, num_messages: int, timeout: float) -> list[Any]: ...
    def close(self) -> None: ...


class TokenBuckets:
    """One token bucket per index, refilled lazily (two float lists, no objects)."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, count: int, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = [float(burst)] * count
        self.last = [now] * count

    def available(self, index: int, now: float) -> float:
        tokens = self.tokens[index] + (now - self.last[index]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self.tokens[index] = tokens
        self.last[index] = now
        return tokens

    def take(self, index: int, amount: int) -> None:
        self.tokens[index] -= amount

    def wait(self, index: int, needed: float) -> float:
        """Seconds until `needed` tokens are there (after `available`)."""
        return max(0.0, (needed - self.tokens[index]) / self.rate)


@dataclass
class PoolStats:
    started_ns: int = 0
    decisions: int = 0
    orders: Counter = field(default_factory=Counter)  # by order type
    submitted_lots: int = 0
    filled_lots: int = 0  # lots our traders received in fills
    fills: int = 0  # trade messages involving one of our traders (maker or taker)
    market_messages: Counter = field(default_factory=Counter)
    undecodable: int = 0
    throttled_trader: int = 0
    throttled_pool: int = 0
    backpressure: int = 0
    stale_forgotten: int = 0
    max_producer_queue: int = 0
    max_open_orders_per_trader: int = 0
    max_open_orders_total: int = 0
    max_heap: int = 0
    drained: bool = False

    @property
    def orders_sent(self) -> int:
        return sum(self.orders.values())


class TraderPool:
    """The loop of the module doc, with producer and consumer injected (see `connect`)."""

    def __init__(
        self,
        config: PoolSettings,
        producer: ProducerLike,
        consumer: ConsumerLike,
        *,
        clock: Callable[[], int] = time.time_ns,
        metrics: Any | None = None,
        start_prices: dict[str, float] | None = None,
    ) -> None:
        self.config = config
        self.producer = producer
        self.consumer = consumer
        self.clock = clock
        self.metrics = metrics
        now = clock()
        self.run_id = config.run_id or _run_id(now)
        symbols = list(config.symbols)
        # A restart continues from the market's last mid rather than jumping back to the
        # configured start price (the news process would otherwise "announce" the jump).
        starts = {s: (start_prices or {}).get(s) or config.start_price for s in symbols}
        self.views = {s: SymbolView(s, config.tick_size, starts[s]) for s in symbols}
        self.fair_values = {s: FairValue(starts[s], now, f"{config.seed}/{s}") for s in symbols}
        self.market = Market(self.views, self.fair_values)
        self.ticks = {s: view.tick for s, view in self.views.items()}
        self.keys = {s: s.encode() for s in symbols}
        self.traders: list[Trader] = build_traders(
            config.traders, config.mix, symbols, config.seed, id_prefix=f"{self.run_id}."
        )
        if config.activity != 1.0:
            for trader in self.traders:
                trader.rate *= config.activity
        self.by_id = {trader.trader_id: trader for trader in self.traders}
        count = self.count = len(self.traders)
        self.watchers: dict[str, list[int]] = {s: [] for s in symbols}
        self.readers: dict[str, list[int]] = {s: [] for s in symbols}
        for index, trader in enumerate(self.traders):
            for symbol in trader.symbols:
                if trader.wants_quotes:
                    self.watchers[symbol].append(index)
                if trader.attention > 0:
                    self.readers[symbol].append(index)
        # The fair value whose news intensity speeds each trader up (None: no news).
        self.news_of: list[FairValue | None] = [
            self.fair_values.get(trader.symbols[0]) if trader.follows_news else None
            for trader in self.traders
        ]
        self.jumps_seen = dict.fromkeys(symbols, 0)
        self.reaction_pending = [False] * count
        self.news_pending = [False] * count
        seconds = now / SECOND
        self.trader_buckets = TokenBuckets(
            count, config.trader_rate_limit, config.trader_burst, seconds
        )
        self.pool_bucket = TokenBuckets(1, config.pool_rate_limit, config.pool_burst, seconds)
        # Wake-ups are single ints, `time << key_bits | key` (see `wake_time`): they order
        # like (time, key) tuples but compare and sift several times faster.
        self.key_bits = key_bits = (3 * count).bit_length()
        self.key_mask = (1 << key_bits) - 1
        self.heap: list[int] = [
            next_wake(trader, now, self.market) << key_bits | index
            for index, trader in enumerate(self.traders)
        ]
        heapq.heapify(self.heap)
        self.stats = PoolStats(started_ns=now)
        self.stopping = threading.Event()
        self.state = "starting"  # running -> draining -> stopped (for /healthz)
        self.last_turn = time.monotonic()  # when the loop last turned (for /healthz)
        self._next_sweep = now + _STALE_SWEEP_NS

    # ------------------------------------------------------------------ market data

    def on_message(self, topic: str, value: bytes, now: int) -> None:
        """Apply one market-data message (decoded here; bad bytes are counted, skipped)."""
        stats = self.stats
        stats.market_messages[topic] += 1
        try:
            if topic == "trades":
                self.on_trade(_decode_trade(value))
            elif topic == "order_events":
                self.on_order_event(_decode_event(value))
            elif topic == "prices":
                self.on_price(_decode_price(value), now)
            elif topic == "book":
                book = _decode_book(value)
                view = self.views.get(book.symbol)
                if view is not None:
                    view.on_book(book)
        except msgspec.DecodeError:
            stats.undecodable += 1

    def on_trade(self, trade: Trade) -> None:
        view = self.views.get(trade.symbol)
        if view is None:
            return
        view.on_trade(trade)
        tick = view.tick
        for trader_id in (trade.maker_trader_id, trade.taker_trader_id):
            trader = self.by_id.get(trader_id)
            if trader is not None:
                trader.on_trade(trade, tick)
                self.stats.fills += 1
                self.stats.filled_lots += trade.quantity

    def on_order_event(self, event: OrderEvent) -> None:
        trader = self.by_id.get(event.trader_id)
        if trader is not None and event.symbol in self.ticks:
            trader.on_order_event(event, self.ticks[event.symbol])

    def on_price(self, price: Price, now: int) -> None:
        view = self.views.get(price.symbol)
        if view is None or not view.on_price(price):
            return
        count = self.count
        pending = self.reaction_pending
        for index in self.watchers[price.symbol]:
            if not pending[index]:
                pending[index] = True
                ready = self.traders[index].quote_ready_at(price.symbol)
                when = ready if ready > now else now
                heapq.heappush(self.heap, when << self.key_bits | (count + index))

    def wake_time(self, entry: int) -> int:
        """The time (ns) of a heap entry."""
        return entry >> self.key_bits

    def wake_key(self, entry: int) -> int:
        """The key of a heap entry: trader i's regular wake-up i, quote reaction n + i, news 2n + i."""
        return entry & self.key_mask

    # ------------------------------------------------------------------ decisions

    def _send(self, orders: list[Order]) -> None:
        produce = self.producer.produce
        stats = self.stats
        by_type = stats.orders
        keys = self.keys
        for order in orders:
            value = _encode(order)
            try:
                produce(
                    ORDERS_TOPIC,
                    value=value,
                    key=keys[order.symbol],
                    timestamp=order.time // 1_000_000,
                )
            except BufferError:
                self._produce_when_room(value, keys[order.symbol], order.time // 1_000_000)
            kind = order.order_type
            by_type[kind] += 1
            if kind == "limit" or kind == "market":
                quantity = order.quantity
                stats.submitted_lots += quantity if quantity > 0 else -quantity

    def _produce_when_room(self, value: bytes, key: bytes, timestamp: int) -> None:
        """librdkafka's own queue is full: serve delivery reports until it takes the order."""
        while True:
            self.producer.poll(0.05)
            try:
                self.producer.produce(ORDERS_TOPIC, value=value, key=key, timestamp=timestamp)
                return
            except BufferError:
                continue

    def _advance_news(self, now: int) -> None:
        heap = self.heap
        offset = self.count * 2
        for symbol, fair_value in self.fair_values.items():
            fair_value.advance_to(now)
            self.views[symbol].advance(now)
            if fair_value.jumps != self.jumps_seen[symbol]:
                self.jumps_seen[symbol] = fair_value.jumps
                for index in self.readers[symbol]:
                    if self.news_pending[index]:
                        continue
                    when = news_wake(self.traders[index], now)
                    if when is not None:
                        self.news_pending[index] = True
                        heapq.heappush(heap, when << self.key_bits | (offset + index))

    def wake_due(self, now: int, limit: int = 5000) -> int:
        """Run the decisions that are due at `now` (at most `limit`); returns how many.

        The pool bucket and the producer queue are checked once per batch of decisions
        (each decision emits at most MAX_ORDERS_PER_DECISION orders, so a batch can
        never overdraw either); the per-trader bucket is checked per decision.
        """
        heap = self.heap
        key_bits = self.key_bits
        due = (now + 1) << key_bits  # an entry is due at `now` iff it is below this
        if not heap or heap[0] >= due:
            return 0
        stats = self.stats
        seconds = now / SECOND
        room = self.config.max_in_flight - len(self.producer)
        if room < MAX_ORDERS_PER_DECISION:
            stats.backpressure += 1
            return 0
        pool_tokens = self.pool_bucket.available(0, seconds)
        budget = min(
            limit, int(pool_tokens) // MAX_ORDERS_PER_DECISION, room // MAX_ORDERS_PER_DECISION
        )
        if budget <= 0:
            stats.throttled_pool += 1
            return 0
        count = self.count
        traders = self.traders
        market = self.market
        views = self.views
        buckets = self.trader_buckets
        tokens, last = buckets.tokens, buckets.last
        rate, burst = buckets.rate, buckets.burst
        heappop, heapreplace = heapq.heappop, heapq.heapreplace
        news_of = self.news_of
        random_log = _log
        # The pass's orders, produced together at its end: one _send per pass, not per decision.
        batch: list[Order] = []
        done = 0
        sent = 0
        key_mask = self.key_mask
        while heap and heap[0] < due and done < budget:
            # Peek, not pop: a regular wake-up is replaced in place below (one sift).
            key = heap[0] & key_mask
            index = key % count
            kind = key // count  # 0 regular, 1 quote reaction, 2 news
            trader = traders[index]
            available = tokens[index] + (seconds - last[index]) * rate
            if available > burst:
                available = burst
            tokens[index] = available
            last[index] = seconds
            if available < MAX_ORDERS_PER_DECISION:
                # Come back when the bucket allows; the wake-up is postponed, not lost.
                stats.throttled_trader += 1
                retry = now + int((MAX_ORDERS_PER_DECISION - available) / rate * SECOND) + 1
                heapreplace(heap, retry << key_bits | key)
                continue
            if kind == 0:
                orders = trader.decide(now, market)
                # swarm.next_wake, inlined (same draws): the commonest path of the loop.
                fair_value = news_of[index]
                wake_rate = trader.rate if fair_value is None else trader.rate * fair_value.activity
                interval = -random_log(1.0 - trader.rng.random()) / wake_rate
                heapreplace(heap, (now + 1 + int(interval * SECOND)) << key_bits | key)
            elif kind == 1:
                heappop(heap)
                self.reaction_pending[index] = False
                orders = []
                for symbol in trader.symbols:
                    orders.extend(trader.on_quote(now, views[symbol], market))
            else:
                heappop(heap)
                self.news_pending[index] = False
                orders = trader.decide(now, market)
            done += 1
            if not orders:
                continue
            if len(orders) > MAX_ORDERS_PER_DECISION:
                del orders[MAX_ORDERS_PER_DECISION:]
            tokens[index] = available - len(orders)
            sent += len(orders)
            batch += orders
        self._send(batch)
        stats.decisions += done
        self.pool_bucket.take(0, sent)
        if done == budget and heap and heap[0] < due:
            stats.throttled_pool += budget < limit
        return done

    def step(self, now: int, consume_timeout: float = 0.0) -> None:
        """One pass of the loop: market data, news, due decisions, producer service."""
        for message in self.consumer.consume(2000, consume_timeout):
            if message.error():
                continue
            self.on_message(message.topic(), message.value(), now)
        self._advance_news(now)
        self.wake_due(now)
        self.producer.poll(0)
        stats = self.stats
        queued = len(self.producer)
        if queued > stats.max_producer_queue:
            stats.max_producer_queue = queued
        if len(self.heap) > stats.max_heap:
            stats.max_heap = len(self.heap)
        if now >= self._next_sweep:
            self._next_sweep = now + _STALE_SWEEP_NS
            self._sweep(now)
        if self.metrics is not None:
            self.metrics.update(self)

    def _sweep(self, now: int) -> None:
        stale_ns = int(self.config.stale_order_s * SECOND)
        total = 0
        widest = self.stats.max_open_orders_per_trader
        for trader in self.traders:
            self.stats.stale_forgotten += trader.forget_stale(now, stale_ns)
            open_count = len(trader.open_orders)
            total += open_count
            if open_count > widest:
                widest = open_count
        self.stats.max_open_orders_per_trader = widest
        if total > self.stats.max_open_orders_total:
            self.stats.max_open_orders_total = total
        if self.metrics is not None:
            self.metrics.open_orders.set(total)

    # ------------------------------------------------------------------ run and stop

    def run(self, duration_s: float | None = None) -> PoolStats:
        """Loop until `stop()` or `duration_s`, then drain. Returns the stats."""
        started = self.clock()
        deadline = None if duration_s is None else started + int(duration_s * SECOND)
        self.state = "running"
        while not self.stopping.is_set():
            now = self.clock()
            if deadline is not None and now >= deadline:
                break
            # Sleep in the consumer until the next wake-up is due (at most 50 ms).
            timeout = 0.0
            if self.heap:
                timeout = min(0.05, max(0.0, (self.wake_time(self.heap[0]) - now) / SECOND))
            self.step(now, timeout)
            self.last_turn = time.monotonic()
        self.state = "draining"
        if self.metrics is not None:
            self.metrics.update(self)
        self.drain()
        self.state = "stopped"
        if self.metrics is not None:
            self.metrics.update(self)
        return self.stats

    def stop(self) -> None:
        """Ask the loop to stop (safe from a signal handler or another thread)."""
        self.stopping.set()

    def open_order_count(self) -> int:
        return sum(len(trader.open_orders) for trader in self.traders)

    def drain(self, grace_s: float = 1.0) -> None:
        """Cancel every resting order and consume until all our orders are settled."""
        self._sweep(self.clock())
        now = self.clock()
        for trader in self.traders:
            cancels = trader.cancel_all(now)
            if cancels:
                self._send(cancels)
        self.producer.flush(10)
        deadline = time.monotonic() + self.config.drain_timeout_s
        while self.open_order_count() and time.monotonic() < deadline:
            now = self.clock()
            for message in self.consumer.consume(2000, 0.1):
                if not message.error():
                    self.on_message(message.topic(), message.value(), now)
            # A cancel can race a fill: re-cancel whatever still rests.
            for trader in self.traders:
                cancels = trader.cancel_all(now)
                if cancels:
                    self._send(cancels)
            self.producer.poll(0)
        # Settled orders cannot trade any more; a short grace period catches trades
        # published just after the events that settled them (other topics).
        grace = time.monotonic() + grace_s
        while time.monotonic() < grace:
            now = self.clock()
            for message in self.consumer.consume(2000, 0.1):
                if not message.error():
                    self.on_message(message.topic(), message.value(), now)
        self.producer.flush(10)
        self.stats.drained = self.open_order_count() == 0

    # ------------------------------------------------------------------ reporting

    def summary(self, top: int = 3) -> dict:
        stats = self.stats
        marks: dict[str, int] = {}
        market = {}
        for symbol, view in self.views.items():
            mid = view.mid
            marks[symbol] = round(mid)
            market[symbol] = {
                # The last two-sided quote: after the drain the book may well be empty.
                "mid": view.last_mid,
                "spread_ticks": view.last_spread,
                "best_bid": None if view.best_bid is None else view.price_of(view.best_bid),
                "best_ask": None if view.best_ask is None else view.price_of(view.best_ask),
                "trades_seen": view.trades,
                "volume_seen": view.traded_volume,
            }
        by_strategy: dict[str, list[dict]] = {}
        for trader in self.traders:
            realised, unrealised = trader.pnl(marks, self.ticks)
            by_strategy.setdefault(trader.kind, []).append(
                {
                    "trader_id": trader.trader_id,
                    "pnl": round(realised + unrealised, 2),
                    "realised": round(realised, 2),
                    "unrealised": round(unrealised, 2),
                    "inventory": {s: p.inventory for s, p in trader.positions.items()},
                }
            )
        for entries in by_strategy.values():
            entries.sort(key=lambda entry: -entry["pnl"])
        submitted = stats.submitted_lots
        return {
            "run_id": self.run_id,
            "traders": self.count,
            "seconds": (self.clock() - stats.started_ns) / SECOND,
            "orders_sent": stats.orders_sent,
            "orders_by_type": dict(stats.orders),
            "decisions": stats.decisions,
            "fills": stats.fills,
            "fill_rate": stats.filled_lots / submitted if submitted else None,
            "market": market,
            "top_pnl": {kind: entries[:top] for kind, entries in sorted(by_strategy.items())},
            "limits": {
                "throttled_trader": stats.throttled_trader,
                "throttled_pool": stats.throttled_pool,
                "backpressure": stats.backpressure,
                "max_producer_queue": stats.max_producer_queue,
                "max_open_orders_per_trader": stats.max_open_orders_per_trader,
                "max_open_orders_total": stats.max_open_orders_total,
                "max_heap": stats.max_heap,
                "stale_forgotten": stats.stale_forgotten,
            },
            "drained": stats.drained,
            "undecodable": stats.undecodable,
            "positions": {
                trader.trader_id: {
                    s: {"inventory": p.inventory, "cash_ticks": p.cash}
                    for s, p in trader.positions.items()
                }
                for trader in self.traders
            },
        }


def connect(settings: Any, group_prefix: str = "orderbook-traders") -> tuple[Any, Any]:
    """A producer and a consumer positioned at the current end of every market topic.

    Positions are resolved before the first order is sent, so no event about our own
    orders can slip past. `settings` is the platform's `Settings`.
    """
    from confluent_kafka import TopicPartition

    from orderbook_platform.errors import PlatformError
    from orderbook_platform.kafka.clients import consumer as make_consumer
    from orderbook_platform.kafka.clients import producer as make_producer

    reader = make_consumer(settings.kafka, group_id=f"{group_prefix}-{time.time_ns()}")
    try:
        assignment = []
        for topic in MARKET_TOPICS:
            metadata = reader.list_topics(topic, timeout=10).topics.get(topic)
            if metadata is None or metadata.error is not None or not metadata.partitions:
                raise PlatformError(f"topic {topic!r} does not exist: run `orderbook topics apply`")
            for partition in metadata.partitions:
                _, high = reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                assignment.append(TopicPartition(topic, partition, high))
        reader.assign(assignment)
    except Exception:
        reader.close()
        raise
    # Polled every pass of the loop, so it reports broker outages once at their start and
    # end (orderbook_platform.kafka.clients) instead of librdkafka's line per attempt.
    writer = make_producer(
        settings.kafka,
        report_outages=True,
        **{"linger.ms": 2, "queue.buffering.max.messages": 200_000},
    )
    return writer, reader


def latest_mids(settings: Any, symbols: list[str], lookback: int = 5000) -> dict[str, float]:
    """The last two-sided mid of each symbol among the tail of `prices` (read_committed)."""
    from confluent_kafka import TopicPartition

    from orderbook_platform.kafka.clients import consumer as make_consumer

    reader = make_consumer(settings.kafka, group_id=f"orderbook-traders-probe-{time.time_ns()}")
    wanted = set(symbols)
    found: dict[str, tuple[int, float]] = {}
    try:
        metadata = reader.list_topics("prices", timeout=10).topics.get("prices")
        if metadata is None or metadata.error is not None:
            return {}
        ends = {}
        assignment = []
        for partition in metadata.partitions:
            low, high = reader.get_watermark_offsets(
                TopicPartition("prices", partition), timeout=10
            )
            if high > low:
                ends[partition] = high
                assignment.append(TopicPartition("prices", partition, max(low, high - lookback)))
        if not assignment:
            return {}
        reader.assign(assignment)
        done: set[int] = set()
        deadline = time.monotonic() + 10
        while len(done) < len(ends) and time.monotonic() < deadline:
            batch = reader.consume(5000, 0.5)
            if not batch:
                break  # a transaction marker can sit at the end: nothing more to read
            for message in batch:
                if message.error():
                    continue
                if message.offset() + 1 >= ends[message.partition()]:
                    done.add(message.partition())
                try:
                    price = _decode_price(message.value())
                except msgspec.DecodeError:
                    continue
                if price.symbol in wanted and price.mid_price is not None:
                    found[price.symbol] = (price.time or 0, price.mid_price)
    finally:
        reader.close()
    return {symbol: mid for symbol, (_, mid) in found.items()}


def _run_id(now: int) -> str:
    """A short id unique per start (base-36 milliseconds): keeps order ids unique per run."""
    value = now // 1_000_000
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while value:
        value, digit = divmod(value, 36)
        text = digits[digit] + text
    return "r" + text
