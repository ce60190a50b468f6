"""The README as a newcomer reads it, and the links between the documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of the headings of a Markdown file."""
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def test_readme_starts_with_the_two_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("```sh") + 1:lines.index("```")]
    assert lines[0] == "# botcluster" and lines[2] == "```sh"
    assert [ln.split()[0] for ln in block] == ["./scripts/run", "./scripts/test"]


def test_readme_says_where_the_command_is_and_links_every_doc() -> None:
    text = README.read_text(encoding="utf-8")
    assert ".venv/bin/botcluster" in text and ". .venv/bin/activate" in text
    linked = set(LINK.findall(text))
    missing = [d.name for d in DOCS if f"docs/{d.name}" not in linked]
    assert not missing, f"README.md links none of {missing}"


@pytest.mark.parametrize("doc", [README, *DOCS, ROOT / "dashboards" / "README.md"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(doc: Path) -> None:
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        assert file.exists(), f"{doc.name}: {target} does not exist"
        if anchor:
            assert anchor in anchors(file), f"{doc.name}: no heading for #{anchor} in {file.name}"
