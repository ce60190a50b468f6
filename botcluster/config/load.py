"""`load(path)`: read `servers.toml` into a frozen, validated `Config`, or raise `ConfigError`.

Every error names the file, the key path (`hosts[1].url`, `bot.workers`,
`entities[0].rateLimits.maxPostsPerMinute`) and the problem, in one line. Unknown keys are errors
everywhere in the TOML. Relative paths (`journal_path`, `db_path`, `multiproc_dir`,
`entities_file`, a local host's `model_file`) resolve against the config file's directory.

Entities come from `[[entities]]` and/or `entities_file` (the site's own JSON, CONTRACT.md
section 4); inline ones come first; an id may appear only once across both. Disabled entities are
kept with `enabled=False`. Every enabled entity's model must be served by some host: a host with
an empty `models` list serves anything, otherwise only the listed models and the keys of its
`name_map`.

How the site file's other sections are used:
- `lmStudioServers`: only when the TOML has no `[[hosts]]`; each enabled server becomes an
  `lmstudio` host `http://{ip}:{port}` (port 1234 if absent) with one slot and
  `memory_gb = capabilities.maxMemory`. With `[[hosts]]` present they are validated and ignored.
- `botSettings.pollingInterval` (ms) fills `bot.poll_interval_s` unless `[bot]` sets it.
- `queueSettings.maxRetries` fills `bot.max_attempts` unless `[bot]` sets it (read as the total
  number of attempts; 0 becomes 1).
- `queueSettings.maxConcurrentWorkers` is validated and not used: botcluster's concurrency is
  `workers * jobs_per_worker` per bot and `slots` per host.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from botcluster.config.entities import ParsedEntity, parse_entities
from botcluster.config.hosts import parse_hosts
from botcluster.config.model import Config, Entity, FrozenMap, HostConfig
from botcluster.config.reader import Table
from botcluster.config.sections import parse_board, parse_bot, parse_heal, parse_metrics
from botcluster.config.sitefile import read_site_file
from botcluster.errors import ConfigError


def load(path: Path | str) -> Config:
    """Load and validate the config file at `path`. Raises `ConfigError` on any problem."""
    source = Path(path).expanduser().absolute()
    top = Table(_read_toml(source), "", source)
    site_path = top.opt_path("entities_file")
    site = read_site_file(site_path, source) if site_path is not None else None
    bot = parse_bot(top.table("bot") or _empty(top, "bot"), site)
    board = parse_board(top.table("board") or _empty(top, "board"))
    hosts = parse_hosts(top.tables("hosts"))
    if not hosts and site is not None:
        hosts = site.lmstudio_hosts
    entities = parse_entities(top.tables("entities")) + (site.entities if site else [])
    metrics = parse_metrics(top.table("metrics") or _empty(top, "metrics"))
    heal = parse_heal(top.table("heal") or _empty(top, "heal"))
    top.finish()
    return Config(
        source=source,
        bot=bot,
        board=board,
        hosts=hosts,
        entities=_check_entities(entities, hosts),
        metrics=metrics,
        heal=heal,
    )


def _read_toml(source: Path) -> dict[str, Any]:
    try:
        with source.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(str(source), "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(str(source), "", "is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(str(source), "", f"cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already ends with "(at line L, column C)".
        raise ConfigError(str(source), "", f"invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(source), "", f"invalid TOML: not UTF-8 ({exc.reason})") from None


def _empty(top: Table, name: str) -> Table:
    """A missing section reads as an empty one, so every default goes through one path."""
    return Table({}, top.path(name), top.source)


def _check_entities(parsed: list[ParsedEntity], hosts: tuple[HostConfig, ...]) -> FrozenMap[Entity]:
    """Ids unique across the TOML and the site file; every enabled entity's model served."""
    seen: dict[str, ParsedEntity] = {}
    for p in parsed:
        first = seen.get(p.entity.id)
        if first is not None:
            raise ConfigError(
                str(p.source),
                f"{p.key}.id",
                f"duplicate entity id {p.entity.id!r} (first at {first.source.name}: {first.key})",
            )
        seen[p.entity.id] = p
        if p.entity.enabled and not any(serves(h, p.entity.model) for h in hosts):
            raise ConfigError(
                str(p.source),
                p.model_key,
                f"no host serves model {p.entity.model!r} (hosts: {_host_summary(hosts)})",
            )
    return FrozenMap({p.entity.id: p.entity for p in parsed})


def serves(host: HostConfig, model: str) -> bool:
    """Whether `host` may be asked for `model` (empty `models`: whatever it reports)."""
    return not host.models or model in host.models or model in host.name_map


def _host_summary(hosts: tuple[HostConfig, ...]) -> str:
    if not hosts:
        return "none configured"
    return "; ".join(f"{h.name}: {', '.join(h.models) or 'any'}" for h in hosts)
