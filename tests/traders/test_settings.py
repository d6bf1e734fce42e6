"""Pool settings (traders/settings.py): where the metrics server is bound."""

from __future__ import annotations

import os

import pytest

from orderbook_platform.config import ConfigError
from traders.settings import PoolSettings, load_pool_settings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _no_settings_from_outside(monkeypatch):
    """Only what a test sets: no config file, no OB__TRADERS__* of the caller's shell."""
    monkeypatch.delenv("OB_CONFIG", raising=False)
    for name in list(os.environ):
        if name.startswith("OB__TRADERS__"):
            monkeypatch.delenv(name)


def test_metrics_are_bound_to_loopback_by_default():
    assert PoolSettings().metrics_host == "127.0.0.1"
    assert load_pool_settings(None, metrics_port=9108).metrics_host == "127.0.0.1"


def test_metrics_host_from_the_environment(monkeypatch):
    monkeypatch.setenv("OB__TRADERS__METRICS_HOST", "0.0.0.0")
    assert load_pool_settings(None).metrics_host == "0.0.0.0"
    # A flag (an override) still wins over the environment.
    assert load_pool_settings(None, metrics_host="::1").metrics_host == "::1"


def test_metrics_host_from_the_traders_section_of_the_config_file(tmp_path, monkeypatch):
    config = tmp_path / "ob.yaml"
    config.write_text('traders:\n  metrics_port: 9108\n  metrics_host: "::"\n')
    # load_pool_settings exports the file as $OB_CONFIG; monkeypatch restores it after.
    monkeypatch.setenv("OB_CONFIG", str(config))
    settings = load_pool_settings(config)
    assert (settings.metrics_host, settings.metrics_port) == ("::", 9108)
    monkeypatch.setenv("OB__TRADERS__METRICS_HOST", "0.0.0.0")
    assert load_pool_settings(config).metrics_host == "0.0.0.0"  # env over file


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "0.0.0.0", "::", "::1", "localhost", "traders.trading.svc."]
)
def test_metrics_host_takes_ip_literals_and_host_names(host):
    assert PoolSettings(metrics_host=host).metrics_host == host


@pytest.mark.parametrize(
    "host", ["", "0.0.0.0:9108", "http://0.0.0.0", "[::]", "not a host", "127.1"]
)
def test_a_bad_metrics_host_is_refused_in_one_clear_line(host):
    with pytest.raises(ConfigError) as refused:
        load_pool_settings(None, metrics_host=host)
    message = str(refused.value)
    assert message.startswith("traders config: metrics_host: "), message
    assert "must be an IP address or a host name" in message
    assert repr(host) in message
    assert "\n" not in message


def test_a_bad_metrics_host_in_the_environment_is_refused_too(monkeypatch):
    monkeypatch.setenv("OB__TRADERS__METRICS_HOST", "0.0.0.0:9108")
    with pytest.raises(ConfigError, match=r"metrics_host: .*'0\.0\.0\.0:9108'"):
        load_pool_settings(None)
