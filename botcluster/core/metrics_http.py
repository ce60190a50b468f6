"""Multiprocess metrics: the directory, the publisher, and the `/metrics` HTTP endpoint.

`prepare_dir` must run before anything imports prometheus_client (DESIGN.md "Metrics").
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_dir(configured: Path | None) -> Path:
    """A fresh, empty directory for this bot's metric files; exported in the environment.

    Values left by an earlier run would be summed into this one's, so it is wiped first.
    """
    path = configured or Path(tempfile.mkdtemp(prefix="botcluster-metrics-"))
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.environ[ENV] = str(path)
    return path


def render() -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


Check = Callable[[], tuple[bool, dict[str, Any]]]
# The page runs no script at all: message text that slipped past escaping could not run either.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def serve(host: str, port: int, healthy: Check, ready: Check,
          status: Callable[[], dict[str, Any]],
          page: Callable[[], str] | None = None) -> ThreadingHTTPServer:
    """Serve /metrics, /healthz, /readyz, /status and the operator page `/` (`page`, HTML)
    from a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/metrics":
                body, ctype = render()
                self._send(200, body, ctype)
            elif path in ("/healthz", "/readyz"):
                ok, detail = (healthy if path == "/healthz" else ready)()
                self._send(200 if ok else 503, json.dumps({"ok": ok, **detail}).encode(),
                           "application/json")
            elif path == "/" and page is not None:
                self._send(200, page().encode(), "text/html; charset=utf-8", PAGE_HEADERS)
            elif path == "/status":
                self._send(200, json.dumps(status(), default=str).encode(), "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, code: int, body: bytes, ctype: str,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # scrapes every few seconds would drown the log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
