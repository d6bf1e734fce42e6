"""JSON Schemas generated from the message Structs; `schemas/` in the repo holds them."""

from __future__ import annotations

from pathlib import Path

import msgspec

from orderbook_platform.contracts.messages import MESSAGES

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def schema_for(name: str) -> dict:
    schema = msgspec.json.schema(MESSAGES[name])
    return {"$schema": SCHEMA_DRAFT, "$id": f"{name}.schema.json", **schema}


def render(name: str) -> bytes:
    """The committed file's exact bytes: sorted keys, two-space indent, final newline."""
    return (
        msgspec.json.format(msgspec.json.encode(schema_for(name), order="sorted"), indent=2) + b"\n"
    )


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in MESSAGES:
        path = directory / f"{name}.schema.json"
        path.write_bytes(render(name))
        written.append(path)
    return written
