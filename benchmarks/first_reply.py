"""Time from `./scripts/run` to the first visible reply, as a new user sees it.

Copies the tracked files to a fresh directory (a fresh clone), runs `./scripts/run` there
(which creates its own virtual environment), posts one message when the board answers, and
prints the seconds until the reply is visible; then Ctrl-C, and the same again to time a
second run that reuses the environment. Ports are moved to free ones.

    .venv/bin/python benchmarks/first_reply.py [--workdir /tmp/first-reply]
    PIP_NO_CACHE_DIR=1 .venv/bin/python benchmarks/first_reply.py   # no pip cache either
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.botconfig import default_config_copy  # noqa: E402
from tests.support.site import post_human, replies_to, visible, wait_for  # noqa: E402
from tests.test_scripts import _copy_tracked, _ctrl_c, _run_script  # noqa: E402


def _board_up(url: str) -> bool:
    try:
        return httpx.get(url + "/api/stats", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/botcluster-first-reply"))
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    repo = args.workdir / "botcluster"
    repo.mkdir(parents=True)
    _copy_tracked(repo)
    files = default_config_copy(repo, text=(repo / "servers.toml").read_text())
    for run in ("fresh environment", "second run"):
        started = time.monotonic()
        proc = _run_script(repo, args.workdir / "run.log")
        wait_for(lambda: _board_up(files.board_url), timeout=900, interval=0.2)
        mid = f"{int(time.time() * 1000)}-first"
        post_human(files.board_url, mid, "Hello! How are you today?", "the-eternal")
        wait_for(lambda m=mid: replies_to(visible(files.board_url), m), timeout=300,
                 interval=0.2)
        print(f"{run}: ./scripts/run to first visible reply {time.monotonic() - started:.1f} s")
        print(f"{run}: Ctrl-C exit status {_ctrl_c(proc)}")


if __name__ == "__main__":
    main()
