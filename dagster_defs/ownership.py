"""Who owns the assets, how they are tagged, and the version of their code.

`CODE_VERSION` is bumped by hand when a change alters what an asset writes for the same
input (a new column, a different aggregate), so that Dagster marks the materialised
partitions as stale; a refactor that writes the same rows keeps it.
"""

from __future__ import annotations

CODE_VERSION = "2"
RAW_OWNERS = ["team:data-platform"]
ANALYTICS_OWNERS = ["team:market-analytics"]


def tags_for(layer: str) -> dict[str, str]:
    return {"layer": layer, "domain": "market-data", "cadence": "hourly"}
