"""The options of the subcommands, in groups, each also settable by a TOY_PLATFORM_* variable.

A command declares the groups it uses, e.g. `@common_options("dirs", "addresses")`; only
those show in its --help, less any it names in `hide=` (options of those groups it does not
use). The other options are still accepted (hidden), so one set of options or variables
works with every subcommand. `@common_options` alone takes them all.

`@observing_options(...)` is for the commands that look at a running `toy-platform serve`
(status, doctor, logs, chaos): what the user did not give explicitly (neither as an option
nor as a variable) comes from that serve's record in the data dir, so they find its ports,
URLs and log dir without repeating the options serve was started with.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import click
from click.core import ParameterSource

from toy_platform import config
from toy_platform.config import load_settings
from toy_platform.cpu import parse_cpu_setting
from toy_platform.health import read_record
from toy_platform.jobs.lifecycle import RECONCILE_MARGIN_S
from toy_platform.ops import serve_record

F = TypeVar("F", bound=Callable[..., Any])
PORT = click.IntRange(1, 65535)
Group = Literal["dirs", "addresses", "service", "backends", "jobs", "logging"]
Option = tuple[tuple[str, ...], dict[str, Any]]
LEVELS = click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False)


def _cpu_setting(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """auto, off or a CPU number (toy_platform.cpu)."""
    try:
        return None if value is None else parse_cpu_setting(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc


OPTION_GROUPS: dict[Group, list[Option]] = {
    "dirs": [
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
        (
            ("--data-dir",),
            {"type": click.Path(path_type=Path), "help": "Keep databases here instead."},
        ),
        (("--log-dir",), {"type": click.Path(path_type=Path), "help": "Keep logs here instead."}),
    ],
    "addresses": [
        (("--host",), {"help": f"Address the services bind to [{config.DEFAULT_HOST}]."}),
        (("--auth-port",), {"type": PORT, "help": f"[{config.DEFAULT_AUTH_PORT}]"}),
        (("--core-port",), {"type": PORT, "help": f"[{config.DEFAULT_CORE_PORT}]"}),
        (("--middleware-port",), {"type": PORT, "help": f"[{config.DEFAULT_MIDDLEWARE_PORT}]"}),
        (("--web-port",), {"type": PORT, "help": f"[{config.DEFAULT_WEB_PORT}]"}),
        (("--dashboard-port",), {"type": PORT, "help": f"[{config.DEFAULT_DASHBOARD_PORT}]"}),
        (("--auth-url",), {"help": "The auth service's URL, when it runs elsewhere."}),
        (("--core-url",), {"help": "The core service's URL, when it runs elsewhere."}),
        (("--middleware-url",), {"help": "The middleware's URL, when it runs elsewhere."}),
    ],
    "service": [
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
            ("--threads",),
            {
                "type": click.IntRange(1, 256),
                "help": "Requests each service answers at once, one thread each; the rest"
                " wait their turn. Python runs one thread at a time, so many more threads"
                f" than cores mostly wait for each other [{config.DEFAULT_THREADS}].",
            },
        ),
        (
            ("--cpu",),
            {
                "metavar": "auto|off|N",
                "callback": _cpu_setting,
                "help": "Keep a service's threads on one CPU: Python runs one of them at a"
                " time, and handing it between CPUs costs. auto: under serve, the middleware"
                " on the last CPU and core on the one before; N: this CPU; off: any CPU"
                " [auto].",
            },
        ),
        (
            ("--stall-after",),
            {
                "type": click.FloatRange(1),
                "help": "Seconds a service's queue may have work with nothing moving before it"
                " is not ready; serve restarts it after twice that"
                f" [{config.DEFAULT_STALL_AFTER:g}].",
            },
        ),
        (
            ("--reconcile-after",),
            {
                "type": click.FloatRange(1),
                "help": "Seconds a job handed to core may show no sign of life before the"
                " middleware asks core for it, and hands it over again if core lost it"
                f" [its type's time limit + {RECONCILE_MARGIN_S:g}].",
            },
        ),
    ],
    "backends": [
        (
            ("--queue-url",),
            {
                "help": "The core's queue: sqlite (embedded, in the data dir) or"
                " redis://HOST:PORT/DB (Celery workers on any machine) [sqlite].",
            },
        ),
        (
            ("--service-key-file",),
            {
                "type": click.Path(path_type=Path, dir_okay=False),
                "help": "Read the service key from this file (a copy of the API machine's"
                " config/service.key) [TOY_PLATFORM_SERVICE_KEY, else CONFIG_DIR/service.key].",
            },
        ),
        (
            ("--visibility-timeout",),
            {
                "type": click.FloatRange(1),
                "help": "With Celery: seconds after which a job a lost worker had taken runs"
                " again; longer than the longest job, the same on every machine"
                " [30 s, or 10 job delays if longer].",
            },
        ),
        (
            ("--store-url",),
            {
                "help": "The middleware's job store: sqlite (embedded, in the data dir) or"
                " postgresql://USER:PASS@HOST:PORT/DB (several middlewares) [sqlite].",
            },
        ),
        (
            ("--callback-url",),
            {
                "help": "The URL core and workers report results to [the middleware's URL];"
                " a load balancer in front of several middlewares.",
            },
        ),
    ],
    "jobs": [
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
                "type": click.IntRange(0, 64),
                "help": "Core worker threads; 1 keeps jobs strictly in order [1]. With"
                " --queue-url redis://...: the concurrency of the worker core runs on its"
                " machine, 0 for none (workers run elsewhere).",
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
            ("--job-module", "job_modules"),
            {
                "multiple": True,
                "help": "A Python module whose @job_type functions the workers offer"
                " (repeatable; TOY_PLATFORM_JOB_MODULES=a,b). Installed packages' entry"
                " points (toy_platform.job_types) are found without it.",
            },
        ),
    ],
    "logging": [
        (
            ("--log-max-bytes",),
            {
                "type": click.IntRange(1024),
                "help": "Rotate a service's log at this size [5242880].",
            },
        ),
        (
            ("--log-backup-count",),
            {"type": click.IntRange(0), "help": "Rotated log files kept per service [5]."},
        ),
        (
            ("--console-log-level",),
            {
                "type": LEVELS,
                "help": "What a service prints on the console [--log-level; WARNING for the"
                " services under serve].",
            },
        ),
        (("--log-level",), {"type": LEVELS, "help": "What a service writes to its log [INFO]."}),
    ],
}
ALL_GROUPS: tuple[Group, ...] = tuple(OPTION_GROUPS)
_SETTING_OPTIONS: list[Option] = [option for group in OPTION_GROUPS.values() for option in group]

EXPLICIT_SOURCES = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def _setting_name(decls: tuple[str, ...]) -> str:
    """The Settings field an option sets: its explicit name, else the option's."""
    return decls[-1] if not decls[-1].startswith("--") else decls[0][2:].replace("-", "_")


