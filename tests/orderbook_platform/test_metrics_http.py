"""The shared /metrics + health server (used by the engine service and the trader pool)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from orderbook_platform.metrics_http import MetricsServer, is_bind_host, url_host

pytestmark = pytest.mark.unit


def _get(port: int, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_metrics_health_paths_and_not_found():
    registry = CollectorRegistry()
    hits = Counter("hits", "Test counter.", namespace="t", registry=registry)
    state = {"ok": False}

    def check() -> tuple[bool, dict]:
        return state["ok"], {"state": "up" if state["ok"] else "down", "n": 1}

    server = MetricsServer(
        lambda: generate_latest(registry), {"/healthz": check}, "127.0.0.1", 0
    ).start()
    try:
        assert server.port > 0
        hits.inc(3)
        status, content_type, body = _get(server.port, "/metrics?x=1")
        assert (status, content_type) == (200, CONTENT_TYPE_LATEST)
        assert b"t_hits_total 3.0" in body
        status, content_type, body = _get(server.port, "/healthz")
        assert (status, content_type) == (503, "application/json")
        assert json.loads(body) == {"state": "down", "n": 1}
        state["ok"] = True
        status, _, body = _get(server.port, "/healthz")
        assert status == 200 and json.loads(body)["state"] == "up"
        # Paths not registered are 404, including another process's health path.
        status, content_type, body = _get(server.port, "/readyz")
        assert (status, content_type) == (404, "application/json")
        assert json.loads(body) == {"error": "not found"}
    finally:
        server.stop()


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "0.0.0.0", "::", "::1", "localhost", "traders", "engine-0.engine.trading.svc."],
)
def test_bind_hosts_are_ip_literals_and_host_names(host):
    assert is_bind_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "",
        "0.0.0.0:9464",  # a port
        "http://0.0.0.0",  # a URL
        "[::]",  # brackets belong in URLs, not in a bind address
        "not a host",
        "127.1",  # all-digit last label: a malformed address, not a name
        "10.0.0.256",
        "-engine",
        "a" * 64 + ".svc",  # a label longer than 63
        "a." * 127 + "a",  # longer than 253
    ],
)
def test_anything_else_is_not_a_bind_host(host):
    assert not is_bind_host(host)


def test_the_server_reports_the_address_its_socket_is_bound_to():
    server = MetricsServer(lambda: b"", {}, "127.0.0.1", 0).start()
    try:
        host, port = server.address
        assert (host, port) == ("127.0.0.1", server.port) and port > 0
    finally:
        server.stop()


def test_url_host_brackets_an_ipv6_host() -> None:
    """As the engine logs its metrics_url."""
    assert url_host("127.0.0.1") == "127.0.0.1"
    assert url_host("engine-0.example") == "engine-0.example"
    assert url_host("::") == "[::]"
    assert url_host("fe80::1") == "[fe80::1]"
