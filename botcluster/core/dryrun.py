"""`botcluster start --dry-run N`: what the bot would post, without claiming or posting anything.

One GET of the pending messages; for the first N addressed to an enabled entity, the prompt the
workers would build, one chat call to a host that serves the model (loading it there first if
the host loads on request), the reply cleaned as the workers clean it, and one printed block:
the entity, the id of the message it answers, the reply. Only reads reach the comments API:
no claim, POST, PATCH or complete, and no journal line. The embedded board and the local hosts
are started when the config asks for them, and stopped at the end.
"""

from __future__ import annotations

import asyncio
import logging
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from botcluster.comments import CommentsClient, Message
from botcluster.config import resolve_secret
from botcluster.config.load import serves
from botcluster.config.model import Config, Entity
from botcluster.core.cluster import HostReport
from botcluster.core.job_runner import context_lines
from botcluster.core.poller import PENDING_LIMIT
from botcluster.errors import BotclusterError, CommentsError
from botcluster.hosts.adapters import HostAdapter, Timeouts, adapter_for
from botcluster.prompt import build_messages, clean_reply, sampling_params, truncate_context

log = logging.getLogger(__name__)

DEFAULT_COUNT = 3
EXIT_OK = 0
EXIT_FAILED = 1
Say = Callable[[str], None]


@dataclass(frozen=True)
class DryReply:
    """What one message would get. `text` is what would be posted; None: nothing would be."""

    message_id: str
    entity: str
    username: str
    model: str
    host: str | None
    text: str | None
    note: str  # "reply", "skip", or why nothing would be posted
    failed: bool = False


async def dry_run(config: Config, client: CommentsClient, adapters: Mapping[str, HostAdapter],
                  count: int, say: Say) -> int:
    """Print what the bot would post for the first `count` pending messages; 1 if any failed."""
    try:
        pending = await client.pending(limit=PENDING_LIMIT)
    except CommentsError as exc:
        say(f"dry run: cannot read pending messages from {config.api_url}: {exc}")
        return EXIT_FAILED
    ours = [(m, e) for m in pending if (e := _entity(config, m)) is not None]
    chosen = ours[:count]
    others = len(pending) - len(ours)
    say(f"dry run against {config.api_url}: {len(pending)} pending ({others} for unknown or "
        f"disabled entities, left alone), {len(chosen)} to answer; nothing is claimed, posted "
        "or completed")
    states = await _host_states(adapters)
    failed = 0
    for message, entity in chosen:
        reply = await _answer(config, client, adapters, states, message, entity)
        failed += reply.failed
        say(render(reply))
    say(f"dry run done: {len(chosen)} message(s), {failed} failed; nothing was posted")
    return EXIT_FAILED if failed else EXIT_OK


def _entity(config: Config, m: Message) -> Entity | None:
    """The enabled entity `m` is addressed to, as the poller decides it."""
    entity = config.entities.get(m.entity or "")
    return entity if m.needs_reply and entity is not None and entity.enabled else None


def _model(config: Config, m: Message, entity: Entity) -> str:
    """The message's own model when some host serves it, else the entity's (as the poller)."""
    if m.model and any(serves(h, m.model) for h in config.hosts):
        return m.model
    return entity.model


async def _host_states(adapters: Mapping[str, HostAdapter]) -> dict[str, HostReport]:
    async def one(name: str, adapter: HostAdapter) -> HostReport:
        try:
            return await adapter.state()
        except BotclusterError as exc:
            return HostReport(host=name, up=False, error=str(exc))

    reports = await asyncio.gather(*(one(n, a) for n, a in adapters.items()))
    return {r.host: r for r in reports}


def _pick_host(config: Config, states: Mapping[str, HostReport], model: str) -> str | None:
    """An up host that serves `model`, one that has it loaded first."""
    up = [h.name for h in config.hosts if serves(h, model) and states[h.name].up]
    loaded = [name for name in up if model in states[name].loaded]
    return next(iter(loaded or up), None)


