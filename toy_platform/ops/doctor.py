"""`toy-platform doctor`: the usual reasons the platform is down, each with what to do."""

from __future__ import annotations

import contextvars
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from toy_platform.clock import parse_time
from toy_platform.config import Settings
from toy_platform.extras import missing_extra
from toy_platform.health import PROBE_TIMEOUT_S, SUPERVISOR_FILE, direct_session, probe
from toy_platform.ops import serve_record
from toy_platform.ops.logview import describe_fields, last_error
from toy_platform.ops.processes import PortOwner, port_owner
from toy_platform.ops.statusview import (
    FRONTENDS,
    component_urls,
    fetch_job_types,
    probe_frontend,
    supervisor_record,
)
from toy_platform.security import SERVICE_KEY_FILE, SIGNING_KEY_FILE, service_key_fingerprint
from toy_platform.urls import mask_url, without_password

MAX_CLOCK_OFFSET_S = 60.0
RESTART_WINDOW_S = 600.0
RESTARTS_TOO_MANY = 3
REFUSED = "connection refused"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""})


@dataclass(frozen=True)
class Problem:
    """One thing that is wrong: where, what, and what to do about it."""

    component: str
    problem: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Look:
    """What one component answered: the probe, plus its /healthz body and Date header."""

    name: str
    url: str
    status: dict[str, Any]
    health: dict[str, Any]
    clock_offset_s: float | None = None


def run_checks(settings: Settings) -> list[Problem]:
    """Every check, config first, then each component, then what the supervisor saw."""
    record = supervisor_record(settings)
    looks = look_all(component_urls(settings, record))
    problems = check_supervisor(settings, record)
    problems += check_config(settings, any_up=any(look.status["up"] for look in looks.values()))
    problems += check_writable_dirs(settings)
    problems += check_store(settings)
    problems += check_queue_broker(settings)
    for look in sorted(looks.values(), key=lambda look: look.status["up"]):
        problems += check_component(settings, look, looks, record)
    problems += check_fingerprints(settings, looks)
    problems += check_clocks(looks)
    problems += check_restarts(record)
    if "core" in looks and looks["core"].status["up"]:
        problems += check_job_types(fetch_job_types(looks["core"].url))
    return problems


def check_job_types(types: list[dict[str, Any]] | None) -> list[Problem]:
    """A job type no worker offers: its jobs wait, queued, until one does."""
    return [
        Problem(
            f"job type {t['name']}",
            f"no worker offers it ({t['reason'] or 'none online has it'}): its jobs wait, queued",
            "start a worker that has it: `toy-platform worker --job-module MODULE` (or install"
            " the package whose entry point declares it), or `serve`/`core` with"
            " --job-module MODULE",
        )
        for t in types or []
        if not t["available"]
    ]


# -- asking the components -----------------------------------------------------


def look_all(urls: dict[str, str]) -> dict[str, Look]:
    """Look at every component at once, so a hung one costs 2 s in total."""
    with ThreadPoolExecutor(max_workers=max(1, len(urls))) as pool:
        futures = {
            name: pool.submit(contextvars.copy_context().run, look_at, name, url)
            for name, url in urls.items()
        }
        return {name: future.result() for name, future in futures.items()}


def look_at(name: str, url: str) -> Look:
    """Probe one component; for a service, also read its /healthz body and clock."""
    if name in FRONTENDS:
        return Look(name, url, probe_frontend(name, url), {})
    status = probe(url)
    look = Look(name, url, status, {})
    if status["up"]:
        _read_health(look)
    return look


def _read_health(look: Look) -> None:
    try:
        sent = time.time()
        with direct_session() as http:
            response = http.get(f"{look.url}/healthz", timeout=PROBE_TIMEOUT_S)
        middle = (sent + time.time()) / 2
        body = response.json()
        look.health = body if isinstance(body, dict) else {}
        date = response.headers.get("Date")
        if date:
            look.clock_offset_s = parsedate_to_datetime(date).timestamp() - middle
    except (requests.RequestException, ValueError, TypeError):
        return


# -- the supervisor ------------------------------------------------------------


