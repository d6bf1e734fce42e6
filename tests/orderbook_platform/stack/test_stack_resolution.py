"""Commands with no explicit stack settings: the stack running here, or a clear refusal.

Real processes throughout: a KRaft broker and S3Proxy, and the `orderbook` command run as
a user runs it, with only its working directory telling it where it is.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from orderbook_platform.kafka.clients import consumer
from orderbook_platform.stack import Stack
from orderbook_platform.testing import stack_settings_for

pytestmark = pytest.mark.integration


def orderbook(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orderbook_platform.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "COLUMNS": "200"},
        timeout=120,
    )


def _orders_end_offsets(stack: Stack) -> list[int]:
    reader = consumer(stack.settings.kafka, group_id="test-watermarks")
    try:
        metadata = reader.list_topics("orders", timeout=10).topics["orders"]
        return [
            reader.get_watermark_offsets(TopicPartition("orders", p), timeout=10)[1]
            for p in sorted(metadata.partitions)
        ]
    finally:
        reader.close()


def test_a_command_without_settings_uses_the_stack_running_here_and_no_other(tmp_path):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    stack = Stack(stack_settings_for(here / ".orderbook"))
    # No OB__ variable at all: where to connect comes from the working directory alone.
    bare_env = {k: v for k, v in os.environ.items() if not k.startswith("OB")}
    stack.up()
    try:
        applied = orderbook("topics", "apply", cwd=here, env=bare_env)
        assert applied.returncode == 0, applied.stderr
        before = _orders_end_offsets(stack)
        sent = orderbook("roundtrip", "-n", "25", cwd=here, env=bare_env)
        assert sent.returncode == 0, sent.stderr
        assert sum(_orders_end_offsets(stack)) - sum(before) >= 25

        # Elsewhere no stack runs. Even with the port of the one above in the environment
        # (a stack setting, not a client setting), the command must not reach that stack.
        stranger_env = {**bare_env, "OB__STACK__KAFKA_PORT": str(stack.settings.stack.kafka_port)}
        before = _orders_end_offsets(stack)
        refused = orderbook("roundtrip", "-n", "25", cwd=elsewhere, env=stranger_env)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        lines = [line for line in refused.stderr.splitlines() if line.strip()]
        assert lines == [
            "error: no local stack is running in .orderbook; start one with "
            "`orderbook stack up` or set OB__KAFKA__BOOTSTRAP_SERVERS"
        ]
        assert _orders_end_offsets(stack) == before, "nothing may reach the other stack"

        # A stack that was stopped leaves nothing behind to connect to.
        stack.down()
        stopped = orderbook("topics", "apply", cwd=here, env=bare_env)
        assert stopped.returncode == 1
        assert "no local stack is running in .orderbook" in stopped.stderr
    finally:
        stack.down(purge=True)
