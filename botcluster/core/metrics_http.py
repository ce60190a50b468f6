"""Multiprocess metrics: the directory, the publisher, and the `/metrics` HTTP endpoint.

`prepare_dir` must run before anything imports prometheus_client (ARCHITECTURE.md "Metrics"), and
after the instance locks are taken (core/locks.py): the directory may be a running bot's.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from botcluster.errors import ConfigError

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"
KEY = "metrics.multiproc_dir"
# The files prometheus_client writes in multiprocess mode: <type>[_<mode>]_<pid>.db
METRIC_FILE = re.compile(r"[a-z]+(_[a-z]+)?_\d+\.db")


@dataclass(frozen=True)
class MetricsDir:
    """This bot's metric files. `temporary`: made for this run, removed by `remove`."""

    path: Path
    temporary: bool

    def remove(self) -> None:
        """At a clean exit: drop a temporary directory (a configured one is left as it is)."""
        if self.temporary:
            shutil.rmtree(self.path, ignore_errors=True)


def prepare_dir(configured: Path | None, source: Path | str = "") -> MetricsDir:
    """An empty, private (0700) directory for this bot's metric files; exported in the
    environment.

    Values left by an earlier run would be summed into this one's, so a configured directory is
    emptied first, but only of prometheus_client's own files: a directory holding anything
    else (the config directory, a journal) is refused with a ConfigError naming the key.
    """
    if configured is None:
        path = Path(tempfile.mkdtemp(prefix="botcluster-metrics-"))  # 0700, unique
        os.environ[ENV] = str(path)
        return MetricsDir(path, temporary=True)
    _claim(configured, str(source))
    for entry in os.scandir(configured):
        os.unlink(entry.path)  # _claim checked every entry is a metric file
    os.environ[ENV] = str(configured)
    return MetricsDir(configured, temporary=False)


def _claim(path: Path, source: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(source, KEY, f"cannot create {path}: {exc.strerror}") from None
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode):
        what = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a directory"
        raise ConfigError(source, KEY, f"{path} is {what}; give a directory of its own")
    if st.st_uid != os.geteuid():
        raise ConfigError(source, KEY, f"{path} belongs to uid {st.st_uid}, not to this user")
    others = sorted(e.name for e in os.scandir(path)
                    if not (METRIC_FILE.fullmatch(e.name) and e.is_file(follow_symlinks=False)))
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise ConfigError(source, KEY, f"{path} holds files that are not metric files "
                          f"({shown}); the bot empties this directory at every start, so give "
                          f"it a directory of its own, or leave the key unset")
    os.chmod(path, 0o700)


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