def check_supervisor(settings: Settings, record: dict[str, Any] | None) -> list[Problem]:
    """A serve that is frozen, or gone without stopping its services, restarts nothing."""
    if not record or record.get("running"):
        return []
    path = settings.data_dir / SUPERVISOR_FILE
    updated = _clock(record.get("updated_at"))
    pid = record.get("pid")
    if record.get("state") == "frozen":
        return [
            Problem(
                "supervisor",
                f"`toy-platform serve` is not running: its record {path} is stale (last"
                f" updated at {updated}; {record.get('state_reason')}); nothing restarts a"
                " component that stops or hangs",
                f"if you suspended it (Ctrl+Z), resume it (`fg`, or `kill -CONT {pid}`);"
                f" else stop it (`kill {pid}`; `taskkill /PID {pid} /F` on Windows) and"
                " start `toy-platform serve` again",
            )
        ]
    orphans = record.get("orphans") or []
    if serve_record.stopped_cleanly(record) and not orphans:
        return []
    if orphans:
        pids = [str(serve_record.children(record)[name].get("pid")) for name in orphans]
        left = f"; its services still run without it: {', '.join(orphans)}"
        fix = (
            f"stop them (`kill {' '.join(pids)}`; `taskkill /PID <pid> /F` on Windows), then"
            " start `toy-platform serve` again"
        )
    else:
        left = ""
        fix = (
            "start it again with `toy-platform serve` (with the options it had); if you now"
            f" run the services one by one instead, delete {path}"
        )
    return [
        Problem(
            "supervisor",
            f"`toy-platform serve` is not running: it went without stopping its services"
            f" (its record {path} was last updated at {updated};"
            f" {record.get('state_reason')}){left}; nothing restarts a component that stops",
            fix,
        )
    ]


# -- config and directories ----------------------------------------------------


def check_config(settings: Settings, any_up: bool) -> list[Problem]:
    """users.json, the service key and the token signing key in the config dir."""
    problems = check_users_file(settings.users_file)
    if not settings.service_key:
        problems += check_key_file(settings.config_dir / SERVICE_KEY_FILE, "services", any_up)
    problems += check_key_file(settings.config_dir / SIGNING_KEY_FILE, "auth", any_up)
    return problems


def check_store(settings: Settings) -> list[Problem]:
    """A PostgreSQL job store (--store-url) that cannot be reached from here; named with its
    password masked. The SQLite store is a file in the data dir (checked with it)."""
    from toy_platform.middleware.stores.base import StoreSetupError
    from toy_platform.middleware.stores.choice import store_kind

    try:
        if store_kind(settings.store_url) != "postgresql":
            return []
    except StoreSetupError as exc:
        fix = "give --store-url (or TOY_PLATFORM_STORE_URL) as sqlite or postgresql://..."
        return [Problem("job store", str(exc), fix)]
    reason = postgres_unreachable(settings.store_url)
    if reason is None:
        return []
    return [
        Problem(
            "job store",
            f"PostgreSQL at {mask_url(settings.store_url)} is not answering: {reason}",
            "start PostgreSQL, or check the host, port, database, user and password of"
            " --store-url (TOY_PLATFORM_STORE_URL) and that this machine may connect to it;"
            " the middlewares reconnect by themselves when it answers",
        )
    ]


