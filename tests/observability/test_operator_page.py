"""The operator page at `/` on the metrics port, in Debian chromium, and `botcluster status`:
a bot on two simulated hosts, one failing every request and one down, and a message whose
text is markup that must stay inert."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from botcluster import __version__
from tests.observability.botrun import post_and_wait
from tests.support.chromium import chromium
from tests.support.procs import botcluster_cmd, running
from tests.support.simbot import SimBot, cluster_toml, sim_cluster, write_bot
from tests.support.site import post_human, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
# Set to a path (e.g. docs/operator-page.png) to save the page's screenshot there.
SCREENSHOT_ENV = "BOTCLUSTER_OPERATOR_SCREENSHOT"


@dataclass(frozen=True)
class Scene:
    bot: SimBot
    log: Path


def recent_kinds(bot: SimBot) -> set[tuple[str, str]]:
    events = httpx.get(bot.metrics_url + "/status", timeout=5).json()["recent"]
    return {(e["kind"], e["message_id"]) for e in events}


def host_up(bot: SimBot, name: str) -> bool:
    return bool(httpx.get(bot.metrics_url + "/status", timeout=5).json()["hosts"][name]["up"])


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    tmp = tmp_path_factory.mktemp("operator")
    with sim_cluster(tmp, cluster_toml(2)) as hosts:
        bot = write_bot(tmp, hosts, extra_bot="max_attempts = 2")
        # In JSON, so that the same bot shows every process's lines parse (test_logs_json.py).
        with running(botcluster_cmd("start", "--config", str(bot.config)), log=tmp / "bot.log",
                     ready_url=bot.metrics_url + "/readyz", timeout=60,
                     env={"BOTCLUSTER_LOG_FORMAT": "json"}):
            post_and_wait(bot, ["hello-1"])
            httpx.post(hosts["sim-0"] + "/sim/faults", json={"error_rate": 1.0},
                       timeout=5).raise_for_status()
            httpx.post(hosts["sim-1"] + "/sim/faults", json={"down_for_s": 120},
                       timeout=5).raise_for_status()
            wait_for(lambda: not host_up(bot, "sim-1"), timeout=20, interval=0.3)
            post_human(bot.board_url, "evil-1", EVIL, "e1", context=[])
            wait_for(lambda: ("dead_lettered", "evil-1") in recent_kinds(bot), timeout=30,
                     interval=0.3)
            yield Scene(bot, tmp / "bot.log")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


@pytest.mark.browser
def test_operator_page_in_chromium(scene: Scene, browser: object) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 800})  # type: ignore[attr-defined]
    page.goto(scene.bot.metrics_url + "/")
    summary = page.locator("#summary").text_content()
    assert summary.startswith("up ") and "2 workers alive" in summary
    assert page.locator("#summary .ready").text_content() == "ready"  # sim-0 still serves
    assert page.locator("h1").text_content() == f"botcluster {__version__}"
    assert page.locator(f'#summary a[href="{scene.bot.board_url}"]').count() == 1

    hosts = {r.locator("td").nth(0).text_content(): [c.text_content() for c in
                                                      r.locator("td").all()]
             for r in page.locator("table.hosts tbody tr").all()}
    assert hosts["sim-0"][1:4] == ["up", "0/2", "m-a@f16 (8192)"]
    assert hosts["sim-1"][1] in ("DOWN", "down, probing")
    assert page.locator("table.hosts th").nth(2).text_content() == "slots used/total"
    queue = [c.text_content() for c in page.locator("table.queue td").all()]
    assert queue[:3] == ["0", "0", "0"]

    rows = page.locator("table.recent tbody tr")
    texts = [r.text_content() for r in rows.all()]
    dead = [t for t in texts if "gave up" in t and "evil-1" in t]
    assert dead and "HTTP 500" in dead[0]
    # The message's markup is shown as text and did nothing.
    assert EVIL in page.locator("table.recent .text").first.text_content()
    assert page.locator("img").count() == 0 and page.locator("script").count() == 0
    assert page.evaluate("window.__pwned") is None
    if os.environ.get(SCREENSHOT_ENV):
        page.screenshot(path=os.environ[SCREENSHOT_ENV], full_page=True)
    page.close()


def test_operator_page_headers_forbid_scripts(scene: Scene) -> None:
    r = httpx.get(scene.bot.metrics_url + "/", timeout=5)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert EVIL not in r.text and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in r.text


def test_status_command_shows_the_same_facts(scene: Scene, tmp_path: Path) -> None:
    # From a directory without a servers.toml, pointed at the bot with --url.
    done = subprocess.run(botcluster_cmd("status", "--url", scene.bot.metrics_url),
                          capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(f"botcluster {__version__}, up ")
    assert f"site {scene.bot.board_url}: ready" in out
    assert "slots used/total: predictions running now / prediction slots of the host" in out
    assert "context length in tokens" in out
    sim0 = next(line for line in out.splitlines() if line.startswith("sim-0"))
    assert sim0.split()[1:3] == ["up", "0/2"] and sim0.endswith("m-a@f16 (8192)")
    assert 'gave up: evil-1 "<script>' in out and "HTTP 500" in out


def test_status_without_a_config_asks_the_default_address(tmp_path: Path) -> None:
    done = subprocess.run(botcluster_cmd("status"), capture_output=True, text=True,
                          timeout=30, cwd=tmp_path, env={k: v for k, v in os.environ.items()
                                                         if k != "BOTCLUSTER_CONFIG"})
    assert "config error" not in done.stdout + done.stderr
    if done.returncode == 1:  # no bot on this machine's default port
        assert "no running bot answers at http://127.0.0.1:9464/status" in done.stdout
    else:  # some bot does answer there: its status is shown
        assert done.returncode == 0 and done.stdout.startswith("botcluster ")


def test_every_line_of_the_bot_is_json(scene: Scene) -> None:
    """`--log-format json` (here BOTCLUSTER_LOG_FORMAT): the board child, uvicorn inside it,
    the workers, the dispatcher and the banner all write one JSON object per line."""
    lines = scene.log.read_text().splitlines()
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
    loggers = {str(r["logger"]) for r in records}
    assert {"uvicorn.error", "botcluster.board.app", "botcluster.core.worker",
            "botcluster.core.supervisor", "botcluster.core.job_runner"} <= loggers, loggers
    msgs = [str(r["msg"]) for r in records]
    assert any(m.startswith("workers: 2 x 2 jobs") for m in msgs)  # the banner
    assert not [m for m in msgs if "HTTP Request" in m]  # per-call lines only at DEBUG
    # sim-1 was taken down on purpose; no host was down before, so none is "up again".
    assert any("host sim-1 down" in m for m in msgs)
    assert not [m for m in msgs if "up again" in m]
