"""A supervised process that runs job handlers, so that a stuck or crashing handler can be
stopped without stopping the service.

A Sandbox owns one child Python process (jobs.sandbox_child), reused from job to job and
replaced, transparently, after it was killed or died. The two speak JSON lines (ASCII, so
UTF-8 on every OS) over the child's stdin and stdout:

    parent -> child   {"op": "run", "job_id", "request_id", "job_type", "data", "attempt",
                       "timeout_s", "log_level"}   (log_level: the parent's, as a number)
                      {"op": "cancel"}
    child -> parent   {"op": "ready", "types": {name: JobType.describe()}}  (once, at start)
                      {"op": "error", "error"}          (the job types cannot be loaded; exits)
                      {"op": "progress", "fraction", "message"}
                      {"op": "log", "level", "logger", "message"}
                      {"op": "done", "result"} | {"op": "failed", "error", "traceback"}

The parent reads the child's stdout and stderr with threads of its own (no select on pipes,
which Windows lacks), kills with psutil (no POSIX signals), and never forks. The child exits
as soon as its stdin closes, so a parent that dies leaves no orphan behind.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import psutil

from toy_platform.jobs.sandbox_child import LOG_LEVEL_ENV, encode
from toy_platform.lifeline import without_launcher
from toy_platform.tracing import tagged

logger = logging.getLogger(__name__)

CHILD_MODULE = "toy_platform.jobs.sandbox_child"
CANCEL_GRACE_S = 3.0
"""How long a handler has, once cancelled, to return before its process is killed."""
TICK_S = 0.05
"""How often `run` looks at the clock and asks whether the job was cancelled."""
START_TIMEOUT_S = 30.0
"""How long the child may take to import the job types and say it is ready."""
EXIT_WAIT_S = 5.0
STDERR_TAIL_LINES = 20

_WINDOWS_EXIT_CODES = {
    0xC0000005: "access violation",
    0xC00000FD: "stack overflow",
    0xC0000409: "stack buffer overrun",
    0xC0000017: "out of memory",
}


@dataclass(frozen=True)
class RunRequest:
    job_id: str
    request_id: str | None
    job_type: str
    data: Any
    """Any JSON value."""
    attempt: int
    """1, 2, ... (ctx.attempt)."""
    timeout_s: float


@dataclass(frozen=True)
class Outcome:
    kind: str
    """"succeeded" | "failed" | "timeout" | "cancelled" | "crashed"."""
    result: Any = None
    """The handler's return value (succeeded; or what a cancelled handler returned)."""
    error: str | None = None
    """For humans: "ValueError: bad input", "timed out after 30 s", ..."""


class SandboxError(Exception):
    """The child cannot be started (its job types cannot be loaded, ...): the message says why."""


def exit_status(code: int | None) -> str:
    """'exit code N', with what N means when it says more: a signal, a Windows status."""
    if code is None:
        return "exit code unknown"
    if code < 0 and sys.platform != "win32":
        try:
            return f"exit code {code}, {signal.Signals(-code).name}"
        except ValueError:
            return f"exit code {code}, signal {-code}"
    if sys.platform == "win32" and code >= 0xC0000000:
        name = _WINDOWS_EXIT_CODES.get(code)
        return f"exit code {code:#x}" + (f", {name}" if name else "")
    return f"exit code {code}"


def describe_exit(code: int | None) -> str:
    """'the job's process died (exit code N[, what N means])'."""
    return f"the job's process died ({exit_status(code)})"


def kill_tree(pid: int, wait_s: float = EXIT_WAIT_S) -> None:
    """Kill process PID and all its descendants (found before any is killed); wait up to
    WAIT_S until they are dead (a zombie nobody reaps yet counts as dead)."""
    try:
        process = psutil.Process(pid)
        processes = [process, *process.children(recursive=True)]
    except psutil.Error:
        return
    for each in processes:
        try:
            each.kill()
        except psutil.Error:
            pass
    deadline = time.monotonic() + wait_s
    while processes and time.monotonic() < deadline:
        processes = [p for p in processes if not _dead(p)]
        if processes:
            time.sleep(0.01)


