"""`botcluster start --dry-run`: replies printed from a real LLM host (the simulator), the real
embedded board's store untouched; and the demo model kept away from non-local sites."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib
import json
import sqlite3
import subprocess
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from click.testing import CliRunner

from botcluster.board.app import create_app
from botcluster.board.settings import BoardSettings
from botcluster.comments import CommentsClient
from botcluster.config import load
from botcluster.core import dryrun
from botcluster.core.commands import start
from botcluster.core.demo_guard import demo_model_refusal, is_loopback_url
from botcluster.hosts.adapters import adapter_for
from botcluster.prompt import clean_reply
from botcluster.sim import SimCluster, cluster_from_dict
from tests.support.botconfig import default_config_copy
from tests.support.procs import LOOPBACK, botcluster_cmd, free_port
from tests.support.simbot import bot_toml, cluster_toml
from tests.support.site import post_human

SIM_HEAD = "[simulated reply from m-a@f16 on sim-0]"
# The chat client's HTTP package: httpx before openai 3, httpx2 from openai 3 on.
CHAT_HTTP: Any = importlib.import_module(
    openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0])


@contextlib.contextmanager
def board_on(db: Path, port: int) -> Iterator[str]:
    """The real board app, served by uvicorn in a thread on loopback until the block ends."""
    settings = BoardSettings(host=LOOPBACK, port=port, db_path=db,
                             entities=MappingProxyType({"e1": "E1"}))
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=LOOPBACK, port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "board thread died at start"
        threading.Event().wait(0.02)
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def sim_host() -> Iterator[dict[str, str]]:
    spec = cluster_from_dict(tomllib.loads(cluster_toml(1, tokens_per_s=2000.0)))
    with SimCluster(spec).running() as cluster:
        yield cluster.urls


def store_dump(db: Path) -> tuple[list[Any], list[Any]]:
    """Every stored record and every key/value of the board, read from its SQLite file."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return (conn.execute("SELECT id, timestamp, seq, body FROM records ORDER BY id").fetchall(),
                conn.execute("SELECT key, value FROM kv ORDER BY key").fetchall())


def post_three(base: str) -> list[str]:
    ids = ["m0000000001", "m0000000002", "m0000000003"]
    for i, mid in enumerate(ids):
        post_human(base, mid, f"question {i}", "e1", context=[f"Human: earlier {i}"])
    post_human(base, "m0000000009", "to nobody", "unknown-entity")
    return ids


class Recording(CHAT_HTTP.AsyncBaseTransport):  # type: ignore[misc]
    """The chat client's real transport, keeping every completion the host sent back."""

    def __init__(self) -> None:
        self.inner = CHAT_HTTP.AsyncHTTPTransport()
        self.completions: list[str] = []

    async def handle_async_request(self, request: Any) -> Any:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/chat/completions"):
            await response.aread()
            self.completions.append(json.loads(response.content)["choices"][0]["message"]
                                    ["content"])
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def blocks(out: str) -> list[tuple[str, str]]:
    """(header, reply text) for each printed reply."""
    found: list[tuple[str, list[str]]] = []
    for line in out.splitlines():
        if line.startswith("reply to "):
            found.append((line, []))
        elif line.startswith("    ") and found:
            found[-1][1].append(line[4:])
    return [(head, "\n".join(body)) for head, body in found]


