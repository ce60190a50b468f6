"""Frozen description of a simulated cluster, and its TOML loader.

A cluster file has top-level `seed` and `time_scale` (both optional) and one `[[hosts]]` table per
simulated host; each host has `[[hosts.models]]` (its catalogue of downloaded models) and optional
`[hosts.hazards]` and `[hosts.faults]` tables. Every duration is in *simulated* seconds; the
cluster's `time_scale` maps them to real seconds. See docs/SIMULATOR.md for every key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from botcluster.errors import ConfigError

Flavour = Literal["lmstudio", "ollama", "llamacpp"]
FLAVOURS: tuple[Flavour, ...] = ("lmstudio", "ollama", "llamacpp")


@dataclass(frozen=True)
class ModelSpec:
    """One downloaded model in a host's catalogue."""

    key: str
    size_gb: float = 4.0
    context_length: int = 4096  # context of a loaded instance (and the max it advertises)
    loaded: bool = False  # loaded when the host starts


@dataclass(frozen=True)
class HazardSpec:
    """LM Studio's known misbehaviours (HOSTS.md); each off unless switched on."""

    jit_duplicate_instance: bool = False  # concurrent JIT requests load a second instance key:2
    evict_running: bool = False  # auto-evict may unload a model that is still generating
    lose_first_request: bool = False  # the first request on a freshly loaded instance is lost
    # two different models whose loads start within ABORT_WINDOW_S of each other both fail
    concurrent_loads_abort: bool = False


@dataclass(frozen=True)
class FaultSpec:
    """Injected faults; also switchable at run time through POST /sim/faults."""

    error_rate: float = 0.0  # fraction of chat requests answered with HTTP 500
    hang_rate: float = 0.0  # fraction of chat requests that never answer
    drop_rate: float = 0.0  # fraction of chat requests whose connection drops mid-reply
    down_after_s: float | None = None  # go down this long after start ...
    down_for_s: float = 0.0  # ... stay down this long ...
    down_every_s: float | None = None  # ... and repeat with this period (None: once)


@dataclass(frozen=True)
class HostSpec:
    """One simulated host."""

    name: str
    port: int = 0  # 0: any free port on 127.0.0.1
    flavour: Flavour = "lmstudio"
    memory_gb: float = 64.0
    slots_per_model: int = 1  # config.parallel of a loaded instance
    slots_per_host: int = 1  # concurrent predictions on the whole host (1 = serialized)
    jit: bool = True
    auto_evict: bool = True
    load_gb_per_s: float = 2.0
    ttft_s: float = 0.3
    tokens_per_s: float = 30.0
    default_ttl_s: float = 3600.0  # idle unload timer of JIT-loaded models
    # What a load does to the host's other work (docs/SIMULATOR.md): with
    # load_blocks_generation nothing generates while a load runs (the seeds' LM Studio ran JIT
    # loads inside its serialized requests); else generation loses `load_slowdown` (0 to 1) of
    # its speed while a load runs (memory bandwidth). The default: a load costs nothing.
    load_blocks_generation: bool = False
    load_slowdown: float = 0.0
    api_token: str | None = None  # require `Authorization: Bearer <token>` when set
    models: tuple[ModelSpec, ...] = ()
    hazards: HazardSpec = field(default_factory=HazardSpec)
    faults: FaultSpec = field(default_factory=FaultSpec)

    def model(self, key: str) -> ModelSpec | None:
        for m in self.models:
            if m.key == key:
                return m
        return None


@dataclass(frozen=True)
class ClusterSpec:
    """The whole simulated cluster."""

    hosts: tuple[HostSpec, ...]
    seed: int = 0
    time_scale: float = 1.0  # real seconds per simulated second

    def with_options(self, seed: int | None = None, time_scale: float | None = None) -> ClusterSpec:
        """A copy with command-line overrides applied."""
        return replace(self, seed=self.seed if seed is None else seed,
                       time_scale=self.time_scale if time_scale is None else time_scale)


def _build(cls: type, table: dict[str, Any], path: str, where: str) -> Any:
    """Construct frozen dataclass `cls` from `table`, rejecting unknown keys and bad types."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(path, f"{where}.{unknown[0]}", "unknown key")
    try:
        return cls(**table)
    except TypeError as exc:
        raise ConfigError(path, where, str(exc)) from exc


def _host(table: dict[str, Any], path: str, index: int) -> HostSpec:
    where = f"hosts[{index}]"
    table = dict(table)
    models = table.pop("models", [])
    hazards = table.pop("hazards", {})
    faults = table.pop("faults", {})
    if not isinstance(models, list):
        raise ConfigError(path, f"{where}.models", "must be an array of tables")
    built = _build(HostSpec, table, path, where)
    spec: HostSpec = replace(
        built,
        models=tuple(_build(ModelSpec, m, path, f"{where}.models[{i}]")
                     for i, m in enumerate(models)),
        hazards=_build(HazardSpec, hazards, path, f"{where}.hazards"),
        faults=_build(FaultSpec, faults, path, f"{where}.faults"))
    validate_host(spec, path, where)
    return spec


def validate_host(spec: HostSpec, path: str = "<spec>", where: str = "host") -> None:
    """Raise ConfigError for values the simulator cannot run with."""
    if spec.flavour not in FLAVOURS:
        raise ConfigError(path, f"{where}.flavour", f"must be one of {', '.join(FLAVOURS)}")
    for name in ("memory_gb", "load_gb_per_s", "tokens_per_s"):
        if getattr(spec, name) <= 0:
            raise ConfigError(path, f"{where}.{name}", "must be positive")
    if not 0.0 <= spec.load_slowdown <= 1.0:
        raise ConfigError(path, f"{where}.load_slowdown", "must be between 0 and 1")
    if spec.slots_per_model < 1 or spec.slots_per_host < 1:
        raise ConfigError(path, f"{where}.slots_per_host", "slots must be at least 1")
    if not spec.models:
        raise ConfigError(path, f"{where}.models", "a host needs at least one model")
    if len({m.key for m in spec.models}) != len(spec.models):
        raise ConfigError(path, f"{where}.models", "duplicate model key")
    for rate in ("error_rate", "hang_rate", "drop_rate"):
        if not 0.0 <= getattr(spec.faults, rate) <= 1.0:
            raise ConfigError(path, f"{where}.faults.{rate}", "must be between 0 and 1")


def load_cluster(path: str | Path) -> ClusterSpec:
    """Read and validate a cluster file; raises ConfigError naming the file and key."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(p), "", str(exc)) from exc
    return cluster_from_dict(data, str(p))


def cluster_from_dict(data: dict[str, Any], path: str = "<dict>") -> ClusterSpec:
    """Build a ClusterSpec from parsed TOML (or an equivalent dict)."""
    data = dict(data)
    hosts = data.pop("hosts", [])
    if not hosts:
        raise ConfigError(path, "hosts", "at least one [[hosts]] table is required")
    spec: ClusterSpec = _build(ClusterSpec, {**data, "hosts": ()}, path, "cluster")
    built = tuple(_host(h, path, i) for i, h in enumerate(hosts))
    names = [h.name for h in built]
    if len(set(names)) != len(names):
        raise ConfigError(path, "hosts", "duplicate host name")
    if spec.time_scale <= 0:
        raise ConfigError(path, "time_scale", "must be positive")
    return replace(spec, hosts=built)
