"""A built-in order feeder and a live top-of-book view, for `make run` and demos.

- `generate_orders`: a deterministic stream of realistic orders (seeded): several
  symbols and traders, passive and crossing limits in every time in force, post-only,
  market, cancel and modify orders naming earlier orders (some of which will have
  filled by then, as in real life, and come back as rejects).
- `feed_orders`: produce such a stream to `orders`, keyed by symbol, with the record
  timestamp equal to the order's time, optionally paced to a rate.
- `show_top`: read `prices` (read_committed) and render the top of book per symbol
  with rich for a bounded time.

This is the edge (Kafka, terminal); the core never imports it.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, TopicPartition
from rich.console import Console
from rich.live import Live
from rich.table import Table

from orderbook_platform.config import Settings
from orderbook_platform.contracts import Order, Price, decode_price, encode
from orderbook_platform.errors import PlatformError
from orderbook_platform.kafka.clients import consumer, producer

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA", "AMZN")
_TICKS_PER_UNIT = 100  # prices on a 0.01 grid: the engine's default tick size

# (kind, weight): the mix of instructions; the crossing share keeps trades flowing.
_MIX = (
    ("passive", 38),
    ("crossing", 10),
    ("ioc", 6),
    ("fok", 4),
    ("post_only", 6),
    ("market", 5),
    ("cancel", 20),
    ("modify", 11),
)


@dataclass
class _SymbolState:
    mid: int  # ticks
    recent: deque  # (order_id, trader_id, is_buy, price_ticks) of recent limit orders


def generate_orders(
    count: int,
    *,
    seed: int = 7,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    traders: int = 20,
    start_ns: int = 1_767_225_600_000_000_000,  # 2026-01-01T00:00:00Z
    step_ns: int = 1_000_000,
) -> Iterator[Order]:
    """`count` orders; the same arguments always give the same orders (ids included)."""
    if count < 0:
        raise ValueError("count must be >= 0")
    if not symbols:
        raise ValueError("at least one symbol is needed")
    rng = random.Random(seed)
    kinds = [kind for kind, _ in _MIX]
    weights = [weight for _, weight in _MIX]
    books = {
        symbol: _SymbolState(mid=rng.randrange(20, 500) * _TICKS_PER_UNIT, recent=deque(maxlen=400))
        for symbol in symbols
    }
    trader_ids = [f"trader-{n:02d}" for n in range(traders)]
    for index in range(count):
        symbol = symbols[rng.randrange(len(symbols))]
        book = books[symbol]
        if rng.random() < 0.08:
            book.mid = max(10, book.mid + rng.choice((-1, 1)) * rng.randint(1, 3))
        time_ns = start_ns + index * step_ns
        kind = rng.choices(kinds, weights)[0]
        if kind in ("cancel", "modify") and book.recent:
            yield _amend(rng, kind, book, symbol, time_ns)
            continue
        if kind in ("cancel", "modify"):
            kind = "passive"
        order_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        trader = trader_ids[rng.randrange(len(trader_ids))]
        is_buy = rng.random() < 0.5
        quantity = _lots(rng) * (1 if is_buy else -1)
        side = 1 if is_buy else -1
        if kind == "market":
            yield Order(order_id, "market", None, quantity, time_ns, symbol, trader)
            continue
        if kind in ("crossing", "ioc", "fok"):
            ticks = book.mid + side * rng.randint(0, 4)  # at or through the touch
        elif kind == "post_only":
            ticks = book.mid - side * rng.randint(-1, 6)  # sometimes crosses: a reject
        else:
            ticks = book.mid - side * rng.randint(1, 12)
        ticks = max(1, ticks)
        tif = {"ioc": "IOC", "fok": "FOK"}.get(kind, "GTC" if rng.random() < 0.5 else None)
        book.recent.append((order_id, trader, is_buy, ticks))
        yield Order(
            order_id,
            "limit",
            ticks / _TICKS_PER_UNIT,
            quantity,
            time_ns,
            symbol,
            trader,
            tif,
            kind == "post_only",
        )


def _lots(rng: random.Random) -> int:
    # Mostly small clips, a few large ones that sweep several levels.
    return rng.randint(1, 20) if rng.random() < 0.85 else rng.randint(21, 200)


def _amend(rng: random.Random, kind: str, book: _SymbolState, symbol: str, time_ns: int) -> Order:
    order_id, trader, is_buy, ticks = book.recent[rng.randrange(len(book.recent))]
    if kind == "cancel":
        return Order(order_id, "cancel", None, None, time_ns, symbol, trader)
    side = 1 if is_buy else -1
    roll = rng.random()
    price = None
    quantity = None
    if roll < 0.4:  # reprice: loses priority, may cross
        price = max(1, ticks + side * rng.randint(-3, 2)) / _TICKS_PER_UNIT
    elif roll < 0.8:  # resize
        quantity = _lots(rng) * side
    else:
        price = max(1, ticks - side * rng.randint(1, 5)) / _TICKS_PER_UNIT
        quantity = _lots(rng) * side
    return Order(order_id, "modify", price, quantity, time_ns, symbol, trader)


# --------------------------------------------------------------------------- feeding


@dataclass(frozen=True)
class FeedResult:
    sent: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def feed_orders(
    settings: Settings,
    count: int,
    *,
    rate: float = 1000.0,
    seed: int = 7,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    topic: str = "orders",
) -> FeedResult:
    """Produce `count` generated orders, timed from now, at about `rate`/s (0: unpaced)."""
    if rate < 0:
        raise PlatformError("--rate must be >= 0")
    step_ns = int(1e9 / rate) if rate > 0 else 1000
    writer = producer(settings.kafka)
    started = time.perf_counter()
    sent = 0
    for order in generate_orders(
        count, seed=seed, symbols=symbols, start_ns=time.time_ns(), step_ns=step_ns
    ):
        if rate > 0:
            ahead = started + sent / rate - time.perf_counter()
            if ahead > 0.002:
                writer.poll(0)
                time.sleep(ahead)
        value = encode(order)
        while True:
            try:
                writer.produce(
                    topic, value, order.symbol.encode(), timestamp=order.time // 1_000_000
                )
                break
            except BufferError:
                writer.poll(0.05)
        sent += 1
        writer.poll(0)
    if writer.flush(60) != 0:
        raise PlatformError("feeder: some orders were not acknowledged within 60 s")
    return FeedResult(sent, time.perf_counter() - started)


# --------------------------------------------------------------------------- top of book


def show_top(
    settings: Settings,
    seconds: float,
    *,
    symbols: Sequence[str] | None = None,
    console: Console | None = None,
) -> dict[str, Price]:
    """Render the latest Price per symbol, live, for `seconds`; returns the final prices.

    Starts a little before the end of `prices` so the table is filled at once.
    """
    reader = consumer(settings.kafka, f"orderbook-top-{uuid.uuid4().hex[:8]}")
    latest: dict[str, Price] = {}
    updates: dict[str, int] = {}
    wanted = set(symbols) if symbols else None
    try:
        metadata = reader.list_topics("prices", timeout=10).topics.get("prices")
        if metadata is None or metadata.error is not None:
            raise PlatformError("topic 'prices' does not exist: run `orderbook topics apply`")
        start = []
        for partition in metadata.partitions:
            low, high = reader.get_watermark_offsets(
                TopicPartition("prices", partition), timeout=10
            )
            start.append(TopicPartition("prices", partition, max(low, high - 2000)))
        reader.assign(start)
        deadline = time.monotonic() + seconds
        with Live(
            _top_table(latest, updates), console=console, refresh_per_second=4, transient=False
        ) as live:
            while time.monotonic() < deadline:
                messages = reader.consume(
                    1000, timeout=min(0.25, max(0.0, deadline - time.monotonic()))
                )
                changed = False
                for message in messages:
                    if message.error() is not None:
                        if message.error().code() != KafkaError._PARTITION_EOF:
                            raise PlatformError(f"reading prices: {message.error().str()}")
                        continue
                    try:
                        price = decode_price(message.value())
                    except ValueError:
                        continue
                    symbol = price.symbol or "?"
                    if wanted is not None and symbol not in wanted:
                        continue
                    latest[symbol] = price
                    updates[symbol] = updates.get(symbol, 0) + 1
                    changed = True
                if changed:
                    live.update(_top_table(latest, updates))
    finally:
        reader.close()
    return latest


def _fmt(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _top_table(latest: dict[str, Price], updates: dict[str, int]) -> Table:
    table = Table(title="Top of book (topic: prices)")
    for column, justify in (
        ("symbol", "left"), ("bid size", "right"), ("bid", "right"), ("ask", "right"),
        ("ask size", "right"), ("mid", "right"), ("spread", "right"), ("updates", "right"),
    ):  # fmt: skip
        table.add_column(column, justify=justify)
    for symbol in sorted(latest):
        price = latest[symbol]
        spread = (
            None
            if price.best_bid is None or price.best_ask is None
            else round(price.best_ask - price.best_bid, 6)
        )
        table.add_row(
            symbol,
            _fmt(price.bid_size),
            _fmt(price.best_bid),
            _fmt(price.best_ask),
            _fmt(price.ask_size),
            _fmt(price.mid_price, 3),
            _fmt(spread),
            f"{updates[symbol]:,}",
        )
    if not latest:
        table.add_row("(waiting for prices)", "", "", "", "", "", "", "")
    return table
