"""The chart keeps the code location's schedule and sensors running on a cluster, though the
code location itself defaults them to stopped (dagster_defs/automation/defaults.py)."""

from __future__ import annotations

from typing import Any

import pytest

from dagster_defs.automation.defaults import AUTOMATIONS_ENV, automations_running
from tests.helm.chart import DEFAULT, HelmError, containers, one, render

pytestmark = pytest.mark.unit


def code_server_env(values: dict[str, Any]) -> dict[str, str]:
    server = next(containers(one(render(values), "Deployment", "dagster-code")))
    return {e["name"]: e.get("value", "") for e in server.get("env", [])}


def test_by_default_the_chart_starts_the_automations_running() -> None:
    env = code_server_env(DEFAULT)
    assert env[AUTOMATIONS_ENV] == "running"
    # The code location reads the rendered value the same way.
    assert automations_running(env) is True


def test_dagster_automations_stopped_reaches_the_code_location() -> None:
    env = code_server_env({"dagster": {"automations": "stopped"}})
    assert automations_running(env) is False


def test_another_automations_value_is_refused_by_the_values_schema() -> None:
    with pytest.raises(HelmError, match="automations"):
        render({"dagster": {"automations": "sometimes"}})
