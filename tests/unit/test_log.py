from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import toy_platform.log as log_module
from toy_platform.config import Settings
from toy_platform.log import (
    ConsoleFormatter,
    ContextFilter,
    LogDirError,
    SizeRotatingFileHandler,
    check_log_dir,
    configure_logging,
    log_each,
    log_file,
)
from toy_platform.tracing import current_job_id, current_request_id


def console_line(message: str) -> str:
    """The console line of a record logged by the core, in the current request context."""
    record = logging.LogRecord("toy_platform.core", logging.WARNING, __file__, 1, message, (), None)
    ContextFilter("core").filter(record)
    return ConsoleFormatter().format(record)


def test_console_lines_name_the_request_and_job_only_when_there_is_one() -> None:
    outside = console_line("outside any request")
    request_token = current_request_id.set("req-1")
    job_token = current_job_id.set("job-9")
    try:
        inside = console_line("inside a request")
    finally:
        current_job_id.reset(job_token)
        current_request_id.reset(request_token)

    assert outside.endswith("WARNING [core] outside any request")
    assert inside.endswith("WARNING [core] inside a request (request_id=req-1, job_id=job-9)")


@contextmanager
def service_logging(settings: Settings, console: bool) -> Iterator[logging.Logger]:
    """Logging configured as core's process does, undone afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    configure_logging(settings, "core", console=console)
    try:
        yield logging.getLogger("toy_platform.test")
    finally:
        for handler in root.handlers[:]:
            handler.close()
            root.removeHandler(handler)
        root.setLevel(level)
        for handler in handlers:
            root.addHandler(handler)


@pytest.fixture
def service_logger(settings: Settings) -> Iterator[logging.Logger]:
    with service_logging(settings, console=False) as logger:
        yield logger


def test_the_log_file_holds_one_json_object_per_line_with_the_ids(
    service_logger: logging.Logger, settings: Settings
) -> None:
    token = current_request_id.set("req-2")
    try:
        service_logger.info("stored", extra={"event": "job_stored", "job_id": "job-3"})
    finally:
        current_request_id.reset(token)
    service_logger.info("no request here")

    lines = log_file(settings, "core").read_text().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["service"] == "core" and first["event"] == "job_stored"
    assert (first["request_id"], first["job_id"]) == ("req-2", "job-3")
    assert second["request_id"] is None and second["event"] == "no request here"


def test_lines_logged_together_are_one_record_and_a_json_line_each(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A batch's step for each of its jobs (forwarded, queued, delivered) is one record, but
    each job keeps its own line, with its IDs, in the file and on the console."""
    records: list[logging.LogRecord] = []
    with service_logging(settings, console=True) as logger:
        counter = logging.Handler()
        counter.emit = records.append  # type: ignore[method-assign]
        logger.addHandler(counter)
        log_each(
            logger,
            [
                {"message": "job queued at position 1", "job_id": "j1", "request_id": "r1"},
                {"message": "job already queued", "event": "job_again", "job_id": "j2"},
            ],
            "2 jobs given to core",
            event="job_queued",
            batch_size=2,
        )
        log_each(logger, [], "0 jobs given to core", event="job_queued")  # nothing to say
        logger.removeHandler(counter)

    assert len(records) == 1
    first, second = (
        json.loads(line) for line in log_file(settings, "core").read_text().splitlines()
    )
    assert (first["job_id"], first["request_id"], first["event"]) == ("j1", "r1", "job_queued")
    assert first["message"] == "job queued at position 1"
    assert (second["job_id"], second["request_id"], second["event"]) == ("j2", None, "job_again")
    assert first["batch_size"] == second["batch_size"] == 2
    assert first["service"] == second["service"] == "core"
    assert first["time"] == second["time"]
    assert "each_line" not in first
    console = capsys.readouterr().err.splitlines()
    assert console[0].endswith("INFO    [core] job queued at position 1 (request_id=r1, job_id=j1)")
    assert console[1].endswith("INFO    [core] job already queued (job_id=j2)")


