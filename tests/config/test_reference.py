"""docs/CONFIG.md against the config model and the loader: same keys and defaults, all described."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from botcluster.config import load, model
from botcluster.config import reference as ref
from botcluster.config.reader import Table
from tests.config.builders import REPO, write

DOC = REPO / "docs" / "CONFIG.md"

# Every table the loader can read, each key it accepts set once (values are valid, not defaults).
FULL = """
entities_file = "site.json"

[bot]
poll_interval_s = 2.0

[board]
port = 8788

[[hosts]]
name = "local-1"
url = "http://127.0.0.1:8081"
kind = "llamacpp"
models = ["smollm2"]

[hosts.local]
ctx_size = 2048

[[entities]]
id = "e1"
username = "E1"
quantizations = { f16 = { modelPath = "smollm2", enabled = true } }
defaultQuantization = "f16"
rateLimits = { maxPostsPerMinute = 2 }

[metrics]
port = 9465

[heal]
max_backoff_s = 5.0
"""


def documented() -> dict[str, set[str]]:
    """Table path ("" for the top level) -> the keys the reference lists for it."""
    out = {"": {k.name for k in ref.keys(model.Config)} | {s.path.split(".")[0]
                                                           for s in ref.sections()}}
    for s in ref.sections():
        out[s.path] = {k.name for k in ref.keys(s.cls)}
    return out


def read_by_loader(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Table path -> every key the loader asked the TOML file for."""
    seen: dict[str, set[str]] = {}
    raw = Table._raw

    def recording(self: Table, name: str) -> Any:
        if self.source == path and not self.key.startswith("entities[0].quantizations"):
            seen.setdefault(re.sub(r"\[\d+\]", "", self.key), set()).add(name)
        return raw(self, name)

    monkeypatch.setattr(Table, "_raw", recording)
    load(path)
    return seen


def test_the_document_is_the_generated_reference() -> None:
    assert DOC.read_text(encoding="utf-8") == ref.render(), (
        f"docs/CONFIG.md is out of date with botcluster/config/model.py: run `{ref.REGENERATE}`"
        " from the repository root and commit it")


def test_every_key_of_every_section_has_a_meaning() -> None:
    missing = [f"{s.cls.__name__}.{k.name}" for s in ref.sections() for k in ref.keys(s.cls)
               if k.doc == ref.NO_DOC]
    assert not missing, (f"no description for {', '.join(missing)}: add a docstring line under "
                         f"each field in botcluster/config/model.py, then run `{ref.REGENERATE}`")


def test_the_reference_lists_exactly_the_keys_the_loader_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "site.json").write_text('{"entities": []}', encoding="utf-8")
    read = read_by_loader(write(tmp_path, FULL), monkeypatch)
    docs = documented()
    assert set(read) == set(docs), (
        f"tables read by the loader {sorted(read)} vs documented {sorted(docs)}: a new table "
        "must be in FULL above, and a field of the model")
    for table, names in read.items():
        assert names == docs[table], (
            f"[{table or 'top level'}]: read but undocumented {sorted(names - docs[table])}, "
            f"documented but never read {sorted(docs[table] - names)}")


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    assert f.default_factory is not dataclasses.MISSING
    return f.default_factory()


def test_documented_defaults_are_the_loaders_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, """
[[hosts]]
name = "h1"
url = "http://127.0.0.1:1234"

[[hosts]]
name = "local-1"
url = "http://127.0.0.1:8081"
models = ["smollm2"]
kind = "llamacpp"
[hosts.local]

[[entities]]
id = "e1"
username = "E1"
baseModel = "smollm2"
rateLimits = {}
""")
    config = load(path)
    loaded = {model.BotConfig: config.bot, model.BoardConfig: config.board,
              model.MetricsConfig: config.metrics, model.HealConfig: config.heal,
              model.HostConfig: config.hosts[0], model.LocalServer: config.hosts[1].local,
              model.Entity: config.entities["e1"],
              model.RateLimits: config.entities["e1"].rate_limits}
    assert set(loaded) >= {s.cls for s in ref.sections()}, "a new section: add it here"
    documented_keys = {(s.cls, k.name) for s in ref.sections() for k in ref.keys(s.cls)}
    checked = 0
    for cls, value in loaded.items():
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if ref.default_text(f) == "required" or f.name == "local":
                continue
            assert (cls, ref.key_name(cls, f.name)) in documented_keys
            expected = _default(f)
            if isinstance(expected, Path):
                expected = tmp_path / expected  # relative to the config file
            assert getattr(value, f.name) == expected, f"{cls.__name__}.{f.name}"
            checked += 1
    assert checked > 40


def test_the_generator_reads_docstrings_and_falls_back_to_comments() -> None:
    @dataclasses.dataclass(frozen=True)
    class Example:
        documented: int = 1
        """The docstring wins."""
        beside: int = 2  # a comment beside it
        # a comment
        # above it
        above: str = "x"
        bare: bool = False

    docs = ref.field_docs(Example)
    assert docs == {"documented": "The docstring wins.", "beside": "a comment beside it",
                    "above": "a comment above it"}
    assert "bare" not in docs


def test_the_command_writes_the_document(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "botcluster.config.reference"],
                         capture_output=True, text=True, timeout=60, cwd=REPO, check=True)
    assert out.stdout == ref.render()
    assert "| `poll_interval_s` | number | 3.0 |" in out.stdout


def test_docs_entities_names_every_key_the_site_file_reader_reads(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sample = REPO / "examples" / "entities.json"
    seen: set[str] = set()
    raw = Table._raw

    def recording(self: Table, name: str) -> Any:
        if self.source == sample and not self.key.endswith("quantizations"):  # names, not keys
            seen.add(name)
        return raw(self, name)

    monkeypatch.setattr(Table, "_raw", recording)
    load(REPO / "servers.example-macstudio.toml")
    text = (REPO / "docs" / "ENTITIES.md").read_text(encoding="utf-8")
    assert len(seen) > 30
    named = [rf"`([\w.]*\.)?{re.escape(n)}(\.[\w.]*)?`" for n in seen]  # `a.name.b`
    missing = sorted(n for n, pattern in zip(seen, named, strict=True)
                     if not re.search(pattern, text))
    assert not missing, f"docs/ENTITIES.md does not describe {missing}"
