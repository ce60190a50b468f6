"""Runs one claimed job: server claim, reply id, model load, generation, post, complete, ack.

Every step that can be repeated is made safe to repeat: the reply id is chosen once and
journaled before the first POST, a retried job reuses it, and before posting again the runner
looks for its earlier reply in the server's cache. Failures end in exactly one of: a retry
(the lease goes back to the dispatcher), a dead letter (failed on the server, counted), or a
lost claim (another bot has it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from botcluster import metrics
from botcluster.comments import CommentsClient, Message, Reply, message_id_time, new_message_id
from botcluster.config.model import Config, Entity
from botcluster.core.jobs import Claim, Job, Lease, Outcome, PostedReply
from botcluster.core.journal import Journal
from botcluster.core.link import DispatcherLink
from botcluster.core.server_claims import ServerClaims
from botcluster.errors import (
    BotclusterError,
    CommentsRejected,
    CommentsUnavailable,
    ContextOverflow,
    GenerationError,
    HostDown,
    HostTimeout,
    OutOfMemory,
)
from botcluster.hosts.adapters import HostAdapter
from botcluster.prompt import build_messages, clean_reply, sampling_params, truncate_context

log = logging.getLogger(__name__)

MAX_FAIL_CALLS = 5  # /fail calls needed at most to mark a message failed on the KV server
EMPTY_PREFIX = "empty reply after cleaning"
OOM_PREFIX = "out of memory"
MAX_SITE_WAIT_S = 30.0
POST_MARGIN_S = 0.005


@dataclass
class RunnerDeps:
    config: Config
    link: DispatcherLink
    client: CommentsClient
    adapters: dict[str, HostAdapter]
    journal: Journal
    server_worker_id: str
    clock: Callable[[], float] = time.time
    admin_token: str | None = None  # for add-to-cache, when the site protects it


class EmptyReply(BotclusterError):
    """The model's reply was empty after cleaning (for example it only imitated 'Human:')."""


