"""One bot per site and journal: advisory file locks held for the bot's lifetime.

Two locks: one beside the journal (two bots must never share a journal) and one per site URL
in the user's runtime directory (two bots on one site with different journals would answer the
same messages twice on the KV server, whose claims are not atomic). The kernel drops both when
the process dies, however it dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO

from botcluster.errors import LockHeld


def site_lock_path(api_url: str) -> Path:
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / "botcluster-locks"
    digest = hashlib.sha256(api_url.rstrip("/").encode()).hexdigest()[:16]
    return base / f"site-{digest}.lock"


class BotLock:
    def __init__(self, journal_path: Path, api_url: str) -> None:
        self.paths = [journal_path.with_name(journal_path.name + ".lock"),
                      site_lock_path(api_url)]
        self.api_url = api_url
        self._files: list[IO[str]] = []

    def acquire(self) -> None:
        """Take both locks or raise LockHeld naming the other bot's pid."""
        for path in self.paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            f = path.open("a+")
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "unknown"
                f.close()
                self.release()
                raise LockHeld(f"another botcluster (pid {holder}) already serves "
                               f"{self.api_url} or uses this journal (lock {path})") from None
            f.seek(0)
            f.truncate()
            f.write(str(os.getpid()))
            f.flush()
            self._files.append(f)

    def release(self) -> None:
        for f in self._files:
            f.close()  # closing drops the flock
        self._files = []
