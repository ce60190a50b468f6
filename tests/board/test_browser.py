"""The board's page in a real browser (Debian chromium through Playwright; never a download)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from botcluster.board.settings import FaultSettings
from botcluster.board.store import CACHE_KEY, SCHEMA
from tests.board.conftest import RunningBoard
from tests.support.chromium import chromium

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def _open(browser: object, url: str, poll_ms: int = 300) -> object:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{url}/?poll={poll_ms}")
    page.wait_for_selector("#entity option", state="attached")
    return page


def _send(page: object, text: str) -> None:
    page.fill("#text", text)  # type: ignore[attr-defined]
    page.click("#send")  # type: ignore[attr-defined]


def test_post_and_see_reply(browser: object, make_board: Callable[..., RunningBoard]) -> None:
    board = make_board(entities={"ei": "EmotionalGuide", "sage": "Sage"})
    page = _open(browser, board.url)
    assert page.locator("#entity option").count() == 2  # type: ignore[attr-defined]
    page.select_option("#entity", "sage")  # type: ignore[attr-defined]
    _send(page, "  Why are   socks colorful? ")
    mine = page.locator("li.own[data-state='visible']")  # type: ignore[attr-defined]
    mine.wait_for(timeout=10_000)
    assert mine.locator(".text").text_content() == "Why are socks colorful?"
    message_id = mine.get_attribute("data-id")
    stored = board.get("/api/queue/pending").json()["pending"][0]
    assert stored["id"] == message_id
    assert stored["botParams"]["entity"] == "sage"
    assert stored["domain"] == "saywhatwant.app" and stored["message-type"] == "human"
    assert message_id is not None and len(message_id.split("-")[0]) == 13
    reply = {"text": "Because joy.", "username": "Sage", "domain": "saywhatwant.app",
             "message-type": "AI", "replyTo": message_id, "color": "200100050"}
    assert board.post("/api/comments", json=reply).status_code == 200
    ai = page.locator("li.ai")  # type: ignore[attr-defined]
    ai.wait_for(timeout=10_000)
    assert ai.locator(".username").text_content() == "Sage"
    assert ai.locator(".text").text_content() == "Because joy."


def test_markup_is_text(browser: object, make_board: Callable[..., RunningBoard]) -> None:
    board = make_board(entities={"ei": "EmotionalGuide"})
    page = _open(browser, board.url)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    attack = "<img src=x onerror=alert(1)>"
    board.post("/api/comments", json={"text": attack, "username": "<b>x</b>",
                                      "domain": "saywhatwant.app", "message-type": "AI"})
    _send(page, attack)
    page.locator("li.own[data-state='visible']").wait_for(timeout=10_000)  # type: ignore[attr-defined]
    page.locator("li.ai").wait_for(timeout=10_000)  # type: ignore[attr-defined]
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    texts = page.locator("#messages .text").all_text_contents()  # type: ignore[attr-defined]
    assert texts == [attack, attack]
    assert page.locator("li.ai .username").text_content() == "<b>x</b>"  # type: ignore[attr-defined]
    assert page.locator("#messages img").count() == 0  # type: ignore[attr-defined]
    assert page.locator("#messages b").count() == 0  # type: ignore[attr-defined]
    assert dialogs == []


def _board_file_with_a_message_from(path: Path, timestamp: int) -> None:
    """A database as an older board (or a wrong clock) left it: one message dated `timestamp`."""
    message = {"id": "from-the-future", "text": "I come from next year", "timestamp": timestamp,
               "username": "Traveller", "domain": "saywhatwant.app", "message-type": "human"}
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO records VALUES (?, ?, 1, ?)",
                 (message["id"], timestamp, json.dumps(message)))
    conn.execute("INSERT INTO kv VALUES (?, ?)", (CACHE_KEY, json.dumps([message])))
    conn.commit()
    conn.close()


def test_a_future_timestamp_does_not_stop_new_messages(
        browser: object, make_board: Callable[..., RunningBoard], tmp_path: Path) -> None:
    db = tmp_path / "future.sqlite3"
    _board_file_with_a_message_from(db, int(time.time() * 1000) + 365 * 86_400_000)
    board = make_board(db_path=db, entities={"ei": "EmotionalGuide"})
    page = _open(browser, board.url)
    page.locator("li[data-id='from-the-future']").wait_for(timeout=10_000)  # type: ignore[attr-defined]
    page.wait_for_timeout(1000)  # type: ignore[attr-defined]  # a few polls after it
    reply = {"text": "Present day.", "username": "Sage", "domain": "saywhatwant.app",
             "message-type": "AI"}
    assert board.post("/api/comments", json=reply).status_code == 200
    page.locator("li.ai").wait_for(timeout=10_000)  # type: ignore[attr-defined]
    _send(page, "still talking")
    mine = page.locator("li.own[data-state='visible']")  # type: ignore[attr-defined]
    mine.wait_for(timeout=10_000)
    assert mine.locator(".text").text_content() == "still talking"
    texts = page.locator("#messages .text").all_text_contents()  # type: ignore[attr-defined]
    assert sorted(texts) == sorted(["I come from next year", "Present day.", "still talking"])


def test_a_refused_post_is_reported_not_retried(
        browser: object, make_board: Callable[..., RunningBoard]) -> None:
    board = make_board(entities={"ei": "EmotionalGuide"}, max_body_bytes=1024)
    page = _open(browser, board.url)
    posts: list[int] = []
    page.on("response", lambda r: posts.append(r.status)  # type: ignore[attr-defined]
            if r.request.method == "POST" and r.url.endswith("/api/comments") else None)
    page.evaluate("document.getElementById('text').removeAttribute('maxlength')")  # type: ignore[attr-defined]
    _send(page, "x" * 2000)  # over the board's 1 KiB limit: 413
    page.locator("li.own").wait_for(state="detached", timeout=10_000)  # type: ignore[attr-defined]
    page.wait_for_timeout(2500)  # type: ignore[attr-defined]  # a retry would come within 1.5 s
    assert posts == [413]
    assert board.get("/api/stats").json()["board"]["posts"] == 0


@pytest.mark.slow
def test_29_pages_at_once_with_cache_race(browser: object,
                                          make_board: Callable[..., RunningBoard]) -> None:
    board = make_board(faults=FaultSettings(cache_race=True, race_pause_ms=5),
                       entities={"ei": "EmotionalGuide"})
    context = browser.new_context()  # type: ignore[attr-defined]
    try:
        pages = []
        for i in range(29):
            page = context.new_page()
            page.goto(f"{board.url}/?poll=500")
            page.wait_for_selector("#entity option", state="attached")
            page.fill("#text", f"tab {i} says hi")
            pages.append(page)
        fire_at = int(time.time() * 1000) + 1500
        for page in pages:  # every tab clicks Send at the same wall-clock instant
            page.evaluate("t => setTimeout(() => document.getElementById('send').click(),"
                          " t - Date.now())", fire_at)
        for i, page in enumerate(pages):
            mine = page.locator("li.own[data-state='visible']")
            mine.wait_for(timeout=45_000)
            assert mine.locator(".text").text_content() == f"tab {i} says hi"
        stats = board.get("/api/stats").json()["board"]
        assert stats["records"] == 29
        assert stats["overlappingCacheWrites"] > 0  # the race really happened
        assert stats["heals"] > 0  # and the pages healed what it erased
    finally:
        context.close()
