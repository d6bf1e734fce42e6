"""Hostile `orders` record values and what the engine must make of each.

Not a test module: the hostile-input tests (tests/engine/test_hostile_input.py,
test_fuzz_decoding.py) and the fault-injection suite import it. Every value here once
stopped or corrupted the engine (issue 14) or sits just past a bound it enforces.

The outcome of each value is either DEAD_LETTER (the record goes to `orders.dlq` with its
topic, partition and offset, and nothing else is published for it) or the reason code of
the single `rejected` order event it must produce. The codes are written out here on
purpose rather than imported from the engine: this module is the specification.

`poison_orders(symbol)` builds them for a symbol of the caller's (a reject's event is
keyed by it); POISON_ORDERS and EXPECTED are the same for the symbol "POISON". The
order id of each value that decodes is `poison-<name>`.
"""

from __future__ import annotations

import json
from typing import Final, NamedTuple

DEAD_LETTER: Final = "dead_letter"
# A value longer than this is dead-lettered unread (engine/intake.py MAX_ORDER_BYTES).
MAX_ORDER_BYTES: Final = 64 * 1024


class Poison(NamedTuple):
    name: str
    value: bytes
    expected: str  # DEAD_LETTER or the reason of the `rejected` event


def _order(symbol: str, name: str, **fields: object) -> bytes:
    base: dict[str, object] = {
        "order_id": f"poison-{name}",
        "order_type": "limit",
        "price": 100.0,
        "quantity": 1,
        "time": 1_764_064_800_000_000_000,
        "symbol": symbol,
    }
    base.update(fields)
    return json.dumps(base, separators=(",", ":")).encode()


def _splice(symbol: str, name: str, field: str, raw: bytes) -> bytes:
    """An otherwise valid order whose `field` holds `raw` bytes verbatim."""
    marker = "@@RAW@@"
    return _order(symbol, name, **{field: marker}).replace(f'"{marker}"'.encode(), raw)


def poison_orders(symbol: str = "POISON") -> list[Poison]:
    o, s = _order, _splice
    return [
        # --- bytes the decoder must refuse: each ends in orders.dlq
        Poison("invalid_utf8_order_id", s(symbol, "a", "order_id", b'"\xff\xfe"'), DEAD_LETTER),
        Poison("invalid_utf8_unknown_field", s(symbol, "b", "note", b'"\xc3\x28"'), DEAD_LETTER),
        Poison("invalid_utf8_key", s(symbol, "c", "order_type", b'"limit","\xff":1'), DEAD_LETTER),
        Poison(
            "utf8_encoded_surrogate", s(symbol, "d", "trader_id", b'"\xed\xa0\x80"'), DEAD_LETTER
        ),
        Poison("lone_surrogate_escape", s(symbol, "e", "order_id", b'"\\ud800"'), DEAD_LETTER),
        Poison(
            "reversed_surrogate_pair", s(symbol, "f", "order_id", b'"\\udc00\\ud800"'), DEAD_LETTER
        ),
        Poison(
            "nested_30000_arrays",
            b'{"order_id":"a","x":' + b"[" * 30_000 + b"]" * 30_000 + b"}",
            DEAD_LETTER,
        ),
        Poison(
            "nested_10000_objects",
            b'{"order_id":"a","order_type":"limit","x":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_001,
            DEAD_LETTER,
        ),
        Poison(
            "nested_65_levels",
            s(symbol, "nested_65_levels", "x", b"[" * 64 + b"]" * 64),
            DEAD_LETTER,
        ),
        Poison(
            "nested_in_quantity", s(symbol, "g", "quantity", b"[" * 5000 + b"]" * 5000), DEAD_LETTER
        ),
        Poison("oversized", o(symbol, "oversized", order_id="x" * MAX_ORDER_BYTES), DEAD_LETTER),
        Poison("integer_of_5000_digits", s(symbol, "h", "quantity", b"9" * 5000), DEAD_LETTER),
        Poison("number_beyond_double", s(symbol, "i", "price", b"1e400"), DEAD_LETTER),
        Poison("nan_literal", s(symbol, "j", "price", b"NaN"), DEAD_LETTER),
        Poison("nan_string", o(symbol, "k", price="NaN"), DEAD_LETTER),
        Poison("float_time", o(symbol, "l", time=1.5), DEAD_LETTER),
        Poison("string_quantity", o(symbol, "m", quantity="1"), DEAD_LETTER),
        Poison("nul_in_string", s(symbol, "n", "order_id", b'"a\x00b"'), DEAD_LETTER),
        Poison("byte_order_mark", b"\xef\xbb\xbf" + o(symbol, "o"), DEAD_LETTER),
        Poison("trailing_garbage", o(symbol, "p") + b"}", DEAD_LETTER),
        Poison("binary_garbage", bytes(range(256)), DEAD_LETTER),
        Poison("empty", b"", DEAD_LETTER),
        Poison("json_array", b"[1,2]", DEAD_LETTER),
        # --- orders that decode but hold numbers the outputs cannot represent: rejects
        Poison(
            "quantity_1e30", o(symbol, "quantity_1e30", quantity=10**30), "quantity_out_of_range"
        ),
        Poison(
            "quantity_float_1e30",
            o(symbol, "quantity_float_1e30", quantity=1e30),
            "quantity_out_of_range",
        ),
        Poison(
            "sell_quantity_2_pow_63",
            o(symbol, "sell_quantity_2_pow_63", quantity=-(2**63)),
            "quantity_out_of_range",
        ),
        Poison(
            "market_quantity_1e30",
            o(symbol, "market_quantity_1e30", order_type="market", price=None, quantity=10**30),
            "quantity_out_of_range",
        ),
        Poison("time_1e30", o(symbol, "time_1e30", time=10**30), "time_out_of_range"),
        Poison("time_negative", o(symbol, "time_negative", time=-1), "time_out_of_range"),
        Poison("time_2_pow_63", o(symbol, "time_2_pow_63", time=2**63), "time_out_of_range"),
        Poison(
            "cancel_time_1e30",
            o(symbol, "cancel_time_1e30", order_type="cancel", time=10**30),
            "time_out_of_range",
        ),
        Poison("price_1e300", o(symbol, "price_1e300", price=1e300), "price_out_of_range"),
        # ... or a string the engine would keep in memory for as long as the order rests
        Poison(
            "trader_id_of_60000_chars",
            o(symbol, "trader_id_of_60000_chars", trader_id="t" * 60_000),
            "invalid_trader_id",
        ),
    ]


POISON_ORDERS: list[tuple[str, bytes]] = [(p.name, p.value) for p in poison_orders()]
EXPECTED: dict[str, str] = {p.name: p.expected for p in poison_orders()}


def through_live_path(matcher, values: list[bytes | None]) -> list[tuple[str, object]]:
    """What the Kafka service makes of each record value, in order (engine/service.py):
    `decode_input`, then `matcher.process`; a ContractError or an exception of the
    matcher makes a dead letter. Returns ("dead_letter", reason) or ("events", [...])
    per value. The reference the replays are held to.
    """
    from engine.intake import decode_input
    from orderbook_platform.contracts import ContractError

    outcomes: list[tuple[str, object]] = []
    for value in values:
        try:
            order = decode_input(value)
        except ContractError as exc:
            outcomes.append((DEAD_LETTER, exc.reason))
            continue
        try:
            outcomes.append(("events", matcher.process(order)))
        except Exception as exc:  # the service dead-letters it as an engine error
            outcomes.append((DEAD_LETTER, f"engine error: {type(exc).__name__}: {exc}"))
    return outcomes
