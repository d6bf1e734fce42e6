"""engine.wire.DepthEncoder: byte for byte `contracts.encode`, whatever its cache holds."""

from __future__ import annotations

import math
import random
import threading

import msgspec
import pytest

from engine import native
from engine.config import EngineConfig
from engine.events import BOOK, key_of, topic_of
from engine.intake import decode_input
from engine.matching import Matcher
from engine.replay import replay
from engine.service import EngineService, PartitionState
from engine.service_config import ServiceConfig
from engine.wire import DEFAULT_MAX_SYMBOLS, DepthEncoder, thread_encoder
from orderbook_platform.config import Settings
from orderbook_platform.contracts import BookDepth, BookLevel, encode
from tests.engine.test_differential import random_stream

pytestmark = pytest.mark.unit

ODD_FLOATS = (
    1e-05,
    123456.78,
    0.1 + 0.2,
    1e16,
    1.5e300,
    5e-324,
    0.0,
    -0.0,
    -12.5,
    100.0,
    99.99,
    math.inf,
    math.nan,
)


def _level(rng: random.Random) -> BookLevel:
    price = rng.choice(ODD_FLOATS) if rng.random() < 0.3 else rng.randint(1, 2_000_000) / 100
    quantity = rng.choice((1, rng.randint(1, 10**6), 2**63 + 5))
    return BookLevel(price, quantity, rng.randint(1, 50))


def _next_side(rng: random.Random, side: list[BookLevel], pool: list[BookLevel]) -> list[BookLevel]:
    """The next list of one side: the same object, or an edit of a copy of it."""
    roll = rng.random()
    if roll < 0.25:
        return side  # unchanged: the very same list
    levels = list(side)
    if roll < 0.35:
        return levels  # unchanged levels in a new list
    for _ in range(rng.randint(1, 3)):
        edit = rng.random()
        if edit < 0.3 and levels:  # a level changed: a new object in its place
            levels[rng.randrange(len(levels))] = _level(rng)
        elif edit < 0.5:  # a new level
            levels.insert(rng.randint(0, len(levels)), _level(rng))
        elif edit < 0.7 and levels:  # a level gone, or several (a sweep)
            start = rng.randrange(len(levels))
            del levels[start : start + rng.randint(1, 4)]
        elif edit < 0.8:  # an old object comes back, maybe twice in one list
            levels.insert(rng.randint(0, len(levels)), rng.choice(pool))
        elif edit < 0.85:
            rng.shuffle(levels)
        elif edit < 0.9:
            levels = []
        else:  # another side's list's objects
            levels = rng.sample(pool, min(len(pool), rng.randint(0, 12)))
    del levels[12:]
    return levels


def random_depths(seed: int, count: int, symbols: int = 4) -> list[BookDepth]:
    """BookDepth messages as the core shares them, and then some: shared and reused
    level objects and lists, interleaved symbols, empty sides, odd floats, None
    time and sequence."""
    rng = random.Random(seed)
    names = [f"S{i}" for i in range(symbols)] + ['we"ird\\sym', "ünï"]
    pool = [_level(rng) for _ in range(40)]
    sides = {name: ([], []) for name in names}
    messages = []
    for n in range(count):
        symbol = rng.choice(names)
        bids, asks = sides[symbol]
        bids = _next_side(rng, bids, pool)
        asks = _next_side(rng, asks, pool)
        sides[symbol] = (bids, asks)
        pool.extend(bids[:2])
        time = None if rng.random() < 0.2 else 1_764_064_800_000_000_000 + n
        sequence = None if rng.random() < 0.2 else rng.choice((n, 0, 2**70))
        messages.append(BookDepth(symbol, bids, asks, time, sequence))
        if rng.random() < 0.1:  # the same message again
            messages.append(messages[-1])
    return messages


def _lines(messages: list[BookDepth]) -> bytes:
    return b"".join(encode(message) + b"\n" for message in messages)


