"""`botcluster check`: the config is valid, and every host and the comments API answer.

Secrets are reported as set or missing, never shown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from botcluster.comments import CommentsClient
from botcluster.config import resolve_secret
from botcluster.config.model import Config, HostConfig
from botcluster.core.hoststate import describe, read_host
from botcluster.errors import BotclusterError
from botcluster.hosts.adapters import Timeouts, adapter_for
from botcluster.hosts.local import check_packages

Echo = Callable[[str], None]


def run_check(config: Config, echo: Echo) -> int:
    echo(f"config: {config.source}: ok ({len(config.hosts)} host(s), "
         f"{len(config.entities)} entit{'y' if len(config.entities) == 1 else 'ies'})")
    return asyncio.run(_check_all(config, echo))


async def _check_all(config: Config, echo: Echo) -> int:
    results = [await _check_api(config, echo)]
    results += await asyncio.gather(*(_check_host(h, echo) for h in config.hosts))
    return 0 if all(results) else 1


async def _check_api(config: Config, echo: Echo) -> bool:
    if config.embedded_board and not await _answers(config.api_url + "/api/stats"):
        echo(f"comments API: embedded board at {config.api_url} "
             "(not running now; `botcluster start` starts it)")
        return True
    client = CommentsClient(config.api_url, dialect=config.bot.dialect, retries=0)
    try:
        dialect = await client.detect()
        pending = await client.pending(limit=50)
        echo(f"comments API: {config.api_url}: ok ({dialect} dialect, "
             f"{len(pending)} message(s) pending)")
        return True
    except BotclusterError as exc:
        echo(f"comments API: {config.api_url}: FAILED: {exc}")
        return False
    finally:
        await client.aclose()


async def _check_host(host: HostConfig, echo: Echo) -> bool:
    secret = ""
    if host.api_key_env:
        secret = f"; API key from ${host.api_key_env}: "
        secret += "set" if resolve_secret(host.api_key_env) else "MISSING"
    if host.local is not None and not await _answers(host.url + "/health"):
        try:
            path = check_packages(host.local.model_file)
        except BotclusterError as exc:
            echo(f"{host.name}: local host: FAILED: {exc}")
            return False
        echo(f"{host.name}: local host at {host.url} (not running now; `botcluster start` "
             f"starts it), model file {path}{secret}")
        return True
    key = resolve_secret(host.api_key_env) if host.api_key_env else None
    adapter = adapter_for(host, api_key=key, timeouts=Timeouts(connect_s=3.0, state_s=5.0))
    try:
        report = await read_host(adapter)
    finally:
        await adapter.aclose()
    echo(f"{describe(report, host.slots)} [{host.kind} at {host.url}]{secret}")
    return report.up


async def _answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2.0) as c:
            return (await c.get(url)).status_code < 500
    except httpx.HTTPError:
        return False
