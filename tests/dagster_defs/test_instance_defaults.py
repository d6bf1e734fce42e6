"""What a fresh platform DAGSTER_HOME and a fresh code location start with."""

from __future__ import annotations

import importlib
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from dagster_defs.automation import defaults
from dagster_defs.run_hour import dagster_home
from orderbook_platform.config import Settings

pytestmark = pytest.mark.unit


def _automations(monkeypatch: pytest.MonkeyPatch, value: str | None) -> dict[str, str]:
    if value is None:
        monkeypatch.delenv(defaults.AUTOMATIONS_ENV, raising=False)
    else:
        monkeypatch.setenv(defaults.AUTOMATIONS_ENV, value)
    import dagster_defs.automation.schedules as schedules
    import dagster_defs.automation.sensors as sensors
    import dagster_defs.definitions as definitions

    for module in (schedules, sensors, definitions):
        importlib.reload(module)
    defs = definitions.defs
    statuses = {s.name: s.default_status.value for s in defs.schedules or []}
    statuses |= {s.name: s.default_status.value for s in defs.sensors or []}
    return statuses


@pytest.fixture
def reload_after(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    yield monkeypatch
    monkeypatch.undo()
    _automations(pytest.MonkeyPatch(), None)


def test_every_schedule_and_sensor_starts_stopped_by_default(
    reload_after: pytest.MonkeyPatch,
) -> None:
    statuses = _automations(reload_after, None)
    assert statuses == {
        "hourly_raw_ingestion": "STOPPED",
        "check_failure_alerts": "STOPPED",
        "run_failure_alerts": "STOPPED",
        "analytics_automation": "STOPPED",
    }


def test_a_deployment_can_start_them_running(reload_after: pytest.MonkeyPatch) -> None:
    statuses = _automations(reload_after, "running")
    assert set(statuses.values()) == {"RUNNING"} and len(statuses) == 4


def test_an_unknown_automations_value_is_refused() -> None:
    with pytest.raises(ValueError, match="ORDERBOOK_AUTOMATIONS='sometimes'"):
        defaults.automations_running({"ORDERBOOK_AUTOMATIONS": "sometimes"})


def test_the_platform_dagster_home_has_a_dagster_yaml_without_telemetry(tmp_path: Path) -> None:
    settings = Settings(stack={"state_dir": tmp_path})  # type: ignore[arg-type]
    home = dagster_home(settings)
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["telemetry"] == {"enabled": False}
    assert config["retention"]["sensor"]["purge_after_days"]["skipped"] > 0
    # Dagster itself accepts the file and reads the same settings back.
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert instance.telemetry_enabled is False
        sensor = instance.get_tick_retention_settings(InstigatorType.SENSOR)
        # -1 is Dagster's "keep for ever": every kind of tick is purged at some point.
        assert all(days > 0 for status, days in sensor.items() if status != TickStatus.STARTED)
    finally:
        instance.dispose()


def test_a_dagster_yaml_the_user_edited_is_kept(tmp_path: Path) -> None:
    settings = Settings(stack={"state_dir": tmp_path})  # type: ignore[arg-type]
    (tmp_path / "dagster").mkdir()
    (tmp_path / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    home = dagster_home(settings)
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: true\n"
