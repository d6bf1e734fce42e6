import subprocess
import sys

import pytest

from orderbook_platform.config import Settings
from orderbook_platform.roundtrip import round_trip
from orderbook_platform.testing import settings_env

pytestmark = pytest.mark.integration


def test_round_trip_reads_back_every_order_byte_for_byte(settings: Settings):
    result = round_trip(settings, count=3000)
    assert (result.sent, result.received, result.matched) == (3000, 3000, 3000)
    assert result.latency_p50_ms <= result.latency_p99_ms


def test_roundtrip_command_prints_its_summary(settings: Settings):
    completed = subprocess.run(
        [sys.executable, "-m", "orderbook_platform.cli.main", "roundtrip", "--count", "500"],
        capture_output=True, text=True, env={**settings_env(settings), "COLUMNS": "120"}, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "byte-identical" in completed.stdout and "500" in completed.stdout
