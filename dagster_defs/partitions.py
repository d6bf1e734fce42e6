"""Hourly UTC partitions: one partition per hour of market data, keyed `YYYY-MM-DD-HH:00`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import dagster as dg

PARTITION_FORMAT = "%Y-%m-%d-%H:%M"

# The first hour the UI offers, so a live deployment does not list thousands of empty
# hours. To backfill older replayed history (e.g. the feeder's 2026-01-01 timestamps, or
# history a year back), start the code location with ORDERBOOK_PARTITIONS_START set to
# that day.
PARTITIONS_START_ENV = "ORDERBOOK_PARTITIONS_START"
DEFAULT_PARTITIONS_START = "2026-12-01"


def partitions_start(environ: Mapping[str, str] | None = None) -> datetime:
    """The first partition's hour: `YYYY-MM-DD` or `YYYY-MM-DD-HH:MM` (UTC)."""
    text = (os.environ if environ is None else environ).get(PARTITIONS_START_ENV, "").strip()
    text = text or DEFAULT_PARTITIONS_START
    for pattern in (PARTITION_FORMAT, "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(
        f"{PARTITIONS_START_ENV}={text!r}: expected a UTC day YYYY-MM-DD or hour YYYY-MM-DD-HH:00"
    )


# The current, still-filling hour is a partition too (end_offset=1) so `orderbook run` can
# materialise it against the live market; the hourly schedule targets the last complete hour.
hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=partitions_start().replace(minute=0).strftime(PARTITION_FORMAT),
    timezone="UTC",
    end_offset=1,
)


def hour_start(partition_key: str) -> datetime:
    return datetime.strptime(partition_key, PARTITION_FORMAT).replace(tzinfo=UTC)


def partition_key_for(hour: datetime) -> str:
    return floor_hour(hour).strftime(PARTITION_FORMAT)


def floor_hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def hours_in(start: datetime, end: datetime) -> list[datetime]:
    """The hour starts covering [start, end)."""
    hours, hour = [], floor_hour(start)
    while hour < end:
        hours.append(hour)
        hour += timedelta(hours=1)
    return hours


def hour_dir(hour: datetime) -> str:
    """The Hive-style partition folder of one hour, e.g. `date=2026-11-25/hour=09`."""
    return f"date={hour:%Y-%m-%d}/hour={hour:%H}"
