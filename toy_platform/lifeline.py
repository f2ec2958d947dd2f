"""Parents and children on every OS: starting and stopping a child, and a child of
`toy-platform serve` exiting when serve is gone (killed, crashed).

Nothing tells a process that its parent died on Windows (and on POSIX only Linux has a
signal for it), so each child looks every second whether serve's process still exists,
with the same start time (a reused PID is not serve), and exits when it does not.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from typing import NoReturn

import psutil

logger = logging.getLogger(__name__)

WATCH_INTERVAL_S = 1.0
EXIT_SUPERVISOR_GONE = 1
SAME_START_S = 0.01


def same_process(pid: int, create_time: float | None = None) -> psutil.Process | None:
    """Process PID if it is running (not a zombie) and, if given, started at CREATE_TIME."""
    try:
        process = psutil.Process(pid)
        if create_time is not None and abs(process.create_time() - create_time) > SAME_START_S:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
    except (psutil.Error, OSError):
        return None
    return process


def watch_supervisor(pid: int | None) -> threading.Thread | None:
    """Exit this process as soon as process PID (our supervisor) is gone; None: no watch."""
    if pid is None:
        return None
    supervisor = same_process(pid)
    if supervisor is None:
        _exit(pid)
    thread = threading.Thread(
        target=_watch, args=(pid, supervisor.create_time()), name="supervisor-watch", daemon=True
    )
    thread.start()
    return thread


def supervisor_pid_from_env() -> int | None:
    value = os.environ.get("TOY_PLATFORM_SUPERVISOR_PID", "")
    return int(value) if value.isdigit() else None


def _watch(pid: int, create_time: float) -> None:
    stop = threading.Event()
    while not stop.wait(WATCH_INTERVAL_S):
        if same_process(pid, create_time) is None:
            _exit(pid)


def _exit(pid: int) -> NoReturn:
    logger.error(
        "the supervisor (toy-platform serve, PID %d) is gone: exiting",
        pid,
        extra={"event": "supervisor_gone", "supervisor_pid": pid},
    )
    logging.shutdown()
    sys.stderr.flush()
    os._exit(EXIT_SUPERVISOR_GONE)


def spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a child; on Windows in its own process group, so Ctrl+Break can stop it alone."""
    argv, env = without_launcher(argv, env)
    if sys.platform == "win32":
        return subprocess.Popen(argv, env=env, creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
    return subprocess.Popen(argv, env=env)


def without_launcher(argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """ARGV and ENV that start a Python child as the real interpreter, not through a launcher.

    In a Windows venv, python.exe is a launcher that starts the base interpreter as a child
    of its own: the child's PID would be the launcher's. As multiprocessing does there, the
    base interpreter is started directly and told the venv by __PYVENV_LAUNCHER__.
    """
    base = getattr(sys, "_base_executable", sys.executable)
    in_venv = base and os.path.normcase(base) != os.path.normcase(sys.executable)
    if sys.platform == "win32" and in_venv and argv and argv[0] == sys.executable:
        return [base, *argv[1:]], {**env, "__PYVENV_LAUNCHER__": sys.executable}
    return argv, env


CTRL_BREAK_EVENT = getattr(signal, "CTRL_BREAK_EVENT", 1)  # Windows only


def ask_to_stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM; on Windows Ctrl+Break (terminate() there kills at once, no clean stop).

    Ctrl+Break reaches a child only through a console the two share: under pythonw, a
    Windows service or Task Scheduler there is none, and sending it fails. The child is
    then terminated: stopped all the same, if not cleanly."""
    if sys.platform == "win32":
        try:
            process.send_signal(CTRL_BREAK_EVENT)
            return
        except OSError as exc:
            logger.warning(
                "cannot send Ctrl+Break to pid %d (%s: no console?); terminating it",
                process.pid,
                exc,
                extra={"event": "stop_without_console", "pid": process.pid},
            )
    process.terminate()
