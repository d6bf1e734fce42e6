"""Fuzzing the trust boundary: any record value ends as an order's events or a dead letter.

Hypothesis draws raw bytes, and orders of the right shape whose fields hold hostile
values (huge ints, NaN and infinities, deep nesting, invalid UTF-8 and surrogates
inside strings, wrong types). Properties:

- `decode_input` returns an Order or raises ContractError, nothing else;
- the matcher, given any decoded order, returns events and never raises, and every
  event is a valid contract message whose integers fit the lake's int64 columns;
- recovery's replay and the file replay treat every value as the live loop does
  (tests/engine/poison.py `through_live_path`): the same books, outputs and dead letters.
"""

from __future__ import annotations

import base64
import contextlib
import json
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import events as ev
from engine import replay as replay_module
from engine.events import TOPICS, topic_of
from engine.intake import decode_input
from engine.matching import Matcher
from engine.recovery import replay_orders
from engine.replay import replay
from orderbook_platform.contracts import (
    BookDepth,
    ContractError,
    Order,
    OrderEvent,
    Price,
    Trade,
    decode,
    decode_dead_letter,
    encode,
)
from tests.engine.poison import DEAD_LETTER, poison_orders, through_live_path

pytestmark = pytest.mark.unit

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Streams of records: fewer examples, each is up to 25 orders through three paths.
FUZZ_STREAMS = settings(FUZZ, max_examples=80)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Raw(bytes):
    """Bytes spliced into the JSON text as they are."""


def to_json(value: object) -> bytes:
    """JSON text of `value`, with Raw parts verbatim and strings UTF-8 encoded with
    surrogates kept (so a surrogate becomes invalid UTF-8, as a careless producer sends)."""
    if isinstance(value, Raw):
        return bytes(value)
    if isinstance(value, dict):
        items = (to_json(str(k)) + b":" + to_json(v) for k, v in value.items())
        return b"{" + b",".join(items) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(to_json(v) for v in value) + b"]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(value).encode()  # floats: NaN/Infinity come out as invalid JSON


surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
hostile_text = st.text(st.characters() | surrogates, max_size=12)
invalid_utf8_string = st.binary(min_size=1, max_size=8).map(
    lambda b: Raw(b'"' + b.replace(b'"', b"q").replace(b"\\", b"q") + b'"')
)
escaped_surrogate = st.sampled_from(
    [Raw(b'"\\ud800"'), Raw(b'"\\udfff"'), Raw(b'"\\udc00\\ud800"'), Raw(b'"\\ud83d\\ude00"')]
)
# Up to past msgspec's own recursion limit (~1000 levels, less the caller's stack).
nesting = st.integers(1, 3000).map(lambda d: Raw(b"[" * d + b"]" * d)) | st.integers(1, 3000).map(
    lambda d: Raw(b'{"a":' * d + b"1" + b"}" * d)
)
huge_ints = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from(
        [0, 10**6, 10**6 + 1, -(10**6), -(10**6) - 1, INT64_MAX, 2**63, INT64_MIN, 2**64, 10**30]
    ),
    st.integers(1, 5000).map(lambda digits: Raw(b"9" * digits)),
)
odd_floats = st.floats() | st.sampled_from([1e30, -1e30, 1e300, 5e-324, -0.0, 1e6, 1e6 + 1])
any_json = st.recursive(
    st.none() | st.booleans() | huge_ints | odd_floats | hostile_text,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
hostile_value = st.one_of(
    any_json, invalid_utf8_string, escaped_surrogate, nesting, huge_ints, odd_floats, hostile_text
)

FIELDS = {
    "order_id": st.sampled_from(["a", "b", "c", ""]),
    "order_type": st.sampled_from(["limit", "market", "cancel", "modify", "stop"]),
    "price": st.sampled_from([99.0, 99.5, 100.0, 100.5, 101.0, 100.001, None]),
    "quantity": st.integers(-5, 5) | st.sampled_from([2.0, -3.0, 1.5, None]),
    "time": st.integers(0, 10**18),
    "symbol": st.sampled_from(["AAA", "BBB", "", None]),
    "trader_id": st.sampled_from(["T1", "T2", None]),
    "time_in_force": st.sampled_from(["GTC", "IOC", "FOK", "DAY", None]),
    "post_only": st.booleans(),
}


@st.composite
def order_values(draw) -> bytes:
    """One order-shaped record: plausible fields but for one or two hostile ones, some
    left out, maybe an unknown field (which the decoder skips without reading), in any
    order."""
    hostile = set(draw(st.lists(st.sampled_from([*FIELDS, "unknown"]), min_size=1, max_size=2)))
    items: list[tuple[str, object]] = []
    for name, plausible in FIELDS.items():
        if name in hostile:
            items.append((name, draw(hostile_value)))
        elif draw(st.integers(0, 9)):
            items.append((name, draw(plausible)))
    if "unknown" in hostile:
        key = draw(st.sampled_from(["x", "note", "\udcff", "é"]))
        items.insert(draw(st.integers(0, len(items))), (key, draw(hostile_value)))
    return to_json(dict(items))


@st.composite
def mutated_values(draw) -> bytes:
    """A plausible order's JSON with a few bytes overwritten or inserted somewhere."""
    text = to_json({name: draw(plausible) for name, plausible in FIELDS.items()})
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 2))
        text = text[:at] + draw(st.binary(min_size=1, max_size=4)) + text[at + cut :]
    return text


