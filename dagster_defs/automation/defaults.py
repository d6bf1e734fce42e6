"""Whether the schedule and sensors start RUNNING or STOPPED when the code location loads.

Locally they start stopped: `orderbook platform ui` alone must not start Spark ingestion at
:05 every hour. A deployment that wants them on from the start (the Helm chart does) sets
`ORDERBOOK_AUTOMATIONS=running` in the code location's environment. A user's start or stop in
the UI overrides the default either way.
"""

from __future__ import annotations

import os

import dagster as dg

AUTOMATIONS_ENV = "ORDERBOOK_AUTOMATIONS"
CHOICES = ("stopped", "running")


def automations_running(environ: dict[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get(AUTOMATIONS_ENV, "stopped")
    value = value.strip().lower() or "stopped"
    if value not in CHOICES:
        raise ValueError(f"{AUTOMATIONS_ENV}={value!r}: expected one of {', '.join(CHOICES)}")
    return value == "running"


def schedule_status() -> dg.DefaultScheduleStatus:
    running = automations_running()
    return dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED


def sensor_status() -> dg.DefaultSensorStatus:
    running = automations_running()
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED
