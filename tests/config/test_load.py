"""`load()` on the shipped configs and on every class of error, each naming its key."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from botcluster.config import load
from botcluster.errors import ConfigError
from tests.config.builders import BASE, ENTITY, HOST, REPO, load_error, load_text, write


def test_repository_default_config_loads() -> None:
    config = load(REPO / "servers.toml")
    assert config.embedded_board
    assert config.api_url == "http://127.0.0.1:8787"
    (host,) = config.hosts
    assert host.kind == "llamacpp" and host.slots == 2 and host.models == ("smollm2",)
    assert host.local is not None and host.local.ctx_size == 4096
    assert set(config.entities) == {"emotional-intelligence", "the-eternal"}
    guide = config.entities["emotional-intelligence"]
    assert guide.model == "smollm2"
    assert guide.trim_after == ("\nHuman:", "Human:")
    assert guide.rate_limits.max_posts_per_minute == 60
    assert config.bot.journal_path == REPO / "var" / "journal.jsonl"
    assert config.board.db_path == REPO / "var" / "board.sqlite3"
    assert config.heal.max_backoff_s == 30.0


def test_macstudio_example_loads_with_the_shipped_site_file() -> None:
    """The example as shipped: servers.example-macstudio.toml with examples/entities.json."""
    config = load(REPO / "servers.example-macstudio.toml")
    assert [h.name for h in config.hosts] == ["studio-1", "studio-2"]  # TOML hosts win
    assert config.hosts[0].api_key_env == "LMSTUDIO_TOKEN_STUDIO1"
    assert config.bot.api_url == "https://saywhatwant.app"
    assert config.bot.poll_interval_s == 3.0 and config.bot.max_attempts == 3
    assert list(config.entities) == ["the-eternal", "emotional-intelligence", "sleeping-oracle"]
    assert config.entities["the-eternal"].model == "the-eternal@f16"
    assert config.entities["emotional-intelligence"].model == "emotional-intelligence@q8_0"
    assert config.entities["sleeping-oracle"].enabled is False


def test_macstudio_example_loads_with_another_site_file(tmp_path: Path) -> None:
    text = (REPO / "servers.example-macstudio.toml").read_text()
    (tmp_path / "servers.toml").write_text(text.replace("examples/entities.json",
                                                        "entities.json"))
    shutil.copy(Path(__file__).parent / "data" / "entities.json", tmp_path / "entities.json")
    config = load(tmp_path / "servers.toml")
    assert [h.name for h in config.hosts] == ["studio-1", "studio-2"]
    assert config.entities["the-eternal"].model == "the-eternal@f16"


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_text(tmp_path, BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.bot.workers = 9  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.entities["x"] = config.entities["e1"]  # type: ignore[index]
    with pytest.raises(TypeError):
        config.hosts[0].name_map["a"] = "b"  # type: ignore[index]


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = load_text(tmp_path, BASE + '[bot]\njournal_path = "j/journal.jsonl"\n')
    assert config.bot.journal_path == tmp_path / "j" / "journal.jsonl"
    assert config.board.db_path == tmp_path / "var" / "board.sqlite3"  # default, resolved too
    assert config.bot.workers == 2 and config.metrics.port == 9464
    assert config.source == tmp_path / "servers.toml"


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found"):
        load(tmp_path / "nope.toml")


def test_bad_toml_names_line_and_column(tmp_path: Path) -> None:
    error = load_error(tmp_path, "[bot]\nworkers = 2\npoll_interval_s = = 3\n")
    assert "invalid TOML" in str(error)
    assert "line 3, column" in str(error)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("colour = 1\n" + BASE, "colour"),
        (BASE + "[bot]\nworker = 2\n", "bot.worker"),
        (BASE + "[board]\nbind = 'x'\n", "board.bind"),
        (BASE + "[metrics]\npath = '/m'\n", "metrics.path"),
        (BASE + "[heal]\nmax_backoff = 3\n", "heal.max_backoff"),
        (HOST + "slot = 2\n" + ENTITY, "hosts[0].slot"),
        (
            HOST.replace("lmstudio", "llamacpp")
            + 'models = ["m1"]\n[hosts.local]\nctx = 1\n'
            + ENTITY,
            "hosts[0].local.ctx",
        ),
        (BASE + "temprature = 0.5\n", "entities[0].temprature"),
        (
            BASE + "rateLimits = { maxPostsPerMinute = 3, perDay = 9 }\n",
            "entities[0].rateLimits.perDay",
        ),
        (
            BASE + 'quantizations = { f16 = { modelPath = "m1", enable = true } }\n',
            "entities[0].quantizations.f16.enable",
        ),
    ],
)
def test_unknown_keys_are_errors(tmp_path: Path, text: str, key: str) -> None:
    error = load_error(tmp_path, text)
    assert error.key == key
    assert f": {key}: unknown key" in str(error)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (BASE + "[bot]\nworkers = true\n", "bot.workers", "expected an integer, got a boolean"),
        (BASE + "[bot]\nworkers = 2.0\n", "bot.workers", "expected an integer"),
        (BASE + '[bot]\nworkers = "2"\n', "bot.workers", "expected an integer, got a string"),
        (BASE + "[bot]\npoll_interval_s = true\n", "bot.poll_interval_s", "got a boolean"),
        (BASE + '[bot]\nlock = "yes"\n', "bot.lock", "expected a boolean"),
        ("bot = 3\n" + BASE, "bot", "expected a table"),
        (HOST + 'slots = "4"\n' + ENTITY, "hosts[0].slots", "expected an integer"),
        (HOST + 'models = "m1"\n' + ENTITY, "hosts[0].models", "expected an array"),
        (HOST + "models = [1]\n" + ENTITY, "hosts[0].models[0]", "expected a string"),
        (HOST + "name_map = { m1 = 2 }\n" + ENTITY, "hosts[0].name_map.m1", "expected a string"),
        (BASE + "maxTokens = true\n", "entities[0].maxTokens", "got a boolean"),
        (BASE + "trimAfter = [1]\n", "entities[0].trimAfter[0]", "expected a string"),
        (
            BASE + 'rateLimits = { maxPostsPerMinute = "6" }\n',
            "entities[0].rateLimits.maxPostsPerMinute",
            "expected an integer, got a string",
        ),
        ('hosts = "h1"\n', "hosts", "expected an array of tables"),
    ],
)
def test_wrong_types_are_errors(tmp_path: Path, text: str, key: str, problem: str) -> None:
    error = load_error(tmp_path, text)
    assert error.key == key
    assert problem in error.problem


@pytest.mark.parametrize(
    "url", ["ftp://10.0.0.1:1234", "10.0.0.1:1234", "http://", "http://h:99999", "file:///tmp/x"]
)
def test_host_url_must_be_http(tmp_path: Path, url: str) -> None:
    text = BASE.replace("http://127.0.0.1:1234", url)
    error = load_error(tmp_path, text)
    assert error.key == "hosts[0].url"


def test_host_url_trailing_slash_is_dropped(tmp_path: Path) -> None:
    config = load_text(tmp_path, BASE.replace(":1234", ":1234/"))
    assert config.hosts[0].url == "http://127.0.0.1:1234"


def test_duplicate_host_name(tmp_path: Path) -> None:
    error = load_error(tmp_path, HOST + HOST + ENTITY)
    assert error.key == "hosts[1].name"
    assert "duplicate host name 'h1'" in str(error)


def test_entity_model_must_be_served(tmp_path: Path) -> None:
    text = HOST + 'models = ["other"]\n' + ENTITY
    error = load_error(tmp_path, text)
    assert error.key == "entities[0].baseModel"
    assert "no host serves model 'm1'" in str(error)
    assert "h1: other" in str(error)


def test_models_list_and_name_map_keys_serve(tmp_path: Path) -> None:
    served = load_text(tmp_path, HOST + 'models = ["m1"]\n' + ENTITY)
    assert served.hosts[0].models == ("m1",)
    mapped = load_text(tmp_path, HOST + 'models = ["x"]\nname_map = { m1 = "m1:q8" }\n' + ENTITY)
    assert mapped.hosts[0].host_model_name("m1") == "m1:q8"


def test_no_hosts_means_no_model_is_served(tmp_path: Path) -> None:
    error = load_error(tmp_path, ENTITY)
    assert "none configured" in str(error)


def test_disabled_entity_is_kept_and_not_checked(tmp_path: Path) -> None:
    text = HOST + 'models = ["m1"]\n' + ENTITY + ENTITY.replace("e1", "e2").replace("m1", "gone")
    error = load_error(tmp_path, text)
    assert error.key == "entities[1].baseModel"
    config = load_text(tmp_path, text + "enabled = false\n")
    assert config.entities["e2"].enabled is False
    assert config.entities["e1"].enabled is True


def test_duplicate_inline_entity_id(tmp_path: Path) -> None:
    error = load_error(tmp_path, BASE + ENTITY)
    assert error.key == "entities[1].id"
    assert "duplicate entity id 'e1'" in str(error)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (BASE + "[bot]\nworkers = 0\n", "bot.workers"),
        (BASE + "[bot]\njobs_per_worker = 0\n", "bot.jobs_per_worker"),
        (BASE + "[bot]\npoll_interval_s = 0\n", "bot.poll_interval_s"),
        (BASE + "[bot]\npoll_interval_s = -1.5\n", "bot.poll_interval_s"),
        (BASE + "[bot]\npoll_interval_s = nan\n", "bot.poll_interval_s"),
        (BASE + "[bot]\nmax_attempts = 0\n", "bot.max_attempts"),
        (BASE + "[bot]\nlog_format = 'xml'\n", "bot.log_format"),
        (BASE + "[bot]\nlog_level = 'LOUD'\n", "bot.log_level"),
        (BASE + "[bot]\ndialect = 'graphql'\n", "bot.dialect"),
        (BASE + "[bot]\napi_url = 'saywhatwant.app'\n", "bot.api_url"),
        (BASE + "[board]\nport = 70000\n", "board.port"),
        (BASE + "[board]\nadmin_token_env = 'not a name'\n", "board.admin_token_env"),
        (BASE + "[metrics]\nport = -1\n", "metrics.port"),
        (BASE + "[heal]\ninitial_backoff_s = 10\nmax_backoff_s = 5\n", "heal.max_backoff_s"),
        (HOST + "slots = 0\n" + ENTITY, "hosts[0].slots"),
        (HOST + "memory_gb = 0\n" + ENTITY, "hosts[0].memory_gb"),
        (BASE.replace('"lmstudio"', '"vllm"'), "hosts[0].kind"),
        (HOST + "api_key_env = 'sk-123'\n" + ENTITY, "hosts[0].api_key_env"),
        (BASE + "maxTokens = 0\n", "entities[0].maxTokens"),
        (BASE + "topP = 1.5\n", "entities[0].topP"),
        (BASE + "nom = -1\n", "entities[0].nom"),
        (BASE.replace('"E1"', '"ThisNameIsFarTooLong"'), "entities[0].username"),
        (BASE + "color = 'red'\n", "entities[0].color"),
        (BASE + "systemRole = 'narrator'\n", "entities[0].systemRole"),
        (BASE + "trimAfter = ['']\n", "entities[0].trimAfter[0]"),
        (
            BASE + "rateLimits = { maxPostsPerHour = -1 }\n",
            "entities[0].rateLimits.maxPostsPerHour",
        ),
        (HOST + '[[entities]]\nid = "e1"\nusername = "E1"\n', "entities[0].baseModel"),
        (HOST + '[[entities]]\nusername = "E1"\nbaseModel = "m1"\n', "entities[0].id"),
    ],
)
def test_range_checks(tmp_path: Path, text: str, key: str) -> None:
    assert load_error(tmp_path, text).key == key


def test_rate_limit_zero_means_no_limit(tmp_path: Path) -> None:
    text = BASE + "rateLimits = { minSecondsBetweenPosts = 2.5, maxPostsPerMinute = 0 }\n"
    limits = load_text(tmp_path, text).entities["e1"].rate_limits
    assert limits.min_seconds_between_posts == 2.5
    assert limits.max_posts_per_minute is None


def test_default_quantization_chooses_the_model(tmp_path: Path) -> None:
    quants = 'quantizations = { f16 = { modelPath = "m1@f16" }, q8 = { modelPath = "m1@q8" } }\n'
    config = load_text(tmp_path, BASE + quants + 'defaultQuantization = "q8"\n')
    assert config.entities["e1"].model == "m1@q8"
    error = load_error(tmp_path, BASE + quants + 'defaultQuantization = "q4"\n')
    assert error.key == "entities[0].defaultQuantization"
    assert "f16, q8" in str(error)
    served = HOST + 'models = ["m1"]\n' + ENTITY + quants + 'defaultQuantization = "f16"\n'
    assert load_error(tmp_path, served).key == "entities[0].quantizations.f16.modelPath"


LOCAL = """
[[hosts]]
name = "local-1"
url = "http://127.0.0.1:8081"
kind = "llamacpp"
models = ["m1"]

