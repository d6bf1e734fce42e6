"""Materialisation metadata of an ingestion: rows, offsets, bytes, path and a preview."""

from __future__ import annotations

from typing import Any

import dagster as dg

from dagster_defs.ingestion.spark_kafka import HourWritten


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
        "rows": dg.MetadataValue.int(sum(h.rows for h in hours)),
        "bytes": dg.MetadataValue.int(sum(h.bytes for h in hours)),
        "offset_range": dg.MetadataValue.text(last.offset_range),
        "path": dg.MetadataValue.path(last.uri),
        "kafka_topic": dg.MetadataValue.text(last.topic),
        "preview": dg.MetadataValue.md(markdown_table(last.preview)),
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
