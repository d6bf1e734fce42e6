"""The live swarm against the real broker and the real engine process.

200 traders for 30 s through `orders` -> `orderbook engine run` -> `trades`/`order_events`
-> back to the traders. The pool runs as its own process and is stopped with SIGTERM;
its summary (written on the way out) holds every trader's position, which must equal
the sum of that trader's fills read back from `trades`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from orderbook_platform.config import Settings
from orderbook_platform.contracts import decode_trade
from orderbook_platform.testing import settings_env
from traders.pool import latest_mids

pytestmark = pytest.mark.integration

TRADERS = 200
SWARM_SECONDS = 30
# Guards against a hung process only; never a statement about speed.
PATIENCE_S = 180


def _end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    client = Consumer(settings.kafka.client_config(**{"group.id": f"probe-{uuid.uuid4().hex[:6]}"}))
    try:
        partitions = client.list_topics(topic, timeout=10).topics[topic].partitions
        return {
            p: client.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
    finally:
        client.close()


def _start_group_at_end(settings: Settings, group: str) -> None:
    """Orders already on the topic are history for this engine: replayed silently, not re-emitted."""
    client = Consumer(settings.kafka.client_config(**{"group.id": group}))
    try:
        offsets = _end_offsets(settings, "orders")
        client.commit(
            offsets=[TopicPartition("orders", p, o) for p, o in offsets.items()], asynchronous=False
        )
    finally:
        client.close()


def _wait_for_log(path: Path, event: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{") and f'"event": "{event}"' in line.replace('":"', '": "'):
                return
        assert process.poll() is None, f"engine exited early:\n{path.read_text()}"
        time.sleep(0.1)
    raise AssertionError(f"engine never logged {event!r}:\n{path.read_text()}")


def _read_trades(settings: Settings, symbols: set[str]) -> list:
    targets = _end_offsets(settings, "trades")
    reader = Consumer(
        settings.kafka.client_config(
            **{
                "group.id": f"check-{uuid.uuid4().hex[:6]}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
            }
        )
    )
    reader.assign([TopicPartition("trades", p, 0) for p in targets])
    trades, positions = [], dict.fromkeys(targets, 0)
    deadline = time.monotonic() + PATIENCE_S
    try:
        # Transactions leave control records, so compare positions, never count messages.
        while any(positions[p] < targets[p] for p in targets) and time.monotonic() < deadline:
            for message in reader.consume(5000, 1.0):
                if message.error():
                    continue
                positions[message.partition()] = message.offset() + 1
                trade = decode_trade(message.value())
                if trade.symbol in symbols:
                    trades.append(trade)
            for tp in reader.position([TopicPartition("trades", p) for p in targets]):
                if tp.offset >= 0:
                    positions[tp.partition] = max(positions[tp.partition], tp.offset)
    finally:
        reader.close()
    return trades


def test_a_swarm_of_200_trades_through_the_engine_and_its_books_match_the_trades_topic(
    settings, tmp_path
):
    tag = uuid.uuid4().hex[:5].upper()
    symbols = [f"SW{tag}A", f"SW{tag}B"]
    group = f"traders-it-{tag}"
    _start_group_at_end(settings, group)
    env = settings_env(settings)
    engine_log = tmp_path / "engine.log"
    with open(engine_log, "wb") as log:
        engine = subprocess.Popen(
            [sys.executable, "-m", "orderbook_platform.cli.main", "engine", "run", "--group", group,
             "--instance-id", "0", "--metrics-port", "0", "--session-timeout-ms", "6000"],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    summary_path = tmp_path / "summary.json"
    try:
        _wait_for_log(engine_log, "partitions assigned", engine)
        with open(tmp_path / "pool.log", "wb") as log:
            pool = subprocess.Popen(
                [sys.executable, "-m", "traders.cli", "traders", "run", "--traders", str(TRADERS),
                 "--symbols", ",".join(symbols), "--activity", "5", "--seed", "1",
                 "--duration", "10m", "--summary", str(summary_path)],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
            time.sleep(SWARM_SECONDS)
            assert pool.poll() is None, (tmp_path / "pool.log").read_text()
            pool.send_signal(signal.SIGTERM)  # graceful: cancel, settle, summarise
            assert pool.wait(timeout=PATIENCE_S) == 0, (tmp_path / "pool.log").read_text()
        assert engine.poll() is None, engine_log.read_text()
        summary = json.loads(summary_path.read_text())
        trades = _read_trades(settings, set(symbols))
        restart_prices = latest_mids(settings, symbols)
    finally:
        engine.send_signal(signal.SIGTERM)
        try:
            engine.wait(timeout=60)
        except subprocess.TimeoutExpired:
            engine.kill()

    # Trades happened, between our own traders.
    assert len(trades) > 50, summary
    assert summary["orders_sent"] > len(trades)
    run_id = summary["run_id"]
    assert all(
        t.maker_trader_id.startswith(run_id) and t.taker_trader_id.startswith(run_id)
        for t in trades
    )

    # Every trader's inventory and cash equal the sum of its fills on `trades`.
    inventory: dict[tuple[str, str], int] = defaultdict(int)
    cash: dict[tuple[str, str], int] = defaultdict(int)
    for trade in trades:
        side = 1 if trade.action == "Buy" else -1
        price = round(trade.price * 100)
        for trader_id, signed in ((trade.taker_trader_id, side), (trade.maker_trader_id, -side)):
            inventory[(trader_id, trade.symbol)] += signed * trade.quantity
            cash[(trader_id, trade.symbol)] -= signed * trade.quantity * price
    assert len(summary["positions"]) == TRADERS
    for trader_id, positions in summary["positions"].items():
        for symbol, position in positions.items():
            assert position["inventory"] == inventory[(trader_id, symbol)], trader_id
            assert position["cash_ticks"] == cash[(trader_id, symbol)], trader_id

    # A restarted pool would continue from the market's last mids.
    for symbol in symbols:
        if summary["market"][symbol]["mid"] is not None:
            assert restart_prices[symbol] == pytest.approx(summary["market"][symbol]["mid"])

    # Nothing grew without bound, and the stop was clean.
    limits = summary["limits"]
    assert summary["drained"] is True
    assert limits["max_open_orders_per_trader"] <= 8
    assert limits["max_heap"] <= 3 * TRADERS
    assert limits["max_producer_queue"] <= 20_000
    assert limits["stale_forgotten"] == 0
