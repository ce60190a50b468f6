"""Copies of the project's servers.toml for tests: free loopback ports, private paths."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.support.procs import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BotFiles:
    config: Path
    board_url: str
    metrics_url: str
    host_url: str
    journal: Path


def default_config_copy(tmp: Path, *, bot: dict[str, str] | None = None,
                        text: str | None = None) -> BotFiles:
    """servers.toml with every port free and every path under `tmp`.

    `bot` sets keys of the [bot] table to TOML values, e.g. {"max_attempts": "6"}.
    """
    board, host, metrics = free_port(), free_port(), free_port()
    src = text if text is not None else (ROOT / "servers.toml").read_text()
    src = src.replace("port = 8787", f"port = {board}")
    src = src.replace('url = "http://127.0.0.1:8081"', f'url = "http://127.0.0.1:{host}"')
    src = src.replace("port = 9464", f"port = {metrics}")
    src = re.sub(r'"var/', f'"{tmp}/var/', src)
    for key, value in (bot or {}).items():
        line = f"{key} = {value}"
        src, n = re.subn(rf"(?m)^{key} = .*$", line, src, count=1)
        if n == 0:
            src = src.replace("[bot]\n", f"[bot]\n{line}\n", 1)
    path = tmp / "servers.toml"
    path.write_text(src)
    return BotFiles(config=path, board_url=f"http://127.0.0.1:{board}",
                    metrics_url=f"http://127.0.0.1:{metrics}",
                    host_url=f"http://127.0.0.1:{host}", journal=tmp / "var" / "journal.jsonl")
