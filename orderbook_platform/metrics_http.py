"""The small HTTP server every long-running process uses for `/metrics` and health.

- `/metrics`: Prometheus text format (`CONTENT_TYPE_LATEST`) from a `render()` callable,
  usually `generate_latest(registry)` of the process's own registry;
- each health path (`/healthz`, and `/readyz` for the engine): a callable returning
  `(ok, report)`; the answer is `report` as JSON with 200 when ok, 503 otherwise;
- anything else: 404 `{"error": "not found"}`.

It runs on a daemon thread and never logs a request: scrapes every few seconds would
drown the process's own output. Used by the engine service (`engine/telemetry.py`) and
the live trader pool (`traders/metrics.py`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]

_NOT_FOUND = b'{"error": "not found"}'


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
        self._server = ThreadingHTTPServer((host, port), _handler_for(render, dict(health)))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=thread_name, daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


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
