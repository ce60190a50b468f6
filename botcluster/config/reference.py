"""docs/CONFIG.md, generated from the config model itself.

    python -m botcluster.config.reference > docs/CONFIG.md

The sections are the fields of `Config` (a dataclass field is a `[table]`, a tuple or mapping of
them an `[[array of tables]]`, a dataclass inside one a `[table.sub]`), the keys are their
fields, and each key's meaning is its attribute docstring (the string line under the field), or
failing that the comment beside or above it. Keys of the site's camelCase form (entities) are
spelt as the site spells them. The little this module knows beyond the model is in `CAMEL_CASE`,
`NOT_KEYS`, `EXTRA_KEYS` and `OVERRIDE_KEYS`. tests/config/test_reference.py fails when the
document, the model and the loader drift apart.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import re
import sys
import textwrap
import tokenize
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from botcluster.config import model
from botcluster.config.overrides import ENV_NAMES, OPTION_NAMES

REGENERATE = "python -m botcluster.config.reference > docs/CONFIG.md"
NO_DOC = "(undocumented)"
CAMEL_CASE: frozenset[type] = frozenset({model.Entity, model.RateLimits})
# Fields that are no key of the file: `model` is chosen by the keys in EXTRA_KEYS.
NOT_KEYS: Mapping[type, frozenset[str]] = {
    model.Config: frozenset({"source"}),
    model.Entity: frozenset({"model"}),
}


@dataclass(frozen=True)
class Key:
    name: str
    type: str
    default: str
    doc: str


# Keys the loader reads that are not a field of the model.
EXTRA_KEYS: Mapping[type, tuple[Key, ...]] = {
    model.Config: (Key(
        "entities_file", "path", "unset",
        "The site's own entity JSON, imported as is (docs/ENTITIES.md); its entities come "
        "after the `[[entities]]` tables. Relative: to the config file's directory."),),
    model.Entity: (
        Key("baseModel", "string", "required without quantizations",
            "The model, when `defaultQuantization` is not set."),
        Key("quantizations", "table of tables", "unset",
            'Per quantization `{ modelPath = "...", enabled = true }`; `enabled` is checked '
            "but does not change the choice."),
        Key("defaultQuantization", "string", "unset",
            "Chooses the model: `quantizations[defaultQuantization].modelPath`."),
    ),
}
# Command-line and environment overrides: the override's name -> the key it sets.
OVERRIDE_KEYS: Mapping[str, str] = {
    "api_url": "bot.api_url", "metrics_port": "metrics.port",
    "log_level": "bot.log_level", "log_format": "bot.log_format",
}

INTRO = """\
# Configuration reference

<!-- Generated from botcluster/config/model.py: do not edit. Regenerate with
     {regenerate} -->

botcluster reads one TOML file: `servers.toml` in the current directory, or the file named by
`--config` or `BOTCLUSTER_CONFIG`. `servers.toml` in the repository is the embedded default (the
local board and the SmolLM2 demo model); `servers.example-macstudio.toml` is a real site with two
Mac Studios. Every key is optional unless it says "required"; an unknown key, a wrong type or an
impossible value stops the bot with one line naming the file and the key (`bot.workers`,
`hosts[1].url`). Relative paths resolve against the config file's directory. Times are seconds.
`botcluster check --config FILE` validates a file and reaches every host and the API.

Sections: {sections}.
"""


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def key_name(cls: type, name: str) -> str:
    return camel(name) if cls in CAMEL_CASE else name


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> its attribute docstring, else the comment beside or just above it."""
    source = textwrap.dedent(inspect.getsource(cls))
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    comments = _comments(source)
    docs: dict[str, str] = {}
    for node, after in zip(body.body, [*body.body[1:], None], strict=True):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        if (isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
            continue
        lines = [comments[n] for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)
                 if n in comments]
        if not lines:
            lines = _comment_block_above(source, comments, node.lineno)
        if lines:
            docs[node.target.id] = " ".join(" ".join(lines).split())
    return docs


def _comment_block_above(source: str, comments: dict[int, str], lineno: int) -> list[str]:
    """The comment-only lines directly above line `lineno`."""
    lines = source.splitlines()
    block: list[str] = []
    above = lineno - 1
    while above in comments and lines[above - 1].lstrip().startswith("#"):
        block.insert(0, comments[above])
        above -= 1
    return block


