"""The file replay and its CLI: JSONL in, four JSONL files out, bad lines reported."""

from __future__ import annotations

import base64
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from engine import replay as replay_module
from engine.cli import engine_app
from engine.config import EngineConfig
from engine.events import TOPICS, topic_of
from engine.matching import Matcher
from engine.replay import DLQ_FILE as DLQ
from engine.replay import replay
from orderbook_platform.contracts import decode_dead_letter, encode
from tests.engine.helpers import cancel, limit, market, modify
from tests.engine.poison import DEAD_LETTER, poison_orders, through_live_path

pytestmark = pytest.mark.unit

ORDERS = [
    limit("b1", 100.0, 5, trader="T1"),
    limit("a1", 100.5, -3, trader="T2"),
    limit("a2", 100.25, -4, trader="T3", symbol="BBB"),
    market("m1", 2, trader="T4"),
    modify("b1", quantity=3),
    cancel("a1"),
    limit("x", 100.001, 1),  # rejected: off tick
]


def write_orders(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def expected_files(orders) -> dict[str, bytes]:
    """What the core emits for the same orders, encoded line by line."""
    out = dict.fromkeys(TOPICS, b"")
    matcher = Matcher()
    for order in orders:
        for message in matcher.process(order):
            out[topic_of(message)] += encode(message) + b"\n"
    return out


def test_replay_writes_each_topic_in_publication_order(tmp_path: Path) -> None:
    source = write_orders(tmp_path / "orders.jsonl", [encode(o) for o in ORDERS])
    stats = replay(source, tmp_path / "out")
    for topic, content in expected_files(ORDERS).items():
        assert (tmp_path / "out" / f"{topic}.jsonl").read_bytes() == content
    assert (stats.lines, stats.orders, stats.undecodable, stats.rejected) == (7, 7, 0, 1)
    assert stats.trades == 1  # m1 buys 2 from a1


def test_undecodable_lines_are_counted_with_their_line_numbers_and_skipped(tmp_path: Path) -> None:
    lines = [encode(ORDERS[0]), b"{not json", encode(ORDERS[1]), b"", b'{"order_type": "limit"}']
    lines += [encode(o) for o in ORDERS[2:]]
    source = write_orders(tmp_path / "orders.jsonl", lines)
    stats = replay(source, tmp_path / "out")
    assert stats.undecodable == 2
    assert [e.line for e in stats.errors] == [2, 5]
    assert "order_id" in stats.errors[1].reason
    assert stats.orders == len(ORDERS)
    for topic, content in expected_files(ORDERS).items():
        assert (tmp_path / "out" / f"{topic}.jsonl").read_bytes() == content


def test_line_numbers_stay_right_across_read_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay_module, "CHUNK_BYTES", 64)
    lines = [encode(limit(f"o{i}", 100.0, 1)) for i in range(30)]
    lines[22] = b"garbage"
    stats = replay(write_orders(tmp_path / "orders.jsonl", lines), tmp_path / "out")
    assert [e.line for e in stats.errors] == [23]
    assert stats.orders == 29


def test_replay_can_continue_from_a_given_matcher(tmp_path: Path) -> None:
    matcher = Matcher()
    matcher.process(ORDERS[0])
    source = write_orders(tmp_path / "orders.jsonl", [encode(o) for o in ORDERS[1:]])
    replay(source, tmp_path / "out", matcher=matcher)
    straight = Matcher()
    for order in ORDERS:
        straight.process(order)
    assert matcher.state_hash() == straight.state_hash()


def test_rejected_counts_this_replays_rejects_of_every_kind(tmp_path: Path) -> None:
    """Rejects with and without a book (an unlisted symbol), after a matcher that
    already rejected orders: the count is the `rejected` lines this replay wrote."""
    config = EngineConfig(symbols=("AAA",), default_symbol="AAA")
    matcher = Matcher(config)
    matcher.process(limit("early", 100.001, 1, symbol="AAA"))  # off tick, before the replay
    orders = [
        limit("a", 100.0, 5, symbol="AAA"),
        limit("a", 100.0, 5, symbol="AAA"),  # duplicate id
        limit("z", 100.0, 5, symbol="ZZZ"),  # unknown symbol: no book
        limit("b", 0.0, -5, symbol="AAA"),  # non-positive price
        limit("c", 101.0, -5, symbol="AAA"),
    ]
    source = write_orders(tmp_path / "orders.jsonl", [encode(o) for o in orders])
    stats = replay(source, tmp_path / "out", matcher=matcher)
    events = (tmp_path / "out" / "order_events.jsonl").read_bytes().splitlines()
    written = [msgspec.json.decode(line)["event"] for line in events].count("rejected")
    assert stats.rejected == written == 3


