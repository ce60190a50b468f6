"""deploy/: each file checked with the strongest validator this machine has, plus what a person
would check by hand (paths that exist, ports on loopback, the bot's own settings agreeing).

Validators: `systemd-analyze verify` (unit), plistlib (plist), `docker-compose config` (the
compose schema), hadolint (Dockerfile), promtool (Prometheus config with the alert rules as the
compose file mounts them). `docker build` runs only where a Docker daemon answers.
"""

from __future__ import annotations

import configparser
import json
import plistlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from botcluster.config import load
from botcluster.core.commands import EXIT_CONFIG
from botcluster.core.demo_guard import demo_model_refusal

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
UNIT = DEPLOY / "systemd" / "botcluster@.service"
PLIST = DEPLOY / "launchd" / "org.botcluster.bot.plist"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = shutil.which(name) or (str(VENV_BIN / name) if (VENV_BIN / name).exists() else None)
    if path is None:
        pytest.skip(f"{name} is not installed here")
    return path


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def binds(service: str) -> list[tuple[Path, str]]:
    """(file on this machine, path in the container) of a service's bind mounts."""
    out = []
    for volume in compose()["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            out.append(((COMPOSE.parent / source).resolve(), target))
    return out


def container_tree(service: str, root: Path) -> Path:
    """The service's bind mounts copied under `root` as the container would see them."""
    for source, target in binds(service):
        dest = root / target.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest)
        else:
            shutil.copy(source, dest)
    return root


# --- systemd ----------------------------------------------------------------------------------

def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    text = UNIT.read_text(encoding="utf-8")
    assert "/opt/botcluster/.venv/bin/botcluster " in text
    # verify checks that ExecStart is executable: point it at this machine's botcluster.
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace("/opt/botcluster/.venv/bin/botcluster",
                                 str(VENV_BIN / "botcluster")), encoding="utf-8")
    done = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


def test_systemd_unit_stops_and_restarts_as_the_bot_needs() -> None:
    service = unit()["Service"]
    assert service["ExecStart"].split()[1:] == ["start", "--config", "/etc/botcluster/%i.toml"]
    assert service["KillMode"] == "mixed" and service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > 10  # the bot drains within 10 s
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == str(EXIT_CONFIG)
    assert service["User"] != "root" and service["StateDirectory"] == "botcluster/%i"
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


# --- launchd ----------------------------------------------------------------------------------

LAUNCHD_KEYS = {"Label", "ProgramArguments", "UserName", "WorkingDirectory",
                "EnvironmentVariables", "RunAtLoad", "KeepAlive", "ThrottleInterval",
                "ExitTimeOut", "ProcessType", "SoftResourceLimits", "StandardOutPath",
                "StandardErrorPath"}


def test_launchd_plist_parses_and_runs_the_bot() -> None:
    with PLIST.open("rb") as f:
        job = plistlib.load(f)
    assert set(job) <= LAUNCHD_KEYS, set(job) - LAUNCHD_KEYS
    assert job["Label"] == PLIST.stem
    program, *args = job["ProgramArguments"]
    assert program.startswith("/") and program.endswith("/.venv/bin/botcluster")
    assert args[:2] == ["start", "--config"] and args[2].startswith("/")
    assert job["KeepAlive"] == {"SuccessfulExit": False}  # restart a crash, not a clean stop
    assert job["ExitTimeOut"] > 10 and job["RunAtLoad"] is True
    assert job["ProcessType"] in ("Standard", "Background", "Adaptive", "Interactive")
    for key in ("WorkingDirectory", "StandardOutPath", "StandardErrorPath"):
        assert job[key].startswith("/opt/botcluster/"), key
    assert all(isinstance(v, str) for v in job["EnvironmentVariables"].values())


# --- compose ----------------------------------------------------------------------------------

def test_compose_file_passes_docker_compose_config() -> None:
    dc = tool("docker-compose")
    env = {"PATH": "/usr/bin:/bin", "GRAFANA_ADMIN_PASSWORD": "test"}
    done = subprocess.run([dc, "-f", str(COMPOSE), "config", "-q"], capture_output=True,
                          text=True, timeout=60, env=env, cwd=COMPOSE.parent)
    assert done.returncode == 0, done.stderr
    refused = subprocess.run([dc, "-f", str(COMPOSE), "config", "-q"], capture_output=True,
                             text=True, timeout=60, env={"PATH": env["PATH"]},
                             cwd=COMPOSE.parent)
    assert refused.returncode != 0 and "GRAFANA_ADMIN_PASSWORD" in refused.stderr


