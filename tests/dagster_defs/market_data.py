"""A known hour of market data for the platform tests, and its expected analytics computed
independently in plain Python (no polars, no Spark)."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from confluent_kafka import Producer

from orderbook_platform.config import Settings
from orderbook_platform.contracts import (
    BookDepth,
    BookLevel,
    Order,
    OrderEvent,
    Price,
    Trade,
    encode,
)
from orderbook_platform.kafka.clients import producer


def past_hour(hours_ago: int) -> datetime:
    """A complete past hour, inside the topics' 7-day retention."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=hours_ago)


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


@dataclass
class HourOfMarket:
    hour: datetime
    symbols: tuple[str, ...]
    orders: list[Order] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    prices: list[Price] = field(default_factory=list)
    books: list[BookDepth] = field(default_factory=list)
    events: list[OrderEvent] = field(default_factory=list)
    aborted_trade_ids: list[str] = field(default_factory=list)
    aborted_order_ids: list[str] = field(default_factory=list)

    # -- expected analytics, plain Python -------------------------------------------------
    def expected_ohlc(self) -> dict[tuple[str, datetime], dict[str, float]]:
        by_minute: dict[tuple[str, datetime], list[Trade]] = defaultdict(list)
        for trade in sorted(self.trades, key=lambda t: (t.time, t.sequence)):
            minute = datetime.fromtimestamp(trade.time // 1_000_000_000, tz=self.hour.tzinfo)
            by_minute[(trade.symbol, minute.replace(second=0))].append(trade)
        expected = {}
        for key, trades in by_minute.items():
            volume = sum(t.quantity for t in trades)
            expected[key] = {
                "open": trades[0].price,
                "high": max(t.price for t in trades),
                "low": min(t.price for t in trades),
                "close": trades[-1].price,
                "volume": volume,
                "trade_count": len(trades),
                "vwap": sum(t.price * t.quantity for t in trades) / volume,
            }
        return expected

    def expected_hourly_vwap(self) -> dict[str, float]:
        notional: dict[str, float] = defaultdict(float)
        volume: dict[str, int] = defaultdict(int)
        for trade in self.trades:
            notional[trade.symbol] += trade.price * trade.quantity
            volume[trade.symbol] += trade.quantity
        return {s: notional[s] / volume[s] for s in volume}

    def expected_fill_rates(self) -> dict[tuple[str, str, str, str], float]:
        filled: dict[str, int] = defaultdict(int)
        for trade in self.trades:
            filled[trade.left_order_id] += trade.quantity
            filled[trade.right_order_id] += trade.quantity
        submitted_by: dict[tuple, int] = defaultdict(int)
        filled_by: dict[tuple, int] = defaultdict(int)
        for order in self.orders:
            if order.order_type not in ("limit", "market"):
                continue
            tif = "IOC" if order.order_type == "market" else (order.time_in_force or "GTC")
            side = "Buy" if order.quantity > 0 else "Sell"
            strategy = order.trader_id.rsplit("-", 1)[0]
            key = (order.order_type, tif, side, strategy)
            submitted_by[key] += abs(order.quantity)
            filled_by[key] += filled[order.order_id]
        return {k: filled_by[k] / submitted_by[k] for k in submitted_by}


def build_hour(hour: datetime, symbols: tuple[str, ...], seed: int = 7) -> HourOfMarket:
    """Per symbol, every third minute: two resting makers and a taker that trades into them."""
    rng = random.Random(seed)
    market = HourOfMarket(hour, symbols)
    run = uuid.uuid4().hex[:6]
    for s_index, symbol in enumerate(symbols):
        sequence = 0
        base = 100.0 + 10 * s_index
        for minute in range(0, 45, 3):
            start = hour + timedelta(minutes=minute, seconds=1)
            taker_buys = rng.random() < 0.5
            maker_sign = -1 if taker_buys else 1
            best = round(base + rng.randint(-20, 20) * 0.01, 2)
            second = round(best + (0.02 if taker_buys else -0.02), 2)
            makers = [
                Order(
                    order_id=f"{run}-{symbol}-{minute}-m{k}",
                    order_type="limit",
                    price=price,
                    quantity=maker_sign * size,
                    time=ns(start + timedelta(milliseconds=k)),
                    symbol=symbol,
                    trader_id=f"mm-{k + 1}",
                    time_in_force="GTC",
                )
                for k, (price, size) in enumerate([(best, 4), (second, 6)])
            ]
            kind = rng.choice(["limit-IOC", "limit-FOK", "limit-GTC", "market"])
            wanted = rng.randint(1, 14) if kind != "limit-FOK" else rng.randint(1, 10)
            taker_time = start + timedelta(seconds=2)
            taker = Order(
                order_id=f"{run}-{symbol}-{minute}-t",
                order_type="market" if kind == "market" else "limit",
                price=None if kind == "market" else second,
                quantity=wanted if taker_buys else -wanted,
                time=ns(taker_time),
                symbol=symbol,
                trader_id=rng.choice(["momentum-1", "momentum-2", "noise-1"]),
                time_in_force=None if kind == "market" else kind.split("-")[1],
            )
            market.orders += [*makers, taker]
            left = wanted
            for fill_index, maker in enumerate(makers):
                if left == 0:
                    break
                quantity = min(left, abs(maker.quantity))
                left -= quantity
                sequence += 1
                market.trades.append(
                    Trade(
                        left_order_id=maker.order_id,
                        right_order_id=taker.order_id,
                        quantity=quantity,
                        price=maker.price,
                        action="Buy" if taker_buys else "Sell",
                        status="filled" if left == 0 else "partial",
                        trade_id=f"{taker.order_id}-{fill_index}",
                        symbol=symbol,
                        time=ns(taker_time + timedelta(milliseconds=1 + fill_index)),
                        sequence=sequence,
                        maker_trader_id=maker.trader_id,
                        taker_trader_id=taker.trader_id,
                    )
                )
            for order in [*makers, taker]:
                market.events.append(
                    OrderEvent(
                        order_id=order.order_id,
                        event="accepted",
                        symbol=symbol,
                        trader_id=order.trader_id,
                        order_type=order.order_type,
                        side="Buy" if order.quantity > 0 else "Sell",
                        price=order.price,
                        quantity=abs(order.quantity),
                        filled=0,
                        remaining=abs(order.quantity),
                        time=order.time,
                    )
                )
            for k in range(3):
                bid = round(best - 0.01 * (k + 1), 2) if taker_buys else best
                ask = best if taker_buys else round(best + 0.01 * (k + 1), 2)
                moment = ns(start + timedelta(seconds=10 + k))
                market.prices.append(
                    Price(
                        mid_price=round((bid + ask) / 2, 4),
                        best_bid=bid,
                        best_ask=ask,
                        bid_size=5,
                        ask_size=7,
                        symbol=symbol,
                        time=moment,
                        sequence=sequence,
                    )
                )
                market.books.append(
                    BookDepth(
                        symbol=symbol,
                        bids=[BookLevel(bid, 5, 1), BookLevel(round(bid - 0.01, 2), 3, 2)],
                        asks=[BookLevel(ask, 7, 2)],
                        time=moment,
                        sequence=sequence,
                    )
                )
        # A cancel reuses the id of the order it removes: not a duplicate new order.
        market.orders.append(
            Order(
                order_id=market.orders[-3].order_id,
                order_type="cancel",
                symbol=symbol,
                trader_id="mm-1",
                time=ns(hour + timedelta(minutes=50)),
            )
        )
    return market


def _send(writer: Producer, topic: str, message, symbol: str, time_ns: int) -> None:
    writer.produce(
        topic, key=symbol.encode(), value=encode(message), timestamp=time_ns // 1_000_000
    )


def publish(settings: Settings, market: HourOfMarket) -> None:
    """Publish the hour with record timestamps = message time, plus one aborted transaction."""
    writer = producer(settings.kafka)
    for order in market.orders:
        _send(writer, "orders", order, order.symbol, order.time)
    for trade in market.trades:
        _send(writer, "trades", trade, trade.symbol, trade.time)
    for price in market.prices:
        _send(writer, "prices", price, price.symbol, price.time)
    for book in market.books:
        _send(writer, "book", book, book.symbol, book.time)
    for event in market.events:
        _send(writer, "order_events", event, event.symbol, event.time)
    assert writer.flush(30) == 0
    publish_aborted(settings, market)


def publish_aborted(settings: Settings, market: HourOfMarket) -> None:
    """An engine transaction that aborts: its order and trade must never reach the lake."""
    symbol = market.symbols[0]
    moment = ns(market.hour + timedelta(minutes=7, seconds=30))
    order = Order(
        order_id=f"aborted-{uuid.uuid4().hex[:8]}",
        order_type="limit",
        price=999.99,
        quantity=1,
        time=moment,
        symbol=symbol,
        trader_id="ghost-1",
    )
    trade = Trade(
        left_order_id=order.order_id,
        right_order_id=order.order_id,
        quantity=1,
        price=999.99,
        action="Buy",
        status="filled",
        trade_id=f"{order.order_id}-0",
        symbol=symbol,
        time=moment,
        sequence=999,
    )
    transactional = producer(settings.kafka, **{"transactional.id": f"test-{uuid.uuid4().hex}"})
    transactional.init_transactions(30)
    transactional.begin_transaction()
    _send(transactional, "orders", order, symbol, moment)
    _send(transactional, "trades", trade, symbol, moment)
    transactional.flush(30)
    transactional.abort_transaction(30)
    market.aborted_order_ids.append(order.order_id)
    market.aborted_trade_ids.append(trade.trade_id)
