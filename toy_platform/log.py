"""Logging, configured once per process: JSON lines to a rotated file, readable console."""

from __future__ import annotations

import json
import logging
import logging.config
import logging.handlers
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from pythonjsonlogger.orjson import OrjsonFormatter

from toy_platform.config import SERVICES_BY_PATH, Settings
from toy_platform.tracing import current_job_id, current_request_id

LOG_SERVICES = (*SERVICES_BY_PATH, "supervisor", "web", "dashboard", "worker")
"""Each Celery worker writes worker-<its host name>.log (see worker_log_name)."""


class LogDirError(Exception):
    """The log directory cannot be used; the message names it and what to do."""


class ContextFilter(logging.Filter):
    """Stamps each record with the service name and the current request/job IDs."""

    def __init__(self, service: str, fields: dict[str, str] | None = None) -> None:
        super().__init__()
        self.service = service
        self.fields = fields or {}

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        for name, value in self.fields.items():
            setattr(record, name, value)
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id.get()
        if not getattr(record, "job_id", None):
            record.job_id = current_job_id.get()
        if not getattr(record, "event", None):
            record.event = record.getMessage()
        return True


EACH_LINE = "each_line"
"""The extra field of a record that stands for several lines (see log_each)."""


def log_each(
    logger: logging.Logger,
    lines: Sequence[dict[str, Any]],
    summary: str,
    level: int = logging.INFO,
    **shared: Any,
) -> None:
    """Log LINES that happen together (one a job, for a batch of jobs) as one record, which
    the log file and the console still get as one line each.

    A job keeps its own line for every step it takes, found by its job and request ID as
    before; but one record costs what one line did, and under load the seven records each
    job made were a sixth of the services' CPU. Each line is a dict of its own fields
    ("event", "message", "job_id", "request_id", ...); SHARED are the fields they all have,
    and SUMMARY is the message of the record itself, for a handler that does not expand it.
    """
    if lines and logger.isEnabledFor(level):
        logger.log(level, summary, extra={**shared, EACH_LINE: list(lines)})


