"""The options every subcommand accepts, each also settable by a TOY_PLATFORM_* variable."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from toy_platform import config
from toy_platform.config import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])
PORT = click.IntRange(1, 65535)

_SETTING_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (
        ("--home",),
        {
            "type": click.Path(path_type=Path),
            "help": "Keep config, data and logs under DIR/config, DIR/data, DIR/logs.",
        },
    ),
    (
        ("--config-dir",),
        {"type": click.Path(path_type=Path), "help": "Keep users.json and keys here instead."},
    ),
    (("--data-dir",), {"type": click.Path(path_type=Path), "help": "Keep databases here instead."}),
    (("--log-dir",), {"type": click.Path(path_type=Path), "help": "Write logs here instead."}),
    (("--host",), {"help": f"Address the services bind to [{config.DEFAULT_HOST}]."}),
    (("--auth-port",), {"type": PORT, "help": f"[{config.DEFAULT_AUTH_PORT}]"}),
    (("--core-port",), {"type": PORT, "help": f"[{config.DEFAULT_CORE_PORT}]"}),
    (("--middleware-port",), {"type": PORT, "help": f"[{config.DEFAULT_MIDDLEWARE_PORT}]"}),
    (("--web-port",), {"type": PORT, "help": f"[{config.DEFAULT_WEB_PORT}]"}),
    (("--dashboard-port",), {"type": PORT, "help": f"[{config.DEFAULT_DASHBOARD_PORT}]"}),
    (("--auth-url",), {"help": "The auth service's URL, when it runs elsewhere."}),
    (("--core-url",), {"help": "The core service's URL, when it runs elsewhere."}),
    (("--middleware-url",), {"help": "The middleware's URL, when it runs elsewhere."}),
    (
        ("--job-delay",),
        {
            "type": click.FloatRange(0),
            "help": f"Simulated seconds of work per job [{config.DEFAULT_JOB_DELAY:g}].",
        },
    ),
    (
        ("--workers",),
        {
            "type": click.IntRange(1, 64),
            "help": "Core worker threads; 1 keeps jobs strictly in order [1].",
        },
    ),
    (
        ("--failure-rate",),
        {
            "type": click.FloatRange(0, 1),
            "help": "Share of jobs the core fails on purpose, to see failures and retries [0].",
        },
    ),
    (
        ("--max-data-bytes",),
        {
            "type": click.IntRange(1),
            "help": f"Largest job data accepted [{config.DEFAULT_MAX_DATA_BYTES}].",
        },
    ),
    (
        ("--token-ttl",),
        {
            "type": click.IntRange(30),
            "help": f"Token lifetime in seconds [{config.DEFAULT_TOKEN_TTL}].",
        },
    ),
    (
        ("--cors-origin", "cors_origins"),
        {
            "multiple": True,
            "help": "Another browser origin allowed to call auth and middleware (repeatable).",
        },
    ),
    (
        ("--stall-after",),
        {
            "type": click.FloatRange(1),
            "help": "Seconds a service's queue may have work with nothing moving before it is"
            f" not ready; serve restarts it after twice that [{config.DEFAULT_STALL_AFTER:g}].",
        },
    ),
    (
        ("--log-max-bytes",),
        {"type": click.IntRange(1024), "help": "Rotate a service's log at this size [5242880]."},
    ),
    (
        ("--log-backup-count",),
        {"type": click.IntRange(0), "help": "Rotated log files kept per service [5]."},
    ),
    (
        ("--console-log-level",),
        {
            "type": click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
            "help": "What a service prints on the console [--log-level; WARNING for the"
            " services under serve].",
        },
    ),
    (
        ("--log-level",),
        {"type": click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False)},
    ),
]

ENV_ONLY = ("service_key", "admin_password", "instance_id", "supervisor_pid")


def _setting_name(decls: tuple[str, ...]) -> str:
    """The Settings field an option sets: its explicit name, else the option's."""
    return decls[-1] if not decls[-1].startswith("--") else decls[0][2:].replace("-", "_")


def _envvar(decls: tuple[str, ...]) -> str:
    return "TOY_PLATFORM_" + _setting_name(decls).upper()


def common_options(command: F) -> F:
    """Add every setting option to COMMAND and pass it a `settings: Settings` instead."""

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        given = {}
        for decls, _ in _SETTING_OPTIONS:
            name = _setting_name(decls)
            given[name] = kwargs.pop(name)
        if not given["cors_origins"]:
            given["cors_origins"] = None
        given.update(_env_only())
        kwargs["settings"] = load_settings(**given)
        return command(**kwargs)

    for decls, attrs in reversed(_SETTING_OPTIONS):
        wrapper = click.option(*decls, envvar=_envvar(decls), show_envvar=True, **attrs)(wrapper)
    return wrapper  # type: ignore[return-value]


def _env_only() -> dict[str, Any]:
    values: dict[str, Any] = {
        name: os.environ.get(f"TOY_PLATFORM_{name.upper()}") for name in ENV_ONLY
    }
    pid = values["supervisor_pid"]
    values["supervisor_pid"] = int(pid) if pid and pid.isdigit() else None
    return values


def settings_to_env(settings: Settings) -> dict[str, str]:
    """Environment variables that give a child process exactly these settings."""
    env = {
        "TOY_PLATFORM_LOG_DIR": str(settings.log_dir),
        "TOY_PLATFORM_CONFIG_DIR": str(settings.config_dir),
        "TOY_PLATFORM_DATA_DIR": str(settings.data_dir),
    }
    for decls, _ in _SETTING_OPTIONS:
        name = _setting_name(decls)
        value = getattr(settings, name, None)
        if name in ("home", "config_dir", "data_dir", "log_dir", "cors_origins") or value is None:
            continue
        env[f"TOY_PLATFORM_{name.upper()}"] = str(value)
    env["TOY_PLATFORM_CORS_ORIGINS"] = " ".join(settings.cors_origins)
    if settings.service_key:
        env["TOY_PLATFORM_SERVICE_KEY"] = settings.service_key
    return env
