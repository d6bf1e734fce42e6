"""Any bytes on `orders`: the hour is still ingested, checked and analysed, and every
malformed record is a row of the lake with its coordinates, reported by the checks.

On a broker of its own (`own_broker`): other tests read the session stack's `orders`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from market_data import build_hour, ns, past_hour, publish
from test_platform_end_to_end import assert_matches_independent_expectations

from dagster_defs.analytics.assets import analytics_assets, chart_path
from dagster_defs.analytics.compute import vwap_summary
from dagster_defs.ingestion.assets import ingest_kafka_topics
from dagster_defs.io_manager import read_partition
from dagster_defs.lake import analytics_path, partition_path, raw_path
from dagster_defs.partitions import partition_key_for
from dagster_defs.quality.checks import all_checks
from dagster_defs.run_hour import HourSummary, resources_for
from orderbook_platform.config import Settings
from orderbook_platform.kafka.clients import producer

pytestmark = pytest.mark.integration

HOSTILE: dict[str, bytes | None] = {
    "not JSON": b"{this is not json",
    "invalid UTF-8": b'{"order_id":"\xff\xfe","order_type":"limit","symbol":"DPM"}',
    "deep nesting": b'{"order_id":' + b"[" * 5000 + b"]" * 5000 + b"}",
    "quantity beyond 64 bits": (
        b'{"order_id":"huge","order_type":"limit","price":100.0,'
        b'"quantity":1000000000000000000000000000000,"symbol":"DPM"}'
    ),
    "no value": None,
}


def test_malformed_orders_are_kept_with_coordinates_reported_and_the_analytics_run(
    own_broker: Settings, tmp_path: Path
) -> None:
    settings = own_broker
    # Later than the hours whose records test_data_lifetime deletes on the same broker: a
    # never-ingested hour older than the first record left would be refused, rightly.
    market = build_hour(past_hour(2), symbols=("DPM",), seed=13)
    publish(settings, market)
    coordinates: dict[tuple[int, int], str] = {}
    writer = producer(settings.kafka)
    moment = ns(market.hour + timedelta(minutes=20)) // 1_000_000
    for name, value in HOSTILE.items():

        def delivered(error, message, name=name) -> None:
            assert error is None, error
            coordinates[(message.partition(), message.offset())] = name

        writer.produce("orders", key=b"DPM", value=value, timestamp=moment, on_delivery=delivered)
    assert writer.flush(30) == 0
    assert len(coordinates) == len(HOSTILE)

    key = partition_key_for(market.hour)
    resources = resources_for(settings, str(tmp_path / "lake"))
    result = dg.materialize(
        [ingest_kafka_topics, *analytics_assets, *all_checks],
        partition_key=key,
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    checks = {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e
        for e in result.get_asset_check_evaluations()
    }
    assert result.success
    assert all(e.passed for e in checks.values()), {k: e.metadata for k, e in checks.items()}

    for name in ("raw_orders:matches_topic", "raw_orders:schema"):
        metadata = checks[name].metadata
        assert metadata["malformed_records"].value == len(HOSTILE), name
        reported = {
            (case["partition"], case["offset"]) for case in metadata["malformed_cases"].value
        }
        assert reported == set(coordinates), name

    # Every hostile record is a row of the lake, with its coordinates and original bytes.
    lake = resources["lake"].lake()
    orders = lake.read_parquet(partition_path(raw_path("orders"), market.hour))
    assert orders is not None
    bad = orders.filter(pl.col("kafka_value_error").is_not_null())
    rows = {(r["kafka_partition"], r["kafka_offset"]): r for r in bad.iter_rows(named=True)}
    assert set(rows) == set(coordinates)
    for where, name in coordinates.items():
        assert rows[where]["kafka_value"] == HOSTILE[name], name
        assert rows[where]["kafka_topic"] == "orders"
    assert orders.height == len(market.orders) + len(HOSTILE)

    # The hour's analytics ran on the well-formed records, as if the others were not there.
    assert lake.read_bytes(chart_path(market.hour))
    summary = HourSummary(
        key, lake.root, result.success,
        checks={k: e.passed for k, e in checks.items()},
        ohlc=read_partition(lake, analytics_path("ohlc_1m"), key),
        vwap=vwap_summary(read_partition(lake, analytics_path("vwap"), key)),
        fill_rate=read_partition(lake, analytics_path("fill_rate"), key),
        market_quality=read_partition(lake, analytics_path("market_quality"), key),
        chart=lake.uri(chart_path(market.hour)),
    )  # fmt: skip
    assert_matches_independent_expectations(summary, market)
