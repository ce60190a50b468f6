"""The job runner's failure paths, each caused on purpose: the site down, a claim that was
ambiguous, a /fail that does not arrive, a lease that expired while its worker still worked.

The comments API and the host are small fake objects with the real interfaces (the real
ones are exercised end to end in tests/chaos and tests/routing)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from botcluster.comments import Message, new_message_id
from botcluster.comments.message import FailResult
from botcluster.config.model import Entity
from botcluster.core.dispatcher import Dispatcher
from botcluster.core.job_runner import JobRunner, RunnerDeps
from botcluster.core.journal import Journal
from botcluster.core.link import DispatcherLink
from botcluster.errors import ClaimLost, CommentsUnavailable, HostDown
from botcluster.hosts.adapters import ChatResult
from tests.core.helpers import Clock, dispatcher, entity, host, job

MSG = Message(id="m1", text="hi", timestamp=1_000, username="Human", color="080195229",
              message_type="human", context=(), entity="e1")


class Host:
    can_load = False

    async def chat(self, model: str, messages: Any, params: Any) -> ChatResult:
        return ChatResult("hello there")


class Site:
    """Fails the named calls `failures[name]` times with `error`, then works."""

    def __init__(self, error: Exception | None = None, *, up: bool = False,
                 **failures: int) -> None:
        self.error = error or CommentsUnavailable("HTTP 503")
        self.failures = failures
        self.up = up  # answers requests that read no message while the named calls fail
        self.calls: list[str] = []
        self.records: set[str] = set()  # stored ids the cache has lost (KV record keys)

    def _maybe_fail(self, name: str) -> None:
        self.calls.append(name)
        if self.failures.get(name, 0) > 0:
            self.failures[name] -= 1
            raise self.error

    async def reachable(self) -> bool:
        self.calls.append("reachable")
        return self.up

    async def claim(self, mid: str, worker: str) -> Message:
        self._maybe_fail("claim")
        return MSG

    async def recent(self, **kw: Any) -> list[Message]:
        return []

    async def post(self, reply: Any) -> None:
        self._maybe_fail("post")

    async def add_to_cache(self, message_id: str, admin_token: str | None = None) -> bool:
        self._maybe_fail("add_to_cache")
        return message_id in self.records

    async def complete(self, mid: str) -> None:
        self._maybe_fail("complete")

    async def fail(self, mid: str, error: str) -> FailResult:
        self._maybe_fail("fail")
        return FailResult(status="failed", attempts=3)


def _run(site: Site, tmp: Path, rounds: int = 20, reply_id: str | None = None,
         llm: Host | None = None, hosts: tuple[str, ...] = ("h",),
         host_poll: Callable[[Dispatcher], None] | None = None, **settings: float) -> Any:
    """`host_poll` runs before each claim, as the supervisor's poll of the hosts would."""
    clock = Clock()
    d = dispatcher([host(h, loaded=("m1",)) for h in hosts], clock=clock, retry_backoff_s=0,
                   **settings)
    deps = RunnerDeps(config=SimpleNamespace(entities={"e1": entity()},  # type: ignore[arg-type]
                                             bot=SimpleNamespace(worker_id="bot")),
                      link=DispatcherLink(d), client=site,  # type: ignore[arg-type]
                      adapters=dict.fromkeys(hosts, llm or Host()),  # type: ignore[arg-type]
                      journal=Journal(tmp / "j.jsonl"), server_worker_id="bot-w0", clock=clock)
    runner = JobRunner(deps)
    queued = job("m1")
    queued.message = MSG
    # chosen (and journaled) by a worker that then crashed: as the poller restores it
    queued.reply_id = reply_id
    queued.post_attempted = reply_id is not None
    d.offer([queued])

    async def go() -> None:
        for _ in range(rounds):
            clock.advance(60)  # past any retry delay
            if host_poll is not None:
                host_poll(d)
            claim = d.claim("w")
            if claim is None:
                break
            await runner.run(claim)
        await deps.journal.aclose()

    asyncio.run(go())
    return d