def test_replay_output_decodes_as_the_contract_messages(tmp_path: Path) -> None:
    from orderbook_platform.contracts import (
        decode_book,
        decode_order_event,
        decode_price,
        decode_trade,
    )

    source = write_orders(tmp_path / "orders.jsonl", [encode(o) for o in ORDERS])
    replay(source, tmp_path / "out", EngineConfig(depth=2))
    decoders = {
        "trades": decode_trade,
        "prices": decode_price,
        "book": decode_book,
        "order_events": decode_order_event,
    }
    for topic, decode in decoders.items():
        for line in (tmp_path / "out" / f"{topic}.jsonl").read_bytes().splitlines():
            decode(line)


# ---------------------------------------------------------------------- CLI

runner = CliRunner()


def test_cli_replay_prints_a_summary_and_writes_the_files(tmp_path: Path) -> None:
    lines = [encode(o) for o in ORDERS] + [b"oops"]
    source = write_orders(tmp_path / "orders.jsonl", lines)
    result = runner.invoke(engine_app, ["replay", str(source), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for label in ("orders", "trades", "rejected", "undecodable lines", "orders/s"):
        assert label in result.output
    assert "line 8:" in result.output
    assert all((tmp_path / "out" / f"{t}.jsonl").exists() for t in TOPICS)


def test_cli_strict_mode_fails_on_undecodable_lines(tmp_path: Path) -> None:
    source = write_orders(tmp_path / "orders.jsonl", [b"oops"])
    result = runner.invoke(
        engine_app, ["replay", str(source), "--out", str(tmp_path / "out"), "--strict"]
    )
    assert result.exit_code == 1


def test_cli_options_reach_the_engine_configuration(tmp_path: Path) -> None:
    lines = [
        encode(limit("a", 100.25, 1, symbol="AAA")),
        encode(limit("b", 100.0, 1, symbol="ZZZ")),
    ]
    source = write_orders(tmp_path / "orders.jsonl", lines)
    out = tmp_path / "out"
    result = runner.invoke(
        engine_app,
        ["replay", str(source), "--out", str(out), "--tick", "AAA=0.5", "--symbols", "AAA", "--depth", "0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    events = [
        msgspec.json.decode(line) for line in (out / "order_events.jsonl").read_bytes().splitlines()
    ]
    assert [e["reason"] for e in events] == ["off_tick_price", "unknown_symbol"]
    assert (out / "book.jsonl").read_bytes() == b""


def test_cli_duplicate_id_window_reaches_the_engine(tmp_path: Path) -> None:
    # "a" is cancelled, then two more ids are accepted: with a window of 2 it is free again.
    orders = [limit("a", 99.0, 1), cancel("a"), limit("b", 98.0, 1), limit("c", 98.0, 1)]
    source = write_orders(tmp_path / "orders.jsonl", [encode(o) for o in orders + orders[:1]])
    reasons = {}
    for window in ("2", "3"):
        out = tmp_path / f"out{window}"
        args = ["replay", str(source), "--out", str(out), "--duplicate-id-window", window]
        result = runner.invoke(engine_app, args)
        assert result.exit_code == 0, result.output
        lines = (out / "order_events.jsonl").read_bytes().splitlines()
        reasons[window] = msgspec.json.decode(lines[-1]).get("reason")
    assert reasons == {"2": None, "3": "duplicate_order_id"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "missing.jsonl", "--out", "OUT"], "orders file not found"),
        (["replay", "SOURCE"], "--out DIR is required"),
        (["replay", "SOURCE", "--out", "OUT", "--tick-size", "abc"], "tick size is not a number"),
        (["replay", "SOURCE", "--out", "OUT", "--tick", "AAA"], "--tick expects SYMBOL=SIZE"),
        (["replay", "SOURCE", "--out", "OUT", "--depth", "-1"], "depth must be >= 0"),
        (
            ["replay", "SOURCE", "--out", "OUT", "--duplicate-id-window", "-1"],
            "duplicate_id_window must be >= 0",
        ),
        (["replay", "SOURCE", "--out", "SOURCE"], "--out is not a directory"),
        (["replay", "TMP", "--out", "OUT"], "not a file"),
    ],
)
def test_cli_bad_arguments_give_one_line_error_and_nonzero_exit(
    tmp_path: Path, args: list[str], message: str
) -> None:
    source = write_orders(tmp_path / "orders.jsonl", [encode(ORDERS[0])])
    substitutions = {"SOURCE": str(source), "OUT": str(tmp_path / "out"), "TMP": str(tmp_path)}
    result = runner.invoke(engine_app, [substitutions.get(a, a) for a in args])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: {result.output.strip()[7:]}"]
    assert message in result.output
    assert "Traceback" not in result.output


