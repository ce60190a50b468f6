"""Turns the comments API's pending messages into jobs for the dispatcher."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from botcluster import metrics
from botcluster.comments import DO, CommentsClient, Message
from botcluster.comments.reader import Listing
from botcluster.comments.validate import OVERSIZE_BODY, Invalid, parse_journaled
from botcluster.config.model import Config
from botcluster.core.jobs import Job
from botcluster.core.journal import Journal, JournalState
from botcluster.errors import CommentsError, CommentsRejected, CommentsUnavailable

log = logging.getLogger(__name__)

PENDING_LIMIT = 200
# DO, records too big to read in the pending list: they stay there for ever (DO has no /fail),
# and /api/queue/pending has no cursor or offset to page past them, so every list downloads
# them again (megabytes each). New messages are then read by time (`after=` skips what is
# older), and the whole list only every this many polls, which also finds the rest.
OVERSIZE_RELIST_POLLS = 20
# The window grows past messages the bot cannot take (unknown entity, invalid): on the DO
# dialect they stay pending for ever at the head of the list. A body too big to read halves it.
MAX_PENDING_LIMIT = 5000
CEILING_POLLS = 100  # good polls after a body too big before the window may grow past it again
NEWEST_LIMIT = 1000  # DO, window full at its cap: human messages read per poll by time instead
CURSOR_LAG_MS = 60_000  # the time cursor stays this far behind the bot's clock, at least
REMEMBER_SKIPS = 10_000
REMEMBER_QUEUED = 50_000


class Poller:
    """One `poll()` = one GET of pending messages, offered to the dispatcher as jobs.

    Messages for unknown or disabled entities are counted once each and left alone on the
    server (visible there as pending): they are not ours to fail. The server lists only the
    top `limit`, so the window asked for is PENDING_LIMIT plus the items of the last window
    that could not become jobs: skipped messages at the head never hide the rest. Past
    `max_window` (DO, where they are never failed), new messages are also read by time; and
    on DO, while records too big to read sit in the list, the whole list is read only every
    OVERSIZE_RELIST_POLLS polls and new messages by time in between.

    A poll whose answer cannot be read fails (`last_error` says why, `/healthz` shows it);
    it is never a poll that found nothing.
    """

    def __init__(self, config: Config, client: CommentsClient, dispatcher: Any,
                 journal: JournalState, clock: Callable[[], float] = time.time,
                 writer: Journal | None = None, max_window: int = MAX_PENDING_LIMIT) -> None:
        self.config = config
        self.client = client
        self.dispatcher = dispatcher
        self.journal = journal
        self.clock = clock
        self.writer = writer  # journals every message queued, so a crash cannot lose it
        self.last_success = 0.0
        self.last_count = 0
        self.last_error: str | None = None  # why the last poll failed; None after a good one
        self.failing = 0  # polls failed in a row
        self.limit = PENDING_LIMIT
        self.max_window = max_window
        self._ceiling = max_window
        self._ceiling_polls = 0
        self._cursor = 0  # ms: DO messages older than this were read by time already
        self._relist_in = 0  # polls by time left before the whole pending list is read again
        self._oversize: OrderedDict[str, None] = OrderedDict()  # ids seen too big to read
        self._skipped: OrderedDict[str, None] = OrderedDict()
        self._journaled: OrderedDict[str, None] = OrderedDict()

    async def recover(self) -> int:
        """Queue again what the journal says an earlier run queued and never finished.

        The KV server lists a pending message only while it is in its 200-message cache, and a
        message this bot claimed is not pending at all: without this, a crash loses both.
        """
        now = self.clock()
        jobs = []
        for mid, raw in self.journal.queued.items():
            self._journaled[mid] = None
            try:
                message = parse_journaled(raw)
            except Invalid as exc:
                log.warning("journal: cannot rebuild queued message %s: %s", mid, exc)
                continue
            if message.id != mid:
                log.warning("journal: queued message %s holds message %s", mid, message.id)
                continue
            job = self._job(message, now)
            if job is not None:
                job.crashes = 1  # the run that queued it died holding it (see JobRunner)
                jobs.append(job)
        added: int = await asyncio.to_thread(self.dispatcher.offer, jobs) if jobs else 0
        if added:
            log.info("recovered %d queued message(s) from the journal", added)
        return added

    async def adopt(self, messages: list[Message]) -> int:
        """Queue messages the server shows claimed by this bot's workers, as a restarted bot
        queues what its journal held: the runner takes such a claim as its own."""
        now = self.clock()
        jobs = [j for m in messages if (j := self._job(m, now)) is not None]
        for job in jobs:
            job.crashes = 1  # whoever claimed it here died holding it (see JobRunner)
        await self._journal_queued(jobs)
        added: int = await asyncio.to_thread(self.dispatcher.offer, jobs) if jobs else 0
        return added

    async def _journal_queued(self, jobs: list[Job]) -> None:
        if self.writer is None:
            return
        for job in jobs:
            if job.message_id in self._journaled:
                continue
            await self.writer.append({"e": "queued", "m": job.message_id,
                                      "msg": asdict(job.message)})
            self._journaled[job.message_id] = None
            if len(self._journaled) > REMEMBER_QUEUED:
                self._journaled.popitem(last=False)

    async def poll(self) -> int:
        """Returns how many new jobs were queued (-1 when the poll failed)."""
        now = self.clock()
        try:
            listing, newest = await self._read(now)
        except CommentsError as exc:
            self._failed(exc)
            return -1
        self.last_success = now
        self.last_error, self.failing = None, 0
        metrics.polls.labels("ok").inc()
        metrics.poll_last_success.set(now)
        jobs = []
        if listing is not None:
            jobs = [j for m in listing.messages if (j := self._job(m, now)) is not None]
            self._resize(dead=listing.items - len(jobs))
        listed = {j.message_id for j in jobs}
        jobs += [j for m in newest if m.id not in listed and (j := self._job(m, now))]
        self.last_count = len(jobs)
        await self._journal_queued(jobs)  # before the offer: queued implies journaled
        added: int = await asyncio.to_thread(self.dispatcher.offer, jobs) if jobs else 0
        if added:
            log.info("queued %d new message(s)", added)
        return added

    async def _read(self, now: float) -> tuple[Listing | None, list[Message]]:
        """The pending list (None while DO reads past records too big to read) and the
        messages read by time."""
        if self._relist_in > 0:
            self._relist_in -= 1
            return None, await self._newest(now)
        listing = await self.client.pending_listing(limit=self.limit)
        if self.client.dialect != DO:
            return listing, []
        if listing.oversize_ids:
            self._past_oversize(listing, now)
        full = listing.items >= self.limit >= self.max_window
        return listing, await self._newest(now) if full else []

    def _past_oversize(self, listing: Listing, now: float) -> None:
        new = [i for i in listing.oversize_ids if i not in self._oversize]
        self._oversize.update(dict.fromkeys(new))
        while len(self._oversize) > REMEMBER_SKIPS:
            self._oversize.popitem(last=False)
        if new:
            log.warning("%d record(s) too big to read stay in the pending list (%s): new "
                        "messages are read by time, the whole list every %d polls",
                        len(listing.oversize_ids), ", ".join(new[:5]), OVERSIZE_RELIST_POLLS)
        self._relist_in = OVERSIZE_RELIST_POLLS - 1
        if listing.items < self.limit:  # the list held every pending message: none is older
            self._cursor = max(self._cursor, int(now * 1000) - CURSOR_LAG_MS)

    async def _newest(self, now: float) -> list[Message]:
        """DO, with the pending window full at its cap (skipped messages for ever at its head):
        the human messages posted since the last look, read by time and still pending. A
        far-future timestamp must not hide what comes after it: the cursor stays behind now."""
        recent = await self.client.recent(after_ms=self._cursor, limit=NEWEST_LIMIT,
                                          message_type="human")
        if recent:
            newest = max(m.timestamp for m in recent)
            self._cursor = max(self._cursor, min(newest, int(now * 1000) - CURSOR_LAG_MS))
        return [m for m in recent if m.needs_reply and m.status == "pending"]

    def health(self) -> dict[str, Any]:
        """For /healthz: why polls fail, how many in a row, and the window asked for."""
        return {"poll_error": self.last_error, "polls_failing": self.failing,
                "pending_window": self.limit}

    def _failed(self, exc: CommentsError) -> None:
        reason = poll_error_reason(exc)
        self.failing += 1
        self.last_error = f"{reason}: {exc.detail if isinstance(exc, Invalid) else exc}"
        metrics.polls.labels("error").inc()
        metrics.poll_errors.labels(reason).inc()
        if reason == OVERSIZE_BODY:  # ask for fewer: the rest is still read next time
            self._ceiling = max(1, self.limit // 2)
            self._ceiling_polls = CEILING_POLLS
            self.limit = self._ceiling
        log.warning("poll failed (%d in a row): %s", self.failing, self.last_error)

    def _resize(self, dead: int) -> None:
        if self._ceiling_polls > 0:
            self._ceiling_polls -= 1
            if self._ceiling_polls == 0:
                self._ceiling = self.max_window
        wanted = min(self._ceiling, PENDING_LIMIT + max(0, dead))
        if wanted != self.limit:
            log.info("pending window: %d -> %d (%d listed item(s) not ours to take)",
                     self.limit, wanted, max(0, dead))
        self.limit = wanted

    def _job(self, m: Message, now: float) -> Job | None:
        if not m.needs_reply or m.entity is None:
            return None
        entity = self.config.entities.get(m.entity)
        if entity is None or not entity.enabled:
            self._skip(m.id, "unknown_entity" if entity is None else "disabled_entity",
                       m.entity)
            return None
        model = m.model or entity.model
        if m.model and not self._servable(m.model):
            log.warning("message %s asks for model %s that no host serves; using %s",
                        m.id, m.model, entity.model)
            model = entity.model
        reply_id = self.journal.reply_ids.get(m.id)
        priority = entity.default_priority if m.priority is None else m.priority
        return Job(message_id=m.id, entity=entity.id, model=model, priority=priority,
                   enqueued_at=now, message=m, message_ts_ms=m.timestamp, reply_id=reply_id,
                   server_claimed=m.id in self.journal.claimed,
                   reply_posted=reply_id is not None and reply_id in self.journal.posted,
                   post_attempted=reply_id is not None)

    def _servable(self, model: str) -> bool:
        return any(not h.models or model in h.models or model in h.name_map
                   for h in self.config.hosts)

    def _skip(self, message_id: str, reason: str, entity: str) -> None:
        if message_id in self._skipped:
            return
        self._skipped[message_id] = None
        if len(self._skipped) > REMEMBER_SKIPS:
            self._skipped.popitem(last=False)
        metrics.skipped_messages.labels(reason).inc()
        log.warning("skipping message %s: %s %r", message_id, reason, entity)


def poll_error_reason(exc: CommentsError) -> str:
    """A bounded label for a failed poll: the skip reason of an unreadable body, else the
    kind of failure."""
    if isinstance(exc, Invalid):
        return exc.reason
    if isinstance(exc, CommentsUnavailable):
        return "unavailable"
    if isinstance(exc, CommentsRejected):
        return "rejected"
    return "error"