def test_compose_structure_paths_and_loopback_ports() -> None:
    data = compose()
    assert set(data) <= {"services", "volumes", "networks", "configs", "secrets"}
    services = data["services"]
    assert set(services) == {"bot", "prometheus", "grafana"}
    build = services["bot"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is not on loopback"
        for source, _ in binds(name):
            assert source.exists(), f"{name}: {source} does not exist"
        for volume in svc.get("volumes", []):
            if not volume.startswith("."):
                assert volume.split(":")[0] in data["volumes"], volume
        for dep in svc.get("depends_on", []):
            assert dep in services
        image = svc.get("image", "")
        if name != "bot":
            assert re.search(r":v?\d+\.\d+\.\d+$", image), f"{name}: pin the image, not {image}"
        for key, value in (svc.get("environment") or {}).items():
            if any(w in key for w in ("PASSWORD", "TOKEN", "KEY", "SECRET")):
                assert str(value).startswith("${"), f"{name}: {key} must come from the env"
    assert services["bot"]["logging"]["options"]["max-size"]
    assert int(services["bot"]["stop_grace_period"].rstrip("s")) > 10


def test_the_bot_container_config_loads_and_matches_the_compose_file(tmp_path: Path) -> None:
    tree = container_tree("bot", tmp_path)
    config = load(tree / "etc" / "botcluster" / "servers.toml")
    assert list(config.entities)  # the mounted entities.json is where the config looks
    assert demo_model_refusal(config) is None  # a real site with real hosts: start goes ahead
    assert config.metrics.host == "0.0.0.0"  # inside the container, for Prometheus
    published = compose()["services"]["bot"]["ports"][0].rsplit(":", 1)[1]
    assert int(published) == config.metrics.port
    data_mount = next(v.split(":")[1] for v in compose()["services"]["bot"]["volumes"]
                      if v.startswith("botcluster-data:"))
    journal = str(config.bot.journal_path).removeprefix(str(tmp_path))
    assert journal.startswith(data_mount + "/"), "the journal must be on the data volume"


@pytest.mark.prometheus
def test_prometheus_config_as_mounted_passes_promtool(tmp_path: Path) -> None:
    promtool = tool("promtool")
    tree = container_tree("prometheus", tmp_path)
    config = tree / "etc" / "prometheus" / "prometheus.yml"
    done = subprocess.run([promtool, "check", "config", str(config)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout + done.stderr
    scrape = yaml.safe_load(config.read_text())["scrape_configs"][0]
    assert scrape["job_name"] == "botcluster"  # the alerts and dashboards select this job
    assert scrape["static_configs"][0]["targets"] == ["bot:9464"]


def test_grafana_provisioning_as_mounted(tmp_path: Path) -> None:
    tree = container_tree("grafana", tmp_path)
    prov = tree / "etc" / "grafana" / "provisioning"
    sources = yaml.safe_load((prov / "datasources" / "botcluster.yml").read_text())
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((prov / "dashboards" / "botcluster.yml").read_text())
    path = tree / provider["providers"][0]["options"]["path"].lstrip("/")
    titles = {json.loads(p.read_text())["title"] for p in path.glob("*.json")}
    assert titles == {"botcluster overview", "botcluster hosts"}


# --- Dockerfile -------------------------------------------------------------------------------

def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip()
             .startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def test_dockerfile_passes_hadolint() -> None:
    hadolint = tool("hadolint")
    done = subprocess.run([hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_structure() -> None:
    steps = instructions()
    assert steps[0][0] == "FROM" and re.search(r":\d+\.\d+", steps[0][1]), steps[0]
    names = [s[0] for s in steps]
    user = steps[names.index("USER")][1]
    assert user.split(":")[0] not in ("root", "0")
    assert names.index("USER") < names.index("ENTRYPOINT")
    entry = json.loads(dict(steps)["ENTRYPOINT"])  # exec form: SIGTERM reaches the bot
    cmd = json.loads(dict(steps)["CMD"])
    assert entry == ["botcluster"] and cmd[0] == "start"
    config_in_container = cmd[cmd.index("--config") + 1]
    assert config_in_container in [t for _, t in binds("bot")]
    allowed = [ln[1:].rstrip("/") for ln in (ROOT / ".dockerignore").read_text().splitlines()
               if ln.startswith("!")]
    for kind, args in steps:
        if kind == "COPY":
            for source in args.split()[:-1]:
                assert (ROOT / source).exists() and source.rstrip("/") in allowed, source
    assert "9464" in dict(steps)["EXPOSE"]
    assert "127.0.0.1:9464/healthz" in dict(steps)["HEALTHCHECK"]


def test_docker_build_where_a_daemon_answers() -> None:
    docker = tool("docker")
    if subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("no Docker daemon answers here: the image was not built")
    done = subprocess.run([docker, "build", "-f", str(DOCKERFILE), "-t", "botcluster:test",
                           str(ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
