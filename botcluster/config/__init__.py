"""Configuration: `load(path)` returns a frozen, validated `Config` or raises `ConfigError`."""

# `botcluster.config.load` is the function; the module of the same name is shadowed on purpose
# (import it as `from botcluster.config.load import ...` when needed).
from botcluster.config.load import load
from botcluster.config.model import (
    BoardConfig,
    BotConfig,
    Config,
    Entity,
    HealConfig,
    HostConfig,
    LocalServer,
    MetricsConfig,
    RateLimits,
)
from botcluster.config.overrides import apply_overrides
from botcluster.config.secrets import resolve_secret

__all__ = [
    "BoardConfig",
    "BotConfig",
    "Config",
    "Entity",
    "HealConfig",
    "HostConfig",
    "LocalServer",
    "MetricsConfig",
    "RateLimits",
    "apply_overrides",
    "load",
    "resolve_secret",
]