def test_dry_run_prints_what_the_host_generated_and_writes_nothing(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "board.sqlite3"
    with sim_host() as hosts, board_on(db, port) as base:
        ids = post_three(base)
        (tmp_path / "servers.toml").write_text(
            bot_toml(port, free_port(), tmp_path, hosts)
            .replace("[bot]\n", f'[bot]\napi_url = "{base}"\n'))
        config = load(tmp_path / "servers.toml")
        before = store_dump(db)
        recording = Recording()
        lines: list[str] = []

        async def main() -> int:
            adapters = {h.name: adapter_for(h, chat_transport=recording) for h in config.hosts}
            async with CommentsClient(base) as client:
                code = await dryrun.dry_run(config, client, adapters, 2, lines.append)
            for a in adapters.values():
                await a.aclose()
            return code

        assert asyncio.run(main()) == 0
        pending = httpx.get(base + "/api/queue/pending", params={"limit": 10}).json()
        assert store_dump(db) == before  # no claim, post, patch or complete reached the store
    out = "\n".join(lines)
    printed = blocks(out)
    assert [head.split()[2] for head, _ in printed] == ids[:2]  # the first two, server order
    assert all(" for e1 (as E1), model m-a@f16 on sim-0:" in head for head, _ in printed)
    assert len(recording.completions) == 2
    entity = config.entities["e1"]
    for (_, text), raw in zip(printed, recording.completions, strict=True):
        assert raw.startswith(SIM_HEAD)
        assert text == clean_reply(entity, raw).text
    assert {m["id"] for m in pending["pending"]} >= set(ids)  # all still pending
    assert "4 pending (1 for unknown or disabled entities, left alone), 2 to answer" in lines[0]
    assert "nothing is claimed, posted or completed" in lines[0]
    assert lines[-1] == "dry run done: 2 message(s), 0 failed; nothing was posted"


def test_start_dry_run_with_limit_runs_the_embedded_board_itself(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "var" / "board.sqlite3"
    db.parent.mkdir()
    with sim_host() as hosts:
        with board_on(db, port) as base:
            ids = post_three(base)
        before = store_dump(db)
        (tmp_path / "servers.toml").write_text(bot_toml(port, free_port(), tmp_path, hosts))
        result = subprocess.run(
            botcluster_cmd("start", "--config", str(tmp_path / "servers.toml"), "--dry-run",
                           "--limit", "1"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    printed = blocks(result.stdout)
    assert len(printed) == 1 and printed[0][0].startswith(f"reply to {ids[0]} for e1 ")
    assert printed[0][1].startswith(SIM_HEAD)
    assert store_dump(db) == before
    assert not (tmp_path / "var" / "journal.jsonl").exists()


def test_a_failed_generation_is_reported_and_exits_1(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "board.sqlite3"
    down = {"sim-0": f"http://{LOOPBACK}:{free_port()}"}  # nothing listens there
    with board_on(db, port) as base:
        post_three(base)
        (tmp_path / "servers.toml").write_text(
            bot_toml(port, free_port(), tmp_path, down)
            .replace("[bot]\n", f'[bot]\napi_url = "{base}"\n'))
        lines: list[str] = []
        code = dryrun.run_dry(load(tmp_path / "servers.toml"), 1, lines.append)
    assert code == 1
    assert "(FAILED: no host that serves m-a@f16 is up; nothing would be posted)" in lines[1]


def test_reply_text_is_printed_inert() -> None:
    reply = dryrun.DryReply("m1", "e1", "E1", "m", "h", "two\nlines \x1b[2Jcleared", "reply")
    assert dryrun.render(reply).splitlines()[1:] == ["    two", "    lines \\x1b[2Jcleared"]


# --- the demo model and real sites ------------------------------------------------------------

def test_loopback_urls() -> None:
    assert is_loopback_url("http://127.0.0.1:8787") and is_loopback_url("http://localhost:1")
    assert is_loopback_url("http://[::1]:80") and is_loopback_url("http://127.8.0.1")
    assert not is_loopback_url("https://saywhatwant.app")
    assert not is_loopback_url("http://10.0.0.5:8787")


def test_demo_model_refusal_only_for_a_remote_api_answered_by_smollm2(tmp_path: Path) -> None:
    files = default_config_copy(tmp_path)
    config = load(files.config)
    assert demo_model_refusal(config) is None  # the embedded board
    from botcluster.config import apply_overrides

    remote = apply_overrides(config, api_url="https://saywhatwant.app")
    assert "--allow-demo-model" in (demo_model_refusal(remote) or "")
    local = apply_overrides(config, api_url="http://127.0.0.1:9")
    assert demo_model_refusal(local) is None
    mac = load(Path(__file__).parents[1] / "servers.example-macstudio.toml")
    assert demo_model_refusal(mac) is None  # its own hosts


def test_start_against_a_remote_site_with_the_demo_model_exits_2(tmp_path: Path) -> None:
    files = default_config_copy(tmp_path)
    result = subprocess.run(botcluster_cmd("start", "--config", str(files.config), "--api-url",
                                           "https://saywhatwant.app"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SmolLM2-135M demo model" in lines[0]
    assert "--allow-demo-model" in lines[0] and result.stdout == ""
    assert not files.journal.parent.exists()  # nothing started


def test_allow_demo_model_lets_the_start_go_ahead(tmp_path: Path) -> None:
    """Held journal lock: a start that passes the guard stops at the lock, before any request."""
    files = default_config_copy(tmp_path)
    files.journal.parent.mkdir(parents=True)
    with (files.journal.parent / "journal.jsonl.lock").open("a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = subprocess.run(
            botcluster_cmd("start", "--config", str(files.config), "--api-url",
                           "https://saywhatwant.app", "--allow-demo-model"),
            capture_output=True, text=True, timeout=60)
    assert "demo model" not in result.stderr
    assert "another botcluster" in result.stderr and result.returncode == 1


def test_a_dry_run_needs_no_allow_demo_model(tmp_path: Path, monkeypatch: Any) -> None:
    """It posts nothing, so it may show what the demo model would say on a real site."""
    files = default_config_copy(tmp_path)
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(dryrun, "run_dry", lambda c, n, say: calls.append((c.api_url, n)) or 0)
    monkeypatch.setattr("botcluster.logs.setup_logging", lambda *a, **k: None)
    args = ["--config", str(files.config), "--api-url", "https://saywhatwant.app"]
    assert CliRunner().invoke(start, [*args, "--dry-run"]).exit_code == 0
    assert CliRunner().invoke(start, [*args, "--dry-run", "5"]).exit_code == 0
    assert CliRunner().invoke(start, [*args, "--dry-run", "--limit", "4"]).exit_code == 0
    assert [n for _, n in calls] == [3, 5, 4]
    assert {url for url, _ in calls} == {"https://saywhatwant.app"}


@pytest.mark.parametrize(("args", "error"), [
    (["--limit", "2"], "--limit needs --dry-run"),
    (["--dry-run", "2", "--limit", "3"], "--dry-run 2 and --limit 3 disagree"),
    (["--dry-run", "0"], "--dry-run 0: give a number of messages, at least 1"),
])
def test_dry_run_option_mistakes_are_usage_errors(args: list[str], error: str) -> None:
    result = CliRunner().invoke(start, args)
    assert result.exit_code == 2 and error in result.output
