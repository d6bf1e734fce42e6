"""BrokerOutage: librdkafka's per-attempt connection failures become two log lines."""

from __future__ import annotations

import json
import logging

import pytest
from confluent_kafka import KafkaError

from orderbook_platform.kafka.clients import BrokerOutage

pytestmark = pytest.mark.unit

REFUSED = (
    "127.0.0.1:9092/1: Connect to ipv4#127.0.0.1:9092 failed: Connection refused "
    "(after 0ms in state CONNECT)"
)


def _librdkafka_record(facility: str, text: str) -> logging.LogRecord:
    """A record as confluent-kafka hands librdkafka's log lines to a Python logger."""
    return logging.LogRecord(
        "orderbook.kafka", logging.ERROR, "", 0, "%s [%s] %s",
        (facility, "rdkafka#consumer-1", text), None,
    )  # fmt: skip


def _stats(*states: str) -> str:
    return json.dumps({"brokers": {f"b{i}": {"state": s} for i, s in enumerate(states)}})


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog):
    outage = BrokerOutage(logging.getLogger("test.outage"))
    caplog.set_level(logging.INFO, "test.outage")
    outage.stats_cb(_stats("UP"))  # all is well: nothing to say
    for _ in range(200):  # ~10 s of librdkafka at ~20 attempts a second
        assert outage.filter(_librdkafka_record("FAIL", REFUSED)) is False
        outage.error_cb(KafkaError(KafkaError._TRANSPORT, REFUSED))
    outage.error_cb(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    outage.stats_cb(_stats("CONNECT", "DOWN"))  # still down
    assert outage.down
    outage.stats_cb(_stats("DOWN", "UP"))
    outage.stats_cb(_stats("UP"))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("broker unreachable since ")
    assert messages[1].startswith("broker reachable again after ")
    assert caplog.records[1].suppressed_reports == 400
    assert not outage.down


def test_a_second_outage_is_logged_again():
    outage = BrokerOutage(logging.getLogger("test.outage2"))
    for _ in range(2):
        outage.failed("refused")
        assert outage.down
        outage.reachable()
        assert not outage.down


def test_other_librdkafka_lines_and_errors_pass_through():
    outage = BrokerOutage(logging.getLogger("test.outage3"))
    record = _librdkafka_record("TXNERR", "Current transaction failed: fenced")
    assert outage.filter(record) is True
    outage.error_cb(KafkaError(KafkaError._MSG_TIMED_OUT, "timed out"))
    assert not outage.down
    outage.stats_cb("not json")
    assert not outage.down


def test_the_default_outage_lines_are_not_filtered_out_by_the_client_logger(caplog):
    caplog.set_level(logging.INFO)
    outage = BrokerOutage()
    outage.failed("refused")
    outage.reachable()
    assert [r.name for r in caplog.records] == ["orderbook.kafka.outage"] * 2
