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
