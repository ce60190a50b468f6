"""Whether any LLM host can serve any entity right now: the host side of `/readyz`.

A pure function of the config and the dispatcher's host view (`view()["hosts"]`), so that the
answer is the dispatcher's own: a host the bot has marked down serves nothing, a host that
serves fixed models (llama.cpp, OpenAI-compatible) serves what it reports loaded, and a host
that loads models (LM Studio, Ollama) serves what its config allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botcluster.config.model import Config, HostConfig

FIXED_KINDS = ("llamacpp", "openai")  # serve what they have loaded; cannot load another


def can_serve(host: HostConfig, summary: Mapping[str, Any], model: str) -> bool:
    if not summary.get("up"):
        return False
    if model in summary.get("loaded", {}) or model in summary.get("loading", ()):
        return True
    if host.kind in FIXED_KINDS:
        return False
    return not host.models or model in host.models or model in host.name_map


def unserved_reason(config: Config, hosts: Mapping[str, Mapping[str, Any]]) -> str | None:
    """None when at least one enabled entity has a host that can serve it; else one line
    saying why nothing can be answered (which hosts are down, which serve none of the models)."""
    models = sorted({e.model for e in config.entities.values() if e.enabled})
    if not models:
        return "no entity is enabled"
    for h in config.hosts:
        summary = hosts.get(h.name, {})
        if any(can_serve(h, summary, m) for m in models):
            return None
    states = [f"{h.name} {'up, serves none of them' if hosts.get(h.name, {}).get('up') else 'down'}"
              for h in config.hosts]
    return f"no host can serve any entity's model ({', '.join(models)}): {'; '.join(states)}"
