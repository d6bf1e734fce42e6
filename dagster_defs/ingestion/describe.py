"""Materialisation metadata of an ingestion: rows, offsets, bytes, path and a preview."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import dagster as dg

from dagster_defs.ingestion.spark_kafka import HourWritten

ROW_COUNT = "dagster/row_count"
MAX_TEXT = 40


def rounded(value: float) -> float:
    """A preview number a person reads: 4 decimals, or 3 significant digits below 0.001."""
    if value != value or value in (float("inf"), float("-inf")) or value == 0:
        return value
    return round(value, 4) if abs(value) >= 1e-3 else float(f"{value:.3g}")


def _cell(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int | str):
        return value if not isinstance(value, str) or len(value) <= MAX_TEXT else _short(value)
    if isinstance(value, float):
        return rounded(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return _short(value.decode("utf-8", "replace"))
    return _short(str(value))


def _short(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _column_type(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float")):
        if present and all(isinstance(v, kind) for v in present):
            return name
    return "string"


def preview_table(rows: list[dict[str, Any]]) -> dg.TableMetadataValue:
    """Rows as a Dagster table (sortable in the UI), numbers rounded, long text cut."""
    cells = [{k: _cell(v) for k, v in row.items()} for row in rows]
    columns = list(rows[0]) if rows else []
    schema = dg.TableSchema(
        columns=[dg.TableColumn(c, _column_type([r[c] for r in cells])) for c in columns]
    )
    return dg.MetadataValue.table([dg.TableRecord(r) for r in cells], schema=schema)


def markdown_table(rows: list[dict[str, Any]], max_width: int = 40) -> str:
    if not rows:
        return "_no rows_"
    columns = list(rows[0])

    def cell(value: Any) -> str:
        text = str(value).replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def describe_ingestion(hours: list[HourWritten]) -> dict[str, Any]:
    last = hours[-1]
    metadata: dict[str, Any] = {
        ROW_COUNT: dg.MetadataValue.int(sum(h.rows for h in hours)),
        "bytes": dg.MetadataValue.int(sum(h.bytes for h in hours)),
        "offset_range": dg.MetadataValue.text(last.offset_range),
        "path": dg.MetadataValue.path(last.uri),
        "kafka_topic": dg.MetadataValue.text(last.topic),
        "preview": preview_table(last.preview),
    }
    if len(hours) > 1:
        metadata["hours"] = dg.MetadataValue.md(
            markdown_table(
                [
                    {
                        "hour": f"{h.hour:%Y-%m-%d %H:00}",
                        "rows": h.rows,
                        "bytes": h.bytes,
                        "offsets": h.offset_range,
                        "path": h.uri,
                    }
                    for h in hours
                ]
            )
        )
    return metadata