def test_a_line_orjson_refuses_is_still_written(
    service_logger: logging.Logger, settings: Settings
) -> None:
    """orjson writes the lines, and refuses integers beyond 64 bits: such a line is not lost."""
    service_logger.info("huge", extra={"event": "big", "count": 2**70})
    service_logger.info("next", extra={"event": "small", "count": 1})
    lines = log_file(settings, "core").read_text().splitlines()
    assert [json.loads(line)["count"] for line in lines] == [2**70, 1]


def test_a_log_dir_that_is_a_file_is_named_with_the_option(tmp_path) -> None:
    log_dir = tmp_path / "logs"
    log_dir.write_text("")
    with pytest.raises(LogDirError) as caught:
        check_log_dir(log_dir, "core")
    assert str(caught.value) == (
        f"cannot write logs to {log_dir}: it is not a directory. Fix it, or choose another"
        " directory with --log-dir DIR (or TOY_PLATFORM_LOG_DIR)"
    )


def test_a_log_dir_under_a_file_is_named(tmp_path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(LogDirError, match="it is not a directory"):
        check_log_dir(tmp_path / "file" / "logs", "core")


def test_a_log_file_that_cannot_be_opened_is_named(tmp_path) -> None:
    (tmp_path / "core.log").mkdir()
    with pytest.raises(LogDirError, match=r"core\.log cannot be written \("):
        check_log_dir(tmp_path, "core")


def test_a_missing_log_dir_is_made(tmp_path) -> None:
    check_log_dir(tmp_path / "a" / "b", "web")
    assert (tmp_path / "a" / "b" / "web.log").is_file()


def test_an_error_with_a_traceback_is_one_line_on_the_console_and_whole_in_the_file(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with service_logging(settings, console=True) as logger:
        try:
            raise ValueError("users.json is not a JSON object")
        except ValueError:
            logger.exception("core could not start")

    console = capsys.readouterr().err
    assert "Traceback" not in console
    assert "core could not start" in console
    assert "ValueError: users.json is not a JSON object (the traceback is in the log file)" in (
        console
    )
    (line,) = log_file(settings, "core").read_text().splitlines()
    assert "Traceback" in json.loads(line)["exc_info"]


def test_a_rotation_the_os_refuses_leaves_logging_going_and_is_tried_again(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On Windows a log file another process holds open (a `logs --follow`, an editor)
    cannot be renamed: the handler keeps writing and rotates once it can."""
    handler = SizeRotatingFileHandler(tmp_path / "core.log", maxBytes=100, backupCount=2)
    handler.setFormatter(logging.Formatter("%(message)s"))
    refused = {"on": True}
    rotate = handler.rotate

    def rename(source: str, dest: str) -> None:
        if refused["on"]:
            raise PermissionError(13, "The process cannot access the file", source)
        rotate(source, dest)

    monkeypatch.setattr(handler, "rotate", rename)
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "x" * 60, (), None)
    for _ in range(4):
        handler.emit(record)
    assert "--- Logging error ---" not in capsys.readouterr().err
    assert (tmp_path / "core.log").read_text().count("x" * 60) == 4  # nothing lost

    refused["on"] = False
    handler.retry_rollover_after_s = 0
    handler.emit(record)
    handler.close()
    assert (tmp_path / "core.log.1").exists()
    assert (tmp_path / "core.log").read_text().count("x" * 60) == 1


class _TellCounted:
    """A log file that counts how often it is asked where it stands."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.tells = stream, 0

    def tell(self) -> int:
        self.tells += 1
        return int(self.stream.tell())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def test_the_file_handler_rotates_on_the_bytes_it_counted_without_asking_the_file(
    tmp_path,
) -> None:
    """Asking the file its position before every write was a system call a line; the handler
    counts what it writes, in bytes (a non-ASCII line takes more bytes than characters)."""
    opened: list[_TellCounted] = []

    class Counted(SizeRotatingFileHandler):
        def _open(self) -> Any:
            opened.append(_TellCounted(super()._open()))
            return opened[-1]

    handler = Counted(tmp_path / "core.log", maxBytes=100, backupCount=1, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    line = "é" * 30  # 60 bytes and a newline, 31 characters
    for _ in range(2):
        handler.handle(logging.LogRecord("t", logging.INFO, __file__, 1, line, (), None))
    assert not (tmp_path / "core.log.1").exists()  # 122 bytes: rotated before the next line
    handler.handle(logging.LogRecord("t", logging.INFO, __file__, 1, line, (), None))
    handler.close()
    assert (tmp_path / "core.log.1").read_text(encoding="utf-8").count(line) == 2
    assert (tmp_path / "core.log").read_text(encoding="utf-8").count(line) == 1
    assert [stream.tells for stream in opened] == [0, 0]


def test_a_record_is_formatted_before_the_file_handler_takes_its_lock(tmp_path) -> None:
    """Threads that log at once queue on the handler's lock only to write, not while one of
    them formats (on a busy service the one formatting waited for the GIL meanwhile)."""
    handler = SizeRotatingFileHandler(tmp_path / "core.log", maxBytes=10_000, backupCount=1)
    lock_free_while_formatting: list[bool] = []

    class Probe(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            got = threading.Thread(target=lambda: lock_free_while_formatting.append(_try(handler)))
            got.start()
            got.join(5)
            return super().format(record)

    handler.setFormatter(Probe("%(message)s"))
    handler.handle(logging.LogRecord("t", logging.INFO, __file__, 1, "hello", (), None))
    handler.close()
    assert lock_free_while_formatting == [True]
    assert (tmp_path / "core.log").read_text() == "hello\n"


def _try(handler: logging.Handler) -> bool:
    if not handler.lock.acquire(timeout=1):  # type: ignore[union-attr]
        return False
    handler.lock.release()  # type: ignore[union-attr]
    return True


def test_lines_logged_at_once_from_many_threads_are_each_written_once_in_order(tmp_path) -> None:
    """Threads that log while another writes leave their line to it: every line lands once,
    each thread's in the order it logged them, and none is left waiting."""
    handler = SizeRotatingFileHandler(tmp_path / "core.log", maxBytes=10**8, backupCount=1)
    handler.setFormatter(logging.Formatter("%(message)s"))
    start = threading.Barrier(8)

    def log(thread: int) -> None:
        start.wait()
        for n in range(500):
            handler.handle(
                logging.LogRecord("t", logging.INFO, __file__, 1, f"{thread} {n}", (), None)
            )

    threads = [threading.Thread(target=log, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    lines = (tmp_path / "core.log").read_text().splitlines()  # before close: nothing waits
    handler.close()
    assert len(lines) == 4000 and len(set(lines)) == 4000
    for t in range(8):
        assert [int(line.split()[1]) for line in lines if line.split()[0] == str(t)] == list(
            range(500)
        )


def test_past_the_waiting_limit_a_thread_waits_for_a_held_up_writer(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines wait in memory for the thread writing; once too many wait (a disk that hangs),
    the next thread to log waits its turn to write, so memory does not grow without end."""
    monkeypatch.setattr(log_module, "MAX_WAITING_LINES", 5)
    handler = SizeRotatingFileHandler(tmp_path / "core.log", maxBytes=10**8, backupCount=1)
    handler.setFormatter(logging.Formatter("%(message)s"))
    writing, release = threading.Event(), threading.Event()
    write = handler._write

    def slow_first_write(line: str, record: logging.LogRecord) -> None:
        if not writing.is_set():
            writing.set()
            assert release.wait(10)
        write(line, record)

    monkeypatch.setattr(handler, "_write", slow_first_write)

    def log(message: str) -> None:
        handler.handle(logging.LogRecord("t", logging.INFO, __file__, 1, message, (), None))

    held = threading.Thread(target=log, args=("first",))
    held.start()
    assert writing.wait(10)
    for n in range(4):
        log(f"waiting {n}")  # returns at once: the held-up writer will write it
    over = threading.Thread(target=log, args=("one too many",))
    over.start()
    over.join(0.3)
    assert over.is_alive()  # waits for the writer
    release.set()
    for thread in (held, over):
        thread.join(10)
    handler.close()
    assert (tmp_path / "core.log").read_text().splitlines() == [
        "first",
        *(f"waiting {n}" for n in range(4)),
        "one too many",
    ]
