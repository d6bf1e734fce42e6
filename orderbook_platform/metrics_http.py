"""The small HTTP server every long-running process uses for `/metrics` and health.

- `/metrics`: Prometheus text format (`CONTENT_TYPE_LATEST`) from a `render()` callable,
  usually `generate_latest(registry)` of the process's own registry;
- each health path (`/healthz`, and `/readyz` for the engine): a callable returning
  `(ok, report)`; the answer is `report` as JSON with 200 when ok, 503 otherwise;
- anything else: 404 `{"error": "not found"}`.

It runs on a daemon thread and never logs a request: scrapes every few seconds would
drown the process's own output. Used by the engine service (`engine/telemetry.py`) and
the live trader pool (`traders/metrics.py`).

The host is an IPv4 literal, an IPv6 literal (`::` listens on both families where the
system allows it) or a host name (its IPv4 address); `is_bind_host` is the check of that
shape both services' settings use. A host or port that cannot be bound (not an address
of this machine, already in use) is a `MetricsBindError`: a user error, one line from the
CLI.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from orderbook_platform.errors import PlatformError

HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]

_NOT_FOUND = b'{"error": "not found"}'
# One label of an RFC 1123 host name: letters, digits and inner hyphens, 1-63 characters.
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class MetricsBindError(PlatformError):
    """The metrics server could not listen on the host and port it was given."""


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class MetricsServer:
    """`/metrics` and health paths on `host:port` (port 0 picks a free one)."""

    def __init__(
        self,
        render: Callable[[], bytes],
        health: Mapping[str, HealthCheck],
        host: str,
        port: int,
        thread_name: str = "metrics-http",
    ) -> None:
        server_class = _IPv6Server if _is_ipv6(host) else ThreadingHTTPServer
        try:
            self._server = server_class((host, port), _handler_for(render, dict(health)))
        except OSError as exc:  # socket.gaierror included: a name that does not resolve
            raise MetricsBindError(
                f"cannot serve /metrics on {host} port {port}: {exc.strerror or exc}"
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=thread_name, daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def address(self) -> tuple[str, int]:
        """The host and port the socket is bound to, as the system reports them."""
        host, port = self._server.server_address[:2]
        return host, port

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def is_bind_host(text: str) -> bool:
    """An IP address literal or an RFC 1123 host name (whether it is local shows at bind).

    No port, scheme or brackets: `0.0.0.0:9464`, `http://0.0.0.0` and `[::]` are refused.
    """
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return True
    name = text.removesuffix(".")
    labels = name.split(".")
    # An all-digit last label is a malformed address ("127.1", "1.2.3.256"), which the
    # resolver would otherwise read as some other address.
    return (
        0 < len(name) <= 253
        and all(_HOST_LABEL.match(label) for label in labels)
        and not labels[-1].isdigit()
    )


def url_host(host: str) -> str:
    """`host` as it appears in a URL: an IPv6 address goes in brackets."""
    return f"[{host}]" if _is_ipv6(host) else host


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def _handler_for(
    render: Callable[[], bytes], health: dict[str, HealthCheck]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, render(), CONTENT_TYPE_LATEST)
            elif (check := health.get(path)) is not None:
                ok, report = check()
                self._send(200 if ok else 503, json.dumps(report).encode(), "application/json")
            else:
                self._send(404, _NOT_FOUND, "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
