"""Proves every posted reply is visible, and heals the ones the server's cache lost.

The KV server loses cache writes under load (CONTRACT.md): a reply can be stored yet invisible.
Each `verify()` reads the recent cache once for all pending replies; a reply seen once is done.
Missing ones are healed with add-to-cache one at a time (concurrent heals race each other on
the real server), with exponential backoff per reply and no give-up while the record exists:
they stay pending, and visible in `botcluster_heal_pending` (and the oldest one's age through
`botcluster_heal_oldest_pending_timestamp_seconds`), until they are seen.

A reply that cannot exist or can never be shown ends instead, counted in
`botcluster_heals_total{outcome}`, logged, and journaled as `seen` with that outcome:
- `absent`: the server has no record of it (add-to-cache answers 404 on KV; on DO, which loses
  nothing, a read that covers its time lacks it), on `ABSENT_AFTER_CHECKS` checks and at least
  `ABSENT_AFTER_S` after its POST (a fresh KV record may take a while to read back). A restarted
  bot that found another reply to its message, and never posted its own, tracks such an id.
- `beyond_window`: older than anything one read can show (the newest `VERIFY_LIMIT` AI
  messages: the DO dialect cannot page back). On DO an acknowledged POST is stored, with no
  cache to lose it; on KV add-to-cache first proves the record exists.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from botcluster import metrics
from botcluster.comments import CommentsClient, Message
from botcluster.comments import dialect as dialects
from botcluster.config.model import HealConfig
from botcluster.core.jobs import PostedReply
from botcluster.core.journal import Journal
from botcluster.core.journal_records import BadRecord, check
from botcluster.errors import CommentsError

log = logging.getLogger(__name__)

LOOKBACK_S = 120.0  # replies are timestamped when posted; look a little further back
VERIFY_LIMIT = 1000  # the most one read of the recent messages returns (both dialects)
ABSENT_AFTER_S = 300.0  # a record the server still denies this long after the POST is none
ABSENT_AFTER_CHECKS = 3


class HealTracker:
    def __init__(self, client: CommentsClient, journal: Journal, settings: HealConfig,
                 admin_token: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.journal = journal
        self.settings = settings
        self.admin_token = admin_token
        self.clock = clock
        self.pending: dict[str, PostedReply] = {}
        self.misses: dict[str, int] = {}  # reply id -> checks that found no record of it
        self.healed = 0

    def track(self, posted: PostedReply) -> None:
        self.pending.setdefault(posted.reply_id, posted)
        self._publish()

    def _publish(self) -> None:
        metrics.heal_pending.set(len(self.pending))
        oldest = min((p.posted_at for p in self.pending.values()), default=0.0)
        metrics.heal_oldest_pending.set(oldest)

    def restore(self, events: list[dict[str, Any]]) -> int:
        """Pick up replies a previous run posted but never saw (from the journal).

        An event that is not a well-formed `posted` record is skipped and logged, never
        raised: it would fail again at every start. Returns how many were skipped.
        """
        skipped = 0
        for raw in events:
            try:
                ev = check(raw)
                if ev["e"] != "posted":
                    raise BadRecord("unknown_event", f"{ev['e']} is not a posted event")
            except BadRecord as exc:
                skipped += 1
                log.warning("journal: skipping posted record %.200r: %s", raw, exc)
                continue
            self.track(PostedReply(reply_id=ev["r"], message_id=ev["m"],
                                   posted_at=ev.get("t", self.clock()),
                                   entity=ev.get("n", "")))
        return skipped

    async def verify(self) -> None:
        if not self.pending:
            return
        oldest = min(p.posted_at for p in self.pending.values())
        try:
            recent = await self.client.recent(after_ms=int((oldest - LOOKBACK_S) * 1000),
                                              limit=VERIFY_LIMIT, message_type="AI")
            dialect = await self.client.detect()
        except CommentsError as exc:
            log.warning("cannot verify replies: %s", exc)
            return
        seen = {m.id for m in recent}
        for reply_id in [r for r in self.pending if r in seen]:
            self.misses.pop(reply_id, None)
            await self._seen(self.pending.pop(reply_id))
        missing = list(self.pending.values())
        if missing:
            metrics.cache_misses.labels("reply").inc(len(missing))
        horizon = _horizon_ms(recent)
        for posted in missing:  # sequenced: concurrent heals erase each other on the server
            hidden = horizon is not None and posted.posted_at * 1000 < horizon
            if dialect == dialects.DO:
                await self._check_do(posted, hidden)
            elif self.clock() >= posted.next_heal_at:
                await self._heal(posted, hidden)
        self._publish()

    async def _seen(self, posted: PostedReply) -> None:
        metrics.heal_seconds.observe(max(0.0, self.clock() - posted.posted_at))
        await self.journal.append({"e": "seen", "r": posted.reply_id})

    async def _heal(self, posted: PostedReply, hidden: bool = False) -> None:
        posted.attempts += 1
        backoff = self.settings.initial_backoff_s * 2 ** (posted.attempts - 1)
        posted.next_heal_at = self.clock() + min(self.settings.max_backoff_s, backoff)
        try:
            found = await self.client.add_to_cache(posted.reply_id, self.admin_token)
        except CommentsError as exc:
            metrics.heals.labels("error").inc()
            log.warning("heal of %s failed: %s", posted.reply_id, exc)
            return
        metrics.heals.labels("ok" if found else "not_found").inc()
        self.healed += 1
        log.info("healed reply %s (attempt %d)%s", posted.reply_id, posted.attempts,
                 "" if found else ": record not found")
        if found and hidden:
            await self._end(posted, "beyond_window", "stored (add-to-cache found its record), "
                            f"but older than the newest {VERIFY_LIMIT} replies a read shows")
        elif not found:
            await self._missed(posted)

    async def _check_do(self, posted: PostedReply, hidden: bool) -> None:
        """DO: no add-to-cache and no cache to lose a reply; a read shows what is stored."""
        if hidden:
            await self._end(posted, "beyond_window", "its POST was acknowledged (the DO "
                            f"dialect loses nothing), but it is older than the newest "
                            f"{VERIFY_LIMIT} replies a read shows")
        else:
            await self._missed(posted)

    async def _missed(self, posted: PostedReply) -> None:
        misses = self.misses[posted.reply_id] = self.misses.get(posted.reply_id, 0) + 1
        age = self.clock() - posted.posted_at
        if misses >= ABSENT_AFTER_CHECKS and age >= ABSENT_AFTER_S:
            await self._end(posted, "absent", f"the server has no record of it {age:.0f} s "
                            f"after its POST ({misses} checks): it cannot become visible")

    async def _end(self, posted: PostedReply, outcome: str, why: str) -> None:
        """No longer tracked, in a visible state: counted, logged and journaled."""
        self.pending.pop(posted.reply_id, None)
        self.misses.pop(posted.reply_id, None)
        metrics.heals.labels(outcome).inc()
        log.warning("reply %s to %s: %s; heal ended (%s)", posted.reply_id, posted.message_id,
                    why, outcome)
        await self.journal.append({"e": "seen", "r": posted.reply_id, "o": outcome})


def _horizon_ms(recent: list[Message]) -> int | None:
    """When a read came back full, the time before which a reply cannot appear in one."""
    if len(recent) < VERIFY_LIMIT:
        return None
    return min(m.timestamp for m in recent)
