"""The operator's views of a bot's facts, in process: the page's escaping, the text of
`botcluster status`, and when /readyz says no host can serve any entity."""

from __future__ import annotations

from pathlib import Path

from botcluster.core.facts import duration
from botcluster.core.operator_page import render_page
from botcluster.core.readiness import unserved_reason
from botcluster.core.status import render
from tests.config.builders import load_text

EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'
NOW = 1_800_000_000.0


def facts() -> dict[str, object]:
    return {
        "version": "9.9", "uptime_s": 3725.0, "site": "http://127.0.0.1:8787", "ready": False,
        "ready_reason": f"no host <b>{EVIL}</b>", "workers_alive": 2, "heal_pending": 1,
        "queue": {"ready": 3, "deferred": 1, "claimed": 2}, "oldest": NOW - 75,
        "hosts": {
            "local-1": {"up": True, "usable": True, "slots": 2, "inflight": 1,
                        "loaded": {"smollm2": 2048}, "loading": [], "memory_gb": None,
                        "memory_used_gb": 0.0},
            f"h{EVIL}": {"up": False, "usable": False, "slots": 1, "inflight": 0,
                         "loaded": {}, "loading": ["m@f16"], "memory_gb": 64.0,
                         "memory_used_gb": 8.0}},
        "recent": [{"at": NOW - 5, "kind": "dead_lettered", "message_id": "m-1",
                    "entity": "e1", "host": "", "reason": f"HTTP 500 {EVIL}",
                    "text": EVIL + "\x1b[31mred"}],
    }


def test_page_shows_every_value_as_text() -> None:
    page = render_page(facts(), now=NOW)
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "<b>" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 4  # host, reason x2, text
    assert "botcluster 9.9" in page and "up 1h 2m" in page
    assert "<td>1/2</td>" in page and "smollm2 (2048)" in page and "m@f16" in page
    assert "<td>1m 15s</td>" in page  # oldest waiting
    assert "gave up" in page and "NOT READY" in page


def test_status_text_explains_its_columns() -> None:
    text = render(facts(), now=NOW)
    lines = text.splitlines()
    assert lines[0].startswith("botcluster 9.9, up 1h 2m, site http://127.0.0.1:8787: "
                               "NOT READY: no host")
    local = next(line for line in lines if line.startswith("local-1"))
    assert local.split()[1:3] == ["up", "1/2"] and local.endswith("smollm2 (2048)")
    assert "slots used/total: predictions running now / prediction slots of the host" in text
    assert "context length in tokens" in text
    assert "queue: 3 ready, 1 deferred, 2 claimed; oldest waiting 1m 15s" in text
    assert "gave up: m-1" in text
    assert "\x1b" not in text  # a message cannot drive the operator's terminal


def test_durations() -> None:
    assert [duration(s) for s in (None, 0, 59.9, 60, 3599, 3600, 90000)] == \
        ["-", "0s", "59s", "1m 0s", "59m 59s", "1h 0m", "1d 1h"]


SERVERS = """
[[hosts]]
name = "local-1"
url = "http://127.0.0.1:8081"
kind = "llamacpp"
models = ["smollm2"]

[[hosts]]
name = "studio"
url = "http://127.0.0.1:1234"
kind = "lmstudio"
models = ["big@f16"]

[[entities]]
id = "e1"
username = "E1"
baseModel = "smollm2"
"""


def test_readiness_needs_a_host_that_can_serve_an_entity(tmp_path: Path) -> None:
    config = load_text(tmp_path, SERVERS)
    up_local = {"up": True, "loaded": {"smollm2": 2048}, "loading": []}
    down = {"up": False, "loaded": {}, "loading": []}
    up_studio = {"up": True, "loaded": {}, "loading": []}
    assert unserved_reason(config, {"local-1": up_local, "studio": down}) is None
    reason = unserved_reason(config, {"local-1": down, "studio": up_studio})
    assert reason == ("no host can serve any entity's model (smollm2): local-1 down; "
                      "studio up, serves none of them")
    # A llama.cpp host serves what it has loaded, not what it is configured with.
    assert unserved_reason(config, {"local-1": {**up_local, "loaded": {}},
                                    "studio": down}) is not None
