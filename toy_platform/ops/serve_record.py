"""The record a `toy-platform serve` keeps in its data dir (supervisor.json), read by others.

`status`, `doctor`, `chaos` and `logs` learn from it where a running serve's services answer
and where it writes logs, whether serve itself still runs (or is frozen, or gone), and which
process each child is, so that nothing signals a process that only reuses a recorded pid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

import psutil

from toy_platform.clock import parse_time
from toy_platform.config import SERVICES
from toy_platform.health import Record

# serve rewrites its record at least every 2 s; older than this, serve is not doing its job.
STALE_AFTER_S = 6.0
# psutil's create_time can move by up to a second between processes (boot time rounding).
CREATE_TIME_TOLERANCE_S = 1.0
# `started_at` (whole seconds, so up to 1 s early, on top of the above) is the fallback for
# records without a child's create_time.
STARTED_AT_TOLERANCE_S = 3.0
OUR_SCRIPTS = {"toy-platform": None, "toy-platform-serve": "serve"}
ADDRESS_FIELDS = (
    "host",
    "auth_port",
    "core_port",
    "middleware_port",
    "web_port",
    "dashboard_port",
)
DIR_FIELDS = ("log_dir", "config_dir")


class NotThatProcess(Exception):
    """The pid in a record is not (or no longer) the process the record describes."""


@dataclass(frozen=True)
class ServeState:
    """Whether the serve that wrote a record still does its job, and if not, why."""

    state: Literal["running", "frozen", "gone"]
    pid: int | None
    updated_at: str | None
    reason: str | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def alive(self) -> bool:
        """Its process exists (running or frozen): its children probably still run."""
        return self.state != "gone"


# -- is it still that process? ---------------------------------------------------


def our_command(args: list[str]) -> str | None:
    """The toy-platform subcommand a command line runs ("serve", "core", "dashboard", ...).

    None when it is not one of our programs: `python -m toy_platform X`, the `toy-platform`
    and `toy-platform-serve` scripts (any OS), and our Streamlit dashboard.
    """
    for before, arg, after in zip(args, args[1:], [*args[2:], ""], strict=False):
        if before == "-m" and arg == "toy_platform":
            return after or "?"
    for index, arg in enumerate(args[:2]):
        script = _path_parts(arg)[-1].removesuffix(".exe")
        if script in OUR_SCRIPTS:
            rest = args[index + 1 : index + 2]
            return OUR_SCRIPTS[script] or (rest[0] if rest else "?")
    if any("dashboard_streamlit" in _path_parts(arg) for arg in args):
        return "dashboard"
    return None


def _path_parts(arg: str) -> list[str]:
    """The parts of a path written for any OS (`/` or `\\`)."""
    return re.split(r"[\\/]", arg.lower())


def verify_process(
    pid: Any, command: str, create_time: Any = None, started_at: Any = None
) -> psutil.Process:
    """The process PID, checked to be our COMMAND started when the record says.

    The start time is the recorded create_time, else `started_at` (whole seconds); when the
    record has neither, the command line alone decides. Raises NotThatProcess saying why not.
    """
    if not isinstance(pid, int) or pid <= 0:
        raise NotThatProcess(f"the record has no pid for it ({pid!r})")
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            raise NotThatProcess(f"pid {pid} has exited")
        started = process.create_time()
        args = process.cmdline()
    except psutil.NoSuchProcess:
        raise NotThatProcess(f"pid {pid} is not running") from None
    except psutil.AccessDenied:
        raise NotThatProcess(f"pid {pid} belongs to another user; cannot check it") from None
    if not args:
        raise NotThatProcess(f"pid {pid} shows no command line (a system process?)")
    ran = our_command(args)
    if ran != command:
        shown = " ".join(" ".join(args).split())[:120] or "?"
        raise NotThatProcess(f"pid {pid} is now another program ({shown}), not {command}")
    _check_start(pid, started, create_time, started_at)
    return process


def _check_start(pid: int, started: float, create_time: Any, started_at: Any) -> None:
    if isinstance(create_time, (int, float)) and not isinstance(create_time, bool):
        expected, tolerance = float(create_time), CREATE_TIME_TOLERANCE_S
    elif (moment := parse_time(started_at)) is not None:
        expected, tolerance = moment.timestamp(), STARTED_AT_TOLERANCE_S
    else:
        return
    if abs(started - expected) > tolerance:
        raise NotThatProcess(
            f"pid {pid} started at {_clock(started)}, not at {_clock(expected)} as recorded:"
            " it is another process that reuses the pid"
        )


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def local_clock(value: Any) -> str:
    """An ISO time as local `YYYY-MM-DD HH:MM:SS` (or the value itself when it is not one)."""
    moment = parse_time(value)
    return _clock(moment.timestamp()) if moment else str(value)


# -- serve itself ----------------------------------------------------------------


def serve_state(record: Record, now: datetime | None = None) -> ServeState:
    """Running (alive, record fresh), frozen (alive, record stale) or gone."""
    pid, updated_at = record.get("pid"), record.get("updated_at")
    updated = parse_time(updated_at)
    shown = updated_at if isinstance(updated_at, str) else None
    try:
        process = verify_process(pid, "serve", record.get("create_time"))
    except NotThatProcess as exc:
        return ServeState("gone", _int_or_none(pid), shown, str(exc))
    age = ((now or datetime.now(timezone.utc)) - updated).total_seconds() if updated else None
    if age is not None and age <= STALE_AFTER_S:
        return ServeState("running", pid, shown)
    how = _suspended_note(process)
    since = f"for {age:.0f} s" if age is not None else "at all"
    return ServeState(
        "frozen",
        pid,
        shown,
        f"pid {pid} is alive but has not updated its record {since}"
        f" (it does every 2 s){how}: it is frozen or stuck",
    )


def _suspended_note(process: psutil.Process) -> str:
    try:
        stopped = process.status() == psutil.STATUS_STOPPED
    except psutil.Error:
        return ""
    return "; the process is stopped (Ctrl+Z or SIGSTOP)" if stopped else ""


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def stopped_cleanly(record: Record) -> bool:
    """True when serve stopped every child before it went (Ctrl+C), as its last record says."""
    children = record.get("children")
    if not isinstance(children, dict):
        return True
    return all(
        isinstance(child, dict) and child.get("state") in ("stopped", "held")
        for child in children.values()
    )


def children(record: Record | None) -> dict[str, dict[str, Any]]:
    """The record's children, each a dict (malformed entries left out)."""
    found = (record or {}).get("children")
    if not isinstance(found, dict):
        return {}
    return {name: child for name, child in found.items() if isinstance(child, dict)}


