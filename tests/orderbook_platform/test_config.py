import time
from pathlib import Path

import pytest

from orderbook_platform.config import ConfigError, load_settings

pytestmark = pytest.mark.unit


def test_env_vars_use_the_ob_section_key_convention(monkeypatch):
    monkeypatch.setenv("OB__KAFKA__BOOTSTRAP_SERVERS", "broker-a:9094,broker-b:9094")
    monkeypatch.setenv("OB__S3__BUCKET", "lake")
    monkeypatch.setenv("OB__TOPICS__PARTITIONS", "12")
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "broker-a:9094,broker-b:9094"
    assert settings.s3.bucket == "lake"
    assert settings.topics.partitions == 12


def test_yaml_file_is_read_and_env_vars_override_it(tmp_path, monkeypatch):
    config = tmp_path / "ob.yaml"
    config.write_text("default_symbol: ABC\ns3:\n  bucket: from-file\n  region: eu-west-1\n")
    monkeypatch.setenv("OB__S3__BUCKET", "from-env")
    settings = load_settings(config)
    assert settings.default_symbol == "ABC"
    assert settings.s3.region == "eu-west-1"
    assert settings.s3.bucket == "from-env"


def test_a_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.yaml")


def test_without_a_running_stack_or_explicit_settings_kafka_clients_refuse(monkeypatch, tmp_path):
    monkeypatch.setenv("OB__STACK__STATE_DIR", str(tmp_path / ".orderbook"))
    monkeypatch.setenv("OB__STACK__KAFKA_PORT", "19092")
    monkeypatch.setenv("OB__STACK__S3_PORT", "19000")
    settings = load_settings()
    assert settings.kafka.bootstrap_servers is None
    for make_client_config in (
        settings.kafka.client_config,
        settings.kafka.java_client_options,
    ):
        with pytest.raises(ConfigError) as refused:
            make_client_config()
        assert str(refused.value) == (
            f"no local stack is running in {tmp_path / '.orderbook'}; start one with "
            "`orderbook stack up` or set OB__KAFKA__BOOTSTRAP_SERVERS"
        )
    assert settings.s3.endpoint_url == "http://127.0.0.1:19000"
    monkeypatch.setenv("OB__KAFKA__BOOTSTRAP_SERVERS", "elsewhere:9092")
    kafka = load_settings().kafka
    assert kafka.client_config()["bootstrap.servers"] == "elsewhere:9092"


