"""The pure rules behind data lifetime and hostile records: which offsets an ingestion
would lose, how a record's ids are read from any bytes, and the required-field mirror."""

from __future__ import annotations

import typing
from datetime import UTC, datetime

import msgspec
import polars as pl
import pytest

from dagster_defs.ingestion.lifetime import (
    Manifest,
    ManifestPartition,
    PartitionState,
    build_manifest,
    find_gaps,
)
from dagster_defs.ingestion.spark_kafka import REQUIRED_FIELDS
from dagster_defs.quality.reconcile import ID_FIELDS, record_ids
from orderbook_platform.contracts.messages import BookDepth, Order, OrderEvent, Price, Trade

pytestmark = pytest.mark.unit

HOUR = datetime(2026, 11, 23, 9, tzinfo=UTC)


def held(*rows: tuple[int, int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"kafka_partition": [p for p, _ in rows], "kafka_offset": [o for _, o in rows]},
        schema={"kafka_partition": pl.Int32, "kafka_offset": pl.Int64},
    )


def state(log_start: int, end: int, hour_from: int, partition: int = 0) -> dict:
    return {partition: PartitionState(partition, log_start, end, hour_from)}


def manifest(scan_from: int, scan_to: int, partition: int = 0) -> Manifest:
    return Manifest(
        "trades",
        "2026-11-23T09:00Z",
        [ManifestPartition(partition, scan_from, scan_to, 0, 1, 0, 0)],
    )


def test_nothing_deleted_means_no_gap() -> None:
    assert find_gaps("trades", HOUR, state(0, 100, 10), held((0, 12)), manifest(10, 100)) == []


def test_rows_of_the_hour_below_the_log_start_are_named_with_their_range() -> None:
    gaps = find_gaps("trades", HOUR, state(15, 100, 15), held((0, 11), (0, 12), (0, 20)), None)
    assert [(g.partition, g.first, g.last) for g in gaps] == [(0, 11, 14)]
    assert "holds 2 record(s)" in gaps[0].reason
    assert "trades partition 0 offsets 11..14" in str(gaps[0])


def test_records_appended_after_the_last_ingestion_and_deleted_are_named() -> None:
    gaps = find_gaps("trades", HOUR, state(120, 150, 120), held((1, 30)), manifest(10, 100))
    assert [(g.first, g.last) for g in gaps] == [(100, 119)]


def test_a_deletion_below_what_the_last_ingestion_covered_is_not_a_gap() -> None:
    # The hour's records start at 10 (the lookup said so then); 0..9 are earlier hours'.
    assert find_gaps("trades", HOUR, state(10, 100, 10), held((0, 30)), manifest(10, 100)) == []


def test_a_recreated_topic_whose_log_ends_before_the_last_ingestion_is_refused() -> None:
    gaps = find_gaps("trades", HOUR, state(0, 40, 5), held((0, 30)), manifest(10, 100))
    assert [(g.partition, g.first, g.last) for g in gaps] == [(0, 40, 99)]
    assert "recreated" in gaps[0].reason
    # A partition the manifest knew that no longer exists at all.
    gone = find_gaps("trades", HOUR, state(0, 200, 5), None, manifest(10, 100, partition=3))
    assert [(g.partition, g.first, g.last) for g in gone] == [(3, 0, 99)]


def test_a_never_ingested_hour_whose_first_record_is_the_log_start_is_refused() -> None:
    gaps = find_gaps("orders", HOUR, state(4, 40, 4, partition=2), None, None)
    assert [(g.topic, g.partition, g.first, g.last) for g in gaps] == [("orders", 2, 0, 3)]
    assert "ever ingested" in gaps[0].reason


def test_a_never_ingested_hour_after_retained_older_records_is_not_refused() -> None:
    assert find_gaps("orders", HOUR, state(4, 40, 9), None, None) == []


def test_an_emptied_partition_refuses_a_never_ingested_hour() -> None:
    gaps = find_gaps("orders", HOUR, state(40, 40, -1), None, None)
    assert [(g.first, g.last) for g in gaps] == [(0, 39)]


def test_the_manifest_records_the_scan_and_round_trips() -> None:
    states = {0: PartitionState(0, 0, 50, 7), 1: PartitionState(1, 0, 20, -1)}
    built = build_manifest("trades", HOUR, states, [(0, 7, 30, 12)])
    again = Manifest.from_json(built.to_json())
    assert again == built
    assert again.partition(0) == ManifestPartition(0, 7, 50, 0, 12, 7, 30)
    # No record at or after the hour then: the hour's records can only come after the end.
    assert again.partition(1) == ManifestPartition(1, 20, 20, 0, 0, None, None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "no value"),
        (b"{not json", "not valid JSON"),
        (b'{"order_id":"\xff","order_type":"limit"}', "not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"order_id": 7, "order_type": "limit"}', "missing or not strings"),
    ],
)
def test_record_ids_accepts_any_bytes_and_says_why(value: bytes | None, reason: str) -> None:
    found = record_ids(value, ("order_id", "order_type"))
    assert isinstance(found, str) and reason in found


def test_record_ids_of_a_good_record() -> None:
    assert record_ids(b'{"order_id":"a","order_type":"limit"}', ("order_id", "order_type")) == (
        "a",
        "limit",
    )


def _required(struct: type[msgspec.Struct]) -> set[str]:
    def nullable(kind: object) -> bool:
        while typing.get_origin(kind) is typing.Annotated:
            kind = typing.get_args(kind)[0]
        return type(None) in typing.get_args(kind)

    return {f.name for f in msgspec.structs.fields(struct) if f.required and not nullable(f.type)}


def test_required_fields_mirror_the_contracts_plus_the_lake_ids() -> None:
    contracts = {
        "orders": Order,
        "trades": Trade,
        "prices": Price,
        "book": BookDepth,
        "order_events": OrderEvent,
    }
    for topic, struct in contracts.items():
        expected = _required(struct) | set(ID_FIELDS.get(topic, ()))
        assert set(REQUIRED_FIELDS[topic]) == expected, topic
