"""The code location as the UI sees it: snapshot, `dagster definitions validate`, GraphQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from dagster_defs.definitions import defs

REPO_ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")


def definitions_snapshot() -> dict[str, list[str]]:
    graph = defs.resolve_asset_graph()
    return {
        "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "asset_checks": sorted(k.to_user_string() for k in graph.asset_check_keys),
        "blocking_checks": sorted(
            spec.key.to_user_string()
            for check in defs.asset_checks or []
            for spec in check.check_specs
            if spec.blocking
        ),
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
        "resources": sorted(defs.resources or {}),
    }


@pytest.mark.unit
def test_definitions_match_the_committed_snapshot() -> None:
    # A rename is a breaking change for schedules, run history and alerts: update the
    # snapshot file on purpose, never by regenerating it here.
    assert definitions_snapshot() == json.loads(SNAPSHOT.read_text())


@pytest.mark.unit
def test_definitions_are_loadable_and_analytics_wait_for_blocking_checks() -> None:
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    for name in ("ohlc_1m", "vwap", "fill_rate", "market_quality", "ohlc_chart"):
        condition = graph.get(dg.AssetKey(name)).automation_condition
        assert condition is not None
        assert "all_deps_blocking_checks_passed" in str(condition.get_label() or condition)
    for name in ("raw_orders", "raw_trades", "raw_prices", "raw_book", "raw_order_events"):
        assert graph.get(dg.AssetKey(name)).partitions_def is not None


@pytest.mark.integration
def test_dagster_definitions_validate_passes_on_the_workspace(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "All code locations passed validation" in completed.stdout + completed.stderr


ASSET_LINEAGE_QUERY = """
query AssetLineage {
  assetNodes {
    assetKey { path }
    groupName
    dependencyKeys { path }
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  }
}
"""


@pytest.mark.integration
def test_the_ui_graphql_api_lists_the_assets_and_their_lineage(tmp_path: Path) -> None:
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    with (
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
        define_out_of_process_context(str(REPO_ROOT / "workspace.yaml"), None, instance) as context,
    ):
        result = execute_dagster_graphql(context, ASSET_LINEAGE_QUERY)
    assert not result.errors, result.errors
    nodes = {"/".join(n["assetKey"]["path"]): n for n in result.data["assetNodes"]}
    upstream = {
        name: sorted("/".join(d["path"]) for d in node["dependencyKeys"])
        for name, node in nodes.items()
    }
    assert upstream["raw_trades"] == []
    assert upstream["ohlc_1m"] == ["raw_trades"]
    assert upstream["vwap"] == ["ohlc_1m"]
    assert upstream["ohlc_chart"] == ["ohlc_1m"]
    assert upstream["fill_rate"] == ["raw_orders", "raw_trades"]
    assert upstream["market_quality"] == ["raw_book", "raw_prices", "raw_trades"]
    assert nodes["raw_trades"]["groupName"] == "raw"
    assert nodes["ohlc_1m"]["groupName"] == "analytics"
    checks = {c["name"]: c["blocking"] for c in nodes["raw_trades"]["assetChecksOrError"]["checks"]}
    assert checks["schema"] is True and checks["matches_topic"] is True