def _envvar(decls: tuple[str, ...]) -> str:
    return config.env_var(_setting_name(decls))


@overload
def common_options(command: F, /) -> F: ...


@overload
def common_options(*groups: Group, hide: Collection[str] = ()) -> Callable[[F], F]: ...


def common_options(*args: Any, hide: Collection[str] = ()) -> Any:
    """Add the setting options to a command and pass it a `settings: Settings` instead.

    `@common_options` takes every group; `@common_options("dirs", ...)` shows only those
    groups in --help, and `hide=("--web-port", ...)` leaves out options of them the command
    does not use (all the others stay accepted, hidden).
    """
    if len(args) == 1 and callable(args[0]):
        return _decorate(args[0], ALL_GROUPS, observing=False)
    groups, hidden = _checked(args), _checked_options(hide)
    return lambda command: _decorate(command, groups, observing=False, hide=hidden)


def observing_options(*groups: Group) -> Callable[[F], F]:
    """common_options for commands that look at a running serve (status, doctor, logs, chaos).

    A setting not given explicitly (option or TOY_PLATFORM_* variable) is taken from the
    record of the serve on this home: its addresses while it (or one of its children) still
    runs, its log and config dirs even after it stopped (its logs stay there).
    """
    chosen = _checked(groups)
    return lambda command: _decorate(command, chosen, observing=True)


def _checked(groups: tuple[Any, ...]) -> tuple[Group, ...]:
    unknown = [group for group in groups if group not in OPTION_GROUPS]
    if unknown:
        raise ValueError(f"unknown option groups {unknown}; known: {list(OPTION_GROUPS)}")
    return groups


def _checked_options(names: Collection[str]) -> frozenset[str]:
    known = {decls[0] for decls, _ in _SETTING_OPTIONS}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"unknown options {unknown}; known: {sorted(known)}")
    return frozenset(names)


def _decorate(
    command: F, groups: tuple[Group, ...], observing: bool, hide: frozenset[str] = frozenset()
) -> F:
    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        ctx = click.get_current_context()
        given: dict[str, Any] = {}
        for decls, _ in _SETTING_OPTIONS:
            name = _setting_name(decls)
            value = kwargs.pop(name)
            if ctx.get_parameter_source(name) in EXPLICIT_SOURCES and value is not None:
                given[name] = value
        given.update(_env_only())
        if observing:
            given = {**from_running_serve(given), **given}
        settings = load_settings(**given)
        problem = config.address_problem(settings)
        if problem:
            raise click.ClickException(problem)
        kwargs["settings"] = settings
        return command(**kwargs)

    shown = {decls for group in groups for decls, _ in OPTION_GROUPS[group] if decls[0] not in hide}
    for decls, attrs in reversed(_SETTING_OPTIONS):
        option = click.option(
            *decls, envvar=_envvar(decls), show_envvar=True, hidden=decls not in shown, **attrs
        )
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def from_running_serve(given: dict[str, Any]) -> dict[str, Any]:
    """Settings from the record of the serve whose data dir GIVEN points at (see above)."""
    data_dir = load_settings(**given).data_dir
    record = read_record(data_dir)
    if record is None:
        return {}
    return serve_record.recorded_settings(record, set(given), serve_record.in_use(record))


def _env_only() -> dict[str, Any]:
    values: dict[str, Any] = {
        name: os.environ.get(config.env_var(name)) for name in config.ENV_ONLY
    }
    pid = values["supervisor_pid"]
    values["supervisor_pid"] = int(pid) if pid and pid.isdigit() else None
    return {name: value for name, value in values.items() if value is not None}