def test_a_site_outage_costs_no_attempt_and_nothing_is_dropped(tmp_path: Path) -> None:
    site = Site(post=5)  # more failures than max_attempts
    d = _run(site, tmp_path)
    assert d.idle() and d.snapshot()["outcomes"] == [("e1", "replied")]
    assert site.calls.count("post") == 6 and "fail" not in site.calls


def test_a_message_the_site_fails_on_alone_ends_failed_not_retried_for_ever(
        tmp_path: Path) -> None:
    """The site answers everything but this message's claim (a record it cannot serve):
    each failure costs an attempt, and the message ends dead-lettered, failed on the server."""
    site = Site(up=True, claim=1000)
    d = _run(site, tmp_path, rounds=50)
    assert d.idle() and d.snapshot()["outcomes"] == [("e1", "dead_lettered")]
    assert site.calls.count("claim") == 3 and "fail" in site.calls


class Killed(Host):
    """A host that goes down under every prompt (the connection resets mid-request) until
    `lives` run out; `answering` is what a poll of its state would find."""

    def __init__(self, lives: int = 1_000_000) -> None:
        self.lives = lives
        self.chats = 0
        self.answering = True

    async def chat(self, model: str, messages: Any, params: Any) -> ChatResult:
        self.chats += 1
        if self.lives > 0:
            self.lives -= 1
            raise HostDown("h", "RemoteProtocolError: server disconnected")
        return await super().chat(model, messages, params)


def test_a_message_that_brings_down_every_host_ends_failed_not_retried_for_ever(
        tmp_path: Path) -> None:
    """Its prompt kills each host it runs on; each host comes back (supervised), and the
    poll of the hosts marks it up again. A host going down is not the message's fault at
    first, but one more down than there are hosts and every further one costs an attempt:
    the message ends dead-lettered, failed on the server."""
    site, poison = Site(), Killed()
    hosts = ("h1", "h2")
    d = _run(site, tmp_path, rounds=50, llm=poison, hosts=hosts,
             host_poll=lambda d: [d.host_ok(h) for h in hosts])  # type: ignore[func-returns-value]
    assert d.idle() and d.snapshot()["outcomes"] == [("e1", "dead_lettered")]
    assert poison.chats == len(hosts) + 1 + 3  # free downs, then max_attempts counted ones
    assert "fail" in site.calls and "post" not in site.calls


def test_a_host_outage_costs_no_attempt_however_long(tmp_path: Path) -> None:
    """The host goes down under the job and stays down for 29 probes (the job tries it again
    each time its backoff ends), comes back, goes down under it once more, and comes back for
    good: not one attempt is spent (one would end it here), and the message is answered."""
    site, flaky = Site(), Killed(lives=31)

    def host_poll(d: Dispatcher) -> None:
        flaky.answering = flaky.chats not in range(1, 30)  # down from the 1st to the 30th
        if flaky.answering:
            d.host_ok("h")

    d = _run(site, tmp_path, rounds=60, llm=flaky, host_poll=host_poll, max_attempts=1)
    assert d.idle() and d.snapshot()["outcomes"] == [("e1", "replied")]
    assert flaky.chats == 32 and "fail" not in site.calls


def test_a_posted_reply_is_completed_not_posted_again_or_failed(tmp_path: Path) -> None:
    site = Site(complete=4)
    d = _run(site, tmp_path)
    assert d.snapshot()["outcomes"] == [("e1", "replied")]
    assert site.calls.count("post") == 1 and "fail" not in site.calls


def test_a_reply_stored_before_a_crash_but_lost_by_the_cache_is_not_posted_again(
        tmp_path: Path) -> None:
    reply_id = new_message_id(999_990_000)  # chosen 10 s before the Clock's start
    site = Site()
    site.records.add(reply_id)  # the POST arrived; the cache race erased it from recent
    d = _run(site, tmp_path, reply_id=reply_id)
    assert d.snapshot()["outcomes"] == [("e1", "replied")]
    assert "post" not in site.calls and site.calls.count("add_to_cache") == 1
    [posted] = d.take_posted()
    assert posted.reply_id == reply_id, "tracked until it is visible"
    # verification reads the cache from before posted_at: no later than the reply's time
    assert posted.posted_at == 999_990.0


