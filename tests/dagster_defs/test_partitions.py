"""Where the hourly partitions start, and how an older history is reached."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer

from dagster_defs.cli import check_partitioned
from dagster_defs.partitions import hourly_partitions, partitions_start

pytestmark = pytest.mark.unit


def test_the_partitions_start_at_a_recent_day_not_at_the_start_of_the_year() -> None:
    assert partitions_start({}) == datetime(2026, 12, 1, tzinfo=UTC)


def test_the_code_location_starts_its_partitions_where_the_environment_says() -> None:
    # tests/conftest.py sets ORDERBOOK_PARTITIONS_START for the whole test run.
    assert hourly_partitions.get_first_partition_key() == "2025-01-01-00:00"


def test_an_older_start_can_be_chosen_to_backfill_replayed_history() -> None:
    day = partitions_start({"ORDERBOOK_PARTITIONS_START": "2026-01-01"})
    assert day == datetime(2026, 1, 1, tzinfo=UTC)
    hour = partitions_start({"ORDERBOOK_PARTITIONS_START": "2026-01-01-05:00"})
    assert hour == datetime(2026, 1, 1, 5, tzinfo=UTC)


def test_a_start_that_is_not_a_day_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"ORDERBOOK_PARTITIONS_START='January'") as error:
        partitions_start({"ORDERBOOK_PARTITIONS_START": "January"})
    assert "\n" not in str(error.value)


def test_materialising_an_hour_before_the_first_partition_names_the_way_out() -> None:
    with pytest.raises(typer.BadParameter, match="ORDERBOOK_PARTITIONS_START"):
        check_partitioned(datetime(2024, 12, 31, 23, tzinfo=UTC))
    inside = datetime(2025, 1, 1, 0, 30, tzinfo=UTC)
    assert check_partitioned(inside) == inside
