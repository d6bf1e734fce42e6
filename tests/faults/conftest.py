"""The fault-injection suite's selection, its dedicated stack and its report.

Selection: the suite is long, so plain `pytest` deselects every `faults` test.
- `pytest -m faults` (what `make faults` runs): the whole suite, FAULTS_ORDERS orders
  per scenario (default 100,000);
- `FAULTS=short pytest ...` (what `make test` runs): only the scenarios marked
  `faults(short=True)`, at FAULTS_ORDERS orders (default 20,000).

The suite runs on a stack of its own (free ports, a temporary state dir), never the
session stack of the other tests and never the default ports: it kills and restarts its
broker, which would break every other test sharing it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from orderbook_platform.stack import Stack
from orderbook_platform.testing import apply_topics_on_new_broker, stack_settings_for
from tests.faults.report import FaultsReport, ScenarioResult
from tests.orderbook_platform.kafka.private_broker import FastRetentionBroker

EVENT_TOPICS = ("orders", "trades", "prices", "book", "order_events", "orders.dlq")
SEGMENT_BYTES = 1 << 20
FULL_ORDERS = 100_000
SHORT_ORDERS = 20_000


def _mode(config: pytest.Config) -> str:
    """'full' when asked for by -m, 'short' by FAULTS=short, otherwise 'off'."""
    if "faults" in (config.option.markexpr or ""):
        return "full"
    if os.environ.get("FAULTS", "").strip().lower() == "short":
        return "short"
    return "off"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mode = _mode(config)
    if mode == "full":
        return
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("faults")
        if marker is None or (mode == "short" and marker.kwargs.get("short")):
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def order_count(pytestconfig: pytest.Config) -> int:
    """Orders seeded by each scenario (FAULTS_ORDERS overrides the mode's default)."""
    default = SHORT_ORDERS if _mode(pytestconfig) == "short" else FULL_ORDERS
    value = os.environ.get("FAULTS_ORDERS", "").strip()
    if not value:
        return default
    try:
        count = int(value)
    except ValueError:
        raise pytest.UsageError(f"FAULTS_ORDERS must be an integer, got {value!r}") from None
    if count < 1000:
        raise pytest.UsageError(f"FAULTS_ORDERS must be >= 1000, got {count}")
    return count


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Path]]:
    """A KRaft broker and S3Proxy of the suite's own, every declared topic applied.

    Its broker checks retention every second (not every 5 minutes), so that a record
    retention would delete is gone within the scenario that checks it survives.
    """
    state = tmp_path_factory.mktemp("faults-stack")
    settings = stack_settings_for(state / ".orderbook")
    stack = Stack(settings)
    stack.kafka = FastRetentionBroker(settings.stack, stack.state_dir)
    stack.up()
    try:
        apply_topics_on_new_broker(settings)
        _small_segments(settings)
        yield stack, state
    finally:
        stack.down(purge=True)


def _small_segments(settings) -> None:
    """1 MiB segments on the event topics of the suite's broker.

    Retention deletes whole segments, judged by their newest record: with the default
    64 MiB a scenario's old-stamped records would share a segment with the earlier
    scenarios' recent ones and survive a wrong retention setting by luck.
    """
    admin = AdminClient(settings.kafka.client_config())
    resources = [
        ConfigResource(
            ConfigResource.Type.TOPIC,
            topic,
            incremental_configs=[
                ConfigEntry(
                    "segment.bytes", str(SEGMENT_BYTES), incremental_operation=AlterConfigOpType.SET
                )
            ],
        )
        for topic in EVENT_TOPICS
    ]
    for future in admin.incremental_alter_configs(resources).values():
        future.result(timeout=60)


@pytest.fixture(scope="session")
def faults_report(pytestconfig: pytest.Config) -> Iterator[FaultsReport]:
    default = Path(pytestconfig.rootpath) / "faults-report.json"
    report = FaultsReport(Path(os.environ.get("FAULTS_REPORT", default)))
    yield report
    report.write()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"faults_{report.when}", report)
    return report


@pytest.fixture
def result(request: pytest.FixtureRequest, faults_report: FaultsReport) -> Iterator[ScenarioResult]:
    """The scenario's entry in faults-report.json, added whether it passed or not."""
    match = re.match(r"test_(s\d+)_", request.node.name)
    doc = (request.function.__doc__ or "").strip().splitlines()
    entry = ScenarioResult(
        scenario=match.group(1).upper() if match else request.node.name,
        title=doc[0] if doc else request.node.name,
    )
    began = time.monotonic()
    yield entry
    entry.seconds = round(time.monotonic() - began, 1)
    call = getattr(request.node, "faults_call", None)
    entry.passed = bool(call is not None and call.passed)
    if call is not None and call.failed:
        entry.notes.append(str(call.longrepr).strip().splitlines()[-1][:500])
    faults_report.add(entry)