def test_a_reply_chosen_before_a_crash_but_never_stored_is_generated_and_posted(
        tmp_path: Path) -> None:
    site = Site()  # no record: the worker died before its POST arrived
    d = _run(site, tmp_path, reply_id="r-1")
    assert d.snapshot()["outcomes"] == [("e1", "replied")]
    assert site.calls.count("post") == 1 and site.calls.count("add_to_cache") == 1


def test_a_retry_that_never_began_a_post_does_not_ask_the_site_for_its_reply(
        tmp_path: Path) -> None:
    class DownOnce(Host):
        calls = 0

        async def chat(self, model: str, messages: Any, params: Any) -> ChatResult:
            DownOnce.calls += 1
            if DownOnce.calls == 1:
                raise HostDown("h", "connection refused")
            return await super().chat(model, messages, params)

    site = Site(post=1)  # and the first POST fails: the retry after it must check the record
    d = _run(site, tmp_path, llm=DownOnce())
    assert d.snapshot()["outcomes"] == [("e1", "replied")]
    # attempt 1: host down, no POST begun, no check; attempt 2: POST fails; attempt 3: the
    # record is checked (404 here) and the reply posted under the same id
    assert site.calls.count("add_to_cache") == 1 and site.calls.count("post") == 2


def test_a_lost_claim_may_come_back_and_be_taken(tmp_path: Path) -> None:
    site = Site(error=ClaimLost("HTTP 409"), claim=1)
    d = _run(site, tmp_path, rounds=1)
    assert d.snapshot()["outcomes"] == [("e1", "lost_claim")]
    again = job("m1")
    assert d.offer([again]) == 1, "a lost claim is not an answer"


def test_a_dead_letter_the_server_never_heard_of_may_be_taken_again(tmp_path: Path) -> None:
    site = Site(error=CommentsUnavailable("down"), fail=99)

    class Broken(Host):
        async def chat(self, model: str, messages: Any, params: Any) -> ChatResult:
            return ChatResult("Human: what the human would say")  # cleaned to nothing

    d = dispatcher([host("h", loaded=("m1",))], clock=Clock(), retry_backoff_s=0)
    clock = d.clock
    trims = Entity(id="e1", username="E1", model="m1", trim_after=("Human:",))
    deps = RunnerDeps(config=SimpleNamespace(entities={"e1": trims},  # type: ignore[arg-type]
                                             bot=SimpleNamespace(worker_id="bot")),
                      link=DispatcherLink(d), client=site,  # type: ignore[arg-type]
                      adapters={"h": Broken()},  # type: ignore[dict-item]
                      journal=Journal(tmp_path / "j.jsonl"), server_worker_id="bot-w0")
    queued = job("m1")
    queued.message = MSG
    d.offer([queued])

    async def go() -> None:
        for _ in range(5):
            clock.advance(60)  # type: ignore[attr-defined]
            claim = d.claim("w")
            if claim is None:
                break
            await JobRunner(deps).run(claim)
        await deps.journal.aclose()

    asyncio.run(go())
    assert d.snapshot()["outcomes"] == [("e1", "dead_lettered")]
    assert d.offer([job("m1")]) == 1


def test_two_workers_on_one_message_share_one_reply_id() -> None:
    clock = Clock()
    d = dispatcher([host("h", slots=2, loaded=("m1",))], clock=clock, lease_s=5)
    d.offer([job("m1")])
    first = d.claim("w1")
    clock.advance(6)  # w1's lease expired while it still worked
    second = d.claim("w2")
    assert first is not None and second is not None
    assert d.reply_id_for("m1", "r-of-w2") == "r-of-w2"
    assert d.reply_id_for("m1", "r-of-w1") == "r-of-w2"
