"""The pieces of a chaos run as real processes on loopback: board, simulated hosts, the bot,
and `botcluster stress`; plus the faults the tests inflict on them.

Every process runs in its own session (process group) so that it and everything it spawned can
be killed at once; every port is a free loopback port; every file lives under the test's tmp.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.procs import LOOPBACK, botcluster_cmd, free_port, stop, wait_http
from tests.support.ptree import alive, descendants


@dataclass(frozen=True)
class SimHost:
    """One simulated LM Studio host; `models` are (key, loaded at start)."""

    name: str
    models: tuple[tuple[str, bool], ...]
    slots: int = 2
    memory_gb: float = 64.0
    error_rate: float = 0.0
    tokens_per_s: float = 80.0


@dataclass(frozen=True)
class EntitySpec:
    id: str
    username: str
    model: str
    min_seconds_between_posts: float = 0.0
    max_posts_per_minute: int = 0


def popen(cmd: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def tail(path: Path, chars: int = 6000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


# --- board --------------------------------------------------------------------------------


@dataclass
class Board:
    url: str
    db: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def set_faults(self, **faults: Any) -> None:
        httpx.post(self.url + "/api/admin/faults", json=faults, timeout=5).raise_for_status()

    def records(self) -> list[dict[str, Any]]:
        """Every stored message (the truth, not the cache), read from the board's SQLite."""
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return [json.loads(body) for (body,) in conn.execute("SELECT body FROM records")]
        finally:
            conn.close()


@contextlib.contextmanager
def board(tmp: Path, *flags: str) -> Iterator[Board]:
    port = free_port()
    db = tmp / "board.sqlite3"
    log = tmp / "board.log"
    proc = popen(botcluster_cmd("board", "--host", LOOPBACK, "--port", str(port), "--db",
                                str(db), "--seed", "7", "--log-level", "WARNING", *flags), log)
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_http(url + "/api/heartbeat", timeout=30, proc=proc)
        yield Board(url=url, db=db, proc=proc, log=log)
    finally:
        stop(proc)


# --- simulated hosts ----------------------------------------------------------------------


@dataclass
class Sim:
    urls: dict[str, str]
    ports_file: Path
    proc: subprocess.Popen[bytes]

    def down_for(self, host: str, seconds: float) -> None:
        httpx.post(self.urls[host] + "/sim/faults", json={"down_for_s": seconds},
                   timeout=5).raise_for_status()

    def stats(self) -> dict[str, dict[str, Any]]:
        return {n: httpx.get(u + "/sim/stats", timeout=5).json() for n, u in self.urls.items()}


def cluster_toml(hosts: Sequence[SimHost]) -> str:
    lines = ["seed = 11", "time_scale = 1.0", ""]
    for h in hosts:
        lines += ["[[hosts]]", f'name = "{h.name}"', 'flavour = "lmstudio"',
                  f"memory_gb = {h.memory_gb}", f"slots_per_model = {h.slots}",
                  f"slots_per_host = {h.slots}", "jit = false", "auto_evict = false",
                  "load_gb_per_s = 8.0", "ttft_s = 0.1", f"tokens_per_s = {h.tokens_per_s}",
                  "models = ["]
        lines += [f'  {{ key = "{key}", size_gb = 4.0, context_length = 4096, '
                  f'loaded = {"true" if loaded else "false"} }},' for key, loaded in h.models]
        lines += ["]", "[hosts.faults]", f"error_rate = {h.error_rate}", ""]
    return "\n".join(lines)


@contextlib.contextmanager
def sim(tmp: Path, hosts: Sequence[SimHost]) -> Iterator[Sim]:
    cluster = tmp / "cluster.toml"
    cluster.write_text(cluster_toml(hosts))
    ports = tmp / "sim-ports.json"
    proc = popen(botcluster_cmd("sim", str(cluster), "--ports-file", str(ports)),
                 tmp / "sim.log")
    try:
        deadline = time.monotonic() + 30
        while not ports.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sim did not start:\n" + tail(tmp / "sim.log"))
            time.sleep(0.1)
        urls = json.loads(ports.read_text())
        for url in urls.values():
            wait_http(url + "/sim/stats", timeout=10, proc=proc)
        yield Sim(urls=urls, ports_file=ports, proc=proc)
    finally:
        stop(proc)


# --- the bot ------------------------------------------------------------------------------

WORKER_READY = re.compile(r"worker \S+ ready \(pid (\d+)")


def bot_toml(tmp: Path, api_url: str, sim_urls: dict[str, str], hosts: Sequence[SimHost],
             entities: Sequence[EntitySpec], metrics_port: int, *, workers: int = 3,
             jobs_per_worker: int = 3) -> str:
    lines = ["[bot]", f'api_url = "{api_url}"', 'dialect = "kv"', "poll_interval_s = 0.2",
             f"workers = {workers}", f"jobs_per_worker = {jobs_per_worker}",
             f'journal_path = "{tmp}/journal.jsonl"', "max_attempts = 8",
             "generation_timeout_s = 20", "connect_timeout_s = 2", "lease_s = 15",
             'worker_id = "chaos"', ""]
    for h in hosts:
        lines += ["[[hosts]]", f'name = "{h.name}"', f'url = "{sim_urls[h.name]}"',
                  'kind = "lmstudio"', f"slots = {h.slots}", f"memory_gb = {h.memory_gb}",
                  "models = [" + ", ".join(f'"{k}"' for k, _ in h.models) + "]", ""]
    for e in entities:
        lines += ["[[entities]]", f'id = "{e.id}"', f'username = "{e.username}"',
                  'color = "150150150"', f'baseModel = "{e.model}"', "maxTokens = 24",
                  f"rateLimits = {{ minSecondsBetweenPosts = {e.min_seconds_between_posts}, "
                  f"maxPostsPerMinute = {e.max_posts_per_minute}, maxPostsPerHour = 0 }}", ""]
    lines += ["[metrics]", f'host = "{LOOPBACK}"', f"port = {metrics_port}", "",
              "[heal]", "initial_backoff_s = 0.5", "max_backoff_s = 4.0", ""]
    return "\n".join(lines)


