"""The site's own entity JSON (CONTRACT.md section 4), imported as it is.

Top-level sections read: `entities[]`, `botSettings.pollingInterval` (milliseconds),
`queueSettings.maxConcurrentWorkers`, `queueSettings.maxRetries` and
`lmStudioServers[] {ip, port, enabled, name, capabilities.maxMemory}`. The site owns this format,
so unknown keys are ignored; wrong types and impossible values are still errors naming this file.
How the loader uses these sections is described in `botcluster.config.load`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from botcluster.config.entities import ParsedEntity, parse_entities
from botcluster.config.hosts import http_url
from botcluster.config.model import HostConfig
from botcluster.config.reader import Table, type_name
from botcluster.errors import ConfigError

LMSTUDIO_PORT = 1234


@dataclass(frozen=True)
class SiteFile:
    path: Path
    entities: list[ParsedEntity]
    poll_interval_s: float | None
    max_concurrent_workers: int | None
    max_retries: int | None
    lmstudio_hosts: tuple[HostConfig, ...]  # the enabled lmStudioServers only


def read_site_file(path: Path, config_path: Path) -> SiteFile:
    """Read and validate the file named by `entities_file` in `config_path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(config_path), "entities_file", f"file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(config_path), "entities_file", f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            str(path), "", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", f"expected a JSON object, got {type_name(data)}")
    top = Table(data, "", path, strict=False)
    return SiteFile(
        path=path,
        entities=parse_entities(top.tables("entities")),
        poll_interval_s=_polling_interval(top),
        max_concurrent_workers=_queue_int(top, "maxConcurrentWorkers", 1),
        max_retries=_queue_int(top, "maxRetries", 0),
        lmstudio_hosts=_lmstudio_hosts(top),
    )


def _polling_interval(top: Table) -> float | None:
    settings = top.table("botSettings")
    if settings is None:
        return None
    ms = settings.opt_number("pollingInterval")
    settings.check(ms is None or ms > 0, "pollingInterval", "must be > 0 (milliseconds)")
    return None if ms is None else ms / 1000.0


def _queue_int(top: Table, name: str, low: int) -> int | None:
    settings = top.table("queueSettings")
    if settings is None:
        return None
    value = settings.opt_integer(name)
    settings.check(value is None or value >= low, name, f"must be >= {low}")
    return value


def _lmstudio_hosts(top: Table) -> tuple[HostConfig, ...]:
    hosts: list[HostConfig] = []
    for i, t in enumerate(top.tables("lmStudioServers")):
        ip = t.opt_text("ip")
        t.check(ip is not None and ip.strip() != "", "ip", "is required")
        port = t.integer("port", LMSTUDIO_PORT)
        t.check(1 <= port <= 65535, "port", f"must be in 1..65535, got {port}")
        name = t.text("name", f"lmstudio-{i + 1}")
        t.check(name.strip() != "", "name", "must not be empty")
        enabled = t.flag("enabled", True)
        memory_gb = None
        caps = t.table("capabilities")
        if caps is not None:
            memory_gb = caps.opt_number("maxMemory")
            caps.check(memory_gb is None or memory_gb > 0, "maxMemory", "must be > 0")
        url = http_url(t, "ip", f"http://{ip}:{port}")
        if not enabled:
            continue
        t.check(all(h.name != name for h in hosts), "name", f"duplicate server name {name!r}")
        hosts.append(HostConfig(name=name, url=url, kind="lmstudio", memory_gb=memory_gb))
    return tuple(hosts)
