"""`[[hosts]]` tables to validated `HostConfig`s, and the URL checks the other sections share."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from botcluster.config.model import HOST_KINDS, HostConfig, HostKind, LocalServer, frozen_map
from botcluster.config.reader import Table

HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")  # it becomes a metric label
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def http_url(t: Table, name: str, value: str) -> str:
    """Check an http(s) base URL; return it without a trailing slash (callers append paths)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError as exc:
        raise t.error(name, f"{value!r} is not a valid URL ({exc})") from None
    t.check(parts.scheme in ("http", "https"), name, f"{value!r} is not an http(s) URL")
    t.check(bool(parts.hostname), name, f"{value!r} has no host")
    t.check(not parts.query and not parts.fragment, name, f"{value!r} has a query or fragment")
    return value.rstrip("/")


def port(t: Table, name: str, default: int) -> int:
    value = t.integer(name, default)
    t.check(0 <= value <= 65535, name, f"must be in 0..65535, got {value}")
    return value


def parse_hosts(tables: list[Table]) -> tuple[HostConfig, ...]:
    """All `[[hosts]]`; host names must be unique."""
    hosts: list[HostConfig] = []
    for t in tables:
        host = parse_host(t)
        t.check(
            all(h.name != host.name for h in hosts), "name", f"duplicate host name {host.name!r}"
        )
        hosts.append(host)
    return tuple(hosts)


def parse_host(t: Table) -> HostConfig:
    name = t.opt_text("name")
    t.check(name is not None, "name", "is required")
    assert name is not None
    t.check(bool(HOST_NAME.match(name)), "name", f"{name!r}: use letters, digits, '.', '_', '-'")
    url = t.opt_text("url")
    t.check(url is not None, "url", "is required")
    assert url is not None
    url = http_url(t, "url", url)
    kind = t.text("kind", "lmstudio")
    t.check(kind in HOST_KINDS, "kind", f"{kind!r} is not one of {', '.join(HOST_KINDS)}")
    slots = t.integer("slots", 1)
    t.check(slots >= 1, "slots", f"must be >= 1, got {slots}")
    memory_gb = t.opt_number("memory_gb")
    t.check(memory_gb is None or memory_gb > 0, "memory_gb", "must be > 0")
    models = t.str_list("models")
    for i, m in enumerate(models):
        t.check(m.strip() != "", f"models[{i}]", "must not be empty")
        t.check(m not in models[:i], f"models[{i}]", f"duplicate model {m!r}")
    parallel = t.opt_integer("parallel")
    t.check(parallel is None or parallel >= 1, "parallel", f"must be >= 1, got {parallel}")
    pinned = t.str_list("pinned")
    for i, m in enumerate(pinned):
        t.check(not models or m in models, f"pinned[{i}]", f"{m!r} is not in this host's models")
    speeds = {k: _positive(t, k, d) for k, d in SPEED_SEEDS.items()}
    host = HostConfig(
        name=name,
        url=url,
        kind=_kind(kind),
        slots=slots,
        memory_gb=memory_gb,
        api_key_env=t.env_name("api_key_env"),
        name_map=frozen_map(t.str_map("name_map")),
        models=models,
        local=_local(t, kind, url, models),
        parallel=parallel,
        pinned=pinned,
        load_while_generating=(t.flag("load_while_generating", False)
                               if t.has("load_while_generating") else None),
        load_gb_per_s=speeds["load_gb_per_s"],
        tokens_per_s=speeds["tokens_per_s"],
        ttft_s=speeds["ttft_s"],
    )
    t.finish()
    return host


# Seeds of the scheduler's measured speeds (HostConfig): name -> default.
SPEED_SEEDS = {"load_gb_per_s": 2.0, "tokens_per_s": 30.0, "ttft_s": 0.5}


def _positive(t: Table, name: str, default: float) -> float:
    value = t.number(name, default)
    t.check(value > 0, name, f"must be > 0, got {value}")
    return value


def _kind(value: str) -> HostKind:
    for kind in HOST_KINDS:  # narrows str to the Literal without a cast
        if kind == value:
            return kind
    raise AssertionError(value)


def _local(t: Table, kind: str, url: str, models: tuple[str, ...]) -> LocalServer | None:
    """`[hosts.local]`: a llama.cpp server botcluster starts itself, so it must be ours to bind."""
    local = t.table("local")
    if local is None:
        return None
    t.check(kind == "llamacpp", "kind", "a host with [hosts.local] must be kind 'llamacpp'")
    parts = urlsplit(url)
    t.check(
        parts.hostname in LOOPBACK_NAMES,
        "url",
        f"a local host must listen on 127.0.0.1 or localhost, not {parts.hostname!r}",
    )
    t.check(parts.port is not None, "url", "a local host URL needs an explicit port")
    t.check(len(models) == 1, "models", f"a local host serves exactly one model, got {len(models)}")
    model_file = local.text("model_file", "smollm2")
    local.check(model_file.strip() != "", "model_file", "must not be empty")
    ctx_size = local.integer("ctx_size", 4096)
    local.check(ctx_size >= 256, "ctx_size", f"must be >= 256, got {ctx_size}")
    threads = local.integer("threads", 0)
    local.check(threads >= 0, "threads", "must be >= 0 (0 = llama.cpp's default)")
    local.finish()
    if model_file != "smollm2":
        model_file = str(local.resolve(Path(model_file).expanduser()))
    return LocalServer(model_file=model_file, ctx_size=ctx_size, threads=threads)
