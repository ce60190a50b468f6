"""The servers.toml that points a real `botcluster start` at a simulated cluster."""

from __future__ import annotations

import math
import socket
from dataclasses import dataclass
from pathlib import Path

from botcluster.bench.workload import Persona
from botcluster.sim.spec import ClusterSpec

# The LM Studio adapter reads model sizes from `size_bytes` in units of 1e9 bytes, while the
# simulator reports `size_gb * 2**30` bytes: the budget is given in the adapter's units so that
# the bot sees the same memory as the host has.
ADAPTER_GB_PER_SIM_GB = 2**30 / 1e9
WARMUP_ENTITY = "bench-warmup"  # answers the warm-up messages before the measured run
WORKER_ID = "botcluster"  # [bot] worker_id: workers claim as "<id>-w<n>"


@dataclass(frozen=True)
class BotSetup:
    config: Path
    board_url: str
    db_path: Path
    workers: int
    jobs_per_worker: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def concurrency(cluster: ClusterSpec) -> int:
    """Jobs in flight for every strategy: every slot, plus one per host for a load."""
    return sum(h.slots_per_host for h in cluster.hosts) + len(cluster.hosts)


def _q(s: str | Path) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(workdir: Path, cluster: ClusterSpec, urls: dict[str, str],
                 personas: dict[str, Persona], *, workers: int = 2,
                 poll_interval_s: float = 0.05) -> BotSetup:
    """Write servers.toml under `workdir` for the simulated hosts at `urls`."""
    jobs = math.ceil(concurrency(cluster) / workers)
    board_port, metrics_port = free_port(), free_port()
    db = workdir / "board.sqlite3"
    lines = ["[bot]", f"poll_interval_s = {poll_interval_s}", f"workers = {workers}",
             f"jobs_per_worker = {jobs}", f"journal_path = {_q(workdir / 'journal.jsonl')}",
             "max_attempts = 3", "log_level = \"INFO\"", f"worker_id = {_q(WORKER_ID)}", "",
             "[board]", 'host = "127.0.0.1"', f"port = {board_port}", f"db_path = {_q(db)}", "",
             "[metrics]", 'host = "127.0.0.1"', f"port = {metrics_port}",
             f"multiproc_dir = {_q(workdir / 'prom')}", ""]
    for h in cluster.hosts:
        models = ", ".join(_q(m.key) for m in h.models)
        lines += ["[[hosts]]", f"name = {_q(h.name)}", f"url = {_q(urls[h.name])}",
                  'kind = "lmstudio"', f"slots = {h.slots_per_host}",
                  f"memory_gb = {h.memory_gb * ADAPTER_GB_PER_SIM_GB:.4f}",
                  f"models = [{models}]",
                  # What an operator knows of their host: whether it generates while it loads,
                  # and its speeds as first guesses (the bot replaces them with measurements).
                  "load_while_generating = "
                  f"{'false' if h.load_blocks_generation else 'true'}",
                  f"load_gb_per_s = {h.load_gb_per_s * ADAPTER_GB_PER_SIM_GB:.4f}",
                  f"tokens_per_s = {h.tokens_per_s}", f"ttft_s = {h.ttft_s}", ""]
    first = cluster.hosts[0]
    warm_model = next((m.key for m in first.models if m.loaded), first.models[0].key)
    warm = Persona(WARMUP_ENTITY, warm_model, 4)
    for p in [*personas.values(), warm]:
        lines += ["[[entities]]", f"id = {_q(p.id)}", f"username = {_q(p.id[:16])}",
                  f"baseModel = {_q(p.model)}", f"maxTokens = {p.max_tokens}", "nom = 1",
                  f"systemPrompt = {_q('You are ' + p.id + '.')}", ""]
    path = workdir / "servers.toml"
    path.write_text("\n".join(lines))
    return BotSetup(config=path, board_url=f"http://127.0.0.1:{board_port}", db_path=db,
                    workers=workers, jobs_per_worker=jobs)
