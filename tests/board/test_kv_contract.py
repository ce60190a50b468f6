"""The KV dialect, row by row of CONTRACT.md section 1, over real HTTP on loopback."""

from __future__ import annotations

from tests.board.conftest import RunningBoard, human
from tests.support.procs import LOOPBACK


def _post(board: RunningBoard, **body: object) -> dict:
    r = board.post("/api/comments", json=human(**body))  # type: ignore[arg-type]
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_post_sanitises_and_queues(board: RunningBoard) -> None:
    r = board.post("/api/comments", json={
        "text": "  hi \n\n there\t you  ", "username": "  a-very-long-username-indeed ",
        "domain": "saywhatwant.app", "botParams": {"entity": "ei", "priority": 5, "x": 1,
                                                   "status": "complete", "attempts": 9}})
    assert r.status_code == 200
    m = r.json()
    assert m["text"] == "hi there you"
    assert m["username"] == "a-very-long-user"
    assert m["message-type"] == "human" and m["language"] == "en" and m["misc"] == ""
    assert m["botParams"] == {"entity": "ei", "priority": 5, "x": 1, "status": "pending",
                              "claimedBy": None, "claimedAt": None, "attempts": 0}
    assid = m["id"].split("-")
    assert len(assid[0]) == 13 and assid[1].isalnum()


def test_post_text_limits_and_empty(board: RunningBoard) -> None:
    m = _post(board, text="x" * 1500)
    assert len(m["text"]) == 1000
    for bad in ({"text": "   \n  "}, {"text": 5}, {}, {"username": "no text"}):
        r = board.post("/api/comments", json={**bad, "domain": "saywhatwant.app"})
        assert r.status_code == 400 and "error" in r.json()
    assert board.post("/api/comments", content=b"{not json").status_code == 400
    assert board.post("/api/comments", content=b"null").status_code == 400


def test_post_keeps_client_id_and_timestamp_no_dedup(board: RunningBoard) -> None:
    body = human("first", id="1761571872625-abc", timestamp=1761571872625)
    assert board.post("/api/comments", json=body).json()["timestamp"] == 1761571872625
    body["text"] = "second"
    assert board.post("/api/comments", json=body).status_code == 200
    cache = board.get("/api/comments?after=0").json()
    assert sorted(m["text"] for m in cache) == ["first", "second"]  # two cache copies, one id
    page = board.get("/api/comments").json()
    assert page["total"] == 1  # one record, overwritten


def test_post_without_entity_has_no_queue_fields(board: RunningBoard) -> None:
    m = _post(board, entity=None, botParams={"priority": 3})
    assert m["botParams"] == {"priority": 3}
    m = _post(board, entity=None)
    assert "botParams" not in m
    assert board.get("/api/queue/pending").json()["pending"] == []


def test_cursor_mode_newest_first_limit_and_type(board: RunningBoard) -> None:
    for i in range(5):
        _post(board, text=f"m{i}", timestamp=1000 + i)
    _post(board, text="ai", timestamp=2000, **{"message-type": "AI"}, entity=None)
    r = board.get("/api/comments?after=0")
    assert r.status_code == 200 and isinstance(r.json(), list)
    assert [m["text"] for m in r.json()] == ["ai", "m4", "m3", "m2", "m1", "m0"]
    assert [m["text"] for m in board.get("/api/comments?after=1002").json()] == ["ai", "m4", "m3"]
    # more than limit: the oldest are dropped
    assert [m["text"] for m in board.get("/api/comments?after=0&limit=2").json()] == ["ai", "m4"]
    assert [m["text"] for m in board.get("/api/comments?after=0&type=AI").json()] == ["ai"]
    assert len(board.get("/api/comments?after=0&type=human").json()) == 5
    assert board.get("/api/comments?after=abc").json() == []  # parseInt NaN
    assert board.get("/api/comments?after=0&limit=-1").status_code == 400


def test_cursor_limit_default_50_and_max_1000(board: RunningBoard) -> None:
    for i in range(60):
        _post(board, text=f"m{i}", timestamp=1000 + i)
    assert len(board.get("/api/comments?after=0").json()) == 50
    assert len(board.get("/api/comments?after=0&limit=5000").json()) == 60


def test_page_mode_oldest_first_offset_search(board: RunningBoard) -> None:
    for i in range(5):
        _post(board, text=f"word{i}", timestamp=1000 + i)
    r = board.get("/api/comments?limit=2").json()
    assert [m["text"] for m in r["comments"]] == ["word3", "word4"] and r["hasMore"] is True
    r = board.get("/api/comments?limit=2&offset=2").json()
    assert [m["text"] for m in r["comments"]] == ["word1", "word2"]
    r = board.get("/api/comments?limit=10").json()
    assert len(r["comments"]) == 5 and r["hasMore"] is False
    r = board.get("/api/comments?search=WORD3").json()
    assert [m["text"] for m in r["comments"]] == ["word3"]
    assert board.get("/api/comments?after=").json()["comments"]  # empty after = page mode


