"""Strangers on a port, for the tests that prove the bot never mistakes one for its own
server: a plain bound socket, and a small web server that is no LLM host."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextlib.contextmanager
def bound(port: int) -> Iterator[socket.socket]:
    """A plain socket bound to 127.0.0.1:port (not even listening)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
        yield sock


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>not an LLM</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextlib.contextmanager
def web_server(port: int) -> Iterator[ThreadingHTTPServer]:
    """A small web server that is no LLM host, answering 200 to everything."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