[hosts.local]
model_file = "models/tiny.gguf"
"""


def test_local_host(tmp_path: Path) -> None:
    config = load_text(tmp_path, LOCAL + ENTITY)
    local = config.hosts[0].local
    assert local is not None
    assert local.model_file == str(tmp_path / "models" / "tiny.gguf")
    assert (local.ctx_size, local.threads) == (4096, 0)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('kind = "llamacpp"', 'kind = "lmstudio"', "hosts[0].kind"),
        ("http://127.0.0.1:8081", "http://10.0.0.5:8081", "hosts[0].url"),
        ("http://127.0.0.1:8081", "http://localhost", "hosts[0].url"),
        ('models = ["m1"]', 'models = ["m1", "m2"]', "hosts[0].models"),
        ('models = ["m1"]', "", "hosts[0].models"),
    ],
)
def test_local_host_rules(tmp_path: Path, old: str, new: str, key: str) -> None:
    assert load_error(tmp_path, LOCAL.replace(old, new) + ENTITY).key == key


def test_paths_follow_the_config_directory_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tmp_path / "etc"
    sub.mkdir()
    path = write(sub, BASE + '[board]\ndb_path = "board.db"\n')
    monkeypatch.chdir(tmp_path)
    assert load(path.relative_to(tmp_path)).board.db_path == sub / "board.db"


def test_the_default_worker_id_is_per_machine_and_stable() -> None:
    from botcluster.config.model import default_worker_id

    assert default_worker_id("Mac-Studio-2.local") == "botcluster-mac-studio-2"
    assert default_worker_id("Mac-Studio-2.local") == default_worker_id("mac-studio-2")
    assert default_worker_id("___").startswith("botcluster-"), "a hash: no two merge"
