"""The `dagster/column_schema` of each table asset, derived from what already defines it.

Column names, types, nullability and uniqueness come from the pandera schema that checks
the table; descriptions from the pandera column, else from the message contract's field
(`orderbook_platform.contracts`, read through msgspec's JSON schema), else from the few
names every topic shares. Nothing here restates a column list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import msgspec
import pandera.polars as pa

from orderbook_platform.contracts import messages

# Dagster's reserved metadata keys, shown in the asset page's column list and overview.
COLUMN_SCHEMA = "dagster/column_schema"
ROW_COUNT = "dagster/row_count"

# Fields several contracts carry without a description of their own.
SHARED_FIELDS = {
    "symbol": "Instrument symbol, e.g. XYZ.",
    "trader_id": "Id of the trader that sent the order (`<strategy>-<n>` for the bots).",
    "time": "Epoch nanoseconds, UTC, of the message.",
    "sequence": "Per-symbol output sequence number of the engine.",
    "order_id": "Id of the order.",
    "order_type": "Type of the order: limit, market, cancel or modify.",
    "maker_trader_id": "Trader of the resting (maker) order.",
    "taker_trader_id": "Trader of the incoming (taker) order.",
    "mid_price": "(best bid + best ask) / 2; null while a side of the book is empty.",
    "best_bid": "Best bid price.",
    "best_ask": "Best ask price.",
    "bid_size": "Lots at the best bid.",
    "ask_size": "Lots at the best ask.",
    "bids": "Bid levels (price, quantity, orders), best first.",
    "asks": "Ask levels (price, quantity, orders), best first.",
    "side": "Buy or Sell.",
    "price": "Price of the order.",
}

TOPIC_CONTRACTS: dict[str, type[msgspec.Struct]] = {
    "orders": messages.Order,
    "trades": messages.Trade,
    "prices": messages.Price,
    "book": messages.BookDepth,
    "order_events": messages.OrderEvent,
}


def _description(node: Any) -> str | None:
    """A JSON-schema node's description; for `X | None` fields, the one of the X branch."""
    if not isinstance(node, Mapping):
        return None
    if node.get("description"):
        return str(node["description"])
    for branch in node.get("anyOf", []):
        if found := _description(branch):
            return found
    return None


def contract_descriptions(contract: type[msgspec.Struct]) -> dict[str, str]:
    schema = msgspec.json.schema(contract)
    properties = schema["$defs"][contract.__name__]["properties"]
    found = {name: _description(node) for name, node in properties.items()}
    return {name: text for name, text in found.items() if text}


def _type_name(column: pa.Column) -> str:
    # pandera keeps no dtype for the nested book levels (list of struct).
    return (
        str(column.dtype) if column.dtype is not None else "list<struct<price, quantity, orders>>"
    )


def table_schema(
    schema: pa.DataFrameSchema, contract: type[msgspec.Struct] | None = None
) -> dg.TableSchema:
    from_contract = contract_descriptions(contract) if contract else {}
    unique = set(schema.unique or [])
    columns = []
    for name, column in schema.columns.items():
        description = column.description or from_contract.get(name) or SHARED_FIELDS.get(name)
        constraints = dg.TableColumnConstraints(
            nullable=bool(column.nullable),
            unique=bool(column.unique) or unique == {name},
        )
        columns.append(
            dg.TableColumn(
                name, _type_name(column), description=description, constraints=constraints
            )
        )
    return dg.TableSchema(columns=columns)


def column_schema_metadata(
    schema: pa.DataFrameSchema, contract: type[msgspec.Struct] | None = None
) -> dict[str, Any]:
    return {COLUMN_SCHEMA: table_schema(schema, contract)}


def raw_table_schema(topic: str) -> tuple[pa.DataFrameSchema, type[msgspec.Struct]]:
    """The pandera schema of a raw table and its topic's contract. The tick size only shapes
    value checks, not columns, so any tick will do here."""
    from dagster_defs.quality import schemas

    def tick(_symbol: str) -> float:
        return 0.01

    factories = {
        "orders": lambda: schemas.raw_orders_schema(tick),
        "trades": lambda: schemas.raw_trades_schema(tick),
        "prices": lambda: schemas.raw_prices_schema(tick),
        "book": schemas.raw_book_schema,
        "order_events": schemas.raw_order_events_schema,
    }
    return factories[topic](), TOPIC_CONTRACTS[topic]
