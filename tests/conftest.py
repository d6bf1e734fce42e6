"""Shared fixtures: the real local stack on free ports (see orderbook_platform/testing.py).

The tests replay history up to a year old (fault scenario S8 stamps orders a year back),
so the code location under test offers hourly partitions from 2025 on: the documented
way to reach older history (docs/data-platform.md, ORDERBOOK_PARTITIONS_START). Set here,
before any test module imports dagster_defs, and inherited by every child process.
"""

import os

os.environ.setdefault("ORDERBOOK_PARTITIONS_START", "2025-01-01")

pytest_plugins = ["orderbook_platform.testing"]