def test_importing_the_cli_has_no_side_effects() -> None:
    """A fresh interpreter imports engine.cli without Kafka, the service or the replay."""
    import subprocess
    import sys

    probe = (
        "import sys, engine.cli as cli\n"
        "assert 'replay' in [c.name for c in cli.engine_app.registered_commands]\n"
        "loaded = [m for m in ('confluent_kafka', 'engine.service', 'engine.replay') "
        "if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------- hostile lines, as the service


def poison_file(path: Path) -> tuple[Path, list[bytes]]:
    """A resting ask, every poison value that fits on a line, then a crossing bid."""
    lines = [encode(limit("s1", 100.0, -5, symbol="POISON"))]
    lines += [p.value for p in poison_orders() if b"\n" not in p.value and p.value.strip()]
    lines += [encode(limit("b1", 100.0, 5, symbol="POISON"))]
    return write_orders(path, lines), lines


def test_every_poison_line_is_a_dead_letter_or_a_reject_and_the_replay_goes_on(
    tmp_path: Path,
) -> None:
    source, lines = poison_file(tmp_path / "orders.jsonl")
    stats = replay(source, tmp_path / "out")
    letters = {
        letter.offset: letter
        for letter in map(decode_dead_letter, (tmp_path / "out" / DLQ).read_bytes().splitlines())
    }
    events = [
        msgspec.json.decode(line)
        for line in (tmp_path / "out" / "order_events.jsonl").read_bytes().splitlines()
    ]
    rejects = {e["order_id"]: e["reason"] for e in events if e["event"] == "rejected"}
    for number, line in enumerate(lines, 1):
        expected = next((p.expected for p in poison_orders() if p.value == line), None)
        if expected == DEAD_LETTER:
            letter = letters.pop(number)
            assert (letter.topic, letter.partition) == ("orders.jsonl", 0)
            assert base64.b64decode(letter.value_base64) == line
            assert letter.error
        elif expected is not None:
            name = next(p.name for p in poison_orders() if p.value == line)
            assert rejects.pop(f"poison-{name}") == expected, name
    assert letters == {} and rejects == {}
    assert stats.undecodable == sum(p.expected == DEAD_LETTER for p in poison_orders()) - 2
    trades = (tmp_path / "out" / "trades.jsonl").read_bytes().splitlines()
    assert [msgspec.json.decode(t)["right_order_id"] for t in trades] == ["b1"]


def test_the_file_replay_treats_each_line_as_the_service_treats_a_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, lines = poison_file(tmp_path / "orders.jsonl")
    lines = lines * 3  # blocks that mix good and bad lines, cut in odd places
    write_orders(source, lines)
    monkeypatch.setattr(replay_module, "CHUNK_BYTES", 300)
    live = Matcher()
    outcomes = through_live_path(live, lines)
    stats = replay(source, tmp_path / "out")
    assert stats.state_hash == live.state_hash()
    expected = dict.fromkeys(TOPICS, b"")
    for kind, result in outcomes:
        if kind == "events":
            for message in result:
                expected[topic_of(message)] += encode(message) + b"\n"
    for topic in TOPICS:
        assert (tmp_path / "out" / f"{topic}.jsonl").read_bytes() == expected[topic], topic
    letters = [
        decode_dead_letter(line) for line in (tmp_path / "out" / DLQ).read_bytes().splitlines()
    ]
    assert [(d.offset, d.error) for d in letters] == [
        (number, reason) for number, (kind, reason) in enumerate(outcomes, 1) if kind == DEAD_LETTER
    ]


def test_a_line_far_over_the_limit_is_dead_lettered_without_being_held_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay_module, "CHUNK_BYTES", 4096)
    huge = b'{"order_id":"' + b"x" * (3 * 1024 * 1024) + b'"}'
    lines = [encode(ORDERS[0]), huge, encode(ORDERS[1]), huge + b" "]
    source = tmp_path / "orders.jsonl"
    source.write_bytes(b"\n".join(lines))  # the last line has no newline
    stats = replay(source, tmp_path / "out")
    assert (stats.lines, stats.orders, stats.undecodable) == (4, 2, 2)
    letters = [
        decode_dead_letter(line) for line in (tmp_path / "out" / DLQ).read_bytes().splitlines()
    ]
    assert [d.offset for d in letters] == [2, 4]
    for letter, line in zip(letters, lines[1::2], strict=True):
        kept = base64.b64decode(letter.value_base64)
        assert kept == line[: len(kept)] and 64 * 1024 < len(kept) < len(line)
        assert f"{len(line)} bytes exceeds the 65536-byte limit" in letter.error
        assert f"truncated to its first {len(kept)} of {len(line)} bytes" in letter.error