def lines_of(fields: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The lines a record (its fields) stands for, or None for a record of one line."""
    each = fields.get(EACH_LINE)
    if isinstance(each, list) and each and all(isinstance(line, dict) for line in each):
        return each
    return None


class JsonLineFormatter(OrjsonFormatter):
    """A record as one JSON line, through orjson (twice as fast as the json module, on every
    line a busy service writes); a record orjson refuses (an integer beyond 64 bits) is
    written by the json module instead of being lost. A record of several lines (log_each)
    is a JSON line each, with the record's fields and the line's own."""

    def serialize_log_record(self, log_data: dict[str, Any]) -> str:
        each = lines_of(log_data)
        if each is None:
            return str(super().serialize_log_record(log_data))
        del log_data[EACH_LINE]
        serialize = super().serialize_log_record
        return "\n".join(serialize(log_data | line) for line in each)

    def jsonify_log_record(self, log_data: Any) -> str:
        try:
            return str(super().jsonify_log_record(log_data))
        except (TypeError, orjson.JSONEncodeError):
            return json.dumps(log_data, default=str, ensure_ascii=False)


MAX_WAITING_LINES = 10_000
"""Lines that may wait for a log file's writer; past them a thread waits its turn to write."""


class SizeRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Rotates once the file has reached maxBytes.

    The standard handler formats every record a second time just to measure it; on a busy
    service that doubles the cost of logging. It also formats and writes while it holds its
    lock, so on a busy service every thread that logs queued behind the one writing (and that
    one, after its write, behind the GIL). Here a thread formats its line, adds it to the
    lines waiting, and returns if another thread is writing: that one writes every waiting
    line, in order, with one write and one flush, until none waits. And when a rotation
    fails (on Windows a file another process holds open cannot be renamed), the standard
    handler reports an error for every record after it; this one keeps writing to the
    current file and tries again later. It counts the bytes it writes instead of asking the
    file where it stands before every write (a system call each time).
    """

    retry_rollover_after_s = 10.0
    _rollover_failed_at: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting: list[tuple[str, logging.LogRecord]] = []
        self._waiting_lock = threading.Lock()
        self._writing = False
        self._size = 0  # bytes in the current file, once it is open

    def _open(self) -> Any:
        stream = super()._open()
        self._size = stream.tell()  # opened to append: at its end
        return stream

    def handle(self, record: logging.LogRecord) -> Any:
        passed = self.filter(record)
        if passed and (line := self._line(record)) is not None:
            with self._waiting_lock:
                self._waiting.append((line, record))
                if self._writing and len(self._waiting) < MAX_WAITING_LINES:
                    return passed  # the thread writing now writes this one too
                writer, self._writing = not self._writing, True
            if writer:
                self._write_waiting()
            else:  # a writer held up (a slow disk): wait for it, as the standard handler does
                self._write_batch()
        return passed

    def _write_waiting(self) -> None:
        """Write the waiting lines, a batch at a time, until none waits."""
        try:
            while True:
                self._write_batch()
                with self._waiting_lock:  # none waits: writing ends in the same step
                    if not self._waiting:
                        self._writing = False
                        return
        except BaseException:
            with self._waiting_lock:  # the next record's thread writes what is left
                self._writing = False
            raise

    def _write_batch(self) -> None:
        """Write the lines waiting, taken under the file's lock so that batches go in the
        order their lines came."""
        with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
            with self._waiting_lock:
                batch, self._waiting = self._waiting, []
            if batch:
                self._write("".join(line for line, _ in batch), batch[-1][1])

    def flush(self) -> None:
        """Write the lines waiting (at shutdown, when no record follows them), then flush."""
        self._write_batch()
        super().flush()

    def emit(self, record: logging.LogRecord) -> None:
        if (line := self._line(record)) is not None:
            self._write(line, record)

    def _line(self, record: logging.LogRecord) -> str | None:
        try:
            return self.format(record) + self.terminator
        except RecursionError:
            raise
        except Exception:  # as the standard emit does: reported, never raised into the caller
            self.handleError(record)
            return None

    def _write(self, line: str, record: logging.LogRecord) -> None:
        """FileHandler.emit, with the line formatted already."""
        try:
            if self.shouldRollover(record):
                self.doRollover()
            if self.stream is None and (self.mode != "w" or not getattr(self, "_closed", False)):
                self.stream = self._open()
            if self.stream:
                self.stream.write(line)
                self.stream.flush()
                self._size += _written_size(line, self.encoding)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: N802 - overrides
        if self.maxBytes <= 0:
            return False
        failed_at = self._rollover_failed_at
        if failed_at is not None and time.monotonic() - failed_at < self.retry_rollover_after_s:
            return False
        if self.stream is None:
            self.stream = self._open()
        return self._size >= self.maxBytes

    def doRollover(self) -> None:  # noqa: N802 - overrides
        try:
            super().doRollover()
        except OSError:
            self._rollover_failed_at = time.monotonic()
            if self.stream is None:  # closed for the rename: write on where it was
                self.stream = self._open()
        else:
            self._rollover_failed_at = None


_NEWLINE_EXTRA = len(os.linesep) - 1  # a text file writes "\n" as "\r\n" on Windows


def _written_size(text: str, encoding: str | None) -> int:
    """The bytes TEXT takes in a text file (nearly: an encoding's own marks aside)."""
    size = len(text) if text.isascii() else len(text.encode(encoding or "utf-8", "replace"))
    return size + _NEWLINE_EXTRA * text.count("\n") if _NEWLINE_EXTRA else size


class ConsoleFormatter(logging.Formatter):
    """A readable line, ending with the request and job it belongs to when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s [%(service)s] %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        each = lines_of(record.__dict__)
        if each is None:
            return self._one_line(record)
        return "\n".join(self._one_line(_line_record(record, line)) for line in each)

    def _one_line(self, record: logging.LogRecord) -> str:
        saved, record.exc_text = record.exc_text, None  # not cached for the file's formatter
        try:
            line = super().format(record)
        finally:
            record.exc_text = saved
        ids = [
            f"{name}={value}"
            for name in ("request_id", "job_id")
            if (value := getattr(record, name, None))
        ]
        return f"{line} ({', '.join(ids)})" if ids else line

    def formatException(self, ei: Any) -> str:  # noqa: N802 - overrides
        """One line on the console; the whole traceback is in the service's log file."""
        return f"  {ei[0].__name__}: {ei[1]} (the traceback is in the log file)"


def _line_record(record: logging.LogRecord, line: dict[str, Any]) -> logging.LogRecord:
    """One line of a record of several (log_each), as a record of its own."""
    message = line.get("message")
    fields = record.__dict__ | line | {EACH_LINE: None}
    if message is not None:
        fields |= {"msg": str(message), "args": ()}
    return logging.makeLogRecord(fields)


def skip_unused_record_fields() -> None:
    """Our lines never name their source file, thread or process: a service need not gather
    them for every record (the logging HOWTO's "Optimization" knobs). Process-wide, so only
    for the services' own processes, not where other code's formatters may want them."""
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


def log_file(settings: Settings, service: str) -> Any:
    return settings.log_dir / f"{service}.log"


def worker_log_name(nodename: str) -> str:
    """`worker-<host>`: the log of the Celery worker NODENAME (name@host), one per worker,
    so that workers sharing a log dir (one machine, or a network share) never share a file."""
    safe = re.sub(r"[^A-Za-z0-9@._-]+", "_", nodename)
    return f"worker-{safe}"


def check_log_dir(log_dir: Path, service: str) -> None:
    """Make LOG_DIR if needed and make sure SERVICE can append to its log there.

    Raises LogDirError with a one-line message; without this check, the first log record
    would fail inside the logging module and print a traceback on stderr.
    """
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise _log_dir_error(log_dir, "it is not a directory") from exc
    except OSError as exc:
        raise _log_dir_error(log_dir, f"it cannot be created ({_reason(exc)})") from exc
    path = log_dir / f"{service}.log"
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise _log_dir_error(log_dir, f"{path.name} cannot be written ({_reason(exc)})") from exc


def _log_dir_error(log_dir: Path, problem: str) -> LogDirError:
    return LogDirError(
        f"cannot write logs to {log_dir}: {problem}. Fix it, or choose another directory"
        " with --log-dir DIR (or TOY_PLATFORM_LOG_DIR)"
    )


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def configure_logging(
    settings: Settings,
    service: str,
    console: bool = True,
    log_name: str | None = None,
    fields: dict[str, str] | None = None,
) -> None:
    """Send this process's logs to <log_dir>/<LOG_NAME or service>.log as JSON and to stderr
    readably; FIELDS are added to every record (a worker's host name).

    Raises LogDirError when the log directory cannot be used.
    """
    log_name = log_name or service
    check_log_dir(settings.log_dir, log_name)
    handlers: dict[str, dict[str, Any]] = {
        "file": {
            "()": SizeRotatingFileHandler,
            "filename": str(log_file(settings, log_name)),
            "maxBytes": settings.log_max_bytes,
            "backupCount": settings.log_backup_count,
            "encoding": "utf-8",
            "delay": True,
            "formatter": "json",
            "filters": ["context"],
        },
    }
    if console:
        handlers["console"] = {
            "class": "logging.StreamHandler",
            "formatter": "console",
            "level": settings.console_log_level or settings.log_level,
            "filters": ["context"],
        }
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"context": {"()": ContextFilter, "service": service, "fields": fields}},
            "formatters": {
                "json": {
                    "()": JsonLineFormatter,
                    "fmt": "%(levelname)s %(service)s %(request_id)s %(job_id)s %(event)s"
                    " %(message)s %(name)s",
                    "rename_fields": {"levelname": "level", "name": "logger"},
                    "timestamp": "time",
                },
                "console": {"()": ConsoleFormatter},
            },
            "handlers": handlers,
            "root": {"level": settings.log_level, "handlers": list(handlers)},
            "loggers": {"waitress.queue": {"level": "ERROR"}},
        }
    )
