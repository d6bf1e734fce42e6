"""The raw assets' freshness policy: declared on every raw asset, and evaluated by Dagster.

The windows expected here are the ones docs/data-platform.md promises (fail after 2 h
without a new materialisation, warn after 75 min), written out independently of
`RAW_FRESHNESS`.

Evaluation: in Dagster 1.13 a `FreshnessPolicy` is evaluated only by the freshness daemon
(`dagster dev` / `dagster-daemon run` start it), which stores a state per asset that the UI
reads through GraphQL (`freshnessStatusInfo`). The test runs one iteration of that daemon on
the real code location (workspace.yaml, loaded out of process like the UI loads it) and reads
the result back through the UI's GraphQL API. The daemon class and the clock helper
(`freeze_time`, which moves Dagster's clock forward instead of waiting two hours) are
Dagster internals, so this test pins their behaviour for the version in uv.lock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from dagster_defs.definitions import defs
from dagster_defs.ingestion.assets import RAW_TOPICS

REPO_ROOT = Path(__file__).resolve().parents[2]
RAW_ASSETS = sorted(RAW_TOPICS)
FAIL_AFTER = timedelta(hours=2)
WARN_AFTER = timedelta(minutes=75)

FRESHNESS_QUERY = """
query Freshness {
  assetNodes {
    assetKey { path }
    freshnessStatusInfo { freshnessStatus }
    internalFreshnessPolicy {
      __typename
      ... on TimeWindowFreshnessPolicy { failWindowSeconds warnWindowSeconds }
    }
  }
}
"""


@pytest.mark.unit
def test_every_raw_asset_carries_the_documented_time_window_policy() -> None:
    graph = defs.resolve_asset_graph()
    raw = {
        k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name == "raw"
    }
    assert raw == set(RAW_ASSETS)
    for name in RAW_ASSETS:
        spec = next(s for s in defs.get_assets_def(name).specs if s.key == dg.AssetKey(name))
        # The policy classes are not exported; equality with the public constructor's policy
        # compares the type and both windows.
        assert spec.freshness_policy == dg.FreshnessPolicy.time_window(
            fail_window=FAIL_AFTER, warn_window=WARN_AFTER
        ), (name, spec.freshness_policy)
        assert spec.freshness_policy != dg.FreshnessPolicy.time_window(fail_window=FAIL_AFTER)
    docs = (REPO_ROOT / "docs" / "data-platform.md").read_text()
    assert "FreshnessPolicy.time_window(fail_window=2h, warn_window=75min)" in docs


def freshness_by_asset(context: object) -> dict[str, dict]:
    from dagster_graphql.test.utils import execute_dagster_graphql

    result = execute_dagster_graphql(context, FRESHNESS_QUERY)
    assert not result.errors, result.errors
    return {"/".join(n["assetKey"]["path"]): n for n in result.data["assetNodes"]}


@pytest.mark.integration
def test_the_freshness_daemon_passes_warns_and_fails_raw_assets_by_age(tmp_path: Path) -> None:
    from dagster._core.test_utils import freeze_time
    from dagster._daemon.freshness import FreshnessDaemon
    from dagster_graphql.test.utils import define_out_of_process_workspace

    def evaluate_at(moment: datetime) -> dict[str, str]:
        with freeze_time(moment):
            list(FreshnessDaemon().run_iteration(workspace))
        nodes = freshness_by_asset(workspace.create_request_context())
        return {name: nodes[name]["freshnessStatusInfo"]["freshnessStatus"] for name in RAW_ASSETS}

    with (
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
        define_out_of_process_workspace(
            str(REPO_ROOT / "workspace.yaml"), None, instance
        ) as workspace,
    ):
        # `dagster dev` starts the freshness daemon with this instance configuration.
        assert FreshnessDaemon.daemon_type() in instance.get_required_daemon_types()

        nodes = freshness_by_asset(workspace.create_request_context())
        for name in RAW_ASSETS:
            policy = nodes[name]["internalFreshnessPolicy"]
            assert policy["__typename"] == "TimeWindowFreshnessPolicy"
            assert policy["failWindowSeconds"] == FAIL_AFTER.total_seconds()
            assert policy["warnWindowSeconds"] == WARN_AFTER.total_seconds()
        analytics = nodes["ohlc_1m"]["internalFreshnessPolicy"]
        assert analytics["__typename"] == "TimeWindowFreshnessPolicy"
        assert analytics["failWindowSeconds"] > FAIL_AFTER.total_seconds()

        # raw_book is never materialised; the others are, for the hour that just ended,
        # through the public API for materialisations made outside a run (`start` is when).
        start = datetime.now(UTC).replace(microsecond=0)
        partition = (start.replace(minute=0, second=0) - timedelta(hours=1)).strftime(
            "%Y-%m-%d-%H:%M"
        )

        def materialise(name: str, moment: datetime) -> None:
            with freeze_time(moment):
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(name, partition=partition)
                )
            recorded = instance.get_latest_materialization_event(dg.AssetKey(name))
            assert recorded is not None and recorded.timestamp == moment.timestamp()

        for name in RAW_ASSETS:
            if name != "raw_book":
                materialise(name, start)

        def every(state: str) -> dict[str, str]:
            return {name: state for name in RAW_ASSETS} | {"raw_book": "UNKNOWN"}

        assert evaluate_at(start + timedelta(minutes=1)) == every("HEALTHY")
        assert evaluate_at(start + WARN_AFTER - timedelta(minutes=1)) == every("HEALTHY")
        assert evaluate_at(start + WARN_AFTER + timedelta(minutes=1)) == every("WARNING")
        assert evaluate_at(start + FAIL_AFTER - timedelta(minutes=1)) == every("WARNING")
        assert evaluate_at(start + FAIL_AFTER + timedelta(minutes=1)) == every("DEGRADED")

        # A new materialisation makes that asset fresh again at the next evaluation.
        materialise("raw_trades", start + timedelta(hours=3))
        assert evaluate_at(start + timedelta(hours=3, minutes=1)) == every("DEGRADED") | {
            "raw_trades": "HEALTHY"
        }
