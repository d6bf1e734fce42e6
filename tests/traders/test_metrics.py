"""The pool's /metrics server (traders/metrics.py): bound to the host it is given."""

from __future__ import annotations

import inspect
import socket

import pytest

from traders.metrics import PoolMetrics

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_the_served_socket_is_bound_to_the_given_host(host):
    metrics = PoolMetrics()
    assert metrics.address is None
    port = metrics.serve(0, host)
    try:
        assert port > 0
        assert metrics.address == (host, port)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # and it listens there
    finally:
        metrics.stop()


def test_serve_has_no_default_host():
    # The caller decides loopback or network; there is no every-interface fallback.
    host = inspect.signature(PoolMetrics.serve).parameters["host"]
    assert host.default is inspect.Parameter.empty
