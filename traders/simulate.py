"""Fast-forward simulation: the strategies and the engine core in one process, simulated clock.

A discrete-event loop over a heap of wake-ups `(time_ns, key)`; `key` says what wakes
(trader i's regular wake-up: i; a market maker's quote reaction: n + i; a reaction to
news: 2n + i) and ties break on it, deterministically. A trader's wake-up asks it for orders; each order goes
straight into `engine.matching.Matcher.process` (zero latency) and every output message
is handed back at once: trades to the two traders involved and to the market view,
order events to their trader, L1/L2 to the shared views. A top-of-book change
schedules a reaction of every market maker on that symbol `reaction_latency_s` later,
or when its re-quote throttle next allows (at most one pending per maker), which is
how quotes follow the market.

Output: `DIR/{orders,trades,prices,order_events}.jsonl` (+ `book.jsonl` unless
disabled), one contract-encoded message per line in processing order, exactly as on
the topics, with `time` in simulated epoch ns. No wall clock and no unseeded RNG is
read, and no set of strings is iterated, so the same config gives byte-identical
files.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from engine.config import EngineConfig
from engine.events import BOOK, ORDER_EVENTS, PRICES, TOPIC_OF, TRADES
from engine.matching import Matcher
from orderbook_platform.contracts import Order
from traders.base import Trader
from traders.market import SECOND, Market, SymbolView
from traders.news import FairValue, NewsParams
from traders.realism import RealismAccumulator
from traders.swarm import DEFAULT_MIX, build_traders, news_wake, next_wake

# 2026-11-23T09:00:00Z, a Monday: a fixed default so that runs are reproducible.
DEFAULT_START_NS = 1_795_424_400_000_000_000
OUTPUT_TOPICS = ("orders", TRADES, PRICES, ORDER_EVENTS, BOOK)
_FLUSH_EVERY = 20_000


@dataclass(frozen=True)
class SimulationConfig:
    duration_s: float = 3600.0
    traders: int = 1000
    seed: int | str = 0
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    symbols: tuple[str, ...] = ("XYZ",)
    start_ns: int = DEFAULT_START_NS
    tick_size: str = "0.01"
    start_price: float = 100.0
    depth: int = 5
    reaction_latency_s: float = 0.005
    write_book: bool = True
    news: NewsParams = field(default_factory=NewsParams)

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError(f"duration must be positive, got {self.duration_s} s")
        if self.traders < 1:
            raise ValueError(f"need at least one trader, got {self.traders}")
        if not self.symbols:
            raise ValueError("need at least one symbol")

    def engine_config(self) -> EngineConfig:
        """The matcher's config; without book.jsonl the engine publishes no L2 at all."""
        return EngineConfig(
            default_symbol=self.symbols[0], tick_size=self.tick_size, symbols=list(self.symbols),
            depth=self.depth if self.write_book else 0,
        )  # fmt: skip

    @property
    def end_ns(self) -> int:
        return self.start_ns + int(self.duration_s * SECOND)


@dataclass
class SimulationResult:
    config: SimulationConfig
    out_dir: Path
    counts: dict[str, int]
    wakeups: int
    traders: list[Trader]
    market: Market
    realism: dict

    def summary(self) -> dict:
        return {
            "duration_s": self.config.duration_s,
            "traders": self.config.traders,
            "seed": self.config.seed,
            "symbols": list(self.config.symbols),
            "messages": self.counts,
            "wakeups": self.wakeups,
        }


class _Sink:
    """Buffered JSONL writer of one topic."""

    __slots__ = ("buffer", "count", "encode_lines", "handle")

    def __init__(self, path: Path | None, encoder: msgspec.json.Encoder) -> None:
        self.handle = None if path is None else open(path, "wb")  # noqa: SIM115
        self.buffer: list = []
        self.count = 0
        self.encode_lines = encoder.encode_lines

    def flush(self) -> None:
        if self.buffer:
            self.count += len(self.buffer)
            if self.handle is not None:
                self.handle.write(self.encode_lines(self.buffer))
            self.buffer.clear()

    def close(self) -> None:
        self.flush()
        if self.handle is not None:
            self.handle.close()


