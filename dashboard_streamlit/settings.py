"""The dashboard's settings: the TOY_PLATFORM_* variables it reads, through config.

The supervisor (`toy-platform serve` / `toy-platform dashboard`) always sets
TOY_PLATFORM_AUTH_URL and TOY_PLATFORM_MIDDLEWARE_URL; anything unset falls back to
the defaults of `toy_platform.config.load_settings()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from toy_platform.config import Settings, env_var, settings_from_env

READS = (
    "home",
    "config_dir",
    "data_dir",
    "log_dir",
    "host",
    "auth_port",
    "middleware_port",
    "auth_url",
    "middleware_url",
    "log_level",
)
"""The settings the dashboard takes from the environment."""
ENV_SETTINGS = tuple(env_var(name) for name in READS)


def environment(environ: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    """The dashboard's part of the environment, as a hashable snapshot (a cache key)."""
    env = os.environ if environ is None else environ
    return tuple((name, env[name]) for name in ENV_SETTINGS if env.get(name))


def settings_from(env: tuple[tuple[str, str], ...]) -> Settings:
    """Settings from an environment snapshot; whatever is unset keeps its default."""
    return settings_from_env(dict(env), READS)
