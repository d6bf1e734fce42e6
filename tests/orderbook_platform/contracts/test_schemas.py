"""The committed JSON Schemas match the code, and validate real messages both ways."""

import json
from pathlib import Path

import jsonschema
import pytest

from orderbook_platform.contracts import (
    MESSAGES,
    BookDepth,
    BookLevel,
    DeadLetter,
    Order,
    OrderEvent,
    Price,
    Trade,
    encode,
)
from orderbook_platform.contracts.schemas import render

pytestmark = pytest.mark.unit

SCHEMAS = Path(__file__).parents[3] / "schemas"

EXAMPLES = {
    "order": Order("a", "limit", 100.25, 10, 1, "XYZ", "t1", "IOC", True),
    "trade": Trade("m", "t", 5, 100.25, "Buy", "partial", "t-1", "XYZ", 1, 2),
    "price": Price(100.255, 100.25, 100.26, 3, 4, "XYZ", 1, 2),
    "book": BookDepth("XYZ", [BookLevel(100.25, 3, 1)], [BookLevel(100.26, 4, 2)], 1, 2),
    "order_event": OrderEvent("o", "rejected", reason="duplicate_order_id"),
    "dead_letter": DeadLetter("orders", 0, 7, "malformed", "eA=="),
}


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_committed_schema_is_what_the_code_generates(name):
    committed = SCHEMAS / f"{name}.schema.json"
    assert committed.exists(), "run `uv run orderbook schemas write`"
    assert committed.read_bytes() == render(name), (
        f"{committed} drifted from the code: run `uv run orderbook schemas write`"
    )


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_encoded_messages_validate_against_their_schema(name):
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.validate(json.loads(encode(EXAMPLES[name])), schema)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("order", {"order_type": "limit"}),
        ("order", {"order_id": "a", "order_type": "limit", "price": "1"}),
        ("trade", {"left_order_id": "a", "right_order_id": "b", "quantity": 1, "price": 1.0,
                   "action": "Hold", "status": "filled"}),
        ("trade", {"left_order_id": "a", "right_order_id": "b", "quantity": 0, "price": 1.0,
                   "action": "Buy", "status": "filled"}),
        ("price", {"best_bid": 1.0}),
        ("order_event", {"order_id": "o", "event": "teleported"}),
    ],
)  # fmt: skip
def test_schemas_reject_what_the_decoders_reject(name, bad):
    from orderbook_platform.contracts import ContractError, decode

    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    with pytest.raises(ContractError):
        decode(json.dumps(bad).encode(), MESSAGES[name])
