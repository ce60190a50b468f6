"""The ports a bot listens on: checked free before anything starts, and who holds one.

`check_ports(config)` binds each port the config asks the bot to serve (the embedded board,
each local LLM host, the metrics endpoint) the way the servers will bind it, and raises
`PortInUse` with one line naming the config key of the first one taken. `pid_listens` answers
"is this process the one listening on that port?", so that a child is never mistaken for a
stranger that happens to answer on the same port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from botcluster.config.model import Config
from botcluster.errors import PortInUse

TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
LISTEN_STATE = "0A"  # TCP_LISTEN in /proc/net/tcp
WILDCARDS = ("", "0.0.0.0", "::")


@dataclass(frozen=True)
class Listener:
    """One address the bot will serve; `key` is the config key that sets it."""

    key: str
    host: str
    port: int


def listeners(config: Config) -> list[Listener]:
    """What `botcluster start` will listen on, in start order. Port 0 (any free port) is left
    out: it cannot clash."""
    found: list[Listener] = []
    if config.embedded_board:
        found.append(Listener("[board] port", config.board.host, config.board.port))
    for h in config.hosts:
        if h.local is not None:
            parts = urlsplit(h.url)
            found.append(Listener(f'[[hosts]] "{h.name}" url port', parts.hostname or "",
                                  parts.port or 0))
    if config.metrics.enabled:
        found.append(Listener("[metrics] port", config.metrics.host, config.metrics.port))
    return [x for x in found if x.port]


def check_free(listener: Listener) -> None:
    """Bind and release the address as its server will (SO_REUSEADDR); PortInUse if taken."""
    try:
        family = socket.AF_INET6 if ":" in listener.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((listener.host, listener.port))
    except OSError as exc:
        raise PortInUse(in_use(listener, str(exc))) from exc


def in_use(listener: Listener, reason: str) -> str:
    return (f"{listener.key} {listener.port} is in use ({listener.host}:{listener.port}): "
            f"{reason}")


def check_ports(config: Config) -> None:
    """Raise PortInUse for the first port that two keys share or that something else holds."""
    seen: dict[int, Listener] = {}
    for x in listeners(config):
        other = seen.get(x.port)
        if other is not None and (other.host == x.host or {other.host, x.host} & set(WILDCARDS)):
            raise PortInUse(in_use(x, f"also set by {other.key}"))
        seen[x.port] = x
    for x in listeners(config):
        check_free(x)


def pid_listens(pid: int, port: int) -> bool | None:
    """Whether process `pid` has a listening TCP socket on `port`; None when this system
    cannot tell (no /proc and no lsof)."""
    if TCP_TABLES[0].exists():
        inodes = _listening_inodes(port)
        return bool(inodes & _socket_inodes(pid))
    lsof = shutil.which("lsof")
    if lsof is None:
        return None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run([lsof, "-nP", "-a", "-p", str(pid), f"-iTCP:{port}",
                               "-sTCP:LISTEN", "-t"], capture_output=True, text=True,
                              timeout=5)
        return str(pid) in done.stdout.split()
    return None


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on `port` (Linux /proc/net/tcp and tcp6)."""
    want = f":{port:04X}"
    inodes: set[str] = set()
    for table in TCP_TABLES:
        with contextlib.suppress(OSError):
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[1].endswith(want) and fields[3] == LISTEN_STATE:
                    inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets process `pid` holds open."""
    found: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(OSError):
        for fd in os.listdir(fd_dir):
            with contextlib.suppress(OSError):
                target = os.readlink(fd_dir / fd)
                if target.startswith("socket:["):
                    found.add(target[8:-1])
    return found