async def _answer(config: Config, client: CommentsClient, adapters: Mapping[str, HostAdapter],
                  states: Mapping[str, HostReport], message: Message,
                  entity: Entity) -> DryReply:
    model = _model(config, message, entity)
    host = _pick_host(config, states, model)
    base = DryReply(message.id, entity.id, entity.username, model, host, None, "")
    if host is None:
        return _with(base, f"no host that serves {model} is up", failed=True)
    adapter = adapters[host]
    try:
        context = states[host].loaded.get(model, 0)
        if model not in states[host].loaded and adapter.can_load:
            context = await adapter.load(model)
        lines = await context_lines(client, message, entity)
        prompt = _prompt(entity, message, lines, context)
        started = time.monotonic()
        result = await adapter.chat(model, prompt, sampling_params(entity))
    except BotclusterError as exc:
        return _with(base, f"{type(exc).__name__}: {exc}", failed=True)
    log.info("dry run: generated for %s on %s in %.2fs", message.id, host,
             time.monotonic() - started)
    cleaned = clean_reply(entity, result.text)
    if cleaned.outcome == "skip":
        return _with(base, "skip")
    if cleaned.text is None:
        return _with(base, f"empty after cleaning ({cleaned.reason})", failed=True)
    return DryReply(message.id, entity.id, entity.username, model, host, cleaned.text, "reply")


def _with(base: DryReply, note: str, failed: bool = False) -> DryReply:
    return DryReply(base.message_id, base.entity, base.username, base.model, base.host, None,
                    note, failed)


def _prompt(entity: Entity, message: Message, lines: list[str],
            context_length: int) -> list[dict[str, str]]:
    """The workers' prompt; fitted to the host's context when the host said how long it is."""
    if not context_length:
        return build_messages(entity, human_username=message.username,
                              human_text=message.text, context_lines=lines)
    prompt = truncate_context(entity, human_username=message.username, human_text=message.text,
                              context_lines=lines, context_length=context_length)
    if not prompt.fits:
        raise BotclusterError(f"the system prompt alone exceeds the {context_length}-token "
                              "context")
    return prompt.messages


def render(reply: DryReply) -> str:
    """One block: a header line, then the reply indented by four spaces (or why there is none).

    The reply is made inert for a terminal: control characters other than newline and tab are
    printed as escapes.
    """
    head = (f"reply to {reply.message_id} for {reply.entity} (as {reply.username}), "
            f"model {reply.model} on {reply.host or 'no host'}:")
    if reply.text is None:
        note = ("[SKIP]: the entity chose not to answer" if reply.note == "skip"
                else f"FAILED: {reply.note}")
        return f"{head}\n    ({inert(note)}; nothing would be posted)"
    body = "\n".join("    " + line for line in inert(reply.text).split("\n"))
    return f"{head}\n{body}"


def inert(text: str) -> str:
    return "".join(c if c in "\n\t" or unicodedata.category(c)[0] != "C"
                   else c.encode("unicode_escape").decode("ascii") for c in text)


def adapters_for(config: Config) -> dict[str, HostAdapter]:
    timeouts = Timeouts(connect_s=config.bot.connect_timeout_s,
                        first_token_s=config.bot.generation_timeout_s,
                        total_s=config.bot.generation_timeout_s * 2)
    return {h.name: adapter_for(h, api_key=resolve_secret(h.api_key_env), timeouts=timeouts)
            for h in config.hosts}


def run_dry(config: Config, count: int, say: Say) -> int:
    """The command: start the board and local hosts the config asks for, dry-run, stop them."""
    from botcluster.core.children import EmbeddedBoard
    from botcluster.hosts.local import LocalHostProcess

    board = EmbeddedBoard(config) if config.embedded_board else None
    local = [LocalHostProcess(h) for h in config.hosts if h.local is not None]
    try:
        if board is not None:
            board.start()
        for lh in local:
            lh.start()
        for lh in local:
            lh.wait_ready(timeout_s=120.0)
        return asyncio.run(_main(config, count, say))
    except BotclusterError as exc:
        say(f"dry run: {exc}")
        return EXIT_FAILED
    finally:
        for lh in local:
            lh.stop()
        if board is not None:
            board.stop()


async def _main(config: Config, count: int, say: Say) -> int:
    adapters = adapters_for(config)
    client = CommentsClient(config.api_url, dialect=config.bot.dialect)
    try:
        return await dry_run(config, client, adapters, count, say)
    finally:
        await client.aclose()
        for a in adapters.values():
            await a.aclose()
