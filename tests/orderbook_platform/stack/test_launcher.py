"""The launcher against real processes: a KRaft broker and S3Proxy."""

import os
import time

import pytest
from confluent_kafka.admin import AdminClient

from orderbook_platform.stack import Stack
from orderbook_platform.stack.processes import port_is_open
from orderbook_platform.testing import stack_settings_for

pytestmark = pytest.mark.integration


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_up_twice_then_down_leaves_no_process_behind(tmp_path):
    settings = stack_settings_for(tmp_path / ".orderbook")
    stack = Stack(settings)
    first = stack.up()
    pids = {s.name: s.pid for s in stack.status()}
    assert all(pids.values()) and all(s.answering for s in stack.status())

    second = stack.up()
    assert second == first
    assert {s.name: s.pid for s in stack.status()} == pids, "a second `up` must not restart"

    admin = AdminClient({"bootstrap.servers": first.kafka_bootstrap})
    assert admin.list_topics(timeout=10).brokers

    stopped = stack.down()
    assert sorted(stopped) == ["kafka", "s3proxy"]
    deadline = time.monotonic() + 10
    while any(_pid_alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_pid_alive(pid) for pid in pids.values())
    ports = (settings.stack.kafka_port, settings.stack.controller_port, settings.stack.s3_port)
    assert not any(port_is_open("127.0.0.1", p) for p in ports)
    assert not any(s.running for s in stack.status())

    assert (tmp_path / ".orderbook" / "kafka" / "data").exists(), "down keeps the data"
    stack.down(purge=True)
    assert not (tmp_path / ".orderbook").exists(), "down --purge deletes it"


def test_data_survives_a_restart(tmp_path):
    from confluent_kafka.admin import NewTopic

    stack = Stack(stack_settings_for(tmp_path / ".orderbook"))
    try:
        endpoints = stack.up()
        admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
        admin.create_topics([NewTopic("kept", 1, 1)])["kept"].result(timeout=30)
        stack.down()
        stack.up()
        admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
        assert "kept" in admin.list_topics(timeout=30).topics
    finally:
        stack.down(purge=True)


def test_a_stale_pid_file_of_a_dead_process_does_not_count_as_running(tmp_path):
    stack = Stack(stack_settings_for(tmp_path / ".orderbook"))
    stack.kafka.home.mkdir(parents=True)
    stack.kafka.process.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not ours
    assert not stack.kafka.process.is_running()