class JobRunner(ServerClaims):
    def __init__(self, deps: RunnerDeps) -> None:
        self.d = deps

    async def run(self, claim: Claim) -> Outcome | None:
        """Process one claim to its end. Never raises; returns the outcome, None on retry."""
        job, lease = claim.job, claim.lease
        try:
            return await self._run(job, lease)
        except HostDown as exc:
            # The host failed: mark it and let another host take the job. Free, unless this
            # message has brought down more hosts than there are (the dispatcher counts).
            await self.d.link.host_failed(lease.host, exc.detail)
            await self._retry(job, lease, str(exc), count=False, delay_s=0.0, host_down=True)
        except HostTimeout as exc:
            # The host may be hung, or this prompt too slow: mark it, and count the attempt.
            metrics.llm_requests.labels(lease.host, "timeout").inc()
            await self.d.link.host_failed(lease.host, exc.detail)
            await self._retry(job, lease, str(exc), delay_s=0.0)
        except CommentsUnavailable as exc:
            # The site failed: wait for it without using up attempts. Unless it answers other
            # requests: then the failure is this message's own (a record the server cannot
            # serve), and the job must end visibly failed, not be retried for ever.
            own = await self.d.client.reachable()
            await self._retry(job, lease, str(exc), count=own,
                              delay_s=min(MAX_SITE_WAIT_S, 2.0 * (1 + job.crashes)))
        except OutOfMemory as exc:
            # One eviction and one retry for free; a second OOM in a row is a real failure.
            first = not job.last_error.startswith(OOM_PREFIX)
            await self._retry(job, lease, f"{OOM_PREFIX}: {exc}", count=not first, delay_s=0.0)
        except BotclusterError as exc:
            await self._retry(job, lease, str(exc))
        except Exception as exc:  # a bug must cost one attempt, not the worker
            log.exception("job %s failed unexpectedly", job.message_id)
            await self._retry(job, lease, repr(exc))
        return None

    async def _run(self, job: Job, lease: Lease) -> Outcome | None:
        entity = self.d.config.entities[job.entity]
        if not await self._server_claim(job, lease):
            return "lost_claim"
        if job.reply_id and (job.reply_posted
                             or (job.post_attempted and await self._reply_exists(job))):
            # Posting again would overwrite the stored reply with another text under the same
            # id; the heal tracker makes the first one visible if the cache lost it.
            log.info("reply %s for %s already posted; completing", job.reply_id, job.message_id)
            posted = self._posted(job, job.reply_id, recovered=True)
            await self._finish(job, lease, "replied", posted)
            return "replied"
        reply_id = job.reply_id or await self._choose_reply_id(job, lease)
        raw = await self._generate(job, lease, entity)
        # The host is done with this job: free its slot before the comments API calls.
        await self.d.link.generation_done(lease.lease_id)
        cleaned = clean_reply(entity, raw)
        if cleaned.outcome == "skip":
            log.info("entity %s chose not to answer %s", entity.id, job.message_id)
            await self._finish(job, lease, "skipped")
            return "skipped"
        if cleaned.text is None:
            raise EmptyReply(f"{EMPTY_PREFIX} ({cleaned.reason})")
        posted = await self._post(job, lease, entity, reply_id, cleaned.text)
        await self._finish(job, lease, "replied", posted)
        return "replied"

    # --- steps ------------------------------------------------------------------------------

    async def _choose_reply_id(self, job: Job, lease: Lease) -> str:
        proposal = new_message_id(int(self.d.clock() * 1000))
        # The dispatcher keeps one id per message, whoever asks first (even past a lease).
        reply_id = await self.d.link.reply_id_for(job.message_id, proposal)
        # Durable before the first POST: a crash after it must not choose another id.
        await self.d.journal.append({"e": "reply", "m": job.message_id, "r": reply_id},
                                    durable=True)
        job.reply_id = reply_id
        return reply_id

    async def _reply_exists(self, job: Job) -> bool:
        """Whether a reply chosen before a crash was stored, checked on the record itself.

        The cache is not the truth: the race can erase a stored reply from it. The KV server
        has no GET by id, but add-to-cache answers 404 for an id it has no record of, and puts
        one that exists back into the cache (a second cache row if it was there, which readers
        dedup by id). On the DO dialect a re-POST of the same id is answered "duplicate".
        """
        recent = await self.d.client.recent(after_ms=max(0, job.message_ts_ms - 1),
                                            limit=1000, message_type="AI")
        # Only our own id counts: anyone can post an AI message whose replyTo names this
        # message, and taking that for our reply would leave the human without one.
        if any(m.id == job.reply_id for m in recent):
            return True
        assert job.reply_id is not None
        try:
            return await self.d.client.add_to_cache(job.reply_id, self.d.admin_token)
        except CommentsRejected as exc:
            # A site that refuses add-to-cache (a wrong token): no worse than before, the
            # cache's answer stands, and the heal tracker will say so loudly.
            log.warning("cannot check reply %s on the record: %s", job.reply_id, exc)
            return False

    async def _generate(self, job: Job, lease: Lease, entity: Entity) -> str:
        adapter = self.d.adapters[lease.host]
        await self._prepare_host(adapter, lease)
        messages = await self._prompt(job, lease, entity)
        return await self._chat(adapter, job, lease, messages, entity)

    async def _prompt(self, job: Job, lease: Lease, entity: Entity) -> list[dict[str, str]]:
        message: Message = job.message
        lines = await self._context_lines(message, entity)
        if job.last_error.startswith(EMPTY_PREFIX):
            # The model imitated the conversation instead of answering: the context invites
            # that, so the next attempt goes without it.
            lines = []
        if not lease.context_length:
            return build_messages(entity, human_username=message.username,
                                  human_text=message.text, context_lines=lines)
        # Fit the host's context per request, dropping the oldest lines: never a 400.
        prompt = truncate_context(entity, human_username=message.username,
                                  human_text=message.text, context_lines=lines,
                                  context_length=lease.context_length)
        if not prompt.fits:
            raise ContextOverflow(lease.host, f"system prompt alone exceeds the "
                                  f"{lease.context_length}-token context")
        return prompt.messages

    async def _chat(self, adapter: HostAdapter, job: Job, lease: Lease,
                    messages: list[dict[str, str]], entity: Entity) -> str:
        """The LLM call, counted and timed; tells the dispatcher what it learnt of the host."""
        started = self.d.clock()
        try:
            result = await adapter.chat(job.model, messages, sampling_params(entity))
        except HostDown:  # refused or reset: an error, not a timeout (run() marks it down)
            metrics.llm_requests.labels(lease.host, "error").inc()
            raise
        except OutOfMemory:  # a JIT load inside the chat request did not fit
            metrics.llm_requests.labels(lease.host, "error").inc()
            await self.d.link.load_finished(lease.lease_id, False, out_of_memory=True)
            raise
        except GenerationError:
            metrics.llm_requests.labels(lease.host, "error").inc()
            raise
        elapsed = self.d.clock() - started
        metrics.llm_requests.labels(lease.host, "ok").inc()
        metrics.generation_seconds.labels(lease.host).observe(elapsed)
        if lease.load and not adapter.can_load:  # the chat request itself loaded it (JIT)
            await self.d.link.load_finished(lease.lease_id, True)
        await self.d.link.host_ok(lease.host)
        log.info("generated for %s on %s (%s) in %.2fs", job.message_id, lease.host,
                 job.model, elapsed)
        return result.text

    async def _prepare_host(self, adapter: HostAdapter, lease: Lease) -> None:
        for model in lease.evict:
            log.info("evicting %s from %s", model, lease.host)
            metrics.model_evictions.labels(lease.host).inc()
            await adapter.unload(model)
        if not (lease.load and adapter.can_load):
            return
        started = self.d.clock()
        try:
            ctx = await adapter.load(lease.model)
        except OutOfMemory:
            metrics.model_loads.labels(lease.host, "oom").inc()
            await self.d.link.load_finished(lease.lease_id, False, out_of_memory=True)
            raise
        except BotclusterError:
            metrics.model_loads.labels(lease.host, "error").inc()
            await self.d.link.load_finished(lease.lease_id, False)
            raise
        if not adapter.can_load:
            return  # no REST load on this host after all: the chat request loads it (JIT)
        metrics.model_loads.labels(lease.host, "ok").inc()
        metrics.model_load_seconds.labels(lease.host).observe(self.d.clock() - started)
        await self.d.link.load_finished(lease.lease_id, True, ctx)

    async def _context_lines(self, message: Message, entity: Entity) -> list[str]:
        return await context_lines(self.d.client, message, entity)

    async def _post(self, job: Job, lease: Lease, entity: Entity, reply_id: str,
                    text: str) -> PostedReply:
        message: Message = job.message
        username, color = _identity(entity, message.ais)
        now = self.d.clock()
        timestamp = int(now * 1000)
        if _limited(entity):
            permit = await self.d.link.post_permit(entity.id)
            if permit > now:
                log.info("rate limit of %s: posting %s in %.2fs", entity.id, job.message_id,
                         permit - now)
                # Timers may fire a little early: never post before the permit.
                await asyncio.sleep(permit - now + POST_MARGIN_S)  # heartbeats keep the lease
            # The permits are exactly spaced; the posts' timestamps are the permits.
            timestamp = round(permit * 1000)
            now = self.d.clock()
        reply = Reply(id=reply_id, text=text, timestamp=timestamp, username=username,
                      color=color, reply_to=job.message_id)
        if not job.post_attempted:  # from here a crash leaves the reply maybe stored
            await self.d.link.note(lease.lease_id, post_attempted=True)
            job.post_attempted = True
        await self.d.client.post(reply)
        await self.d.link.note(lease.lease_id, reply_posted=True)
        posted = self._posted(job, reply_id)
        await self.d.journal.append({"e": "posted", "m": job.message_id, "r": reply_id,
                                     "t": posted.posted_at, "n": job.entity}, durable=True)
        if message.timestamp:
            metrics.reply_seconds.observe(max(0.0, now - message.timestamp / 1000))
        log.info("replied to %s for %s as %s in %.2fs (reply %s, host %s, model %s)",
                 job.message_id, job.entity, username, now - job.enqueued_at, reply_id,
                 lease.host, job.model)
        return posted

    def _posted(self, job: Job, reply_id: str, recovered: bool = False) -> PostedReply:
        """`recovered`: posted by an earlier attempt, maybe long ago. Verification reads the
        cache from a little before `posted_at`, so that must not be later than the reply's
        timestamp: the id's time is a lower bound (chosen before the generation and POST)."""
        at = self.d.clock()
        if recovered:
            at = min(at, message_id_time(reply_id) or job.message_ts_ms / 1000 or at)
        return PostedReply(reply_id=reply_id, message_id=job.message_id, posted_at=at,
                           entity=job.entity)

    async def _finish(self, job: Job, lease: Lease, outcome: Outcome,
                      posted: PostedReply | None = None) -> None:
        try:
            await self.d.client.complete(job.message_id)
        except CommentsRejected as exc:  # e.g. 404: nothing to complete; the reply stands
            log.warning("could not complete %s (%s); the reply stands", job.message_id, exc)
        await self.d.journal.append({"e": "done", "m": job.message_id, "o": outcome})
        await self.d.link.ack(lease.lease_id, outcome, posted, message_id=job.message_id)

    async def _retry(self, job: Job, lease: Lease, error: str, *, count: bool = True,
                     delay_s: float | None = None, host_down: bool = False) -> None:
        log.warning("attempt for %s on %s failed: %s", job.message_id, lease.host, error)
        result = await self.d.link.release(lease.lease_id, error, count=count, delay_s=delay_s,
                                           host_down=host_down)
        if result.dead:
            await self._dead_letter(job, lease, error, result.attempts)

    async def _dead_letter(self, job: Job, lease: Lease, error: str, attempts: int) -> None:
        """The dispatcher already finished the job; make it visible as failed on the server."""
        log.error("giving up on %s after %d attempts: %s", job.message_id, attempts, error)
        if await fail_on_server(self.d.client, job.message_id, error):
            await self.d.journal.append({"e": "done", "m": job.message_id,
                                         "o": "dead_lettered"})
        else:
            # Still "processing" on the server under our worker id: it must not be ignored as
            # answered, so that the orphan sweep takes it back (core/orphans.py).
            await self.d.link.unforget(job.message_id)