def _shared(messages: list[BookDepth]) -> tuple[int, int]:
    """(sides that are the previous side's very list, levels reused from it) per symbol."""
    lists = levels = 0
    last: dict[tuple[str, int], list[BookLevel]] = {}
    for message in messages:
        for index, side in enumerate((message.bids, message.asks)):
            previous = last.get((message.symbol, index))
            if previous is not None:
                lists += side is previous
                ids = {id(level) for level in previous}
                levels += sum(id(level) in ids for level in side)
            last[(message.symbol, index)] = side
    return lists, levels


@pytest.mark.parametrize("cache", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_random_messages_encode_as_contracts_encode(seed: int, cache: bool) -> None:
    messages = random_depths(seed, 3000)
    lists, levels = _shared(messages)
    assert lists > 300 and levels > 3000  # the cache's paths are exercised
    encoder = DepthEncoder(cache=cache)
    rng = random.Random(seed)
    start = 0
    while start < len(messages):
        chunk = messages[start : start + rng.choice((0, 1, 2, 7, 50, 300))]
        start += len(chunk)
        if rng.random() < 0.5:
            assert encoder.encode_lines(chunk) == _lines(chunk)
        else:
            assert [encoder.encode(message) for message in chunk] == list(map(encode, chunk))


def test_encoders_fed_different_subsets_agree() -> None:
    messages = random_depths(7, 2000, symbols=3)
    rng = random.Random(7)
    for _ in range(4):
        encoder = DepthEncoder(max_symbols=rng.choice((1, 2, 100)), cache=True)
        subset = [message for message in messages if rng.random() < 0.4]
        assert encoder.encode_lines(subset) == _lines(subset)


class _MoreDepth(BookDepth, omit_defaults=True):
    venue: str = "X"


def test_unusual_messages_are_left_to_msgspec() -> None:
    level = BookLevel(1.5, 2, 1)
    messages = [
        BookDepth("A", [level], [], 5, 6),
        BookDepth("A", (level,), [level], 5, 6),  # type: ignore[arg-type]
        BookDepth(None, [level], [level]),  # type: ignore[arg-type]
        BookDepth("A", [level], [level], True, 1.5),  # type: ignore[arg-type]
        BookDepth("A", [level, level], [BookLevel(True, 1.0, None)], -1, -(2**80)),  # type: ignore[arg-type]
        BookDepth("", [], []),
        _MoreDepth("A", [level], [level], 5, 6),
        _MoreDepth("A", [level], [level], 5, 6, "Y"),
        BookDepth("A", [{"price": 1.25}, level], [level, [1, 2]]),  # type: ignore[list-item]
        BookDepth("A", [{"price": 1.25}, level], [level, [1, 2]]),  # type: ignore[list-item]
    ]
    encoder = DepthEncoder(cache=True)
    assert [encoder.encode(message) for message in messages] == list(map(encode, messages))
    assert encoder.encode_lines(messages) == _lines(messages)
    assert encoder.encode_lines([]) == b""


def _matcher_depths(seed: int, size: int) -> list[BookDepth]:
    matcher = Matcher(EngineConfig())
    return [
        message
        for order in random_stream(seed, size)
        for message in matcher.process(order)
        if topic_of(message) == BOOK
    ]


@pytest.mark.parametrize("seed", [1, 2])
def test_the_matchers_book_messages_encode_as_contracts_encode(seed: int) -> None:
    messages = _matcher_depths(seed, 8000)
    assert len(messages) > 2000
    assert _shared(messages)[1] > 10 * len(messages)
    for cache in (True, False):
        encoder = DepthEncoder(cache=cache)
        for start in range(0, len(messages), 250):
            chunk = messages[start : start + 250]
            assert encoder.encode_lines(chunk) == _lines(chunk)
        encoder = DepthEncoder(cache=cache)
        assert [encoder.encode(message) for message in messages] == list(map(encode, messages))


def test_replay_writes_book_lines_as_contracts_encode(tmp_path) -> None:
    orders = random_stream(3, 6000)
    source = tmp_path / "orders.jsonl"
    source.write_bytes(msgspec.json.Encoder().encode_lines(orders))
    replay(source, tmp_path / "out", EngineConfig())
    matcher = Matcher(EngineConfig())
    expected = [m for o in orders for m in matcher.process(o) if topic_of(m) == BOOK]
    assert len(expected) > 1000
    assert (tmp_path / "out" / "book.jsonl").read_bytes() == _lines(expected)


def test_the_cache_stays_bounded() -> None:
    encoder = DepthEncoder(max_symbols=8, cache=True)
    rng = random.Random(3)
    for n in range(3000):
        symbol = f"X{rng.randrange(100)}"
        bids = [_level(rng) for _ in range(rng.randint(0, 10))]
        asks = [_level(rng) for _ in range(rng.randint(0, 10))]
        message = BookDepth(symbol, bids, asks, n, n)
        assert encoder.encode(message) == encode(message)
        assert encoder.cached_symbols() <= 8
        assert encoder.cached_levels() <= 8 * 2 * 10
    assert encoder.cached_symbols() > 0
    encoder.clear()
    assert encoder.cached_symbols() == encoder.cached_levels() == 0

    default = DepthEncoder(cache=True)
    level = BookLevel(1.0, 1, 1)
    for n in range(DEFAULT_MAX_SYMBOLS + 500):
        default.encode(BookDepth(f"S{n}", [level], [level]))
        assert default.cached_symbols() <= DEFAULT_MAX_SYMBOLS


def test_thread_encoder_is_one_per_thread() -> None:
    mine = thread_encoder()
    assert thread_encoder() is mine
    theirs: list[DepthEncoder] = []
    thread = threading.Thread(target=lambda: theirs.append(thread_encoder()))
    thread.start()
    thread.join()
    assert theirs and theirs[0] is not mine


class _Record:
    """The part of a confluent_kafka Message that EngineService._apply reads."""

    def __init__(self, partition: int, offset: int, value: bytes) -> None:
        self._partition, self._offset, self._value = partition, offset, value

    def error(self) -> None:
        return None

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value

    def key(self) -> None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_764_064_800_000)


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, int]] = []

    def produce(self, topic: str, value: bytes, key: bytes, partition: int, timestamp: int) -> None:
        self.sent.append((topic, value, key, partition))


