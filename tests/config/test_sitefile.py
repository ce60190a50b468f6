"""Importing the site's own entity JSON (CONTRACT.md section 4) through `entities_file`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from botcluster.config import load
from botcluster.errors import ConfigError
from tests.config.builders import BASE, DATA, ENTITY, HOST, load_error, write

SAMPLE = DATA / "entities.json"


def site_config(tmp_path: Path, toml: str = "", data: dict[str, Any] | None = None) -> Path:
    """A config directory with the sample site file (or `data`) beside a servers.toml."""
    if data is None:
        shutil.copy(SAMPLE, tmp_path / "entities.json")
    else:
        (tmp_path / "entities.json").write_text(json.dumps(data), encoding="utf-8")
    return write(tmp_path, 'entities_file = "entities.json"\n' + toml)


def sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return data


def test_sample_imports_as_is(tmp_path: Path) -> None:
    config = load(site_config(tmp_path))
    assert list(config.entities) == [
        "the-eternal",
        "emotional-intelligence",
        "fear-and-loathing",
        "sleeping-oracle",
    ]
    eternal = config.entities["the-eternal"]
    assert eternal.model == "the-eternal@f16"  # quantizations[defaultQuantization].modelPath
    assert eternal.add_entity_username and eternal.nom == 100
    assert eternal.trim_after == ("\nHuman:", "Human:", "\n\n\n")
    assert (eternal.top_k, eternal.repeat_penalty, eternal.min_p) == (40, 1.1, 0.05)
    assert eternal.rate_limits.max_posts_per_minute == 6
    assert eternal.rate_limits.min_seconds_between_posts == 5.0
    guide = config.entities["emotional-intelligence"]
    assert guide.top_p is None and guide.default_priority == 60  # null = not set
    assert guide.rate_limits.max_posts_per_hour is None  # 0 = no limit
    duke = config.entities["fear-and-loathing"]
    assert duke.model == "fear-and-loathing@q8_0"  # no quantizations: baseModel
    assert duke.filter_out == ("Raoul:",) and duke.trim_after == ("\nHuman:",)
    assert duke.system_role == "user" and duke.color == "rgb(200, 60, 40)"
    assert config.entities["sleeping-oracle"].enabled is False


def test_site_settings_fill_unset_bot_keys_and_servers_become_hosts(tmp_path: Path) -> None:
    config = load(site_config(tmp_path))
    assert config.bot.poll_interval_s == 3.0  # pollingInterval 3000 ms
    assert config.bot.max_attempts == 3  # maxRetries
    assert [(h.name, h.url, h.kind, h.memory_gb) for h in config.hosts] == [
        ("mac-studio-1", "http://10.0.0.101:1234", "lmstudio", 128.0),
        ("mac-studio-2", "http://10.0.0.102:1234", "lmstudio", 192.0),
    ]  # the disabled third server is left out


def test_toml_values_win_over_the_site_file(tmp_path: Path) -> None:
    config = load(site_config(tmp_path, "[bot]\npoll_interval_s = 0.5\nmax_attempts = 5\n" + HOST))
    assert (config.bot.poll_interval_s, config.bot.max_attempts) == (0.5, 5)
    assert [h.name for h in config.hosts] == ["h1"]  # lmStudioServers ignored


def test_inline_and_file_entities_together(tmp_path: Path) -> None:
    config = load(site_config(tmp_path, BASE))
    assert next(iter(config.entities)) == "e1"
    assert len(config.entities) == 5


def test_duplicate_id_across_toml_and_file(tmp_path: Path) -> None:
    toml = HOST + ENTITY.replace('"e1"', '"the-eternal"')
    with pytest.raises(ConfigError) as info:
        load(site_config(tmp_path, toml))
    assert info.value.path == str(tmp_path / "entities.json")
    assert info.value.key == "entities[0].id"
    assert "first at servers.toml: entities[0]" in str(info.value)


def test_unserved_model_names_the_quantization_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(site_config(tmp_path, HOST + 'models = ["m1"]\n'))
    assert info.value.key == "entities[0].quantizations.f16.modelPath"
    assert "the-eternal@f16" in str(info.value)


@pytest.mark.parametrize(
    ("edit", "key", "problem"),
    [
        (
            lambda d: d["entities"][0].update(maxTokens="200"),
            "entities[0].maxTokens",
            "got a string",
        ),
        (lambda d: d["entities"][1].update(enabled=1), "entities[1].enabled", "expected a boolean"),
        (lambda d: d["entities"][0].update(nom=10.5), "entities[0].nom", "expected an integer"),
        (
            lambda d: d["entities"][0]["rateLimits"].update(maxPostsPerHour=[1]),
            "entities[0].rateLimits.maxPostsPerHour",
            "got an array",
        ),
        (
            lambda d: d["botSettings"].update(pollingInterval="3000"),
            "botSettings.pollingInterval",
            "got a string",
        ),
        (
            lambda d: d["botSettings"].update(pollingInterval=0),
            "botSettings.pollingInterval",
            "> 0",
        ),
        (lambda d: d["queueSettings"].update(maxRetries=-1), "queueSettings.maxRetries", ">= 0"),
        (
            lambda d: d["lmStudioServers"][1].update(port="1234"),
            "lmStudioServers[1].port",
            "integer",
        ),
        (lambda d: d["lmStudioServers"][0].pop("ip"), "lmStudioServers[0].ip", "is required"),
        (lambda d: d.update(entities={}), "entities", "expected an array of tables"),
    ],
)
def test_wrong_types_in_the_site_file(tmp_path: Path, edit: Any, key: str, problem: str) -> None:
    data = sample()
    edit(data)
    with pytest.raises(ConfigError) as info:
        load(site_config(tmp_path, data=data))
    assert info.value.path == str(tmp_path / "entities.json")
    assert info.value.key == key
    assert problem in info.value.problem


def test_integral_floats_and_unknown_keys_are_accepted_in_the_site_file(tmp_path: Path) -> None:
    data = sample()
    data["entities"][0].update(maxTokens=200.0, futureField={"x": 1})
    data["newSection"] = [1, 2]
    assert load(site_config(tmp_path, data=data)).entities["the-eternal"].max_tokens == 200


def test_max_retries_zero_still_means_one_attempt(tmp_path: Path) -> None:
    data = sample()
    data["queueSettings"]["maxRetries"] = 0
    assert load(site_config(tmp_path, data=data)).bot.max_attempts == 1


def test_missing_site_file_names_the_key(tmp_path: Path) -> None:
    error = load_error(tmp_path, 'entities_file = "missing.json"\n' + BASE)
    assert error.key == "entities_file"
    assert "missing.json" in error.problem


def test_bad_json_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "entities.json").write_text('{\n  "entities": [\n    {"id": }\n  ]\n}\n')
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, 'entities_file = "entities.json"\n' + HOST))
    assert str(info.value).startswith(str(tmp_path / "entities.json"))
    assert "line 3, column" in str(info.value)


def test_site_file_must_be_an_object(tmp_path: Path) -> None:
    (tmp_path / "entities.json").write_text("[]")
    with pytest.raises(ConfigError, match="expected a JSON object, got an array"):
        load(write(tmp_path, 'entities_file = "entities.json"\n' + HOST))
