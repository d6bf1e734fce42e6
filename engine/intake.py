"""What the Kafka service accepts from `orders`, in one place for the live loop and replay.

A record becomes an Order or a dead letter, whatever its bytes: the contract's decoder
raises ContractError and nothing else (it also refuses text that is not UTF-8 and
nesting deeper than contracts.codec.MAX_NESTING, see there). Besides that, the
service refuses records above MAX_ORDER_BYTES: a real order is a few hundred bytes,
and a huge one (say a 900 KB order_id) would make outputs larger than the broker
accepts, so every transaction holding them would fail, be aborted and be retried
forever. Recovery's replay and the file replay (engine/replay.py) apply the same
rules, so a rebuilt book is the book the live loop had.
"""

from __future__ import annotations

import base64

from orderbook_platform.contracts import ContractError, DeadLetter, Order, decode_order

MAX_ORDER_BYTES = 64 * 1024
# A dead letter carries the original bytes base64-encoded (4/3 larger); cap them so the
# letter stays well under the broker's default 1 MB message limit.
MAX_DEAD_LETTER_VALUE_BYTES = 256 * 1024


def decode_input(value: bytes | None) -> Order:
    """The Order in a record's value; ContractError (with `.reason`) if there is none."""
    if value is None:
        raise ContractError("Order", "null value (tombstone)")
    if len(value) > MAX_ORDER_BYTES:
        raise ContractError("Order", oversized(len(value)))
    return decode_order(value)


def oversized(length: int) -> str:
    """The reason of a record of `length` > MAX_ORDER_BYTES bytes."""
    return f"{length} bytes exceeds the {MAX_ORDER_BYTES}-byte limit of an order"


def dead_letter(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    reason: str,
    timestamp_ms: int | None,
    value_length: int | None = None,
) -> DeadLetter:
    """A DeadLetter with the original bytes (truncated, and said so, only if enormous).

    `value_length` is the original length when `value` is only its first bytes (the
    file replay does not hold an enormous line whole).
    """
    value = value or b""
    length = len(value) if value_length is None else value_length
    if length > MAX_DEAD_LETTER_VALUE_BYTES or length > len(value):
        value = value[:MAX_DEAD_LETTER_VALUE_BYTES]
        reason = f"{reason} (value truncated to its first {len(value)} of {length} bytes)"
    if key is not None and len(key) > MAX_DEAD_LETTER_VALUE_BYTES:
        key = key[:MAX_DEAD_LETTER_VALUE_BYTES]
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        error=reason,
        value_base64=base64.b64encode(value).decode(),
        key_base64=None if key is None else base64.b64encode(key).decode(),
        timestamp_ms=timestamp_ms,
    )
