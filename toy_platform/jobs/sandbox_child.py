"""The sandbox's child process: runs job handlers one at a time for jobs.sandbox.

Started as `python -m toy_platform.jobs.sandbox_child MODULE...`. It imports the job types
(`load_job_types(MODULES)`), says `{"op": "ready", "types": {...}}` on its stdout (or
`{"op": "error", "error": ...}` and exits) and then runs what its stdin asks, one JSON line a
message (see jobs.sandbox for the protocol). It exits as soon as its stdin closes: the parent
closed it or died, on every OS.

Only toy_platform.jobs.types and the job modules are imported here: no Flask, no services.
The protocol has the process's real stdout to itself; what handlers print goes to stderr.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

PROGRESS_INTERVAL_S = 0.1
"""At most ~10 progress messages a second; the last one always goes."""
MAX_PROGRESS_MESSAGE = 200
EXIT_CANNOT_LOAD = 2
LOG_LEVEL_ENV = "TOY_PLATFORM_SANDBOX_LOG_LEVEL"

Message = dict[str, Any]


def encode(message: Message) -> bytes:
    """MESSAGE as one protocol line: strict JSON (no NaN), ASCII, so UTF-8 on every OS.

    Raises TypeError or ValueError when MESSAGE holds something that is not JSON."""
    return (json.dumps(message, allow_nan=False, separators=(",", ":")) + "\n").encode("ascii")


class Channel:
    """Writes protocol lines to the parent, whole lines only, from any thread."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        self.send_line(encode(message))

    def send_line(self, line: bytes) -> None:
        with self._lock:
            try:
                self._stream.write(line)
                self._stream.flush()
            except (OSError, ValueError):
                _parent_gone()


class ProgressThrottle:
    """Sends progress at most once per PROGRESS_INTERVAL_S; one held back is sent when its
    time comes (by a thread of its own) or on flush(), so the last one always arrives."""

    def __init__(self, channel: Channel, interval_s: float = PROGRESS_INTERVAL_S) -> None:
        self._channel = channel
        self._interval_s = interval_s
        self._cond = threading.Condition()
        self._pending: tuple[float, str] | None = None
        self._last_sent = -math.inf
        self._thread: threading.Thread | None = None

    def offer(self, fraction: float, message: str) -> None:
        with self._cond:
            if self._pending is None and time.monotonic() - self._last_sent >= self._interval_s:
                self._send((fraction, message))
                return
            self._pending = (fraction, message)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._send_held_back, name="progress", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def reset(self) -> None:
        """A new job: its first report goes at once."""
        with self._cond:
            self._pending = None
            self._last_sent = -math.inf

    def flush(self) -> None:
        with self._cond:
            if self._pending is not None:
                self._send(self._pending)

    def _send(self, progress: tuple[float, str]) -> None:
        self._pending = None
        self._last_sent = time.monotonic()
        self._channel.send({"op": "progress", "fraction": progress[0], "message": progress[1]})

    def _send_held_back(self) -> None:
        with self._cond:
            while True:
                if self._pending is None:
                    self._cond.wait()
                    continue
                due_in = self._last_sent + self._interval_s - time.monotonic()
                if due_in > 0:
                    self._cond.wait(due_in)
                    continue
                self._send(self._pending)