@dataclass
class Bot:
    """`botcluster start` against an already running board; restartable."""

    config: Path
    metrics_url: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    metrics_seen: list[str] = field(default_factory=list)  # last scrape of each run

    @classmethod
    def configured(cls, tmp: Path, api_url: str, sim_urls: dict[str, str],
                   hosts: Sequence[SimHost], entities: Sequence[EntitySpec],
                   **kw: int) -> Bot:
        """A bot whose bot.toml (in `tmp`, metrics on a free port) is written by bot_toml."""
        port = free_port()
        config = tmp / "bot.toml"
        config.write_text(bot_toml(tmp, api_url, sim_urls, hosts, entities, port, **kw))
        return cls(config, f"http://127.0.0.1:{port}", tmp / "bot.log")

    def start(self, workers: int, timeout: float = 90.0) -> None:
        """Start and wait until /readyz answers and every worker has booted (on two busy
        cores a spawned worker takes seconds to import its libraries)."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.proc = popen(botcluster_cmd("start", "--config", str(self.config)), self.log)
        self.starts += 1
        deadline = time.monotonic() + timeout
        try:
            wait_http(self.metrics_url + "/readyz", timeout=timeout, proc=self.proc)
            while len(WORKER_READY.findall(self._log_since(offset))) < workers:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise TimeoutError(f"{workers} workers not ready")
                time.sleep(0.2)
        except Exception as exc:
            raise AssertionError(f"bot did not start: {exc}\n{tail(self.log)}") from exc

    def _log_since(self, offset: int) -> str:
        with self.log.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def worker_pids(self) -> list[int]:
        """Live, booted worker processes of the current supervisor: its spawn children that
        said "worker ... ready (pid N" in the log; never the manager, never one still booting
        (killing a worker before it can claim anything tests nothing about leases)."""
        assert self.proc is not None
        announced = {int(m) for m in WORKER_READY.findall(self.log.read_text(errors="replace"))}
        out = []
        for pid in alive(descendants(self.proc.pid)) & announced:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.proc.pid and b"spawn_main" in cmd:
                out.append(pid)
        return sorted(out)

    def scrape(self) -> str:
        try:
            text = httpx.get(self.metrics_url + "/metrics", timeout=5).text
        except httpx.HTTPError:
            return ""
        if self.metrics_seen and len(self.metrics_seen) == self.starts:
            self.metrics_seen[-1] = text
        else:
            self.metrics_seen.append(text)
        return text

    def kill_hard(self) -> None:
        """SIGKILL the supervisor, then its whole process group (children linger otherwise)."""
        assert self.proc is not None
        self.scrape()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        time.sleep(0.5)

    def terminate(self, timeout: float) -> int:
        """SIGTERM the supervisor only; its exit code (raises if it takes longer)."""
        assert self.proc is not None
        self.scrape()
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.scrape()
            stop(self.proc)

    @contextlib.contextmanager
    def serving(self, workers: int, log_chars: int = 3000) -> Iterator[Bot]:
        """Started for the block; then stopped, whatever happened, and its log's tail printed."""
        try:
            self.start(workers=workers)
            yield self
        finally:
            self.stop()
            print(tail(self.log, log_chars))


def metric(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in a Prometheus text scrape (0 when absent)."""
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    total = 0.0
    for line in text.splitlines():
        if line.startswith(prefix):
            total += float(line.split()[-1])
    return total


def metric_sum(text: str, name: str) -> float:
    """The sum of every sample of `name` (any labels)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#") and \
                line[len(name):len(name) + 1] in (" ", "{"):
            total += float(line.split()[-1])
    return total


# --- stress ------------------------------------------------------------------------------


def stress_cmd(api_url: str, json_path: Path, *, messages: int, entities: Sequence[str],
               deadline: float, spread: float = 0.0, sim_ports: Path | None = None,
               settle: float = 3.0) -> list[str]:
    cmd = botcluster_cmd("stress", "--api-url", api_url, "-n", str(messages), "--deadline",
                         str(deadline), "--spread", str(spread), "--settle", str(settle),
                         "--json", str(json_path))
    for e in entities:
        cmd += ["--entity", e]
    if sim_ports is not None:
        cmd += ["--sim-ports-file", str(sim_ports)]
    return cmd


def read_report(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def run_stress(api_url: str, json_path: Path, *, timeout: float,
               **kw: Any) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`botcluster stress` (see stress_cmd) run to its end; prints its report, returns the
    finished process and the JSON report."""
    result = subprocess.run(stress_cmd(api_url, json_path, **kw), capture_output=True,
                            text=True, timeout=timeout)
    print(result.stdout)
    return result, read_report(json_path)
