"""Configuration: `load(path)` returns a frozen, validated `Config` or raises `ConfigError`."""

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
]
