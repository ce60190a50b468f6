"""Small builders for config tests: write a TOML file, load it, expect an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from botcluster.config import Config, load
from botcluster.errors import ConfigError

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]

# A minimal valid config; tests append to it or replace pieces of it.
HOST = """
[[hosts]]
name = "h1"
url = "http://127.0.0.1:1234"
kind = "lmstudio"
"""
ENTITY = """
[[entities]]
id = "e1"
username = "E1"
baseModel = "m1"
"""
BASE = HOST + ENTITY


def write(tmp_path: Path, text: str, name: str = "servers.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> Config:
    return load(write(tmp_path, text))


def load_error(tmp_path: Path, text: str) -> ConfigError:
    """Load `text`, expect a ConfigError, and check it is one line naming the file."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    return info.value
