"""`./scripts/run` as the README tells a new user: a fresh copy, a fresh virtual environment.

Slow on purpose: it really creates `.venv` and installs the project (pip's cache makes the
second install of the day quick). Then it runs the script again, which must reuse everything.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.botconfig import ROOT, default_config_copy
from tests.support.procs import wait_http
from tests.support.ptree import alive, descendants
from tests.support.site import post_human, replies_to, visible, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.llm, pytest.mark.timeout(600)]


def _copy_tracked(dest: Path) -> None:
    """What a fresh clone holds: the files git tracks."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _run_script(repo: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PROMETHEUS_MULTIPROC_DIR", "BOTCLUSTER_VENV")}
    env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":")
                           if not p.startswith(str(ROOT / ".venv")))
    with log.open("ab") as out:
        return subprocess.Popen(["./scripts/run"], cwd=repo, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _ctrl_c(proc: subprocess.Popen[bytes]) -> int:
    tree = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C
    code = proc.wait(timeout=15)
    wait_for(lambda: not alive(tree), timeout=5, interval=0.2)
    return code


def test_scripts_run_answers_a_message_and_is_safe_to_run_twice(tmp_path: Path) -> None:
    repo = tmp_path / "botcluster"
    _copy_tracked(repo)
    files = default_config_copy(repo, text=(repo / "servers.toml").read_text())
    log = tmp_path / "run.log"
    proc = _run_script(repo, log)
    try:
        wait_http(files.metrics_url + "/readyz", timeout=400, proc=proc)
        mid = f"{int(time.time() * 1000)}-scriptrun"
        post_human(files.board_url, mid, "Hi there, what a nice day.", "the-eternal")
        replies = wait_for(lambda: replies_to(visible(files.board_url), mid), timeout=120)
        assert replies[0]["username"] == "TheEternal"
        assert _ctrl_c(proc) == 0
        assert (repo / ".venv" / "bin" / "botcluster").exists()

        installs = log.read_text().count("installing botcluster")
        second = _run_script(repo, log)
        wait_http(files.metrics_url + "/readyz", timeout=120, proc=second)
        assert log.read_text().count("installing botcluster") == installs, "reinstalled"
        assert _ctrl_c(second) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        print(log.read_text(errors="replace")[-5000:])