def test_cache_keeps_last_200(board: RunningBoard) -> None:
    for i in range(205):
        _post(board, text=f"m{i}", timestamp=1000 + i)
    assert board.get("/api/stats").json()["cacheSize"] == 200
    texts = [m["text"] for m in board.get("/api/comments?after=0&limit=1000").json()]
    assert len(texts) == 200 and texts[-1] == "m5"
    assert board.get("/api/comments").json()["total"] == 205


def test_patch_processed_only(board: RunningBoard) -> None:
    m = _post(board)
    r = board.client.patch(f"{board.url}/api/comments/{m['id']}",
                           json={"botParams": {"processed": True}})
    assert r.status_code == 200
    assert r.json()["botParams"]["processed"] is True
    assert r.json()["botParams"]["status"] == "pending"  # PATCH does not change status
    assert [p["id"] for p in board.get("/api/queue/pending").json()["pending"]] == [m["id"]]
    for bad in ({"botParams": {"processed": "yes"}}, {"botParams": {}},
                {"botParams": {"processed": True, "status": "x"}},
                {"botParams": {"processed": True}, "text": "x"}, [], {}):
        r = board.client.patch(f"{board.url}/api/comments/{m['id']}", json=bad)
        assert r.status_code == 400, bad
    r = board.client.patch(f"{board.url}/api/comments/nope",
                           json={"botParams": {"processed": False}})
    assert r.status_code == 404
    r = board.client.patch(f"{board.url}/api/comments/{m['id']}", content=b"{bad")
    assert r.status_code == 400
    cached = board.get("/api/comments?after=0").json()[0]
    assert cached["botParams"]["processed"] is True


def test_pending_priority_order(board: RunningBoard) -> None:
    a = _post(board, text="a", timestamp=1000, botParams={"priority": 0})
    b = _post(board, text="b", timestamp=1001, botParams={"priority": 90})
    c = _post(board, text="c", timestamp=999)
    d = _post(board, text="d", timestamp=1002, botParams={"priority": 10})
    e = _post(board, text="e", timestamp=998, botParams={"priority": 50})
    r = board.get("/api/queue/pending").json()
    assert [m["id"] for m in r["pending"]] == [b["id"], e["id"], c["id"], a["id"], d["id"]]
    assert "kvStats" in r
    assert len(board.get("/api/queue/pending?limit=2").json()["pending"]) == 2


def test_claim_complete(board: RunningBoard) -> None:
    m = _post(board)
    r = board.post("/api/queue/claim", json={"messageId": m["id"], "workerId": "w1"})
    assert r.status_code == 200 and r.json()["success"] is True
    claimed = r.json()["message"]["botParams"]
    assert claimed["status"] == "processing" and claimed["claimedBy"] == "w1"
    assert isinstance(claimed["claimedAt"], int)
    r = board.post("/api/queue/claim", json={"messageId": m["id"], "workerId": "w2"})
    assert r.status_code == 409 and r.json()["success"] is False
    assert board.get("/api/queue/pending").json()["pending"] == []
    done = board.post("/api/queue/complete", json={"messageId": m["id"]})
    assert done.json() == {"success": True}
    cached = board.get("/api/comments?after=0").json()[0]["botParams"]
    assert cached["status"] == "complete" and cached["processed"] is True
    r = board.post("/api/queue/claim", json={"messageId": "x", "workerId": "w"})
    assert r.status_code == 404
    assert board.post("/api/queue/claim", json={"messageId": m["id"]}).status_code == 400
    assert board.post("/api/queue/complete", json={}).status_code == 400
    assert board.post("/api/queue/complete", json={"messageId": "x"}).status_code == 404
    assert board.post("/api/queue/claim", content=b"oops").status_code == 400


def test_complete_whatever_the_status(board: RunningBoard) -> None:
    m = _post(board, entity=None)  # no botParams at all
    assert board.post("/api/queue/complete", json={"messageId": m["id"]}).status_code == 200
    r = board.post("/api/queue/claim", json={"messageId": m["id"], "workerId": "w"})
    assert r.status_code == 409


def test_fail_three_attempts(board: RunningBoard) -> None:
    m = _post(board)
    for attempt in (1, 2, 3):
        assert board.post("/api/queue/claim",
                          json={"messageId": m["id"], "workerId": "w"}).status_code == 200
        r = board.post("/api/queue/fail", json={"messageId": m["id"], "error": "boom"}).json()
        expected = "failed" if attempt == 3 else "pending"
        assert r == {"success": True, "status": expected, "attempts": attempt}
        pending = board.get("/api/queue/pending").json()["pending"]
        if attempt < 3:
            assert pending[0]["botParams"]["claimedBy"] is None
    assert board.get("/api/queue/pending").json()["pending"] == []
    assert board.post("/api/queue/fail", json={"messageId": "nope"}).status_code == 404
    assert board.post("/api/queue/fail", json={"error": "x"}).status_code == 400