def verify_child(record: Record, name: str) -> psutil.Process:
    """The live process of child NAME, checked against the record (NotThatProcess if not)."""
    child = children(record).get(name)
    if child is None:
        raise NotThatProcess(f"this serve does not run {name}")
    return verify_process(child.get("pid"), name, child.get("create_time"), child.get("started_at"))


def children_running(record: Record) -> dict[str, psutil.Process]:
    """The recorded children whose processes still run (checked, as for verify_child)."""
    running = {}
    for name in children(record):
        try:
            running[name] = verify_child(record, name)
        except NotThatProcess:
            continue
    return running


def in_use(record: Record) -> bool:
    """Serve's process, or one of its children, still runs: its addresses are current."""
    return serve_state(record).alive or bool(children_running(record))


# -- where it runs ---------------------------------------------------------------


def recorded_settings(record: Record, explicit: set[str], in_use: bool) -> dict[str, Any]:
    """Settings the record knows and the user did not give (EXPLICIT): to fill them in.

    Addresses only while the record is IN_USE (serve or one of its children still runs, so
    its services may answer there); the log and config dirs also after it stopped (its
    logs are still there).
    """
    recorded = record.get("settings")
    if not isinstance(recorded, dict):
        return {}
    fill: dict[str, Any] = {}
    for name in DIR_FIELDS:
        if name not in explicit and isinstance(recorded.get(name), str) and recorded[name]:
            fill[name] = recorded[name]
    if not in_use:
        return fill
    for name in ADDRESS_FIELDS:
        value = recorded.get(name)
        if name not in explicit and _valid_address(name, value):
            fill[name] = value
    for service in SERVICES:
        url = recorded.get(f"{service}_url")
        mine = {f"{service}_url", f"{service}_port", "host"}
        if not mine & explicit and isinstance(url, str) and url.startswith(("http:", "https:")):
            fill[f"{service}_url"] = url
    return fill


def _valid_address(name: str, value: Any) -> bool:
    if name == "host":
        return isinstance(value, str) and bool(value)
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535