class ParentLogHandler(logging.Handler):
    """Sends this process's log records to the parent, which logs them with the job's IDs."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            self._channel.send(
                {"op": "log", "level": record.levelname, "logger": record.name, "message": text}
            )
        except Exception:
            self.handleError(record)


class Context:
    """What a handler gets beside its data (the JobContext protocol of jobs.types)."""

    def __init__(
        self,
        job_id: str,
        attempt: int,
        cancel: threading.Event,
        throttle: ProgressThrottle,
        log: logging.LoggerAdapter[logging.Logger],
    ) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.log = log
        self._cancel = cancel
        self._throttle = throttle

    def progress(self, fraction: float, message: str = "") -> None:
        """Report how far the job is: FRACTION from 0 to 1 (clamped), MESSAGE (200 chars)."""
        value = float(fraction)
        value = 0.0 if math.isnan(value) else min(1.0, max(0.0, value))
        self._throttle.offer(value, str(message)[:MAX_PROGRESS_MESSAGE])

    @property
    def cancelled(self) -> bool:
        """True once the job was asked to stop: return (or raise) soon."""
        return self._cancel.is_set()


def error_text(exc: BaseException) -> str:
    """'TypeName: message', or the type's name alone when there is no message."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_one(
    request: Message,
    cancel: threading.Event,
    handlers: dict[str, Callable[[Any, Any], Any]],
    throttle: ProgressThrottle,
    log: logging.LoggerAdapter[logging.Logger],
) -> bytes:
    """Run the handler REQUEST names; the protocol line that ends the run (done or failed)."""
    name = request.get("job_type")
    handler = handlers.get(name) if isinstance(name, str) else None
    if handler is None:
        known = ", ".join(sorted(handlers)) or "none"
        return encode(
            {
                "op": "failed",
                "error": f"unknown job type {name!r} (this process has: {known})",
                "traceback": "",
            }
        )
    level = request.get("log_level")
    if isinstance(level, int):  # the parent's level now: no lines it would drop
        logging.getLogger().setLevel(level)
    throttle.reset()
    ctx = Context(
        str(request.get("job_id")), int(request.get("attempt") or 1), cancel, throttle, log
    )
    try:
        result = handler(request.get("data"), ctx)
    except BaseException as exc:  # SystemExit too: a handler must not end the process
        throttle.flush()
        return encode(
            {"op": "failed", "error": error_text(exc), "traceback": traceback.format_exc()}
        )
    throttle.flush()
    try:
        return encode({"op": "done", "result": result})
    except (TypeError, ValueError, RecursionError) as exc:
        return encode(
            {
                "op": "failed",
                "error": f"the handler returned a value that is not JSON: {error_text(exc)}",
                "traceback": "",
            }
        )


def _read_commands(stdin: BinaryIO, runs: queue.Queue[tuple[Message, threading.Event]]) -> None:
    """Reads the parent's messages: runs go to RUNS, each with the event its cancel sets."""
    cancel = threading.Event()
    for raw in stdin:
        try:
            message = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        if message.get("op") == "run":
            cancel = threading.Event()
            runs.put((message, cancel))
        elif message.get("op") == "cancel":
            cancel.set()
    _parent_gone()


def _parent_gone() -> None:
    """Stdin closed (or stdout broken): the parent closed us or died. Leave at once, even in
    the middle of a handler: nobody is waiting for its result."""
    try:
        sys.stderr.flush()
    finally:
        os._exit(0)


def _take_stdout() -> BinaryIO:
    """The real stdout, for the protocol alone; fd 1 (print, C code, child processes) then
    writes to stderr, so nothing a handler prints can break a protocol line."""
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), 1)
    if sys.platform == "win32":  # child processes inherit the Win32 handle, not fd 1
        import ctypes
        import msvcrt

        std_output_handle = -11
        ctypes.windll.kernel32.SetStdHandle(std_output_handle, msvcrt.get_osfhandle(1))
    sys.stdout = sys.stderr
    return protocol


def main(argv: list[str] | None = None) -> int:
    modules = tuple(argv if argv is not None else sys.argv[1:])
    # Ctrl+C (Ctrl+Break) at a console reaches the whole group: the parent decides, not us.
    for name in ("SIGINT", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    import faulthandler

    faulthandler.enable()  # a segfault's stack goes to stderr, which the parent logs

    channel = Channel(_take_stdout())
    root = logging.getLogger()
    root.addHandler(ParentLogHandler(channel))
    level = os.environ.get(LOG_LEVEL_ENV, "")  # the parent's: no lines it would drop
    root.setLevel(int(level) if level.isdigit() else logging.INFO)

    from toy_platform.jobs.types import load_job_types

    try:
        types = load_job_types(modules)
    except Exception as exc:
        channel.send({"op": "error", "error": str(exc) or error_text(exc)})
        return EXIT_CANNOT_LOAD
    channel.send({"op": "ready", "types": {name: t.describe() for name, t in types.items()}})

    runs: queue.Queue[tuple[Message, threading.Event]] = queue.Queue()
    threading.Thread(
        target=_read_commands, args=(sys.stdin.buffer, runs), name="commands", daemon=True
    ).start()
    handlers = {name: t.handler for name, t in types.items()}
    throttle = ProgressThrottle(channel)
    log = logging.LoggerAdapter(logging.getLogger("toy_platform.job"), {})
    while True:
        request, cancel = runs.get()
        channel.send_line(run_one(request, cancel, handlers, throttle, log))


if __name__ == "__main__":
    sys.exit(main())
