"""Frozen settings of the embedded board, and the mutable fault switches it starts from.

`BoardSettings` is loaded once (by the CLI or a test) and never changes. The fault modes are the
one thing that may change at run time (the admin endpoint flips them), so they live in `Faults`,
a small mutable object the app owns, seeded from `BoardSettings.faults`.
"""

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from botcluster.errors import ConfigError

BoardDialect = Literal["kv", "do"]

# Limits of the site's KV worker (CONTRACT.md section 1).
MAX_TEXT_CHARS = 1000
MAX_USERNAME_CHARS = 16
CACHE_SIZE = 200
RATE_LIMIT_POSTS = 10
RATE_LIMIT_WINDOW_S = 60.0
EXEMPT_DOMAIN = "saywhatwant.app"
DEFAULT_PRIORITY = 50
MAX_ATTEMPTS = 3
# Board limits, not the site's (docs/BOARD.md, "Intentional differences").
MAX_FUTURE_MS = 10 * 60 * 1000  # how far ahead of the board's clock a POSTed timestamp may be
# 200 messages this big as sent (a full cache) are 12.5 MiB, under the bot's 16 MiB read cap;
# escaping on the way out can make an answer larger than what was sent.
MAX_BODY_BYTES = 64 * 1024


def wall_clock_ms() -> int:
    """Milliseconds since the epoch, the unit every timestamp of the site uses."""
    return int(time.time() * 1000)


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (`127.0.0.1`, `::1`, `[::1]`)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class FaultSettings:
    """Fault modes, all off by default. Times in milliseconds or seconds as named."""

    cache_race: bool = False  # read, pause, write the whole cache list, no lock
    race_pause_ms: float = 5.0  # the pause between the read and the write
    claim_race: bool = False  # the same pause between reading and writing a claimed record
    error_rate: float = 0.0  # fraction of contract requests answered 500 or 503
    latency_ms: float = 0.0  # added before every contract request
    stale_reads_s: float = 0.0  # cache reads served from a snapshot up to this old


@dataclass(frozen=True)
class BoardSettings:
    """Everything a board needs to run. `clock_ms` and `rng` are injectable for tests."""

    host: str = "127.0.0.1"
    port: int = 8787
    db_path: Path = Path("var/board.sqlite3")
    dialect: BoardDialect = "kv"
    faults: FaultSettings = field(default_factory=FaultSettings)
    admin_token: str | None = None
    # Peers whose CF-Connecting-IP header names the client (a proxy in front); nobody else's.
    trusted_proxies: tuple[str, ...] = ()
    max_body_bytes: int = MAX_BODY_BYTES  # a bigger request body is answered 413
    # entity id -> username, offered by the page
    entities: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    seed: int | None = None  # seeds the default RNG (error injection, generated ids)
    clock_ms: Callable[[], int] = wall_clock_ms
    monotonic: Callable[[], float] = time.monotonic
    rng: random.Random | None = None

    def __post_init__(self) -> None:
        if not self.admin_token and not is_loopback(self.host):
            raise ConfigError("board settings", "admin_token",
                              f"required when the board listens beyond loopback "
                              f"(host {self.host!r}): set --admin-token or "
                              "BOTCLUSTER_BOARD_TOKEN")
        if self.max_body_bytes < 1024:
            raise ConfigError("board settings", "max_body_bytes", "must be at least 1024")

    def make_rng(self) -> random.Random:
        return self.rng if self.rng is not None else random.Random(self.seed)


class Faults:
    """The live fault switches. Changed only through `update`, which validates every field."""

    def __init__(self, initial: FaultSettings) -> None:
        self._current = initial

    @property
    def current(self) -> FaultSettings:
        return self._current

    def as_dict(self) -> dict[str, Any]:
        return asdict(self._current)

    def update(self, changes: Mapping[str, Any]) -> FaultSettings:
        """Apply a partial change; raise ValueError naming the first bad field."""
        known = {f.name: f for f in fields(FaultSettings)}
        values = asdict(self._current)
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}")
            values[name] = _check(name, value)
        self._current = FaultSettings(**values)
        return self._current


def _check(name: str, value: Any) -> bool | float:
    if name in ("cache_race", "claim_race"):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be a boolean")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    number = float(value)
    if name == "error_rate" and not 0.0 <= number <= 1.0:
        raise ValueError("error_rate must be between 0 and 1")
    if not 0.0 <= number <= 60_000:
        raise ValueError(f"{name} must be between 0 and 60000")
    return number
