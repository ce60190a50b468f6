"""Entities (the personas that reply), read from the site's camelCase form (CONTRACT.md section 4).

The same reader serves `[[entities]]` in our TOML (strict: unknown keys are errors) and the
site's own entity JSON (lenient: the site owns that format, so unknown keys are ignored and
`null` means "not set"; wrong types are still errors).

Rules worth knowing:
- The model is `quantizations[defaultQuantization].modelPath`, else `baseModel`. The `enabled`
  flag of each quantization is validated but does not change that choice.
- Rate limits of 0 (or absent) mean "no limit": a limit delays a reply, it must never block an
  entity forever.
- `filterOut` and `trimAfter` accept one string as well as an array of strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from botcluster.config.model import DEFAULT_PRIORITY, MAX_USERNAME_CHARS, Entity, RateLimits
from botcluster.config.reader import Table

SYSTEM_ROLES = ("system", "user", "developer")
COLOR = re.compile(r"(\d{9}|rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\))\Z")


@dataclass(frozen=True)
class ParsedEntity:
    """An entity together with where it came from, for cross-checks and their messages."""

    entity: Entity
    source: Path
    key: str  # e.g. "entities[2]"
    model_key: str  # the key that chose the model, e.g. "entities[2].baseModel"


def parse_entities(tables: list[Table]) -> list[ParsedEntity]:
    return [parse_entity(t) for t in tables]


def parse_entity(t: Table) -> ParsedEntity:
    """One entity table to a validated `Entity`."""
    entity_id = _required_text(t, "id")
    username = _required_text(t, "username")
    t.check(
        len(username) <= MAX_USERNAME_CHARS,
        "username",
        f"longer than {MAX_USERNAME_CHARS} characters (the site cuts it)",
    )
    model, model_key = _model(t)
    color = t.text("color", "200200200")
    t.check(bool(COLOR.match(color)), "color", f"{color!r} is not RRRGGGBBB (9 digits)")
    role = t.text("systemRole", "system")
    t.check(role in SYSTEM_ROLES, "systemRole", f"{role!r} is not one of {', '.join(SYSTEM_ROLES)}")
    entity = Entity(
        id=entity_id,
        username=username,
        model=model,
        enabled=t.flag("enabled", True),
        color=color,
        system_role=role,
        system_prompt=t.text("systemPrompt", ""),
        user_prompt=t.text("userPrompt", ""),
        filter_out=_markers(t, "filterOut"),
        trim_after=_markers(t, "trimAfter"),
        trim_whitespace=t.flag("trimWhitespace", True),
        add_newline_to_context=t.flag("addNewlineToContext", False),
        add_entity_username=t.flag("addEntityUsername", False),
        nom=_at_least(t, "nom", 100, 0),
        default_priority=_at_least(t, "defaultPriority", DEFAULT_PRIORITY, 0),
        max_tokens=_at_least(t, "maxTokens", 200, 1),
        rate_limits=_rate_limits(t),
        **_sampling(t),
    )
    t.finish()
    return ParsedEntity(entity, t.source, t.key, model_key)


def _required_text(t: Table, name: str) -> str:
    value = t.opt_text(name)
    t.check(value is not None, name, "is required")
    assert value is not None
    t.check(value.strip() != "", name, "must not be empty")
    return value


def _at_least(t: Table, name: str, default: int, low: int) -> int:
    value = t.integer(name, default)
    t.check(value >= low, name, f"must be >= {low}, got {value}")
    return value


def _markers(t: Table, name: str) -> tuple[str, ...]:
    values = t.str_list(name, allow_single=True)
    for i, v in enumerate(values):
        # An empty trimAfter marker would cut every reply to nothing.
        t.check(v != "", f"{name}[{i}]", "must not be empty")
    return values


def _model(t: Table) -> tuple[str, str]:
    """The entity's model name and the key path that chose it."""
    base = t.opt_text("baseModel")
    default = t.opt_text("defaultQuantization")
    quants = t.table("quantizations")
    paths: dict[str, str] = {}
    if quants is not None:
        for name in quants.data:
            q = quants.table(name)
            if q is None:  # null in the site's JSON
                continue
            path = q.opt_text("modelPath")
            q.check(path is not None and path.strip() != "", "modelPath", "is required")
            assert path is not None
            q.flag("enabled", True)
            q.finish()
            paths[name] = path
    if default is not None:
        t.check(
            default in paths,
            "defaultQuantization",
            f"{default!r} is not one of quantizations ({', '.join(paths) or 'none'})",
        )
        return paths[default], f"{t.key}.quantizations.{default}.modelPath"
    t.check(base is not None, "baseModel", "is required (or quantizations + defaultQuantization)")
    assert base is not None
    t.check(base.strip() != "", "baseModel", "must not be empty")
    return base, f"{t.key}.baseModel"


class Sampling(TypedDict):
    temperature: float | None
    top_p: float | None
    top_k: int | None
    repeat_penalty: float | None
    min_p: float | None


def _sampling(t: Table) -> Sampling:
    """Optional sampling parameters; None means "the host's default"."""
    temperature = t.opt_number("temperature")
    t.check(temperature is None or temperature >= 0, "temperature", "must be >= 0")
    top_p = t.opt_number("topP")
    t.check(top_p is None or 0 < top_p <= 1, "topP", "must be in (0, 1]")
    top_k = t.opt_integer("topK")
    t.check(top_k is None or top_k >= 0, "topK", "must be >= 0")
    repeat_penalty = t.opt_number("repeatPenalty")
    t.check(repeat_penalty is None or repeat_penalty > 0, "repeatPenalty", "must be > 0")
    min_p = t.opt_number("minP")
    t.check(min_p is None or 0 <= min_p <= 1, "minP", "must be in [0, 1]")
    return Sampling(
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        repeat_penalty=repeat_penalty,
        min_p=min_p,
    )


def _rate_limits(t: Table) -> RateLimits:
    r = t.table("rateLimits")
    if r is None:
        return RateLimits()
    gap = r.number("minSecondsBetweenPosts", 0.0)
    r.check(gap >= 0, "minSecondsBetweenPosts", "must be >= 0")
    per_minute = r.opt_integer("maxPostsPerMinute")
    per_hour = r.opt_integer("maxPostsPerHour")
    for name, value in (("maxPostsPerMinute", per_minute), ("maxPostsPerHour", per_hour)):
        r.check(value is None or value >= 0, name, "must be >= 0 (0 means no limit)")
    r.finish()
    return RateLimits(
        min_seconds_between_posts=gap,
        max_posts_per_minute=per_minute or None,
        max_posts_per_hour=per_hour or None,
    )
