"""The dashboard's settings: read from the TOY_PLATFORM_* environment in one place.

The supervisor (`toy-platform serve` / `toy-platform dashboard`) always sets
TOY_PLATFORM_AUTH_URL and TOY_PLATFORM_MIDDLEWARE_URL; anything unset falls back to
the defaults of `toy_platform.config.load_settings()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from toy_platform.config import Settings, load_settings

# The environment variables the dashboard reads, and the load_settings() argument each sets.
ENV_SETTINGS: dict[str, str] = {
    "TOY_PLATFORM_HOME": "home",
    "TOY_PLATFORM_CONFIG_DIR": "config_dir",
    "TOY_PLATFORM_DATA_DIR": "data_dir",
    "TOY_PLATFORM_LOG_DIR": "log_dir",
    "TOY_PLATFORM_HOST": "host",
    "TOY_PLATFORM_AUTH_PORT": "auth_port",
    "TOY_PLATFORM_MIDDLEWARE_PORT": "middleware_port",
    "TOY_PLATFORM_AUTH_URL": "auth_url",
    "TOY_PLATFORM_MIDDLEWARE_URL": "middleware_url",
    "TOY_PLATFORM_LOG_LEVEL": "log_level",
}
_INTS = ("auth_port", "middleware_port")


def environment(environ: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    """The dashboard's part of the environment, as a hashable snapshot (a cache key)."""
    env = os.environ if environ is None else environ
    return tuple((name, env[name]) for name in ENV_SETTINGS if env.get(name))


def settings_from(env: tuple[tuple[str, str], ...]) -> Settings:
    """Settings from an environment snapshot; whatever is unset keeps its default."""
    given: dict[str, Any] = {}
    for name, value in env:
        key = ENV_SETTINGS[name]
        given[key] = int(value) if key in _INTS else value
    if "log_level" in given:
        given["log_level"] = str(given["log_level"]).upper()
    return load_settings(**given)
