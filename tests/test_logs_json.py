"""`--log-format json` everywhere (a whole bot: tests/observability/test_operator_page.py), and
the per-call HTTP lines of the LLM client only at DEBUG."""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from botcluster.config.model import HostConfig
from botcluster.hosts.adapters import adapter_for
from botcluster.logs import setup_logging
from tests.support.logstate import logging_restored
from tests.support.procs import botcluster_cmd, running

# The HTTP package the installed openai uses (httpx before openai 3, httpx2 from 3 on).
HTTP = importlib.import_module(openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0])
COMPLETION = {"id": "c1", "object": "chat.completion", "created": 0, "model": "m",
              "choices": [{"index": 0, "finish_reason": "stop",
                           "message": {"role": "assistant", "content": "hi"}}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


@pytest.fixture
def clean_logging() -> Iterator[None]:
    with logging_restored():
        yield


def one_chat_call(level: str) -> list[dict[str, object]]:
    """One LLM call through the bot's adapter (the openai client, a mock transport), logged
    in JSON at `level`; the records."""
    stream = io.StringIO()
    setup_logging(level, "json", stream)
    host = HostConfig(name="h", url="http://127.0.0.1:9", kind="openai")
    transport = HTTP.MockTransport(lambda request: HTTP.Response(200, json=COMPLETION))

    async def go() -> None:
        adapter = adapter_for(host, chat_transport=transport)
        assert (await adapter.chat("m", [{"role": "user", "content": "x"}], {})).text == "hi"
        await adapter.aclose()

    asyncio.run(go())
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.usefixtures("clean_logging")
def test_per_call_http_lines_only_at_debug() -> None:
    assert not [r for r in one_chat_call("INFO") if "HTTP Request" in str(r["msg"])]
    # Shown when the operator asks for DEBUG: the HTTP package's own line, and openai's.
    debug = {str(r["logger"]) for r in one_chat_call("DEBUG") if "HTTP Request" in str(r["msg"])}
    assert {HTTP.__name__, "openai._base_client"} <= debug


def parse_all(text: str) -> list[dict[str, object]]:
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
    return records


def test_board_alone_writes_json(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "board.log"
    with running(botcluster_cmd("board", "--port", str(port), "--db", str(tmp_path / "b.db"),
                                "--log-format", "json", "--log-level", "debug"),
                 ready_url=f"http://127.0.0.1:{port}/api/stats", log=log) as proc:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    records = parse_all(log.read_text())
    loggers = {str(r["logger"]) for r in records}
    assert {"uvicorn.error", "uvicorn.access", "botcluster.board.cli"} <= loggers, loggers
    assert not [r for r in records if "color_message" in r]  # uvicorn's terminal colours


@pytest.mark.llm
def test_local_host_port_error_is_one_json_record(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = subprocess.run(botcluster_cmd("local-host", "--port", str(port),
                                             "--log-format", "json"),
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ})
    assert done.returncode == 4
    [record] = parse_all(done.stderr)
    assert record["level"] == "ERROR"
    assert f"port {port} is in use (127.0.0.1:{port})" in str(record["msg"])