def _comments(source: str) -> dict[int, str]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {t.start[0]: t.string.lstrip("#").strip() for t in tokens
            if t.type == tokenize.COMMENT}


def type_text(hint: Any) -> str:
    """A type as a person editing TOML calls it."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return " or ".join(type_text(a) for a in rest)
    if origin is Literal:
        return "one of " + ", ".join(f'`"{a}"`' for a in args)
    if origin is tuple:
        return f"array of {type_text(args[0])}s"
    if origin in (Mapping, dict, typing.Mapping):
        return f"table of {type_text(args[1])}s"
    if dataclasses.is_dataclass(hint):
        return "table"
    names = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def toml_value(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    if dataclasses.is_dataclass(value):
        return "see below" if any(True for _ in dataclasses.fields(value)) else "{}"
    return repr(value)


def default_text(f: dataclasses.Field[Any]) -> str:
    if "default" in f.metadata:
        return str(f.metadata["default"])
    if f.default is not MISSING:
        return toml_value(f.default)
    if f.default_factory is not MISSING:
        return toml_value(f.default_factory())
    return "required"


def keys(cls: type) -> list[Key]:
    """The documented keys of one section, in the model's order, then the extra ones."""
    hints = typing.get_type_hints(cls, vars(model))
    docs = field_docs(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name in NOT_KEYS.get(cls, ()) or _section_class(hints[f.name]) is not None:
            if cls is not model.Config and f.name not in NOT_KEYS.get(cls, ()):
                out.append(Key(key_name(cls, f.name), "table", "unset",
                               docs.get(f.name, NO_DOC)))
            continue
        out.append(Key(key_name(cls, f.name), type_text(hints[f.name]), default_text(f),
                       docs.get(f.name, NO_DOC)))
    return out + list(EXTRA_KEYS.get(cls, ()))


def _section_class(hint: Any) -> tuple[Any, bool] | None:
    """(dataclass, is an array of tables) when `hint` is a table of the file, else None."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return _section_class(rest[0]) if len(rest) == 1 else None
    if origin is tuple and args and dataclasses.is_dataclass(args[0]):
        return args[0], True
    if origin in (Mapping, dict) and len(args) == 2 and dataclasses.is_dataclass(args[1]):
        return args[1], True
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint, False
    return None


@dataclass(frozen=True)
class Section:
    path: str  # "bot", "hosts.local"
    cls: type
    array: bool

    @property
    def title(self) -> str:
        return f"[[{self.path}]]" if self.array else f"[{self.path}]"


def sections(cls: type = model.Config, prefix: str = "") -> Iterator[Section]:
    """Every table of the file, depth first, in the model's order."""
    hints = typing.get_type_hints(cls, vars(model))
    for f in dataclasses.fields(cls):
        found = _section_class(hints[f.name])
        if found is None or f.name in NOT_KEYS.get(cls, ()):
            continue
        sub, array = found
        path = prefix + key_name(cls, f.name)
        yield Section(path, sub, array)
        yield from sections(sub, path + ".")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: list[Key]) -> list[str]:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    lines += [f"| `{k.name}` | {_cell(k.type)} | {_cell(k.default)} | {_cell(k.doc)} |"
              for k in rows]
    return lines


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


def render() -> str:
    """The whole of docs/CONFIG.md."""
    all_sections = list(sections())
    links = ", ".join(f"[`{s.title}`](#{_anchor(s.title)})" for s in all_sections)
    out = [INTRO.format(regenerate=REGENERATE, sections=links), "## Top level", ""]
    out += [*_table(keys(model.Config)), ""]
    for s in all_sections:
        doc = " ".join(inspect.cleandoc(s.cls.__doc__ or "").split())
        out += [f"## {s.title}", "", doc, "", *_table(keys(s.cls)), ""]
    out += ["## Command line and environment", "",
            "These override the file for one run; the values are checked like the file's.", "",
            "| option | environment variable | sets |", "|---|---|---|"]
    out += [f"| `{OPTION_NAMES.get(n, '')}` | `{env}` | `{OVERRIDE_KEYS.get(n, n)}` |"
            for n, env in ENV_NAMES.items()]
    out += ["| `--config` | `BOTCLUSTER_CONFIG` | the config file |", ""]
    return "\n".join(out)


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
