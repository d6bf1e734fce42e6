"""The local stack with SASL/SCRAM: anonymous clients are refused, the stack's user is
served by librdkafka and by Spark (through KafkaSettings.java_client_options)."""

import os
import subprocess
import sys
import time

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from dagster_defs.ingestion.spark_kafka import spark_conf, spark_kafka_options, spark_session
from orderbook_platform.kafka.clients import consumer, producer
from orderbook_platform.stack import Stack
from orderbook_platform.stack.jars import jar_files
from orderbook_platform.testing import stack_settings_for

pytestmark = pytest.mark.integration

# Everything that has broken SASL passwords on the way to a broker or a Java client: the
# format tool's separators, the properties file's escape, JAAS quoting, spaces.
HOSTILE_PASSWORD = 'pa"ss\\wo,rd]=; x="y" \\n ü'


def _fails_within(call, seconds: float) -> KafkaException:
    began = time.monotonic()
    with pytest.raises(KafkaException) as failure:
        call()
    assert time.monotonic() - began < seconds + 5, "the refusal must come within the deadline"
    return failure.value


def test_a_scram_stack_refuses_strangers_and_serves_its_user_to_librdkafka_and_spark(tmp_path):
    settings = stack_settings_for(
        tmp_path / ".orderbook",
        kafka_sasl="SCRAM-SHA-256",
        kafka_sasl_username="spark-reader",
        kafka_sasl_password=HOSTILE_PASSWORD,
    )
    stack = Stack(settings)
    stack.up()
    try:
        kafka = stack.kafka.client_settings()
        assert kafka.security_protocol == "SASL_PLAINTEXT"

        # (a) No credentials, or wrong ones: refused, within a deadline.
        anonymous = AdminClient(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                "log_level": 0,
                "socket.timeout.ms": 5000,
            }
        )
        _fails_within(lambda: anonymous.list_topics(timeout=5), 5)
        errors: list[KafkaError] = []
        impostor = AdminClient(
            kafka.client_config(
                **{"sasl.password": "not-the-password", "log_level": 0, "error_cb": errors.append}
            )
        )
        _fails_within(lambda: impostor.list_topics(timeout=5), 5)
        deadline = time.monotonic() + 10
        while not errors and time.monotonic() < deadline:
            impostor.poll(0.5)  # serves the error callback
        assert KafkaError._AUTHENTICATION in {e.code() for e in errors}, errors

        # The stack's own commands find the user in its state file: no settings needed.
        env = {k: v for k, v in os.environ.items() if not k.startswith("OB")}
        applied = subprocess.run(
            [sys.executable, "-m", "orderbook_platform.cli.main", "topics", "apply"],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
        )  # fmt: skip
        assert applied.returncode == 0, applied.stderr

        # An anonymous producer's record is never accepted: its delivery fails in time.
        outcomes: list[KafkaError | None] = []
        stranger = Producer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                "message.timeout.ms": 5000,
                "log_level": 0,
            }
        )
        stranger.produce("trades", b"anonymous", on_delivery=lambda err, _msg: outcomes.append(err))
        assert stranger.flush(15) == 0
        assert len(outcomes) == 1 and outcomes[0] is not None, outcomes

        # (b) librdkafka with the user's credentials produces and consumes.
        sent = [f"sasl-{i}".encode() for i in range(20)]
        writer = producer(kafka)
        for value in sent:
            writer.produce("trades", value=value, key=b"XYZ")
        assert writer.flush(30) == 0
        reader = consumer(kafka, group_id="sasl-test")
        reader.subscribe(["trades"])
        received: list[bytes] = []
        deadline = time.monotonic() + 60
        while len(received) < len(sent) and time.monotonic() < deadline:
            message = reader.poll(1.0)
            if message is not None and message.error() is None:
                received.append(message.value())
        assert sorted(received) == sorted(sent)
        ends = [
            reader.get_watermark_offsets(TopicPartition("trades", p), timeout=10)[1]
            for p in reader.list_topics("trades", timeout=10).topics["trades"].partitions
        ]
        reader.close()
        assert sum(ends) == len(sent), "only the authenticated producer's records landed"

        # (c) Spark reads the same topic with the options Java clients get.
        spark = spark_session(
            spark_conf(jars=jar_files(settings.stack.jars_dir, "spark"), app_name="sasl-test")
        )
        rows = (
            spark.read.format("kafka")
            .options(**spark_kafka_options(kafka))
            .option("subscribe", "trades")
            .option("startingOffsets", "earliest")
            .option("endingOffsets", "latest")
            .load()
            .select("value")
            .collect()
        )
        assert sorted(bytes(row.value) for row in rows) == sorted(sent)
    finally:
        stack.down(purge=True)
