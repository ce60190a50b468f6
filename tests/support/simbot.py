"""A bot on simulated LM Studio hosts: write the cluster file, start the sim, write servers.toml.

For tests that need hosts faster or more numerous than the real local LLM, or hosts that fail.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.procs import botcluster_cmd, free_port, running


@dataclass(frozen=True)
class SimBot:
    config: Path
    board_url: str
    metrics_url: str
    hosts: dict[str, str]  # sim host name -> url


def cluster_toml(hosts: int = 1, *, slots: int = 2, tokens_per_s: float = 50.0,
                 models: tuple[str, ...] = ("m-a@f16",)) -> str:
    catalogue = ", ".join(f'{{ key = "{m}", size_gb = 4.0, context_length = 8192, '
                          f'loaded = true }}' for m in models)
    return "seed = 1\ntime_scale = 1.0\n" + "".join(f"""
[[hosts]]
name = "sim-{i}"
port = 0
flavour = "lmstudio"
memory_gb = 64.0
slots_per_model = {slots}
slots_per_host = {slots}
jit = false
auto_evict = false
load_gb_per_s = 4.0
ttft_s = 0.05
tokens_per_s = {tokens_per_s}
models = [{catalogue}]
""" for i in range(hosts))


def bot_toml(board_port: int, metrics_port: int, tmp: Path, hosts: dict[str, str], *,
             workers: int = 2, jobs: int = 2, lease_s: float = 60.0, max_tokens: int = 20,
             entities: dict[str, str] | None = None, extra_bot: str = "", slots: int = 2,
             host_extra: dict[str, str] | None = None,
             entity_max_tokens: dict[str, int] | None = None,
             host_slots: dict[str, int] | None = None) -> str:
    """servers.toml for a bot on the board and the given lmstudio hosts.

    `host_extra`: more TOML lines for a host's table (e.g. "memory_gb = 10"), by host name;
    `entity_max_tokens`: maxTokens per entity id, instead of `max_tokens`;
    `host_slots`: a host's cap on concurrent predictions, by host name, instead of `slots`.
    """
    ents = entities or {"e1": "m-a@f16"}
    text = f"""
[bot]
poll_interval_s = 0.2
workers = {workers}
jobs_per_worker = {jobs}
lease_s = {lease_s}
journal_path = "{tmp}/var/journal.jsonl"
{extra_bot}

[board]
host = "127.0.0.1"
port = {board_port}
db_path = "{tmp}/var/board.sqlite3"

[metrics]
port = {metrics_port}

[heal]
initial_backoff_s = 0.2
max_backoff_s = 2.0
"""
    for name, url in hosts.items():
        text += (f'\n[[hosts]]\nname = "{name}"\nurl = "{url}"\nkind = "lmstudio"\n'
                 f'slots = {(host_slots or {}).get(name, slots)}\n'
                 f'{(host_extra or {}).get(name, "")}\n')
    for eid, model in ents.items():
        tokens = (entity_max_tokens or {}).get(eid, max_tokens)
        text += (f'\n[[entities]]\nid = "{eid}"\nusername = "{eid.upper()}"\n'
                 f'baseModel = "{model}"\nmaxTokens = {tokens}\n')
    return text


@contextlib.contextmanager
def sim_cluster(tmp: Path, cluster: str) -> Iterator[dict[str, str]]:
    """Run `botcluster sim` until the block ends; yields host name -> url."""
    (tmp / "cluster.toml").write_text(cluster)
    ports = tmp / "sim-ports.json"
    with running(botcluster_cmd("sim", str(tmp / "cluster.toml"), "--ports-file", str(ports)),
                 log=tmp / "sim.log"):
        deadline = time.monotonic() + 30
        while not ports.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield json.loads(ports.read_text())


def write_bot(tmp: Path, hosts: dict[str, str], **kw: object) -> SimBot:
    board, metrics = free_port(), free_port()
    path = tmp / "servers.toml"
    path.write_text(bot_toml(board, metrics, tmp, hosts, **kw))  # type: ignore[arg-type]
    return SimBot(config=path, board_url=f"http://127.0.0.1:{board}",
                  metrics_url=f"http://127.0.0.1:{metrics}", hosts=hosts)