def postgres_unreachable(url: str) -> str | None:
    """None when a connection to URL can be made within 3 s, else why not (no password)."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return without_password(" ".join(str(exc).split()), url)
    return None


def check_queue_broker(settings: Settings) -> list[Problem]:
    """A Celery broker (--queue-url redis://...) that does not answer from here; named
    without its password. (The embedded queue is a file in the data dir, checked with it.)"""
    from toy_platform.core.queues.celery.config import (
        broker_client,
        describe_broker_error,
        is_celery_url,
    )

    if not is_celery_url(settings.queue_url):
        return []
    missing = missing_extra("celery", f"--queue-url {mask_url(settings.queue_url)}")
    if missing:
        return [Problem("queue broker", missing, "install the extra, or use --queue-url sqlite")]
    try:
        broker_client(settings.queue_url).ping()
    except Exception as exc:
        return [
            Problem(
                "queue broker",
                f"Redis at {mask_url(settings.queue_url)} is not answering:"
                f" {describe_broker_error(exc)}",
                BROKER_FIX,
            )
        ]
    return []


BROKER_FIX = (
    "start Redis, or check --queue-url (TOY_PLATFORM_QUEUE_URL) and that this machine may"
    " connect to it; jobs submitted meanwhile wait in the middleware and go out when it answers"
)


def check_users_file(path: Path) -> list[Problem]:
    """A missing or unreadable users.json means nobody can log in."""
    if not path.exists():
        return [
            Problem(
                "auth",
                f"{path} is missing, so nobody can log in",
                "start the platform once with `toy-platform serve` (it creates user 'admin'),"
                " or add a user: `toy-platform user add NAME --admin`",
            )
        ]
    try:
        users = json.loads(path.read_text(encoding="utf-8")).get("users")
        if not isinstance(users, dict):
            raise ValueError("it has no 'users' object")
    except (OSError, ValueError, AttributeError) as exc:
        return [
            Problem(
                "auth",
                f"cannot read {path}: {_error_text(exc)}",
                "fix its permissions (readable by the user running the platform) or restore"
                ' it from a backup; it must be JSON like {"users": {...}}',
            )
        ]
    return []


def check_key_file(path: Path, component: str, any_up: bool) -> list[Problem]:
    """A key file that cannot be read; or missing while services run (from another dir?)."""
    if not path.exists():
        if not any_up:
            return []  # generated on first start
        return [
            Problem(
                component,
                f"{path} is missing, yet services are running: they were started with"
                " another config dir",
                "run every command with the same --home / --config-dir as `toy-platform serve`",
            )
        ]
    try:
        if not path.read_bytes().strip():
            raise ValueError("the file is empty")
    except (OSError, ValueError) as exc:
        return [
            Problem(
                component,
                f"cannot read {path}: {_error_text(exc)}",
                "make it readable by the user running the platform, or delete it so a new"
                " one is generated (then restart every service)",
            )
        ]
    return []


def check_writable_dirs(settings: Settings) -> list[Problem]:
    """The log dir (and the data dir) must be writable, as must existing log files."""
    problems = []
    for component, path, option in (
        ("logs", settings.log_dir, "--log-dir"),
        ("data", settings.data_dir, "--data-dir"),
    ):
        reason = not_writable(path)
        if reason:
            problems.append(
                Problem(
                    component,
                    f"cannot write to {path}: {reason}",
                    f"fix its permissions, or use another directory with {option} DIR",
                )
            )
    return problems + _unwritable_logs(settings.log_dir)


def not_writable(path: Path) -> str | None:
    """None when files can be created in PATH (or it can be created), else why not."""
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return _error_text(exc)
    return None


def _unwritable_logs(log_dir: Path) -> list[Problem]:
    problems = []
    for path in sorted(log_dir.glob("*.log")) if log_dir.is_dir() else []:
        if not os.access(path, os.W_OK):
            problems.append(
                Problem(
                    path.stem,
                    f"cannot write its log file {path}",
                    "fix the file's permissions (owned by the user running the platform)",
                )
            )
    return problems


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# -- each component ------------------------------------------------------------


def check_component(
    settings: Settings, look: Look, looks: dict[str, Look], record: dict[str, Any] | None
) -> list[Problem]:
    """Down, answering as something else, or not ready: what and why."""
    status = look.status
    if not status["up"]:
        return [down_problem(settings, look, record)]
    answered_as = look.health.get("service")
    if look.name not in FRONTENDS and answered_as not in (None, look.name):
        return [wrong_service_problem(look, str(answered_as))]
    if not status["ready"]:
        return [not_ready_problem(settings, look, looks)]
    return []


def down_problem(settings: Settings, look: Look, record: dict[str, Any] | None) -> Problem:
    """Not running (nothing listens), or something that is not us holds the port."""
    reason = str(look.status["reason"] or "no answer")
    port = local_port(look.url)
    if REFUSED not in reason and port is not None:
        owner = port_owner(port)
        if owner is not None:
            problem = foreign_port_problem(look, port, owner) if not owner.ours else None
            problem = problem or hung_problem(look, reason, owner, record)
            note = _last_error_note(settings, look.name)
            return Problem(problem.component, problem.problem + note, problem.fix)
    if REFUSED in reason:
        text = f"not running: {reason} at {look.url}"
    else:
        text = f"not answering at {look.url}: {reason}"
    return Problem(
        look.name, text + _last_error_note(settings, look.name), _start_fix(look, record)
    )


def _start_fix(look: Look, record: dict[str, Any] | None) -> str:
    name = look.name
    child = (record or {}).get("children", {}).get(name, {})
    if record and record.get("running") and child.get("state") == "held":
        return (
            f"it was stopped with `toy-platform chaos stop {name}`:"
            f" run `toy-platform chaos start {name}`"
        )
    if record and record.get("running") and child:
        return (
            f"`toy-platform serve` keeps restarting it; see why with"
            f" `toy-platform logs --service {name} --level WARNING`"
        )
    return (
        "start the platform with `toy-platform serve`"
        f" (or this service alone: `toy-platform {name}`)"
    )


def foreign_port_problem(look: Look, port: int, owner: PortOwner) -> Problem:
    option = f"--{look.name}-port"
    return Problem(
        look.name,
        f"port {port} is in use by another program ({owner.description}),"
        f" which is not the toy-platform {look.name}: {look.status['reason']}",
        f"stop that program, or run {look.name} on a free port: {option} N on every"
        f" command (or TOY_PLATFORM_{look.name.upper()}_PORT=N)",
    )


def hung_problem(
    look: Look, reason: str, owner: PortOwner, record: dict[str, Any] | None = None
) -> Problem:
    if record and record.get("running") and look.name in serve_record.children(record):
        fix = (
            "wait: `toy-platform serve` restarts it after 30 s without answers;"
            f" or restart it yourself (`toy-platform chaos kill {look.name}`)"
        )
    else:
        where = f" (PID {owner.pid})" if owner.pid else ""
        fix = (
            f"no supervisor watches it: stop that process{where} and start the platform"
            " again with `toy-platform serve`"
        )
    return Problem(look.name, f"runs ({owner.description}) but does not answer: {reason}", fix)


def wrong_service_problem(look: Look, answered_as: str) -> Problem:
    port = local_port(look.url)
    return Problem(
        look.name,
        f"{look.url} answers as the {answered_as} service, not as {look.name}",
        f"give each service its own port: check --{look.name}-port"
        f"{f' ({port})' if port else ''} and --{look.name}-url on every command",
    )


def not_ready_problem(settings: Settings, look: Look, looks: dict[str, Look]) -> Problem:
    """Up but not ready: its /readyz reason; blame another component when that is it."""
    reason = str(look.status["reason"] or "not ready")
    blamed = reason.split(":", 1)[0].strip()
    if blamed in looks and blamed != look.name and not looks[blamed].status["ready"]:
        fix = f"fix {blamed} first (see the {blamed} line); {look.name} recovers by itself"
    else:
        fix = _not_ready_fix(settings, look.name, blamed, reason)
    return Problem(look.name, f"not ready: {reason}" + _last_error_note(settings, look.name), fix)


def _not_ready_fix(settings: Settings, name: str, blamed: str, reason: str = "") -> str:
    if blamed == "users":
        return f"check {settings.users_file} (see the auth line above)"
    if blamed == "job store":
        return (
            "make the job store answer (for PostgreSQL: start it, or check --store-url);"
            " the middleware reconnects by itself, no restart needed"
        )
    if blamed == "queue database":
        return f"check that {settings.data_dir} is writable and the disk is not full"
    if blamed == "broker":
        return BROKER_FIX
    if blamed == "workers" and "Celery worker" in reason:
        return (
            "start a worker on any machine that reaches Redis and the middleware:"
            " `toy-platform worker --queue-url redis://HOST:6379/0 --middleware-url URL`, with"
            " the service key (TOY_PLATFORM_SERVICE_KEY or --service-key-file); or let serve"
            " run one: --workers N"
        )
    if blamed == "workers":
        return f"restart it (`toy-platform chaos kill {name}` under serve) and read its log"
    if name == "web":
        return (
            "build the web app as the reason says (or install a wheel that carries it), or"
            " run `toy-platform serve --no-web`"
        )
    return f"read its log: `toy-platform logs --service {name} --level WARNING`"


def _last_error_note(settings: Settings, service: str) -> str:
    record = last_error(settings.log_dir, service)
    if record is None:
        return ""
    at = _clock(record["time"])
    details = describe_fields(record)
    text = f"{record.get('event', '')} {details}".strip()
    return f"; last error in its log at {at}: {text[:300]}"


# -- ports ---------------------------------------------------------------------


def local_port(url: str) -> int | None:
    """The port of URL when it points at this machine, else None."""
    parts = urlsplit(url)
    if (parts.hostname or "") not in LOCAL_HOSTS:
        return None
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None


# -- across components ---------------------------------------------------------


def check_fingerprints(settings: Settings, looks: dict[str, Look]) -> list[Problem]:
    """Every service must use the same service key, and so should this command."""
    prints = {
        name: str(look.health["service_key_fingerprint"])
        for name, look in looks.items()
        if look.health.get("service_key_fingerprint")
    }
    if not prints:
        return []
    counts: dict[str, int] = {}
    for value in prints.values():
        counts[value] = counts.get(value, 0) + 1
    usual = max(counts, key=lambda value: counts[value])
    if len(counts) > 1:
        return [
            _key_mismatch(name, value, usual) for name, value in prints.items() if value != usual
        ]
    mine = key_source(settings)
    if mine.fingerprint is not None and mine.fingerprint != usual:
        return [
            Problem(
                "config",
                f"the service key from {mine.where()} (fingerprint {mine.fingerprint}) is not"
                f" the one the running services use ({usual})",
                "run commands with the same --home / --config-dir (or TOY_PLATFORM_SERVICE_KEY)"
                " as `toy-platform serve`",
            )
        ]
    return []


def _key_mismatch(name: str, value: str, usual: str) -> Problem:
    return Problem(
        name,
        f"uses another service key (fingerprint {value}) than the other services ({usual}),"
        " so their calls to each other are refused (401)",
        "give every service the same key (the same --config-dir, or the same"
        " TOY_PLATFORM_SERVICE_KEY), then restart it",
    )


@dataclass(frozen=True)
class KeySource:
    """Where the service key comes from (as load_service_key picks it) and its fingerprint:
    enough to find the key to copy, and to compare it with the services', without showing it."""

    source: str  # "env" (TOY_PLATFORM_SERVICE_KEY), "file" (--service-key-file), "config_dir"
    path: Path | None
    fingerprint: str | None  # None: no key there (yet), or it cannot be read

    def as_dict(self) -> dict[str, str | None]:
        path = str(self.path) if self.path else None
        return {"source": self.source, "path": path, "fingerprint": self.fingerprint}

    def where(self) -> str:
        if self.source == "env":
            return "the TOY_PLATFORM_SERVICE_KEY variable"
        if self.source == "file":
            return f"--service-key-file {self.path}"
        return str(self.path)

    def describe(self) -> str:
        """`service key: WHERE (fingerprint F)`, or why there is no fingerprint."""
        if self.fingerprint:
            state = f"fingerprint {self.fingerprint}"
        elif self.source == "config_dir" and self.path and not self.path.exists():
            state = "none yet: the first service to start creates it"
        else:
            state = "cannot be read"
        return f"service key: {self.where()} ({state})"


def key_source(settings: Settings) -> KeySource:
    """Where this command's service key comes from; reads it, never creates one."""
    if settings.service_key:
        return KeySource("env", None, service_key_fingerprint(settings.service_key.encode()))
    path = settings.service_key_file or settings.config_dir / SERVICE_KEY_FILE
    source = "config_dir" if settings.service_key_file is None else "file"
    return KeySource(source, path, _file_fingerprint(path))


def _file_fingerprint(path: Path) -> str | None:
    try:
        key = path.read_bytes().strip()
    except OSError:
        return None
    return service_key_fingerprint(key) if key else None


def check_clocks(looks: dict[str, Look]) -> list[Problem]:
    """A service whose clock is more than a minute off this machine's."""
    problems = []
    for name, look in looks.items():
        offset = look.clock_offset_s
        if offset is not None and abs(offset) > MAX_CLOCK_OFFSET_S:
            side = "ahead of" if offset > 0 else "behind"
            problems.append(
                Problem(
                    name,
                    f"its clock is {abs(offset):.0f} s {side} this machine's",
                    "synchronise the clocks (NTP): signed calls between services are refused"
                    " beyond 5 minutes, and tokens look expired or not yet valid",
                )
            )
    return problems


def check_restarts(record: dict[str, Any] | None) -> list[Problem]:
    """Components the supervisor restarted again and again lately."""
    if not record or not record.get("running"):
        return []
    since = datetime.now(timezone.utc) - timedelta(seconds=RESTART_WINDOW_S)
    problems = []
    for name, child in record.get("children", {}).items():
        exits = [
            event
            for event in child.get("history", [])
            if event.get("event") in ("exited", "unresponsive")
            and (parse_time(event.get("at")) or since) > since
        ]
        if len(exits) >= RESTARTS_TOO_MANY:
            problems.append(_restart_problem(name, child, len(exits)))
    return problems


def _restart_problem(name: str, child: dict[str, Any], count: int) -> Problem:
    minutes = RESTART_WINDOW_S / 60
    return Problem(
        name,
        f"restarted {count} times in the last {minutes:.0f} minutes"
        f" (last exit code {child.get('last_exit_code')} at {_clock(child.get('last_exit_at'))})",
        f"see why it dies: `toy-platform logs --service {name} --level WARNING`"
        " (and `--service supervisor`)",
    )


def _clock(value: Any) -> str:
    """An ISO time as local `YYYY-MM-DD HH:MM:SS` (or the value itself)."""
    moment = parse_time(value)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else str(value)
