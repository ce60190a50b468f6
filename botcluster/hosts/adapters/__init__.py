"""Host adapters, chosen by the host's `kind` from `REGISTRY`."""

from __future__ import annotations

from typing import Any

from botcluster.config.model import HostConfig
from botcluster.hosts.adapters.base import ChatResult, HostAdapter, HostStatus, Timeouts
from botcluster.hosts.adapters.llamacpp import LlamaCppAdapter
from botcluster.hosts.adapters.lmstudio import LMStudioAdapter
from botcluster.hosts.adapters.ollama import OllamaAdapter

REGISTRY: dict[str, type[HostAdapter]] = {
    "openai": HostAdapter,
    "llamacpp": LlamaCppAdapter,
    "lmstudio": LMStudioAdapter,
    "ollama": OllamaAdapter,
}


def adapter_for(host: HostConfig, **kwargs: Any) -> HostAdapter:
    """A new adapter for `host` (kwargs: api_key, timeouts, transport)."""
    return REGISTRY[host.kind](host, **kwargs)


__all__ = ["REGISTRY", "ChatResult", "HostAdapter", "HostStatus", "Timeouts", "adapter_for"]