def test_the_service_produces_contracts_encode_bytes() -> None:
    service = EngineService(Settings(), ServiceConfig(), EngineConfig())
    producer = _Producer()
    service._producers = [producer]  # type: ignore[list-item]
    streams = {partition: random_stream(20 + partition, 3000) for partition in (0, 1)}
    for orders in streams.values():  # rejects without a symbol: no symbol, key b""
        for index in range(0, len(orders), 300):
            orders[index] = msgspec.structs.replace(orders[index], symbol="")
    for partition in streams:
        service._partitions[partition] = PartitionState(Matcher(EngineConfig()), 0)
    records = [
        _Record(partition, offset, encode(order))
        for offset in range(3000)
        for partition, orders in streams.items()
        for order in orders[offset : offset + 1]
    ]
    for start in range(0, len(records), 500):
        service._apply(records[start : start + 500])  # type: ignore[arg-type]

    expected = []
    references = {partition: Matcher(EngineConfig()) for partition in streams}
    for record in records:
        order = decode_input(record.value())  # as the service sees it
        for message in references[record.partition()].process(order):
            expected.append(
                (topic_of(message), encode(message), key_of(message).encode(), record.partition())
            )
    assert sum(topic == BOOK for topic, *_ in expected) > 1000
    assert sum(key == b"" for _, _, key, _ in expected) == 20
    assert producer.sent == expected


def test_the_cache_is_on_by_default_when_compiled() -> None:
    assert DepthEncoder().cache is (native.mode == native.COMPILED)
    assert thread_encoder().cache is (native.mode == native.COMPILED)