def _dead(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _child_env() -> dict[str, str]:
    """This process's environment, with its sys.path put first on the child's PYTHONPATH, so
    the child imports the same toy_platform and job modules (a checkout, tests/) as we do."""
    env = dict(os.environ)
    prefixes = {
        os.path.normcase(os.path.abspath(p))
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    }
    paths: list[str] = []
    for entry in sys.path:
        path = os.path.abspath(entry or os.getcwd())
        normal = os.path.normcase(path)
        if any(normal == p or normal.startswith(p + os.sep) for p in prefixes):
            continue  # the interpreter's own (stdlib, site-packages): the child has them
        if path not in paths:
            paths.append(path)
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env[LOG_LEVEL_ENV] = str(logger.getEffectiveLevel())
    return env


class _Child:
    """One child process, with the threads that read its stdout (into `messages`) and its
    stderr (into the log, with the IDs of the job it runs)."""

    def __init__(self, name: str, modules: tuple[str, ...]) -> None:
        argv, env = without_launcher([sys.executable, "-m", CHILD_MODULE, *modules], _child_env())
        self.name = name
        self.started = time.monotonic()
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.types: dict[str, dict[str, Any]] = {}
        self.tags: tuple[str | None, str | None] = (None, None)
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._write_lock = threading.Lock()
        self.process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # No console window for it on Windows (and no Ctrl+C from ours: we stop it).
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
        self.pid = self.process.pid
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(
            target=self._read_messages,
            args=(self.process.stdout,),
            name=f"{name}-{self.pid}-out",
            daemon=True,
        ).start()
        self._stderr_reader = threading.Thread(
            target=self._read_stderr,
            args=(self.process.stderr,),
            name=f"{name}-{self.pid}-err",
            daemon=True,
        )
        self._stderr_reader.start()

    def send(self, message: dict[str, Any]) -> None:
        self.send_line(encode(message))

    def send_line(self, line: bytes) -> None:
        """Write LINE to the child; a child that is gone is noticed by its stdout's end."""
        stdin = self.process.stdin
        assert stdin is not None
        with self._write_lock:
            try:
                stdin.write(line)
                stdin.flush()
            except (OSError, ValueError):
                pass

    def exit_code(self) -> int | None:
        """The child's exit code once it has ended (waiting a little: its stdout ends first),
        its last stderr lines read."""
        try:
            code: int | None = self.process.wait(EXIT_WAIT_S)
        except subprocess.TimeoutExpired:
            kill_tree(self.pid)
            code = self.process.poll()
        self._stderr_reader.join(1.0)
        return code

    def kill(self) -> None:
        kill_tree(self.pid)
        try:
            self.process.wait(EXIT_WAIT_S)
        except subprocess.TimeoutExpired:
            logger.error(
                "%s: process %d does not end after being killed",
                self.name,
                self.pid,
                extra={"event": "sandbox_unkillable", "pid": self.pid},
            )
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass

    def _read_messages(self, stream: IO[bytes]) -> None:
        for raw in stream:
            try:
                message = json.loads(raw)
            except ValueError:
                logger.warning(
                    "%s: process %d wrote a line that is not a message: %.200r",
                    self.name,
                    self.pid,
                    raw,
                    extra={"event": "sandbox_bad_line"},
                )
                continue
            if isinstance(message, dict):
                self.messages.put(message)
        self.messages.put({"op": "eof"})

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()
            self.stderr_tail.append(line)
            with tagged(*self.tags):
                logger.info(
                    "%s (PID %d) stderr: %s",
                    self.name,
                    self.pid,
                    line,
                    extra={"event": "sandbox_stderr", "pid": self.pid},
                )


class Sandbox:
    """One child Python process that runs handlers one at a time, reused across jobs and
    replaced after a kill.

    One caller at a time (each worker thread owns its Sandbox); `close` may be called from
    another thread."""

    def __init__(self, modules: tuple[str, ...] = (), name: str = "sandbox") -> None:
        self.modules = tuple(modules)
        self.name = name
        self._lock = threading.Lock()  # one run (or types) at a time
        self._state_lock = threading.Lock()  # self._child and self._closed, for close()
        self._child: _Child | None = None
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The child's PID, None when there is none now."""
        child = self._child
        return child.pid if child is not None else None

    def types(self) -> dict[str, dict[str, Any]]:
        """The job types the child loaded: name -> JobType.describe() (starts it if needed).

        Raises SandboxError when the child cannot be started."""
        with self._lock:
            return dict(self._ready_child().types)

    def run(
        self,
        request: RunRequest,
        on_progress: Callable[[float, str], None],
        cancelled: Callable[[], bool],
    ) -> Outcome:
        """Run REQUEST in the child and supervise it until it ends: its progress goes to
        ON_PROGRESS; CANCELLED is asked every tick. The timeout counts from when the child
        (started first if needed) is handed the job."""
        with self._lock, tagged(request.job_id, request.request_id):
            try:
                line = encode(
                    {
                        "op": "run",
                        "job_id": request.job_id,
                        "request_id": request.request_id,
                        "job_type": request.job_type,
                        "data": request.data,
                        "attempt": request.attempt,
                        "timeout_s": request.timeout_s,
                        "log_level": logger.getEffectiveLevel(),
                    }
                )
            except (TypeError, ValueError) as exc:
                return Outcome("failed", error=f"the job's data is not JSON: {exc}")
            try:
                child = self._ready_child()
            except SandboxError as exc:
                return Outcome("failed", error=str(exc))
            child.tags = (request.job_id, request.request_id)
            try:
                return self._supervise(child, line, request, on_progress, cancelled)
            except BaseException:
                self._discard(child, "its supervision failed")  # mid-job: useless now
                raise
            finally:
                child.tags = (None, None)

    def close(self) -> None:
        """Stop the child (and its descendants); the Sandbox runs nothing more."""
        with self._state_lock:
            self._closed = True
            child, self._child = self._child, None
        if child is not None:
            logger.info(
                "%s: closing, stopping process %d",
                self.name,
                child.pid,
                extra={"event": "sandbox_closed", "pid": child.pid},
            )
            child.kill()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _supervise(
        self,
        child: _Child,
        line: bytes,
        request: RunRequest,
        on_progress: Callable[[float, str], None],
        cancelled: Callable[[], bool],
    ) -> Outcome:
        child.send_line(line)
        started = time.monotonic()
        deadline = started + request.timeout_s
        cancel_sent: float | None = None
        asked_at = started
        wait = TICK_S
        while True:
            try:
                message = child.messages.get(timeout=max(wait, 0.0))
            except queue.Empty:
                pass
            else:
                outcome = self._handle(child, message, on_progress, cancel_sent is not None)
                if outcome is not None:
                    return outcome
            now = time.monotonic()
            if now >= deadline:
                self._discard(child, f"the job timed out after {request.timeout_s:g} s")
                return Outcome("timeout", error=f"timed out after {request.timeout_s:g} s")
            if cancel_sent is None:
                if now - asked_at >= TICK_S:
                    asked_at = now
                    if cancelled():
                        child.send({"op": "cancel"})
                        cancel_sent = now
                        logger.info(
                            "%s: the job was cancelled; its handler has %g s to stop",
                            self.name,
                            CANCEL_GRACE_S,
                            extra={"event": "sandbox_cancel_sent"},
                        )
            elif now - cancel_sent >= CANCEL_GRACE_S:
                why = f"the handler did not stop within {CANCEL_GRACE_S:g} s of the cancel"
                self._discard(child, why)
                return Outcome("cancelled", error=f"stopped by force: {why}")
            next_check = cancel_sent + CANCEL_GRACE_S if cancel_sent else asked_at + TICK_S
            wait = min(deadline, next_check) - now

    def _handle(
        self,
        child: _Child,
        message: dict[str, Any],
        on_progress: Callable[[float, str], None],
        cancelling: bool,
    ) -> Outcome | None:
        op = message.get("op")
        if op == "progress":
            try:
                on_progress(float(message.get("fraction") or 0.0), str(message.get("message", "")))
            except Exception:
                logger.exception(
                    "%s: reporting the job's progress failed",
                    self.name,
                    extra={"event": "sandbox_progress_failed"},
                )
        elif op == "log":
            self._log_child_line(message)
        elif op == "done":
            return Outcome("cancelled" if cancelling else "succeeded", result=message.get("result"))
        elif op == "failed":
            error = str(message.get("error") or "the handler failed")
            trace = str(message.get("traceback") or "").rstrip()
            logger.warning(
                "%s: the job's handler failed: %s%s",
                self.name,
                error,
                f"\n{trace}" if trace else "",
                extra={"event": "job_handler_failed"},
            )
            return Outcome("cancelled" if cancelling else "failed", error=error)
        elif op == "eof":
            code = child.exit_code()
            self._discard(child, None)
            if self._closed:
                return Outcome("crashed", error="the sandbox was closed while the job ran")
            error = describe_exit(code)
            tail = "\n".join(child.stderr_tail)
            logger.warning(
                "%s: %s%s",
                self.name,
                error,
                f"; the end of its stderr:\n{tail}" if tail else "",
                extra={"event": "sandbox_crashed", "pid": child.pid, "exit_code": code},
            )
            return Outcome("crashed", error=error)
        return None

    def _log_child_line(self, message: dict[str, Any]) -> None:
        level = logging.getLevelName(str(message.get("level", "INFO")))
        logger.log(
            level if isinstance(level, int) else logging.INFO,
            "%s",
            message.get("message", ""),
            extra={"event": "job_log", "job_logger": message.get("logger")},
        )

    def _ready_child(self) -> _Child:
        """The running child, or a new one once it has said it is ready."""
        with self._state_lock:
            if self._closed:
                raise SandboxError(f"{self.name} is closed")
            child = self._child
            if child is not None:
                code = child.process.poll()
                if code is None:
                    return child
                logger.warning(
                    "%s: process %d died between jobs (%s)",
                    self.name,
                    child.pid,
                    exit_status(code),
                    extra={"event": "sandbox_died_idle", "pid": child.pid, "exit_code": code},
                )
            child = self._child = _Child(self.name, self.modules)
        try:
            self._await_ready(child)
        except BaseException:
            self._discard(child, None)
            raise
        return child

    def _await_ready(self, child: _Child) -> None:
        deadline = child.started + START_TIMEOUT_S
        while True:
            try:
                message = child.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise SandboxError(
                    f"{self.name}: the job's process did not start within {START_TIMEOUT_S:g} s"
                    f" (importing {', '.join(self.modules) or 'the job types'})"
                ) from None
            op = message.get("op")
            if op == "ready":
                child.types = dict(message.get("types") or {})
                logger.info(
                    "%s: started process %d in %.3f s (job types: %s)",
                    self.name,
                    child.pid,
                    time.monotonic() - child.started,
                    ", ".join(sorted(child.types)),
                    extra={"event": "sandbox_started", "pid": child.pid},
                )
                return
            if op == "log":
                self._log_child_line(message)
            elif op == "error":
                raise SandboxError(f"the job types cannot be loaded: {message.get('error')}")
            elif op == "eof":
                code = child.exit_code()
                tail = "\n".join(child.stderr_tail)
                last = f": {tail.splitlines()[-1]}" if tail else ""
                raise SandboxError(
                    f"{self.name}: the job's process exited while starting"
                    f" ({exit_status(code)}){last}"
                )

    def _discard(self, child: _Child, why: str | None) -> None:
        """Kill CHILD (a next run starts a new one); WHY: why it is killed, for the log."""
        with self._state_lock:
            if self._child is child:
                self._child = None
        if why is not None:
            logger.warning(
                "%s: killing process %d: %s",
                self.name,
                child.pid,
                why,
                extra={"event": "sandbox_killed", "pid": child.pid},
            )
        child.kill()