def simulate(config: SimulationConfig, out_dir: Path | None) -> SimulationResult:
    """Run the simulation; writes the JSONL files into `out_dir` (None: count only)."""
    symbols = list(config.symbols)
    start, end = config.start_ns, config.end_ns
    engine_config = config.engine_config()
    matcher = Matcher(engine_config)
    process = matcher.process
    views = {s: SymbolView(s, config.tick_size, config.start_price) for s in symbols}
    fair_values = {
        s: FairValue(config.start_price, start, f"{config.seed}/{s}", config.news) for s in symbols
    }
    market = Market(views, fair_values)
    ticks = {s: views[s].tick for s in symbols}
    traders = build_traders(config.traders, config.mix, symbols, config.seed)
    by_id = {trader.trader_id: trader for trader in traders}
    count = len(traders)
    # Market makers of each symbol, by index: told when its top of book changes.
    watchers: dict[str, list[int]] = {s: [] for s in symbols}
    for index, trader in enumerate(traders):
        if trader.wants_quotes:
            for symbol in trader.symbols:
                watchers[symbol].append(index)
    # News-driven traders of each symbol: may wake shortly after each news jump.
    readers: dict[str, list[int]] = {s: [] for s in symbols}
    for index, trader in enumerate(traders):
        if trader.attention > 0:
            for symbol in trader.symbols:
                readers[symbol].append(index)
    jumps_seen = dict.fromkeys(symbols, 0)
    news_pending = [False] * count  # one pending news reaction per trader, as in the pool
    reaction_pending = [False] * count
    latency = max(1, int(config.reaction_latency_s * SECOND))
    realism = RealismAccumulator(start, ticks)

    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    encoder = msgspec.json.Encoder()
    topics = OUTPUT_TOPICS if config.write_book else OUTPUT_TOPICS[:-1]
    sinks = {
        topic: _Sink(None if out_dir is None else out_dir / f"{topic}.jsonl", encoder)
        for topic in topics
    }
    if not config.write_book:
        sinks[BOOK] = _Sink(None, encoder)
    orders_out = sinks["orders"].buffer
    trades_out = sinks[TRADES].buffer
    prices_out = sinks[PRICES].buffer
    events_out = sinks[ORDER_EVENTS].buffer
    book_out = sinks[BOOK].buffer if config.write_book else None

    heap: list[tuple[int, int]] = []
    for index, trader in enumerate(traders):
        fair_values[trader.symbols[0]].advance_to(start)
        heap.append((next_wake(trader, start, market), index))
    heapq.heapify(heap)
    heappush, heappop = heapq.heappush, heapq.heappop

    topic_of = TOPIC_OF

    def submit(order: Order, now: int) -> None:
        orders_out.append(order)
        for message in process(order):
            topic = topic_of[type(message)]
            symbol = message.symbol or ""
            if topic == ORDER_EVENTS:
                events_out.append(message)
                owner = by_id.get(message.trader_id)
                if owner is not None:
                    owner.on_order_event(message, ticks[symbol])
            elif topic == TRADES:
                trades_out.append(message)
                views[symbol].on_trade(message)
                realism.add_trade(message)
                tick = ticks[symbol]
                maker = by_id.get(message.maker_trader_id)
                if maker is not None:
                    maker.on_trade(message, tick)
                taker = by_id.get(message.taker_trader_id)
                if taker is not None:
                    taker.on_trade(message, tick)
            elif topic == PRICES:
                prices_out.append(message)
                realism.add_price(message)
                if views[symbol].on_price(message):
                    # Each maker reacts once its re-quote throttle allows, not before:
                    # waking it earlier would only be refused.
                    react_at = now + latency
                    for index in watchers[symbol]:
                        if not reaction_pending[index]:
                            reaction_pending[index] = True
                            ready = traders[index].quote_ready_at(symbol)
                            heappush(heap, (ready if ready > react_at else react_at, count + index))
            else:
                if book_out is not None:
                    book_out.append(message)
                views[symbol].on_book(message)

    wakeups = 0
    try:
        while heap:
            now, key = heappop(heap)
            if now >= end:
                break
            if count <= key < count * 2:
                index = key - count
                reaction_pending[index] = False
                trader = traders[index]
                for symbol in trader.symbols:
                    view = views[symbol]
                    view.advance(now)
                    for order in trader.on_quote(now, view, market):
                        submit(order, now)
                continue
            regular = key < count * 2
            trader = traders[key - count * 2] if not regular else traders[key]
            symbol = trader.symbols[0]
            fair_value = fair_values[symbol]
            fair_value.advance_to(now)
            if fair_value.jumps != jumps_seen[symbol]:
                jumps_seen[symbol] = fair_value.jumps
                for index in readers[symbol]:
                    if news_pending[index]:
                        continue
                    when = news_wake(traders[index], now)
                    if when is not None:
                        news_pending[index] = True
                        heappush(heap, (when, count * 2 + index))
            views[symbol].advance(now)
            wakeups += 1
            for order in trader.decide(now, market):
                submit(order, now)
            if regular:
                heappush(heap, (next_wake(trader, now, market), key))
            else:
                news_pending[key - count * 2] = False
            if len(orders_out) >= _FLUSH_EVERY:
                for sink in sinks.values():
                    sink.flush()
    finally:
        for sink in sinks.values():
            sink.close()

    counts = {topic: sink.count for topic, sink in sinks.items() if topic in topics}
    return SimulationResult(
        config, out_dir or Path(), counts, wakeups, traders, market, realism.report(end)
    )


def write_report(report: dict, path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
