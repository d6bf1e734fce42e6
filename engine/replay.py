"""Replay an `orders` JSONL file through the matcher into JSONL files. No Kafka.

Each input line (without its newline) is one record value exactly as on the `orders`
topic, and is treated as the Kafka service treats one (engine/intake.py): an order, or
a dead letter. Outputs, in publication order, one contract-encoded message per line
(the same bytes as `orderbook_platform.contracts.encode(message)`):

    out_dir/trades.jsonl  prices.jsonl  book.jsonl  order_events.jsonl  orders.dlq.jsonl

`book` lines come from engine.wire.DepthEncoder, which reuses the encoded levels that
did not change since the symbol's previous L2 message (the same bytes, about half the
work when compiled).

A line the service would dead-letter (not an Order, not UTF-8, nested too deep, longer
than intake.MAX_ORDER_BYTES) or whose order made the matcher raise is written to
`orders.dlq.jsonl` as a DeadLetter whose `topic` is the input file's name, `partition`
0 and `offset` the 1-based line number; it is counted, its line number and reason kept
(the first MAX_KEPT_ERRORS of them), and the run continues. Blank lines are skipped.

Input is read in blocks of whole lines and a block is decoded in one msgspec call; the
service's byte rules are checked on the whole block with a few C-speed scans (UTF-8,
at most one bracket per order, no line over the limit), and only a block that fails
either is decoded again line by line with the service's own `decode_input`. A line
longer than the limit is never held whole: it is read through to its end and
dead-lettered with its first bytes, as the service does with an oversized record.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import msgspec

from engine.config import EngineConfig
from engine.events import BOOK, TOPICS, split_by_topic
from engine.intake import (
    MAX_DEAD_LETTER_VALUE_BYTES,
    MAX_ORDER_BYTES,
    dead_letter,
    decode_input,
    oversized,
)
from engine.matching import Matcher
from engine.wire import DepthEncoder
from orderbook_platform.contracts import ContractError, Order

DLQ_FILE = "orders.dlq.jsonl"
MAX_KEPT_ERRORS = 1000
# Small chunks (~300 orders) measured ~30% faster than 1 MiB ones: a chunk's events
# stay alive until it is encoded, and fewer of them means less GC promotion and a
# working set that stays in cache, while msgspec's per-call overhead is still small.
CHUNK_BYTES = 1 << 15
# What is left of a clean block's line once all but `{`, `[` and newlines are deleted.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b"{[\n")
_CLEAN_LINE = b"{\n"


@dataclass(frozen=True)
class LineError:
    line: int  # 1-based line number in the input file
    reason: str


@dataclass
class ReplayStats:
    """What a replay did. `seconds` is wall time (reporting only; the core reads no clock)."""

    lines: int = 0
    orders: int = 0
    undecodable: int = 0  # lines dead-lettered because they hold no valid Order
    engine_errors: int = 0  # orders dead-lettered because the matcher raised on them
    errors: list[LineError] = field(default_factory=list)
    messages: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOPICS, 0))
    rejected: int = 0
    seconds: float = 0.0
    state_hash: str = ""

    @property
    def trades(self) -> int:
        return self.messages["trades"]

    @property
    def dead_letters(self) -> int:
        return self.undecodable + self.engine_errors

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds if self.seconds > 0 else 0.0


class _Oversized:
    """A line longer than MAX_ORDER_BYTES: its first bytes and its full length."""

    __slots__ = ("head", "length")

    def __init__(self, head: bytes, length: int) -> None:
        self.head = head
        self.length = length


def _blocks(source: BinaryIO) -> Iterator[bytes | _Oversized]:
    """The input as blocks of whole lines (the last may lack its newline), and every
    line longer than MAX_ORDER_BYTES on its own as an _Oversized, in file order."""
    carry = b""
    while True:
        block = source.read(CHUNK_BYTES)
        if not block:
            if carry:
                yield carry
            return
        data = carry + block if carry else block
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
            carry = data[cut:]
        else:
            carry = data
        if len(carry) > MAX_ORDER_BYTES:
            # The start of a line too long to be an order: keep its head, skip the rest.
            head = carry[:MAX_DEAD_LETTER_VALUE_BYTES]
            length = len(carry)
            while True:
                block = source.read(CHUNK_BYTES)
                end = block.find(b"\n")
                if end < 0:
                    length += len(block)
                    if len(head) < MAX_DEAD_LETTER_VALUE_BYTES:
                        head += block[: MAX_DEAD_LETTER_VALUE_BYTES - len(head)]
                    if not block:
                        yield _Oversized(head, length)
                        return
                    continue
                length += end
                if len(head) < MAX_DEAD_LETTER_VALUE_BYTES:
                    head += block[: min(end, MAX_DEAD_LETTER_VALUE_BYTES - len(head))]
                yield _Oversized(head, length)
                carry = block[end + 1 :]
                break


def _is_clean(text: bytes, orders: int) -> bool:
    """Whether a block that decoded into `orders` Orders is one order per line, each
    passing the service's byte rules (contracts.codec, intake.MAX_ORDER_BYTES).

    Every Order is a JSON object, so its line holds at least one `{`. Reduced to its
    `{`, `[` and newlines, a clean block is `{` + newline per order (the last newline
    may be missing at the end of the file): one line per order, no blank line, and
    nothing nested. One `translate` pass finds that; counting each byte with
    `bytes.count` took three passes and ~5% of the replay.
    """
    shape = text.translate(None, _NOT_STRUCTURE)
    if shape != _CLEAN_LINE * orders and shape != _CLEAN_LINE * (orders - 1) + b"{":
        return False
    if len(text) > MAX_ORDER_BYTES and max(map(len, text.split(b"\n"))) > MAX_ORDER_BYTES:
        return False
    if not text.isascii():
        try:
            text.decode()
        except UnicodeDecodeError:
            return False
    return True


def replay(
    orders_jsonl: Path,
    out_dir: Path,
    config: EngineConfig | None = None,
    *,
    matcher: Matcher | None = None,
) -> ReplayStats:
    """Replay `orders_jsonl` into `out_dir`; pass `matcher` to continue from its state."""
    started = time.perf_counter()
    matcher = matcher or Matcher(config)
    process = matcher.process
    decoder = msgspec.json.Decoder(Order)
    encoder = msgspec.json.Encoder()
    depth_encoder = DepthEncoder()  # `book` messages: the same bytes, mostly from cache
    stats = ReplayStats()
    rejected_before = matcher.rejected
    source_name = orders_jsonl.name
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {topic: open(out_dir / f"{topic}.jsonl", "wb") for topic in TOPICS}  # noqa: SIM115
    letters = open(out_dir / DLQ_FILE, "wb")  # noqa: SIM115

    def dead(line: int, value: bytes, reason: str, length: int | None = None) -> None:
        if len(stats.errors) < MAX_KEPT_ERRORS:
            stats.errors.append(LineError(line, reason))
        letter = dead_letter(source_name, 0, line, None, value, reason, None, length)
        letters.write(encoder.encode(letter) + b"\n")

    try:
        with open(orders_jsonl, "rb") as source:
            for text in _blocks(source):
                if isinstance(text, _Oversized):
                    stats.lines += 1
                    stats.undecodable += 1
                    dead(stats.lines, text.head, oversized(text.length), text.length)
                    continue
                first_line = stats.lines + 1
                try:
                    orders: list[Order] = decoder.decode_lines(text)
                    clean = _is_clean(text, len(orders))
                except Exception:  # whatever the bytes cause; the slow path names the line
                    clean = False
                numbers: list[int] | None = None  # the line of each order; None: one a line
                if clean:
                    stats.lines += len(orders)
                else:
                    orders, numbers = _decode_one_by_one(text, first_line, stats, dead)
                stats.orders += len(orders)
                batch: list = []
                extend = batch.extend
                for order in orders:
                    try:
                        extend(process(order))
                    except Exception as exc:  # a core bug must not stop the replay
                        index = next(i for i, o in enumerate(orders) if o is order)
                        line = first_line + index if numbers is None else numbers[index]
                        stats.orders -= 1
                        stats.engine_errors += 1
                        value = text.split(b"\n")[line - first_line]
                        dead(line, value, f"engine error: {type(exc).__name__}: {exc}")
                # One pass, in C when compiled, keeps each topic's publication order.
                for topic, messages in zip(TOPICS, split_by_topic(batch), strict=True):
                    if not messages:
                        continue
                    if topic == BOOK:
                        encoded = depth_encoder.encode_lines(messages)
                    else:
                        encoded = encoder.encode_lines(messages)
                    files[topic].write(encoded)
                    stats.messages[topic] += len(messages)
    finally:
        letters.close()
        for handle in files.values():
            handle.close()
    stats.rejected = matcher.rejected - rejected_before
    stats.seconds = time.perf_counter() - started
    stats.state_hash = matcher.state_hash()  # reporting, so outside the timed part
    return stats


def _decode_one_by_one(
    text: bytes, first_line: int, stats: ReplayStats, dead
) -> tuple[list[Order], list[int]]:
    """The block's orders and their line numbers, each line decoded as the service
    decodes a record; the others dead-lettered. Counts the block's lines."""
    orders: list[Order] = []
    numbers: list[int] = []
    lines = text.split(b"\n")
    if text.endswith(b"\n"):
        lines.pop()  # the empty piece after the final newline
    stats.lines += len(lines)
    for number, line in enumerate(lines, first_line):
        if not line.strip():
            continue
        try:
            orders.append(decode_input(line))
        except ContractError as exc:
            stats.undecodable += 1
            dead(number, line, exc.reason)
            continue
        numbers.append(number)
    return orders, numbers
