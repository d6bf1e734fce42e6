"""The engine service's core settings: `OB__ENGINE__*` env and the YAML `engine:` section."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.book import DEFAULT_ID_WINDOW
from engine.service import EngineService
from engine.service_config import ServiceConfig
from engine.settings import engine_config_from
from orderbook_platform.config import load_settings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _no_outside_configuration(monkeypatch):
    monkeypatch.delenv("OB_CONFIG", raising=False)
    monkeypatch.delenv("OB__ENGINE__DUPLICATE_ID_WINDOW", raising=False)
    monkeypatch.delenv("OB__DEFAULT_SYMBOL", raising=False)


def test_defaults() -> None:
    config = engine_config_from(load_settings())
    assert config.duplicate_id_window == DEFAULT_ID_WINDOW == 200_000
    assert config.default_symbol == "XYZ"


def test_the_window_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OB__ENGINE__DUPLICATE_ID_WINDOW", "1234")
    monkeypatch.setenv("OB__DEFAULT_SYMBOL", "ABC")
    config = engine_config_from(load_settings())
    assert (config.duplicate_id_window, config.default_symbol) == (1234, "ABC")


def test_the_window_comes_from_the_engine_section_of_the_file(monkeypatch, tmp_path) -> None:
    path = tmp_path / "ob.yaml"
    path.write_text("default_symbol: QQQ\nengine:\n  duplicate_id_window: 77\n")
    # load_settings exports the file as $OB_CONFIG; monkeypatch restores it afterwards.
    monkeypatch.setenv("OB_CONFIG", str(path))
    config = engine_config_from(load_settings(path))
    assert (config.duplicate_id_window, config.default_symbol) == (77, "QQQ")
    # The environment wins over the file.
    monkeypatch.setenv("OB__ENGINE__DUPLICATE_ID_WINDOW", "5")
    assert engine_config_from(load_settings(path)).duplicate_id_window == 5


def test_a_file_without_an_engine_section_is_fine(monkeypatch, tmp_path) -> None:
    path = tmp_path / "ob.yaml"
    path.write_text("default_symbol: QQQ\n")
    monkeypatch.setenv("OB_CONFIG", str(path))
    assert engine_config_from(load_settings(path)).duplicate_id_window == DEFAULT_ID_WINDOW


def test_a_negative_window_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("OB__ENGINE__DUPLICATE_ID_WINDOW", "-1")
    with pytest.raises(ValidationError, match="duplicate_id_window"):
        engine_config_from(load_settings())


def test_the_service_uses_the_configured_window(monkeypatch) -> None:
    monkeypatch.setenv("OB__ENGINE__DUPLICATE_ID_WINDOW", "42")
    service = EngineService(load_settings(), ServiceConfig(metrics_port=0))
    assert service.engine_config.duplicate_id_window == 42