raw_values = st.binary(max_size=300) | mutated_values()
record_values = st.one_of(
    order_values(),
    order_values(),
    order_values(),
    raw_values,
    st.sampled_from([p.value for p in poison_orders("AAA")]),
)


# ------------------------------------------------------------------------- decoding


@FUZZ
@given(raw_values)
def test_decode_input_raises_only_contract_errors_for_any_bytes(value: bytes) -> None:
    with contextlib.suppress(ContractError):
        assert isinstance(decode_input(value), Order)


@FUZZ
@given(order_values())
def test_decode_input_raises_only_contract_errors_for_hostile_orders(value: bytes) -> None:
    with contextlib.suppress(ContractError):
        assert isinstance(decode_input(value), Order)


@FUZZ
@given(hostile_value)
def test_every_message_type_decodes_or_raises_the_contract_error(value: object) -> None:
    # In a field every message has, and in one none has (the decoder skips it unread).
    for text in (to_json({"symbol": value}), to_json({"zz": value, "symbol": "S"})):
        for message_type in (Order, Trade, Price, BookDepth, OrderEvent):
            with contextlib.suppress(ContractError):
                decode(text, message_type)


# ------------------------------------------------------------------------- the matcher


def assert_fits_the_lake(message: object) -> None:
    """A valid contract message (it decodes back) whose ints fit int64."""
    encoded = encode(message)
    assert decode(encoded, type(message)) == message
    for value in json.loads(encoded).values():
        if isinstance(value, int) and not isinstance(value, bool):
            assert INT64_MIN <= value <= INT64_MAX, message
    if isinstance(message, (Trade, OrderEvent)) and message.time is not None:
        assert 0 <= message.time <= INT64_MAX


@FUZZ_STREAMS
@given(st.lists(record_values, min_size=1, max_size=25))
def test_the_matcher_answers_every_decoded_order_with_valid_events(values: list[bytes]) -> None:
    matcher = Matcher()
    for value in values:
        try:
            order = decode_input(value)
        except ContractError:
            continue
        events = matcher.process(order)  # must not raise
        assert events
        first = events[0]
        assert isinstance(first, OrderEvent) and first.order_id == order.order_id
        if first.event == "rejected":
            assert len(events) == 1 and first.reason in ev.REJECT_REASONS
        for message in events:
            assert_fits_the_lake(message)


# ------------------------------------------------------------------------- replays


def file_safe(values: list[bytes]) -> list[bytes]:
    """Values that are one line each in a file: no newline, not blank (the file replay
    skips blank lines, which a record cannot be)."""
    lines = [value.replace(b"\n", b" ") for value in values]
    return [line if line.strip() else b"{" for line in lines]


@FUZZ_STREAMS
@given(st.lists(record_values, min_size=1, max_size=25), st.sampled_from([64, 1 << 15]))
def test_recovery_and_file_replays_treat_every_value_as_the_live_loop(
    values: list[bytes], chunk_bytes: int
) -> None:
    values = file_safe(values)
    live = Matcher()
    outcomes = through_live_path(live, values)

    rebuilt = Matcher()
    replay_orders(rebuilt, list(enumerate(values)), {})
    assert rebuilt.state_hash() == live.state_hash()

    expected = dict.fromkeys(TOPICS, b"")
    for kind, result in outcomes:
        if kind == "events":
            for message in result:
                expected[topic_of(message)] += encode(message) + b"\n"
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "orders.jsonl"
        source.write_bytes(b"\n".join(values) + b"\n")
        with mock.patch.object(replay_module, "CHUNK_BYTES", chunk_bytes):
            stats = replay(source, Path(scratch) / "out")
        for topic in TOPICS:
            assert (Path(scratch) / "out" / f"{topic}.jsonl").read_bytes() == expected[topic]
        letters = [
            decode_dead_letter(line)
            for line in (Path(scratch) / "out" / "orders.dlq.jsonl").read_bytes().splitlines()
        ]
    assert stats.state_hash == live.state_hash()
    dead = [
        (i + 1, values[i], reason)
        for i, (kind, reason) in enumerate(outcomes)
        if kind == DEAD_LETTER
    ]
    assert [(d.offset, base64.b64decode(d.value_base64), d.error) for d in letters] == dead
    assert {(d.topic, d.partition) for d in letters} <= {("orders.jsonl", 0)}
