"""The fast-forward simulation: deterministic files in the topic formats, exact accounting."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import msgspec
import pytest

from orderbook_platform.contracts import BookDepth, Order, OrderEvent, Price, Trade
from traders.simulate import DEFAULT_START_NS, SimulationConfig, simulate

pytestmark = pytest.mark.unit

SMALL = {"duration_s": 600.0, "traders": 300, "symbols": ("XYZ", "ABC")}
FILES = ("orders", "trades", "prices", "order_events", "book")


def hashes(directory: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256((directory / f"{name}.jsonl").read_bytes()).hexdigest()
        for name in FILES
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "a"
    return simulate(SimulationConfig(seed=11, **SMALL), out)


def test_the_same_seed_gives_byte_identical_files_and_another_seed_does_not(run, tmp_path):
    again = simulate(SimulationConfig(seed=11, **SMALL), tmp_path / "b")
    other = simulate(SimulationConfig(seed=12, **SMALL), tmp_path / "c")
    assert hashes(again.out_dir) == hashes(run.out_dir)
    differing = {k for k, v in hashes(other.out_dir).items() if hashes(run.out_dir)[k] != v}
    assert differing == set(FILES)


def test_every_line_is_a_topic_message_on_the_simulated_clock(run):
    end = DEFAULT_START_NS + 600 * 1_000_000_000
    for name, kind in (
        ("orders", Order),
        ("trades", Trade),
        ("prices", Price),
        ("order_events", OrderEvent),
        ("book", BookDepth),
    ):
        data = (run.out_dir / f"{name}.jsonl").read_bytes()
        messages = msgspec.json.Decoder(kind).decode_lines(data)
        assert len(messages) == run.counts[name] > 0
        times = [m.time for m in messages]
        assert all(DEFAULT_START_NS <= t < end for t in times)
        assert times == sorted(times)
        assert {m.symbol for m in messages} == {"XYZ", "ABC"}


def test_traders_use_every_order_type(run):
    orders = msgspec.json.Decoder(Order).decode_lines((run.out_dir / "orders.jsonl").read_bytes())
    kinds = {(o.order_type, o.time_in_force) for o in orders}
    assert {
        ("limit", None),
        ("limit", "IOC"),
        ("market", None),
        ("cancel", None),
        ("modify", None),
    } <= kinds
    assert any(o.post_only for o in orders)


def test_every_trader_inventory_and_cash_equal_the_sum_of_its_fills_in_trades(run):
    trades = msgspec.json.Decoder(Trade).decode_lines((run.out_dir / "trades.jsonl").read_bytes())
    inventory: dict[tuple[str, str], int] = defaultdict(int)
    cash: dict[tuple[str, str], int] = defaultdict(int)
    for trade in trades:
        taker_side = 1 if trade.action == "Buy" else -1
        price = round(trade.price * 100)
        for trader_id, side in (
            (trade.taker_trader_id, taker_side),
            (trade.maker_trader_id, -taker_side),
        ):
            inventory[(trader_id, trade.symbol)] += side * trade.quantity
            cash[(trader_id, trade.symbol)] -= side * trade.quantity * price
    assert trades
    for trader in run.traders:
        for symbol, position in trader.positions.items():
            assert position.inventory == inventory[(trader.trader_id, symbol)]
            assert position.cash == cash[(trader.trader_id, symbol)]


def test_nothing_grows_without_bound(run):
    for trader in run.traders:
        assert len(trader.open_orders) <= trader.max_open_orders
        for position in trader.positions.values():
            # Strategies respect their limits up to one decision's overshoot.
            assert abs(position.inventory) <= trader.max_position + 30


def test_the_report_covers_each_symbol(run):
    assert set(run.realism["symbols"]) == {"XYZ", "ABC"}
    entry = run.realism["symbols"]["XYZ"]
    assert entry["returns"] == 9 and entry["trades"] > 0 and entry["median_spread_ticks"] >= 1


def test_a_bad_config_is_refused():
    with pytest.raises(ValueError, match="duration"):
        SimulationConfig(duration_s=0)
    with pytest.raises(ValueError, match="trader"):
        SimulationConfig(traders=0)


def test_the_outputs_are_exactly_what_the_engine_replay_makes_of_the_orders(run, tmp_path):
    from engine.replay import replay

    replay(run.out_dir / "orders.jsonl", tmp_path, run.config.engine_config())
    for name in ("trades", "prices", "order_events", "book"):
        assert (tmp_path / f"{name}.jsonl").read_bytes() == (
            run.out_dir / f"{name}.jsonl"
        ).read_bytes(), name
