"""Typed, path-aware reading of one table of a parsed config document.

`Table` wraps a dict from tomllib or json and hands out values of one checked type each, so that
every error names the file, the full key path (`hosts[1].url`) and the problem. In strict mode
(our own TOML) `finish()` rejects keys nobody asked for; in lenient mode (the site's entity JSON,
whose format we do not own) unknown keys are ignored and `null` counts as "not set".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from botcluster.errors import ConfigError

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Type names as a person editing the file would call them.
_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "a table",
}


def type_name(value: object) -> str:
    if value is None:
        return "null"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


class Table:
    """One table of a config document, read key by key."""

    def __init__(
        self,
        data: Mapping[str, Any],
        key: str,
        source: Path,
        *,
        strict: bool = True,
        label: str | None = None,
    ) -> None:
        self.data = data
        self.key = key
        self.source = source
        self.strict = strict
        self.label = label or str(source)  # what error messages call the origin
        self._seen: set[str] = set()

    def path(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def error(self, name: str, problem: str) -> ConfigError:
        """An error about `name` inside this table ("" for the table itself)."""
        return ConfigError(self.label, self.path(name) if name else self.key, problem)

    def has(self, name: str) -> bool:
        return self._raw(name) is not None

    def _raw(self, name: str) -> Any:
        self._seen.add(name)
        return self.data.get(name)

    def _typed(self, name: str, default: Any, want: tuple[type, ...], what: str) -> Any:
        value = self._raw(name)
        if value is None:
            return default
        # bool is a subclass of int in Python, but `workers = true` is a mistake, not 1.
        if isinstance(value, bool) and bool not in want:
            raise self.error(name, f"expected {what}, got a boolean")
        if not isinstance(value, want):
            raise self.error(name, f"expected {what}, got {type_name(value)}")
        return value

    # --- scalars ---------------------------------------------------------------------------

    def opt_text(self, name: str) -> str | None:
        value: str | None = self._typed(name, None, (str,), "a string")
        return value

    def text(self, name: str, default: str) -> str:
        value = self.opt_text(name)
        return default if value is None else value

    def opt_integer(self, name: str) -> int | None:
        value = self._typed(name, None, (int, float), "an integer")
        if isinstance(value, float):
            # JSON writers sometimes emit 200.0 for 200; our own TOML must say what it means.
            if self.strict or not value.is_integer():
                raise self.error(name, f"expected an integer, got {value!r}")
            return int(value)
        return None if value is None else int(value)

    def integer(self, name: str, default: int) -> int:
        value = self.opt_integer(name)
        return default if value is None else value

    def opt_number(self, name: str) -> float | None:
        value = self._typed(name, None, (int, float), "a number")
        if value is None:
            return None
        if not math.isfinite(value):
            raise self.error(name, f"expected a finite number, got {value!r}")
        return float(value)

    def number(self, name: str, default: float) -> float:
        value = self.opt_number(name)
        return default if value is None else value

    def flag(self, name: str, default: bool) -> bool:
        value: bool = self._typed(name, default, (bool,), "a boolean")
        return value

    # --- compound values -------------------------------------------------------------------

    def str_list(self, name: str, *, allow_single: bool = False) -> tuple[str, ...]:
        """An array of strings; `allow_single` also accepts one bare string."""
        value = self._raw(name)
        if value is None:
            return ()
        if allow_single and isinstance(value, str):
            return (value,)
        if not isinstance(value, list):
            raise self.error(name, f"expected an array of strings, got {type_name(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ConfigError(
                    self.label,
                    f"{self.path(name)}[{i}]",
                    f"expected a string, got {type_name(item)}",
                )
        return tuple(value)

    def str_map(self, name: str) -> dict[str, str]:
        """A table whose values are all strings (keys are free-form)."""
        sub = self.table(name)
        if sub is None:
            return {}
        out: dict[str, str] = {}
        for key in sub.data:
            value = sub.opt_text(key)
            if value is not None:
                out[key] = value
        return out

    def table(self, name: str) -> Table | None:
        value = self._raw(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(name, f"expected a table, got {type_name(value)}")
        return Table(value, self.path(name), self.source, strict=self.strict, label=self.label)

    def tables(self, name: str) -> list[Table]:
        """An array of tables (`[[hosts]]`), each with its index in its key path."""
        value = self._raw(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(name, f"expected an array of tables, got {type_name(value)}")
        out = []
        for i, item in enumerate(value):
            key = f"{self.path(name)}[{i}]"
            if not isinstance(item, dict):
                raise ConfigError(self.label, key, f"expected a table, got {type_name(item)}")
            out.append(Table(item, key, self.source, strict=self.strict, label=self.label))
        return out

    # --- checks ----------------------------------------------------------------------------

    def check(self, ok: bool, name: str, problem: str) -> None:
        if not ok:
            raise self.error(name, problem)

    def env_name(self, name: str) -> str | None:
        """The *name* of an environment variable (never its value)."""
        value = self.opt_text(name)
        if value is not None and not ENV_NAME.match(value):
            raise self.error(name, f"{value!r} is not an environment variable name")
        return value

    def opt_path(self, name: str) -> Path | None:
        """A filesystem path, relative ones resolved against the config file's directory."""
        value = self.opt_text(name)
        if value is None:
            return None
        self.check(value != "", name, "must not be empty")
        return self.resolve(Path(value).expanduser())

    def file_path(self, name: str, default: Path) -> Path:
        """Like `opt_path`, with a default that is resolved the same way."""
        return self.opt_path(name) or self.resolve(default)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.source.parent / path

    def finish(self) -> None:
        """Reject keys that were never read (strict mode only): typos must not pass silently."""
        if not self.strict:
            return
        for name in self.data:
            if name not in self._seen:
                raise self.error(name, "unknown key")