async def context_lines(client: CommentsClient, message: Message, entity: Entity) -> list[str]:
    """The conversation before `message`: the context it carries, else the recent cache's."""
    if message.context is not None:
        return list(message.context)
    recent = await client.recent(after_ms=0, limit=max(entity.nom * 2, 50))
    before = sorted((m for m in recent if m.timestamp < message.timestamp),
                    key=lambda m: m.timestamp)
    return [f"{m.username}: {m.text}" for m in before[-entity.nom:]]


async def fail_on_server(client: CommentsClient, message_id: str, error: str) -> bool:
    """Mark the message failed on the server (the KV server needs 3 /fail calls). True when
    the server has it failed, or the dialect has no /fail; False when it could not be told."""
    try:
        for _ in range(MAX_FAIL_CALLS):
            result = await client.fail(message_id, error[:500])
            if result is None or result.status == "failed":
                return True
    except BotclusterError as exc:
        log.error("could not mark %s failed on the server: %s", message_id, exc)
    return False


def _limited(entity: Entity) -> bool:
    lim = entity.rate_limits
    return bool(lim.min_seconds_between_posts or lim.max_posts_per_minute
                or lim.max_posts_per_hour)


def _identity(entity: Entity, ais: str | None) -> tuple[str, str]:
    """The reply's username and colour: `botParams.ais` ("Name:RRRGGGBBB") overrides."""
    if ais and ":" in ais:
        name, _, color = ais.rpartition(":")
        if name and color.isdigit() and len(color) == 9:
            return name[:16], color
    return entity.username[:16], entity.color
