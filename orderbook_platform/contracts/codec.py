"""Fast JSON codecs for the contracts (msgspec), with one typed decode error.

Decoding is a trust boundary: whatever the bytes, `decode` returns a message or raises
ContractError, never anything else. msgspec raises more than its DecodeError for some
inputs (UnicodeDecodeError for invalid UTF-8 in a string it reads, RecursionError for
deep nesting, UnicodeEncodeError for a `str` holding a lone surrogate), and whether a
RecursionError happens depends on how deep the caller's own stack already is. So
before msgspec sees the bytes, two rules that are a pure function of the bytes:

- the whole text is UTF-8 (RFC 8259 requires it of JSON exchanged between systems):
  msgspec does not check the strings it skips, so without this a record with invalid
  UTF-8 in an unknown field would decode and one with it in a known field would not;
- arrays and objects nest at most MAX_NESTING levels (the message object itself is
  level 1). No message has more than three; the bound is far below msgspec's own
  recursion limit, so the same bytes decode the same way in the live engine, its
  recovery replay and the file replay.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import TypeVar

import msgspec

from orderbook_platform.contracts.messages import (
    BookDepth,
    DeadLetter,
    Order,
    OrderEvent,
    Price,
    Trade,
)

T = TypeVar("T", bound=msgspec.Struct)

MAX_NESTING = 64

# A JSON string, or an unterminated one up to the end: the trailing `"?` always
# matches, so the scan never backtracks and stays linear on hostile input.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


class ContractError(ValueError):
    """Raised for any input that is not a valid message; `reason` says why."""

    def __init__(self, message_type: str, reason: str) -> None:
        super().__init__(f"invalid {message_type}: {reason}")
        self.message_type = message_type
        self.reason = reason


_encoder = msgspec.json.Encoder()
_decoders: dict[type, msgspec.json.Decoder] = {}


def encode(message: msgspec.Struct) -> bytes:
    """Encode one message as compact JSON bytes (omitting unset optional fields)."""
    return _encoder.encode(message)


def nesting_depth(data: bytes) -> int:
    """How deep arrays and objects nest in JSON text (brackets inside strings do not count).

    Linear in the length of `data`, and a bound for malformed text too: an unterminated
    string runs to the end, an unbalanced bracket counts as it stands.
    """
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(0, max(accumulate(map(_STEP.__getitem__, brackets)), default=0))


def hostile_reason(data: bytes | bytearray | memoryview | str) -> str | None:
    """Why `data` is refused before JSON decoding (see the module docstring), or None."""
    if isinstance(data, str):
        try:
            raw = data.encode()
        except UnicodeEncodeError as exc:
            return f"not UTF-8: {exc.reason} at character {exc.start}"
    else:
        raw = bytes(data)
        if not raw.isascii():
            try:
                raw.decode()
            except UnicodeDecodeError as exc:
                return f"not UTF-8: {exc.reason} at byte {exc.start}"
    # Fast path: fewer brackets than the bound cannot nest deeper than it.
    if raw.count(b"[") + raw.count(b"{") > MAX_NESTING:
        depth = nesting_depth(raw)
        if depth > MAX_NESTING:
            return f"nested {depth} levels deep (at most {MAX_NESTING})"
    return None


def decode(data: bytes | str, message_type: type[T]) -> T:
    """Decode one message; raises ContractError, and only that, for any bad input."""
    decoder = _decoders.get(message_type)
    if decoder is None:
        decoder = _decoders[message_type] = msgspec.json.Decoder(message_type)
    name = message_type.__name__
    reason = hostile_reason(data)
    if reason is not None:
        raise ContractError(name, reason)
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ContractError(name, str(exc)) from None
    except Exception as exc:  # whatever else the bytes can cause; never BaseException
        raise ContractError(name, f"{type(exc).__name__}: {exc}") from None


def decode_order(data: bytes | str) -> Order:
    return decode(data, Order)


def decode_trade(data: bytes | str) -> Trade:
    return decode(data, Trade)


def decode_price(data: bytes | str) -> Price:
    return decode(data, Price)


def decode_book(data: bytes | str) -> BookDepth:
    return decode(data, BookDepth)


def decode_order_event(data: bytes | str) -> OrderEvent:
    return decode(data, OrderEvent)


def decode_dead_letter(data: bytes | str) -> DeadLetter:
    return decode(data, DeadLetter)