def test_processing_forever_until_fail(board: RunningBoard) -> None:
    m = _post(board)
    board.post("/api/queue/claim", json={"messageId": m["id"], "workerId": "dead"})
    assert board.get("/api/queue/pending").json()["pending"] == []
    board.post("/api/queue/fail", json={"messageId": m["id"], "error": "worker died"})
    assert board.get("/api/queue/pending").json()["pending"][0]["id"] == m["id"]


def test_add_to_cache_no_dedup(board: RunningBoard) -> None:
    m = _post(board)
    r = board.post("/api/admin/add-to-cache", json={"messageId": m["id"]})
    assert r.status_code == 200 and r.json()["success"] is True
    ids = [x["id"] for x in board.get("/api/comments?after=0").json()]
    assert ids == [m["id"], m["id"]]
    assert board.post("/api/admin/add-to-cache", json={"messageId": "nope"}).status_code == 404
    assert board.post("/api/admin/add-to-cache", json={}).status_code == 400


def test_heartbeat_and_stats(board: RunningBoard) -> None:
    r = board.get("/api/heartbeat")
    assert r.status_code == 200 and r.text == "0"
    assert r.headers["content-type"].startswith("text/plain")
    _post(board, timestamp=5)
    beat = int(board.get("/api/heartbeat").text)
    assert beat > 1_600_000_000_000  # server time of the POST, not the client's timestamp
    stats = board.get("/api/stats").json()
    assert stats["cacheSize"] == 1 and stats["board"]["records"] == 1
    assert stats["board"]["cacheWrites"] == 1


def test_cors_options_and_404(board: RunningBoard) -> None:
    for path in ("/api/comments", "/anything/at/all", "/api/queue/claim"):
        r = board.client.options(board.url + path)
        assert r.status_code == 200 and r.content == b""
        assert r.headers["access-control-allow-origin"] == "*"
    for r in (board.get("/api/nope"), board.get("/api/comments/123"), board.get("/health"),
              board.get("/api/queue/claim"), board.post("/api/queue/claim-next", json={}),
              board.get("/api/queue/fail")):
        assert r.status_code == 404 and r.text == "Not found"
        assert r.headers["content-type"].startswith("text/plain")
        assert r.headers["access-control-allow-origin"] == "*"
    assert board.client.delete(board.url + "/api/comments").status_code == 405
    for r in (board.get("/api/stats"), board.post("/api/comments", json={})):
        assert r.headers["access-control-allow-origin"] == "*"


def test_rate_limit(make_board) -> None:  # type: ignore[no-untyped-def]
    board = make_board(trusted_proxies=(LOOPBACK,))  # as behind Cloudflare
    ip = {"CF-Connecting-IP": "203.0.113.7"}
    for i in range(10):
        r = board.post("/api/comments", json={"text": f"t{i}"}, headers=ip)
        assert r.status_code == 200
    r = board.post("/api/comments", json={"text": "eleven"}, headers=ip)
    assert r.status_code == 429 and r.headers["retry-after"] == "60" and "error" in r.json()
    # checked before validation: an invalid POST is refused with 429, not 400
    assert board.post("/api/comments", json={"text": ""}, headers=ip).status_code == 429
    # exempt by domain or by Origin host; another address has its own window
    assert board.post("/api/comments", json={"text": "x", "domain": "saywhatwant.app"},
                      headers=ip).status_code == 200
    assert board.post("/api/comments", json={"text": "x"},
                      headers={**ip, "Origin": "https://saywhatwant.app"}).status_code == 200
    assert board.post("/api/comments", json={"text": "x"},
                      headers={"CF-Connecting-IP": "203.0.113.8"}).status_code == 200


def test_rate_limit_window_slides(make_board) -> None:  # type: ignore[no-untyped-def]
    now = [1000.0]
    b = make_board(monotonic=lambda: now[0], trusted_proxies=(LOOPBACK,))
    ip = {"CF-Connecting-IP": "198.51.100.1"}
    for _ in range(10):
        assert b.post("/api/comments", json={"text": "x"}, headers=ip).status_code == 200
        now[0] += 5
    assert b.post("/api/comments", json={"text": "x"}, headers=ip).status_code == 429
    now[0] = 1060.0  # the first post left the window
    assert b.post("/api/comments", json={"text": "x"}, headers=ip).status_code == 200
    assert b.post("/api/comments", json={"text": "x"}, headers=ip).status_code == 429
    # invalid posts count too (the check runs before validation)
    now[0] = 2000.0
    for _ in range(10):
        assert b.post("/api/comments", json={"text": " "}, headers=ip).status_code == 400
    assert b.post("/api/comments", json={"text": "ok"}, headers=ip).status_code == 429


def test_injected_clock(make_board) -> None:  # type: ignore[no-untyped-def]
    b = make_board(clock_ms=lambda: 1_700_000_000_000)
    m = b.post("/api/comments", json=human()).json()
    assert m["timestamp"] == 1_700_000_000_000 and m["id"].startswith("1700000000000-")
    assert b.get("/api/heartbeat").text == "1700000000000"
