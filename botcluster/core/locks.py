"""One bot per site and journal: advisory file locks held for the bot's lifetime.

Up to three locks: one beside the journal (two bots must never share a journal), one per site
in the private runtime directory (core/rundir.py: two bots on one site with different journals
would answer the same messages twice on the KV server, whose claims are not atomic), and one
per configured metrics directory (a second bot would wipe the first one's metric files). The
kernel drops them when the process dies, however it dies, so a crash never leaves a stale lock.

`[bot] lock = false` drops only the site lock: the bot then shares its site with another one on
this machine exactly as with a bot on another machine, kept apart by the server's claims. The
journal and metrics locks cannot be turned off: nothing keeps a shared journal consistent.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from botcluster.core.rundir import open_own_file, private_dir, runtime_dir
from botcluster.errors import LockHeld

if TYPE_CHECKING:
    from botcluster.config.model import Config

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


def site_key(api_url: str) -> str:
    """The site an URL names, for the lock: scheme and host case, the default port, a trailing
    slash, and localhost / 127.0.0.1 / ::1 (all one loopback) make no difference."""
    parts = urlsplit(api_url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")  # urlsplit lower-cases it; "x." is "x"
    if host == "localhost" or _is_loopback(host):
        host = "loopback"
    port = parts.port or DEFAULT_PORTS.get(scheme, 0)
    path = "/" + "/".join(p for p in parts.path.split("/") if p)
    return f"{scheme}://{host}:{port}{path.rstrip('/')}"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host) in LOOPBACK
    except ValueError:
        return False


def _named_lock(kind: str, key: str) -> Path:
    return runtime_dir() / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.lock"


def site_lock_path(api_url: str) -> Path:
    return _named_lock("site", site_key(api_url))


def metrics_lock_path(directory: Path) -> Path:
    return _named_lock("metrics", str(directory.resolve()))


class BotLock:
    def __init__(self, journal_path: Path, api_url: str, *, site: bool = True,
                 metrics_dir: Path | None = None) -> None:
        self.journal_lock = journal_path.with_name(journal_path.name + ".lock")
        self.private = [site_lock_path(api_url)] if site else []
        if metrics_dir is not None:
            self.private.append(metrics_lock_path(metrics_dir))
        self.api_url = api_url
        self._fds: list[int] = []

    @classmethod
    def for_config(cls, config: Config) -> BotLock:
        return cls(config.bot.journal_path, config.api_url, site=config.bot.lock,
                   metrics_dir=config.metrics.multiproc_dir)

    @property
    def paths(self) -> list[Path]:
        return [self.journal_lock, *self.private]

    @property
    def held(self) -> bool:
        return bool(self._fds)

    def acquire(self) -> None:
        """Take every lock or none; raise LockHeld naming the other bot's pid, or UnsafePath.

        Taking locks already held by this object does nothing (the CLI takes them before the
        metrics directory is prepared; the runtime's start then finds them held).
        """
        if self.held:
            return
        try:
            self.journal_lock.parent.mkdir(parents=True, exist_ok=True)
            self._take(self.journal_lock, None)
            if self.private:
                with private_dir(runtime_dir()) as dir_fd:
                    for path in self.private:
                        self._take(path, dir_fd)
        except BaseException:
            self.release()
            raise

    def _take(self, path: Path, dir_fd: int | None) -> None:
        fd = open_own_file(path, dir_fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockHeld(f"another botcluster (pid {holder}) already serves "
                           f"{self.api_url} or uses this journal or metrics directory "
                           f"(lock {path})") from None
        self._fds.append(fd)
        # Ours alone (open_own_file checked it) and locked: safe to replace the old pid.
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing drops the flock
        self._fds = []