class _Explosive:
    """A matcher that raises on one order id (a stand-in for a bug in the core)."""

    def __init__(self, order_id: str) -> None:
        self.inner = Matcher()
        self.order_id = order_id
        self.rejected = 0

    def process(self, order):
        if order.order_id == self.order_id:
            raise ZeroDivisionError("boom")
        return self.inner.process(order)

    def state_hash(self) -> str:
        return self.inner.state_hash()


def test_an_order_the_matcher_raises_on_is_dead_lettered_and_the_replay_goes_on(
    tmp_path: Path,
) -> None:
    lines = [encode(o) for o in ORDERS[:3]] + [b"", encode(ORDERS[3]), encode(ORDERS[4])]
    source = write_orders(tmp_path / "orders.jsonl", lines)
    stats = replay(source, tmp_path / "out", matcher=_Explosive("m1"))
    [letter] = map(decode_dead_letter, (tmp_path / "out" / DLQ).read_bytes().splitlines())
    assert (letter.offset, letter.error) == (5, "engine error: ZeroDivisionError: boom")
    assert base64.b64decode(letter.value_base64) == lines[4]
    assert (stats.orders, stats.engine_errors, stats.undecodable) == (4, 1, 0)


def test_cli_replay_of_poison_prints_no_traceback_and_lists_the_dead_letters(
    tmp_path: Path,
) -> None:
    source, _ = poison_file(tmp_path / "orders.jsonl")
    out = tmp_path / "out"
    result = runner.invoke(engine_app, ["replay", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "line 2: not UTF-8" in result.output
    assert f"dead letters: {out / DLQ}" in result.output.replace("\n", "")
    strict = runner.invoke(engine_app, ["replay", str(source), "--out", str(out), "--strict"])
    assert strict.exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--symbols", ","], "--symbols names no symbol: ','"),
        (["--show-errors", "-1"], "Invalid value for '--show-errors'"),
    ],
)
def test_cli_refuses_arguments_that_make_no_sense_in_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """Through the `orderbook` entry point, as a user runs it."""
    import subprocess
    import sys

    source = write_orders(tmp_path / "orders.jsonl", [encode(ORDERS[0])])
    command = [sys.executable, "-m", "orderbook_platform.cli.main", "engine", "replay"]
    result = subprocess.run(
        [*command, str(source), "--out", str(tmp_path / "out"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line, line
    assert not (tmp_path / "out").exists()