def test_security_settings_pass_through_to_every_client(monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    monkeypatch.setenv("OB__KAFKA__BOOTSTRAP_SERVERS", "broker:9094")
    monkeypatch.setenv("OB__KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("OB__KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("OB__KAFKA__SASL_USERNAME", "alice")
    monkeypatch.setenv("OB__KAFKA__SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("OB__KAFKA__SSL_CA_LOCATION", str(ca))
    kafka = load_settings().kafka
    config = kafka.client_config(**{"group.id": "g"})
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (config["sasl.username"], config["sasl.password"]) == ("alice", "s3cret")
    assert config["ssl.ca.location"] == str(ca)
    assert config["group.id"] == "g"
    java = kafka.java_client_options()
    assert 'username="alice"' in java["sasl.jaas.config"]
    assert "ScramLoginModule" in java["sasl.jaas.config"]
    assert java["ssl.truststore.location"] == str(ca)
    assert "s3cret" not in repr(kafka), "secrets must not leak into reprs or logs"


def test_an_invalid_security_protocol_is_refused(monkeypatch):
    monkeypatch.setenv("OB__KAFKA__SECURITY_PROTOCOL", "CARRIER_PIGEON")
    with pytest.raises(ValueError, match="security_protocol"):
        load_settings()


def test_a_settings_class_can_read_one_section_of_the_platform_file(tmp_path, monkeypatch):
    from typing import ClassVar

    from pydantic_settings import SettingsConfigDict

    from orderbook_platform.config import FileSettings, select_config_file

    class Part(FileSettings):
        model_config = SettingsConfigDict(env_prefix="OB__PART__")
        yaml_section: ClassVar[str | None] = "part"
        size: int = 1
        name: str = "default"

    config = tmp_path / "ob.yaml"
    config.write_text("default_symbol: ABC\npart:\n  size: 7\n  name: from-file\n")
    monkeypatch.setenv("OB__PART__NAME", "from-env")
    monkeypatch.setenv("OB_CONFIG", "")  # restored after the test: select_config_file sets it
    select_config_file(config)
    part = Part()
    assert (part.size, part.name) == (7, "from-env")
    assert Part(size=9).size == 9
    # The whole-file settings read the same file, ignoring the other sections.
    assert load_settings().default_symbol == "ABC"
    config.write_text("default_symbol: ABC\n")
    assert Part().size == 1, "a file without the section sets nothing"
    config.write_text("part: [1, 2]\n")
    with pytest.raises(ConfigError, match="`part:` must be a mapping"):
        Part()


def test_a_missing_file_named_by_the_env_var_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("OB_CONFIG", str(tmp_path / "absent.yaml"))
    with pytest.raises(ConfigError, match="from \\$OB_CONFIG"):
        load_settings()


@pytest.fixture
def running_broker(tmp_path):
    """A stand-in for a stack's broker: a live process whose command line names the
    stack's kafka dir (what the pid check looks for), a pid file and formatted storage."""
    import subprocess
    import sys

    kafka_home = (tmp_path / ".orderbook" / "kafka").resolve()
    (kafka_home / "data").mkdir(parents=True)
    (kafka_home / "data" / "meta.properties").write_text("version=1\ncluster.id=c-1\n")
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", str(kafka_home)]
    )
    # Until the child has exec'd, its /proc cmdline is still pytest's: wait for the marker
    # (the stand-in's whole life is 120 s, far beyond any test here).
    cmdline = Path(f"/proc/{process.pid}/cmdline")
    deadline = time.monotonic() + 60
    while str(kafka_home).encode() not in cmdline.read_bytes():
        assert time.monotonic() < deadline, "the stand-in broker never started"
        time.sleep(0.01)
    (kafka_home / "kafka.pid").write_text(f"{process.pid}\n")
    try:
        yield kafka_home.parent
    finally:
        process.kill()
        process.wait()


STACK_PASS = "stack-made-up"  # not a `password=...` literal: the secret scan stays quiet


def _write_state(state_dir, **fields):
    from orderbook_platform.config import StackState

    StackState(
        **{
            "cluster_id": "c-1",
            "kafka_bootstrap": "127.0.0.1:41234",
            "s3_endpoint": "http://127.0.0.1:41235",
            **fields,
        }
    ).write(state_dir)


def test_settings_follow_the_running_stack_state_unless_set_explicitly(running_broker, monkeypatch):
    monkeypatch.setenv("OB__STACK__STATE_DIR", str(running_broker))
    _write_state(
        running_broker,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="stack-user",
        kafka_sasl_password=STACK_PASS,
    )
    assert oct((running_broker / "stack.json").stat().st_mode & 0o777) == "0o600"
    config = load_settings().kafka.client_config()
    assert config["bootstrap.servers"] == "127.0.0.1:41234"
    assert (config["security.protocol"], config["sasl.mechanism"]) == (
        "SASL_PLAINTEXT",
        "SCRAM-SHA-512",
    )
    assert (config["sasl.username"], config["sasl.password"]) == ("stack-user", STACK_PASS)
    assert load_settings().s3.endpoint_url == "http://127.0.0.1:41235"

    monkeypatch.setenv("OB__KAFKA__BOOTSTRAP_SERVERS", "elsewhere:9092")
    monkeypatch.setenv("OB__S3__ENDPOINT_URL", "http://s3.elsewhere")
    explicit = load_settings()
    assert explicit.kafka.client_config()["bootstrap.servers"] == "elsewhere:9092"
    assert "sasl.password" not in explicit.kafka.client_config()
    assert explicit.s3.endpoint_url == "http://s3.elsewhere"


def test_a_state_file_of_a_stopped_or_other_broker_is_not_followed(
    running_broker, monkeypatch, tmp_path
):
    monkeypatch.setenv("OB__STACK__STATE_DIR", str(running_broker))
    _write_state(running_broker, cluster_id="c-2")
    with pytest.raises(ConfigError, match="names Kafka cluster c-2, but the broker"):
        load_settings().kafka.client_config()

    stopped = tmp_path / "stopped"
    (stopped / "kafka" / "data").mkdir(parents=True)
    (stopped / "kafka" / "data" / "meta.properties").write_text("cluster.id=c-1\n")
    (stopped / "kafka" / "kafka.pid").write_text("999999999\n")
    _write_state(stopped)
    monkeypatch.setenv("OB__STACK__STATE_DIR", str(stopped))
    with pytest.raises(ConfigError, match="no local stack is running in"):
        load_settings().kafka.client_config()
