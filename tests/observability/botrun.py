"""A real bot on simulated hosts, and what an operator reads from it: /metrics, /healthz, /readyz.

Every bot here is `botcluster start` as a subprocess with the embedded board, on loopback.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.procs import botcluster_cmd, running
from tests.support.ptree import alive, descendants
from tests.support.simbot import SimBot
from tests.support.site import post_human, replies_to, visible, wait_for

WORKER_READY = re.compile(r"worker \S+ ready \(pid (\d+)")


def with_metrics_keys(bot: SimBot, **keys: object) -> SimBot:
    """Add keys to the `[metrics]` section of the bot's servers.toml."""
    lines = "".join(f"{k} = {_toml(v)}\n" for k, v in keys.items())
    text = bot.config.read_text()
    assert text.count("[metrics]\n") == 1
    bot.config.write_text(text.replace("[metrics]\n", "[metrics]\n" + lines))
    return bot


def _toml(value: object) -> str:
    return f'"{value}"' if isinstance(value, str | Path) else str(value)


@contextlib.contextmanager
def started(bot: SimBot, log: Path, timeout: float = 60) -> Iterator[subprocess.Popen[bytes]]:
    """`botcluster start` until the block ends; yields once /readyz answers 200."""
    with running(botcluster_cmd("start", "--config", str(bot.config)),
                 ready_url=bot.metrics_url + "/readyz", timeout=timeout, log=log) as proc:
        yield proc


def scrape(bot: SimBot) -> str:
    r = httpx.get(bot.metrics_url + "/metrics", timeout=5)
    r.raise_for_status()
    return r.text


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition: (name, labels) -> value."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples(text).items() if n == name and want <= ls)


def sample_names(text: str) -> set[str]:
    """The series names that have at least one sample (a TYPE line alone does not count)."""
    return {name for name, _ in samples(text)}


def worker_pids(proc: subprocess.Popen[bytes], log: Path) -> list[int]:
    """The booted worker processes of the bot: spawn children that logged "ready"."""
    announced = {int(m) for m in WORKER_READY.findall(log.read_text(errors="replace"))}
    return sorted(alive(descendants(proc.pid)) & announced)


def post(bot: SimBot, ids: list[str]) -> None:
    """Post a human message to entity e1 for each id."""
    for mid in ids:
        post_human(bot.board_url, mid, "hello there", "e1", context=[])


def post_and_wait(bot: SimBot, ids: list[str], timeout: float = 60) -> None:
    """Post a human message for each id, then wait until every one has a visible reply."""
    post(bot, ids)
    wait_for(lambda: all(replies_to(visible(bot.board_url), m) for m in ids), timeout=timeout,
             interval=0.2)


def promtool_lint(text: str) -> str:
    """What `promtool check metrics` says about an exposition ("" when clean).

    Needs promtool (Debian package `prometheus`); callers skip when it is absent.
    """
    promtool = shutil.which("promtool")
    assert promtool is not None
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=30)
    said = done.stdout + done.stderr
    return f"exit {done.returncode}: {said}" if done.returncode else said
