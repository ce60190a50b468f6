"""A benchmark workload: human messages, one JSON object a line, in simulated seconds.

    {"t": 12.5, "entity": "e03", "model": "m03@q4", "prompt_tokens": 40, "max_tokens": 120,
     "priority": 50}

`t` is the arrival time from the start of the run; `priority` follows the site (higher first;
0 means 50). An entity always answers with one model and one `max_tokens`, as a persona does
on the site; `entities()` derives the personas the bot is configured with.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from botcluster.errors import ConfigError

FIELDS = ("t", "entity", "model", "prompt_tokens", "max_tokens", "priority")


@dataclass(frozen=True)
class Request:
    """One human message of a workload; `index` is its line number (0-based)."""

    t: float
    entity: str
    model: str
    prompt_tokens: int
    max_tokens: int
    priority: int = 50
    index: int = 0

    def to_json(self) -> str:
        body = asdict(self)
        body.pop("index")
        return json.dumps(body, separators=(",", ":"))


@dataclass(frozen=True)
class Persona:
    """An entity as the workload uses it: its model and reply budget."""

    id: str
    model: str
    max_tokens: int


def parse_line(line: str, index: int, path: str = "<workload>") -> Request:
    """One workload line; ConfigError naming the file, line and field when it is malformed."""
    where = f"line {index + 1}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(path, where, f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(path, where, "must be a JSON object")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ConfigError(path, f"{where}.{unknown[0]}", "unknown field")
    for name in ("entity", "model"):
        if not isinstance(data.get(name), str) or not data[name]:
            raise ConfigError(path, f"{where}.{name}", "must be a non-empty string")
    for name in ("t", "prompt_tokens", "max_tokens", "priority"):
        value = data.get(name, 50 if name == "priority" else None)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(path, f"{where}.{name}", "must be a non-negative number")
    if data["max_tokens"] < 1:
        raise ConfigError(path, f"{where}.max_tokens", "must be at least 1")
    return Request(t=float(data["t"]), entity=data["entity"], model=data["model"],
                   prompt_tokens=int(data["prompt_tokens"]), max_tokens=int(data["max_tokens"]),
                   priority=int(data.get("priority", 50)), index=index)


def load_workload(path: str | Path) -> list[Request]:
    """Read a workload file, sorted by arrival (stable); ConfigError when it is unusable."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(str(p), "", str(exc)) from exc
    lines = [ln for ln in text.splitlines() if ln.strip()]
    requests = [parse_line(ln, i, str(p)) for i, ln in enumerate(lines)]
    if not requests:
        raise ConfigError(str(p), "", "the workload is empty")
    entities(requests, str(p))  # consistency check
    return sorted(requests, key=lambda r: r.t)


def save_workload(requests: Iterable[Request], path: str | Path) -> None:
    Path(path).write_text("".join(r.to_json() + "\n" for r in requests))


def entities(requests: Iterable[Request], path: str = "<workload>") -> dict[str, Persona]:
    """The personas of a workload. An entity must keep one model and one max_tokens."""
    found: dict[str, Persona] = {}
    for r in requests:
        persona = Persona(r.entity, r.model, r.max_tokens)
        seen = found.setdefault(r.entity, persona)
        if seen != persona:
            raise ConfigError(path, f"line {r.index + 1}",
                              f"entity {r.entity!r} changes model or max_tokens "
                              f"({seen.model}/{seen.max_tokens} before)")
    return found


def prompt_text(r: Request) -> str:
    """Human text of about `prompt_tokens` tokens (4 characters each), within the site's
    1000-character limit."""
    words = f"message {r.index} " + "lorem ipsum dolor sit amet " * (r.prompt_tokens // 6 + 1)
    return words[:max(8, min(1000, r.prompt_tokens * 4))].strip()
