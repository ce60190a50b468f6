"""Environment/CLI overrides and secret resolution."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from botcluster.config import apply_overrides, resolve_secret
from botcluster.config.overrides import OPTION_NAMES
from botcluster.errors import ConfigError
from tests.config.builders import BASE, load_text


def test_overrides_replace_only_what_is_given(tmp_path: Path) -> None:
    config = load_text(tmp_path, BASE)
    changed = apply_overrides(
        config,
        api_url="https://saywhatwant.app/",
        metrics_port="9500",
        log_level="debug",
        log_format="json",
    )
    assert changed.bot.api_url == "https://saywhatwant.app"
    assert not changed.embedded_board
    assert changed.metrics.port == 9500
    assert (changed.bot.log_level, changed.bot.log_format) == ("DEBUG", "json")
    assert changed.hosts == config.hosts and changed.bot.workers == config.bot.workers
    assert config.bot.api_url is None  # the original is untouched
    assert apply_overrides(config) == config


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"api_url": "saywhatwant.app"}, "BOTCLUSTER_API_URL"),
        ({"metrics_port": "abc"}, "BOTCLUSTER_METRICS_PORT"),
        ({"metrics_port": 70000}, "BOTCLUSTER_METRICS_PORT"),
        ({"log_level": "chatty"}, "BOTCLUSTER_LOG_LEVEL"),
        ({"log_format": "xml"}, "BOTCLUSTER_LOG_FORMAT"),
    ],
)
def test_bad_overrides_name_the_variable(tmp_path: Path, kwargs: dict, name: str) -> None:
    config = load_text(tmp_path, BASE)
    with pytest.raises(ConfigError) as info:
        apply_overrides(config, **kwargs)
    assert str(info.value).startswith(f"environment: {name}: ")


def test_bad_option_names_the_option(tmp_path: Path) -> None:
    config = load_text(tmp_path, BASE)
    with pytest.raises(ConfigError, match=r"^command line: --metrics-port: must be in 0\.\.65535"):
        apply_overrides(config, metrics_port=-5, origin="command line", names=OPTION_NAMES)


def test_resolve_secret() -> None:
    env = {"TOKEN": "s3cret", "EMPTY": ""}
    assert resolve_secret("TOKEN", env) == "s3cret"
    assert resolve_secret("EMPTY", env) is None
    assert resolve_secret("MISSING", env) is None
    assert resolve_secret(None, env) is None


def test_config_holds_names_not_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BC_TEST_TOKEN", "tok-987654")
    config = load_text(
        tmp_path,
        BASE.replace('kind = "lmstudio"', 'kind = "lmstudio"\napi_key_env = "BC_TEST_TOKEN"'),
    )
    assert config.hosts[0].api_key_env == "BC_TEST_TOKEN"
    blob = pickle.dumps(config)
    assert b"tok-987654" not in blob
    assert pickle.loads(blob) == config  # the config crosses into spawned workers
    assert resolve_secret(config.hosts[0].api_key_env) == "tok-987654"
