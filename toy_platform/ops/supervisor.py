"""`toy-platform serve`: runs each service as its own process, watches and restarts them.

Each child gets an instance ID and serve's PID: /healthz answers with the ID, so serve counts
a child up only when the answer is its own child's (not a stranger's on the same port), and
the child exits when serve is gone (see lifeline.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import requests

from toy_platform.config import SERVICES, Settings
from toy_platform.health import SUPERVISOR_FILE, direct_session, read_record
from toy_platform.lifeline import ask_to_stop, same_process, spawn
from toy_platform.loops import describe
from toy_platform.ops.processes import port_free, port_owner, stop_processes
from toy_platform.ops.serve_record import (
    children_running,
    serve_state,
    stopped_cleanly,
)
from toy_platform.security import write_private

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
UNRESPONSIVE_AFTER_S = 30.0
HEALTH_INTERVAL_S = 2.0
SAVE_INTERVAL_S = 1.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0
STOP_GRACE_S = 5.0
LEFTOVER_GRACE_S = 2.0
READY_WAIT_S = 3.0
EXIT_CANNOT_LISTEN = 3
"""The exit code of a service that cannot listen on its port."""


class StartError(Exception):
    """serve cannot start (a port taken, another serve running): stop, say why, exit 1."""


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    health_url: str
    url: str
    port: int = 0
    ready_url: str | None = None
    """/readyz: read at start (web: built?) and, with watch_stall, to restart a stalled child."""
    watch_stall: bool = False
    has_instance_id: bool = True
    """False for Streamlit, whose health check cannot say whose it is: see Supervisor._ours."""


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    pid: int | None = None
    """The service's own process. Usually the one spawned; where a launcher stands between
    (a Windows venv's python.exe starts the real interpreter as its child), the one the
    service reports in /healthz, or for Streamlit, the one that listens on its port."""
    create_time: float | None = None
    instance_id: str | None = None
    started_at: float = 0.0
    restarts: int = 0
    last_exit_code: int | None = None
    last_exit_at: str | None = None
    last_healthy: float = 0.0
    next_start: float = 0.0
    failures_in_row: int = 0
    state: str = "starting"
    not_ready: str | None = None
    holds_port: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "create_time": self.create_time,
            "instance_id": self.instance_id,
            "state": self.state,
            "url": self.spec.url,
            "started_at": _iso(self.started_at) if self.started_at else None,
            "restarts": self.restarts,
            "last_exit_code": self.last_exit_code,
            "last_exit_at": self.last_exit_at,
            "history": self.history[-20:],
        }


def _listens(conn: Any, port: int) -> bool:
    return bool(conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port)


def _iso(ts: float | None = None) -> str:
    moment = datetime.fromtimestamp(ts or time.time(), timezone.utc)
    return moment.isoformat(timespec="seconds")


def service_argv(name: str) -> list[str]:
    return [sys.executable, "-m", "toy_platform", name]


def bypass_proxy_for_own_services(settings: Settings, environ: dict[str, str]) -> dict[str, str]:
    """NO_PROXY (and no_proxy) for the children: any given, plus the hosts of our services.

    The services call each other (JWKS, forwarding, callbacks); a proxy set for the outside
    world must not stand between them. Proxies still apply to every other host.
    """
    urls = [settings.url_of(name) for name in SERVICES]
    hosts = [urlsplit(url).hostname or "" for url in urls] + ["127.0.0.1", "localhost"]
    given = environ.get("NO_PROXY") or environ.get("no_proxy") or ""
    entries = [entry.strip() for entry in given.split(",") if entry.strip()]
    value = ",".join(dict.fromkeys([*entries, *(h for h in hosts if h)]))
    return {"NO_PROXY": value, "no_proxy": value}


def stalled_for(readyz: Any, stall_after: float) -> float | None:
    """How long the child's own work has stalled, when that is long enough to restart it.

    Only `stalled_s` counts: a child that is not ready because a dependency is down (its
    stalled_s is null) is never restarted for it.
    """
    stalled = readyz.get("stalled_s") if isinstance(readyz, dict) else None
    if isinstance(stalled, bool) or not isinstance(stalled, (int, float)):
        return None
    return float(stalled) if stalled >= 2 * stall_after else None


class Supervisor:
    """Starts the children, restarts any that die, stall or stop answering, stops them all."""

    def __init__(self, settings: Settings, specs: list[ChildSpec], env: dict[str, str]) -> None:
        self.settings = settings
        self.children = {spec.name: Child(spec) for spec in specs}
        self.instance_id = uuid.uuid4().hex
        self.env = {**env, "TOY_PLATFORM_SUPERVISOR_PID": str(os.getpid())}
        self.stopping = threading.Event()
        self.state_file = settings.data_dir / SUPERVISOR_FILE
        self.http = direct_session()
        self._save_lock = threading.Lock()
        self._create_time = psutil.Process().create_time()

    # -- lifecycle -----------------------------------------------------------

    def check_ports(self) -> None:
        """Refuse to start (StartError) when a port is given twice or already in use."""
        seen: dict[int, str] = {}
        for name, child in self.children.items():
            port = child.spec.port
            if port in seen:
                raise StartError(f"{seen[port]} and {name} are both given port {port}")
            seen[port] = name
        taken = [
            c for c in self.children.values() if not port_free(self.settings.host, c.spec.port)
        ]
        if taken:
            raise StartError("\n".join(self._port_taken(child) for child in taken))

    def start_all(self, on_ready: Callable[[Child], None] | None = None) -> list[str]:
        """Start every child in order; return the names that did not come up in time.

        Raises StartError, at once, when a child's port turns out to be someone else's.
        """
        self._save()
        threading.Thread(target=self._keep_saving, name="supervisor-record", daemon=True).start()
        failed = []
        for child in self.children.values():
            self.held_file(child.spec.name).unlink(missing_ok=True)
            self._spawn(child)
            if self._wait_healthy(child):
                child.state = "running"
                child.not_ready = self._wait_ready(child)
                if on_ready:
                    on_ready(child)
            else:
                failed.append(child.spec.name)
        self._save()
        return failed

    def run(self) -> None:
        """Watch the children until stop() is called."""
        while not self.stopping.wait(HEALTH_INTERVAL_S / 2):
            for child in self.children.values():
                self._check_surviving(child)
            self._save()  # at once, not only on the next beat: status reads a change now

    def _check_surviving(self, child: Child) -> None:
        """Check one child; an error (the OS refusing a spawn, say) is logged, not fatal:
        the others are still watched, and this one is checked again on the next beat."""
        try:
            self._check(child)
        except Exception as exc:
            logger.error(
                "checking %s failed: %s; trying again in %.0f s",
                child.spec.name,
                describe(exc),
                HEALTH_INTERVAL_S / 2,
                exc_info=exc,
                extra={"event": "supervisor_error", "child": child.spec.name},
            )

    def stop(self) -> None:
        """Stop every child, each whatever happens to the others, and save the record."""
        self.stopping.set()
        try:
            for child in self.children.values():
                child.state = "stopping"
                self._ask_to_stop(child)
            deadline = time.monotonic() + STOP_GRACE_S
            for child in self.children.values():
                self._wait_stopped(child, deadline)
        finally:
            self._save()
        logger.info("all services stopped", extra={"event": "supervisor_stopped"})

    def _ask_to_stop(self, child: Child) -> None:
        if child.process is None or child.process.poll() is not None:
            return
        try:
            ask_to_stop(child.process)
            if self._behind_launcher(child):
                # A launcher passes nothing on (on Windows the console's Ctrl+Break reaches
                # both; elsewhere the service is asked itself).
                if sys.platform != "win32":
                    psutil.Process(child.pid).terminate()
        except Exception as exc:  # it must not keep the others running
            logger.error(
                "cannot ask %s to stop (%s); killing it",
                child.spec.name,
                describe(exc),
                extra={"event": "stop_failed", "child": child.spec.name},
            )
            self._kill(child)

    def _behind_launcher(self, child: Child) -> bool:
        """Whether the service runs in a process of its own under the one spawned (and is
        still the process that was noted, not one that reuses its pid)."""
        process = child.process
        if child.pid is None or process is None or child.pid == process.pid:
            return False
        return same_process(child.pid, child.create_time) is not None

    def _kill(self, child: Child) -> None:
        """Kill the child at once: the service's own process and the one spawned."""
        if child.process is None:
            return
        if self._behind_launcher(child) and child.pid is not None:
            with contextlib.suppress(psutil.Error, OSError):
                psutil.Process(child.pid).kill()
        with contextlib.suppress(OSError):
            child.process.kill()
        child.process.wait()

    def _wait_stopped(self, child: Child, deadline: float) -> None:
        if child.process is None:
            return
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self._kill(child)
        child.state = "stopped"

    # -- watching ------------------------------------------------------------

    def _spawn(self, child: Child) -> None:
        child.instance_id = f"{self.instance_id}-{child.spec.name}-{child.restarts}"
        env = {**self.env, "TOY_PLATFORM_INSTANCE_ID": child.instance_id}
        child.process = spawn(child.spec.argv, env)
        child.pid = child.process.pid
        child.create_time = _create_time(child.pid)
        child.holds_port = False
        child.started_at = time.time()
        child.last_healthy = time.monotonic()
        child.state = "starting"
        logger.info(
            "started %s (pid %d)",
            child.spec.name,
            child.process.pid,
            extra={
                "event": "child_started",
                "child": child.spec.name,
                "pid": child.process.pid,
                "restarts": child.restarts,
            },
        )

    def _wait_healthy(self, child: Child) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and not self.stopping.is_set():
            process = child.process
            if process and process.poll() is not None:
                if process.returncode == EXIT_CANNOT_LISTEN or not port_free(
                    self.settings.host, child.spec.port
                ):
                    raise StartError(self._port_taken(child))
                return False
            answer = self._answer(child)
            if answer == "ours":
                child.last_healthy = time.monotonic()
                return True
            if answer == "stranger":
                raise StartError(self._port_taken(child))
            time.sleep(0.1)
        return False

    def _answer(self, child: Child) -> str:
        """Who answers the child's health check: "ours", "stranger" or "none"."""
        try:
            response = self.http.get(child.spec.health_url, timeout=HEALTH_INTERVAL_S)
        except requests.RequestException:
            return "none"
        if not response.ok:
            return "none"
        if not child.spec.has_instance_id:
            return "ours" if self._holds_port(child) else "stranger"
        try:
            body = response.json()
            answered = body.get("instance_id")
        except (ValueError, AttributeError):
            return "stranger"
        if answered != child.instance_id:
            return "stranger"
        self._note_pid(child, body.get("pid"))
        return "ours"

    def _note_pid(self, child: Child, pid: Any) -> None:
        """The service's own PID, as it reported it (see Child.pid)."""
        if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 and pid != child.pid:
            child.pid = pid
            child.create_time = _create_time(pid)

    def _holds_port(self, child: Child) -> bool:
        """Whether the child's process, or one it started (behind a launcher), listens on its
        port (the OS may not tell)."""
        if child.holds_port or child.process is None:
            return child.holds_port
        try:
            spawned = psutil.Process(child.process.pid)
            candidates = [spawned, *spawned.children(recursive=True)]
        except (psutil.Error, OSError):
            return False
        for process in candidates:
            try:
                # net_connections() from psutil 6; connections() before
                listing = getattr(process, "net_connections", None) or process.connections
                connections = listing(kind="inet")
            except psutil.AccessDenied:
                # The port was free before the child started: what answers there is the child.
                child.holds_port = child.process.poll() is None
                return child.holds_port
            except (psutil.Error, OSError):
                continue
            if any(_listens(conn, child.spec.port) for conn in connections):
                child.holds_port = True
                self._note_pid(child, process.pid)
                return True
        return False

    def _healthy(self, child: Child) -> bool:
        return self._answer(child) == "ours"

    def _readyz(self, child: Child) -> tuple[int, Any] | None:
        """The status and JSON body of the child's /readyz; None if there is none to read."""
        if child.spec.ready_url is None:
            return None
        try:
            response = self.http.get(child.spec.ready_url, timeout=HEALTH_INTERVAL_S)
            return response.status_code, response.json()
        except (requests.RequestException, ValueError):
            return None

    def _wait_ready(self, child: Child) -> str | None:
        """Give a child that answers a moment to be ready; then why it is not, or None."""
        deadline = time.monotonic() + READY_WAIT_S
        while (reason := self._not_ready_reason(child)) and time.monotonic() < deadline:
            time.sleep(0.2)
        return reason

    def _not_ready_reason(self, child: Child) -> str | None:
        """Why a child that answers is not ready (e.g. the web app is not built), or None."""
        answer = self._readyz(child)
        if answer is None or answer[0] == 404:
            return None  # no /readyz: answering is all it can tell
        status, body = answer
        if status == 200 and isinstance(body, dict) and body.get("ready") is not False:
            return None
        reason = body.get("reason") if isinstance(body, dict) else None
        return str(reason or f"/readyz answered HTTP {status}")

    def _port_taken(self, child: Child) -> str:
        name, port = child.spec.name, child.spec.port
        owner = port_owner(port)
        ours = {child.pid, child.process.pid if child.process else None} - {None}
        if owner is not None and owner.pid in ours:
            owner = None  # our own child: it shares the port with the one that answered
        holder = f" by {owner.description}" if owner else ""
        hint = f"stop that process, or give {name} another port with --{name}-port"
        if owner and owner.ours:
            hint = (
                "it is a toy-platform process (another serve, or one left running?):"
                f" see `toy-platform status`, or give {name} another port with --{name}-port"
            )
        return f"{name}: port {port} on {self.settings.host} is already in use{holder}; {hint}"

    def held_file(self, name: str) -> Path:
        return hold_file(self.settings.data_dir, name)

    def _check(self, child: Child) -> None:
        if self.held_file(child.spec.name).exists():
            self._hold(child)
            return
        now = time.monotonic()
        process = child.process
        if process is None or process.poll() is not None:
            if child.state == "held":
                child.next_start = now
            elif process is not None and child.state != "waiting":
                self._exited(child, process.returncode)
            if now >= child.next_start and not self.stopping.is_set():
                child.restarts += 1
                self._spawn(child)
            return
        if self._healthy(child):
            if child.state != "running":
                logger.info(
                    "%s is answering",
                    child.spec.name,
                    extra={"event": "child_healthy", "child": child.spec.name},
                )
            child.state, child.last_healthy = "running", now
            if now - child.started_at > STABLE_AFTER_S:
                child.failures_in_row = 0
            self._check_stall(child)
        elif now - child.last_healthy > UNRESPONSIVE_AFTER_S:
            logger.error(
                "%s has not answered /healthz for %.0f s: restarting it",
                child.spec.name,
                now - child.last_healthy,
                extra={"event": "child_unresponsive", "child": child.spec.name},
            )
            child.history.append({"at": _iso(), "event": "unresponsive"})
            self._kill(child)
        elif child.state == "running":
            child.state = "not answering"

    def _check_stall(self, child: Child) -> None:
        """Restart a child whose own work has not moved for twice the stall threshold."""
        if not child.spec.watch_stall:
            return
        answer = self._readyz(child)
        stalled = stalled_for(answer[1] if answer else None, self.settings.stall_after)
        if stalled is None:
            return
        reason = answer[1].get("reason") if answer else None
        logger.error(
            "%s has been stalled for %.0f s (%s): restarting it",
            child.spec.name,
            stalled,
            reason,
            extra={
                "event": "child_stalled",
                "child": child.spec.name,
                "stalled_s": stalled,
                "reason": reason,
            },
        )
        child.history.append({"at": _iso(), "event": "stalled", "stalled_s": stalled})
        self._kill(child)

    def _hold(self, child: Child) -> None:
        """Keep a child stopped while `toy-platform chaos stop` holds it."""
        if child.state == "held":
            return
        if child.process and child.process.poll() is None:
            self._ask_to_stop(child)
            self._wait_stopped(child, time.monotonic() + STOP_GRACE_S)
        child.state = "held"
        child.last_exit_code = child.process.returncode if child.process else None
        child.last_exit_at = _iso()
        child.history.append({"at": child.last_exit_at, "event": "held"})
        logger.warning(
            "%s stopped on request; it stays down until `toy-platform chaos start %s`",
            child.spec.name,
            child.spec.name,
            extra={"event": "child_held", "child": child.spec.name},
        )

    def _exited(self, child: Child, code: int | None) -> None:
        if code == EXIT_CANNOT_LISTEN:
            logger.error(
                "%s",
                self._port_taken(child),
                extra={"event": "port_taken", "child": child.spec.name},
            )
        child.last_exit_code = code
        child.last_exit_at = _iso()
        child.failures_in_row += 1
        delay = min(MAX_BACKOFF_S, 2 ** (child.failures_in_row - 1))
        child.next_start = time.monotonic() + delay
        child.state = "waiting"
        child.history.append({"at": child.last_exit_at, "event": "exited", "exit_code": code})
        logger.error(
            "%s exited with code %s; restarting in %d s",
            child.spec.name,
            code,
            delay,
            extra={
                "event": "child_exited",
                "child": child.spec.name,
                "exit_code": code,
                "restart_in_s": delay,
                "restarts": child.restarts,
            },
        )

    # -- the record ------------------------------------------------------------

    def _keep_saving(self) -> None:
        """Rewrite the record every second: its age tells status whether serve is alive."""
        while not self.stopping.wait(SAVE_INTERVAL_S):
            self._save()

    def _save(self) -> None:
        record = {
            "pid": os.getpid(),
            "create_time": self._create_time,
            "instance_id": self.instance_id,
            "updated_at": _iso(),
            "settings": _settings_record(self.settings),
            "children": {name: child.record() for name, child in self.children.items()},
        }
        with self._save_lock:
            try:
                write_private(self.state_file, json.dumps(record, indent=2).encode())
            except OSError as exc:
                logger.warning("cannot write %s: %s", self.state_file, exc)


# -- processes and ports ---------------------------------------------------------


def _create_time(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


# -- an earlier serve on the same home ---------------------------------------------


def check_previous(settings: Settings, echo: Callable[[str], None]) -> None:
    """Refuse to start while another serve runs on this home (StartError); name one that
    died, and stop the children it left running (verified by command line and start time)."""
    record = read_record(settings.data_dir)
    if not record or record.get("pid") == os.getpid():
        return
    previous = serve_state(record)
    if previous.alive:
        frozen = f"; {previous.reason}" if previous.state == "frozen" else ""
        raise StartError(
            f"toy-platform serve is already running on this home: PID {previous.pid}"
            f"{frozen} ({settings.data_dir / SUPERVISOR_FILE}); stop it first (Ctrl+C in its"
            " terminal), or give this one another --home"
        )
    if stopped_cleanly(record):
        return
    created = record.get("create_time")
    since = f", started {_iso(created)}" if isinstance(created, (int, float)) else ""
    echo(
        f"The previous serve on this home (PID {previous.pid}{since}) did not stop cleanly"
        " (killed or crashed)."
    )
    leftovers = children_running(record)
    if leftovers:
        names = ", ".join(f"{name} (PID {p.pid})" for name, p in leftovers.items())
        echo(f"It left running: {names}; stopping {'it' if len(leftovers) == 1 else 'them'}.")
        stop_processes(list(leftovers.values()), LEFTOVER_GRACE_S, STOP_GRACE_S)


def _settings_record(settings: Settings) -> dict[str, Any]:
    """Where this serve's services answer and its files are, for status, logs and doctor."""
    names = ("host", "auth_port", "core_port", "middleware_port", "web_port", "dashboard_port")
    record: dict[str, Any] = {name: getattr(settings, name) for name in names}
    for name in ("auth_url", "core_url", "middleware_url", "web_url", "dashboard_url"):
        record[name] = getattr(settings, name)
    for name in ("log_dir", "data_dir", "config_dir"):
        record[name] = str(getattr(settings, name))
    return record


def hold_file(data_dir: Path, name: str) -> Path:
    """While this file exists, the supervisor keeps child NAME stopped."""
    return data_dir / "hold" / name
