"""Local hosts the bot starts: a stranger on the port is never adopted, a killed host is
restarted with backoff.

The child here is the llama.cpp-flavoured simulator on a fixed port, started exactly as the
bot starts its local host (LocalHostProcess: own process group, output kept): the real model
adds nothing to process supervision. The real llama.cpp child is covered in
tests/test_local_host.py.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from botcluster.config.model import HostConfig, LocalServer
from botcluster.core.ports import pid_listens
from botcluster.errors import LocalHostError
from botcluster.hosts.local import LocalHostProcess
from botcluster.hosts.supervise import LocalHostSupervisor
from tests.support.procs import free_port
from tests.support.strangers import web_server

SIM_HOST = """seed = 1
time_scale = 1.0

[[hosts]]
name = "local"
port = {port}
flavour = "llamacpp"
memory_gb = 8.0
slots_per_model = 2
slots_per_host = 2
ttft_s = 0.01
tokens_per_s = 200.0
models = [{{ key = "smollm2", size_gb = 0.2, context_length = 2048, loaded = true }}]
"""


class SimLocalHost(LocalHostProcess):
    """A local host whose child is the simulator instead of llama.cpp."""

    def __init__(self, host: HostConfig, cluster: Path) -> None:
        super().__init__(host)
        self.cluster = cluster

    def command(self) -> list[str]:
        return [sys.executable, "-m", "botcluster", "sim", str(self.cluster)]


class Sleeper(LocalHostProcess):
    """A child that never listens: whatever answers on the port is someone else."""

    def command(self) -> list[str]:
        return [sys.executable, "-c", "import time; time.sleep(30)"]


def host_config(port: int) -> HostConfig:
    return HostConfig(name="local-1", url=f"http://127.0.0.1:{port}", kind="llamacpp",
                      slots=2, models=("smollm2",), local=LocalServer())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sim_host(tmp_path: Path) -> Iterator[SimLocalHost]:
    port = free_port()
    cluster = tmp_path / "cluster.toml"
    cluster.write_text(SIM_HOST.format(port=port))
    proc = SimLocalHost(host_config(port), cluster)
    proc.start()
    try:
        proc.wait_ready(30)
        yield proc
    finally:
        proc.stop(2.0)


def kill(proc: LocalHostProcess) -> None:
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    assert proc._proc is not None
    proc._proc.wait(5)


def test_a_stranger_answering_on_the_port_is_not_adopted() -> None:
    port = free_port()
    proc = Sleeper(host_config(port))
    with web_server(port):
        proc.start()
        try:
            with pytest.raises(LocalHostError, match=rf"port {port} .* another process"):
                proc.wait_ready(10)
        finally:
            proc.stop(1.0)


def test_killed_host_is_restarted_with_backoff(sim_host: SimLocalHost) -> None:
    clock = Clock()
    watch = LocalHostSupervisor([sim_host], clock=clock, initial_backoff_s=1.0,
                                max_backoff_s=4.0, stable_s=60.0)
    assert watch.check() == []
    first = sim_host.pid
    kill(sim_host)
    events = watch.check()
    assert [(e.host, e.kind) for e in events] == [("local-1", "died")]
    assert "code -9" in events[0].detail
    clock.now += 0.5
    assert watch.check() == []  # still within its backoff
    assert not sim_host.alive
    clock.now += 0.6
    assert [e.kind for e in watch.check()] == ["restarted"]
    assert sim_host.alive and sim_host.pid != first
    sim_host.wait_ready(30)  # the new child answers, and it is the one listening
    assert pid_listens(sim_host.pid or 0, sim_host.port) is True
    assert httpx.get(sim_host.host.url + "/v1/models", timeout=5).status_code == 200
    # Dies again at once: twice the wait.
    kill(sim_host)
    assert [e.kind for e in watch.check()] == ["died"]
    clock.now += 1.5
    assert watch.check() == []
    clock.now += 0.6
    assert [e.kind for e in watch.check()] == ["restarted"]


def test_restart_waits_while_a_stranger_holds_the_port(sim_host: SimLocalHost) -> None:
    clock = Clock()
    watch = LocalHostSupervisor([sim_host], clock=clock, initial_backoff_s=1.0)
    kill(sim_host)
    assert [e.kind for e in watch.check()] == ["died"]
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", sim_host.port))
        clock.now += 1.1
        events = watch.check()
        assert [e.kind for e in events] == ["blocked"]
        assert f'[[hosts]] "local-1" url port {sim_host.port} is in use' in events[0].detail
        assert not sim_host.alive
    clock.now += 2.1
    assert [e.kind for e in watch.check()] == ["restarted"]
    sim_host.wait_ready(30)
