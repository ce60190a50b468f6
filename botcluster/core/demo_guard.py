"""The demo model must not answer a real site's users by accident.

The embedded default (`servers.toml`) answers with SmolLM2-135M on a local llama.cpp host: right
for trying botcluster against the local board, wrong for real people. `start` against an API
that is not on this machine (not loopback) refuses while an enabled entity would be answered by
that model, unless the operator says `--allow-demo-model`.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from botcluster.config.load import serves
from botcluster.config.model import Config
from botcluster.hosts.local import SHIPPED_MODEL


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def demo_hosts(config: Config) -> list[str]:
    """The hosts that run the shipped demo model for some enabled entity."""
    return [h.name for h in config.hosts
            if h.local is not None and h.local.model_file == SHIPPED_MODEL
            and any(e.enabled and serves(h, e.model) for e in config.entities.values())]


def demo_model_refusal(config: Config) -> str | None:
    """The one-line reason to refuse this start, or None when it may go ahead."""
    if config.embedded_board or is_loopback_url(config.api_url):
        return None
    hosts = demo_hosts(config)
    if not hosts:
        return None
    return (f"refusing to answer {config.api_url} with the SmolLM2-135M demo model (host "
            f"{', '.join(hosts)}): configure your own hosts (see servers.example-macstudio.toml"
            " and docs/CONFIG.md), or pass --allow-demo-model")
