"""Merging, filtering, formatting and following JSON logs, on synthetic log files."""

from __future__ import annotations

import json
import logging
import logging.handlers
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import psutil
import pytest
from click.testing import CliRunner

from toy_platform.cli.observe import logs_command
from toy_platform.ops import logview
from toy_platform.ops.logview import LogFilter

NOW = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)


def line(service: str, event: str, minutes_ago: float, **fields: object) -> str:
    at = NOW - timedelta(minutes=minutes_ago)
    record = {
        "level": fields.pop("level", "INFO"),
        "service": service,
        "request_id": fields.pop("request_id", None),
        "job_id": fields.pop("job_id", None),
        "event": event,
        "logger": f"toy_platform.{service}",
        **fields,
        "time": at.isoformat(timespec="microseconds"),
    }
    return json.dumps(record) + "\n"


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """Two services; middleware's older lines are in a rotated file; junk lines included."""
    (tmp_path / "middleware.log.2").write_text(line("middleware", "oldest", 120))
    (tmp_path / "middleware.log.1").write_text(
        line("middleware", "job_submitted", 50, request_id="r1", job_id="j1")
        + "Traceback (most recent call last): not JSON\n"
        + line("middleware", "job_forwarded", 30, request_id="r1", job_id="j1")
    )
    (tmp_path / "middleware.log").write_text(
        "{broken json\n"
        + '["a list"]\n'
        + '{"no": "time"}\n'
        + line("middleware", "callback_received", 5, request_id="r1", job_id="j1")
        + line("middleware", "core_unreachable", 1, level="ERROR", request_id="r2")
    )
    (tmp_path / "core.log").write_text(
        line("core", "job_queued", 40, request_id="r1", job_id="j1")
        + line("core", "job_started", 20, request_id="r1", job_id="j1")
        + line("core", "callback_retry", 2, level="WARNING", request_id="r1", job_id="j1")
        + "\n"
    )
    (tmp_path / "unrelated.txt").write_text("not a log\n")
    return tmp_path


def events(records: object) -> list[str]:
    return [r["event"] for r in records]  # type: ignore[attr-defined]


def test_merges_all_files_in_time_order_and_skips_non_json(log_dir: Path) -> None:
    assert events(logview.merged(log_dir, LogFilter())) == [
        "oldest",
        "job_submitted",
        "job_queued",
        "job_forwarded",
        "job_started",
        "callback_received",
        "callback_retry",
        "core_unreachable",
    ]


def test_rotated_files_are_read_oldest_first(log_dir: Path) -> None:
    names = [p.name for p in logview.service_files(log_dir, "middleware")]
    assert names == ["middleware.log.2", "middleware.log.1", "middleware.log"]


def test_filter_by_service(log_dir: Path) -> None:
    records = list(logview.merged(log_dir, LogFilter(services=("core",))))
    assert {r["service"] for r in records} == {"core"}
    assert len(records) == 3


def test_filter_by_since(log_dir: Path) -> None:
    since = logview.parse_since("10m", now=NOW)
    assert events(logview.merged(log_dir, LogFilter(since=since))) == [
        "callback_received",
        "callback_retry",
        "core_unreachable",
    ]


def test_filter_by_since_iso_and_service_together(log_dir: Path) -> None:
    since = logview.parse_since("2024-05-01T09:15:00+00:00")
    chosen = LogFilter(services=("middleware",), since=since)
    assert events(logview.merged(log_dir, chosen)) == [
        "job_forwarded",
        "callback_received",
        "core_unreachable",
    ]


def test_filter_by_request_job_and_level(log_dir: Path) -> None:
    assert events(logview.merged(log_dir, LogFilter(request_id="r2"))) == ["core_unreachable"]
    assert len(list(logview.merged(log_dir, LogFilter(job_id="j1")))) == 6
    assert events(logview.merged(log_dir, LogFilter(level="WARNING"))) == [
        "callback_retry",
        "core_unreachable",
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1.5m", 90), (" 5M ", 300)],
)
def test_parse_since_durations(text: str, seconds: int) -> None:
    assert logview.parse_since(text, now=NOW) == NOW - timedelta(seconds=seconds)


def test_parse_since_iso_times() -> None:
    assert logview.parse_since("2024-05-01T09:00:00Z") == NOW - timedelta(hours=1)
    naive = logview.parse_since("2024-05-01T09:00:00")
    assert naive.tzinfo is not None  # read as local time


def test_parse_since_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="30s, 10m"):
        logview.parse_since("yesterday-ish")


def test_format_record_is_readable() -> None:
    record = logview.parse_line(
        line("core", "job_started", 0, request_id="r1", job_id="abc123", attempt=2)
    )
    assert record is not None
    text = click.unstyle(logview.format_record(record))
    clock = NOW.astimezone().strftime("%H:%M:%S")
    assert text.startswith(f"{clock}.000  core        INFO   job_started  job=abc123 req=r1")
    assert text.endswith("attempt=2")


def test_format_http_request_line() -> None:
    record = logview.parse_line(
        line("middleware", "http_request", 0, method="GET", path="/jobs", status=200)
    )
    assert record is not None
    assert "GET /jobs -> 200" in logview.format_record(record)


def test_last_error_finds_the_newest_error(log_dir: Path) -> None:
    found = logview.last_error(log_dir, "middleware")
    assert found is not None and found["event"] == "core_unreachable"
    assert logview.last_error(log_dir, "core") is None
    assert logview.last_error(log_dir, "auth") is None


def test_follow_sees_new_lines_partial_lines_and_rotation(tmp_path: Path) -> None:
    live = tmp_path / "core.log"
    live.write_text(line("core", "before", 3))
    follower = logview.Follower(tmp_path, LogFilter(services=("core",)))
    assert follower.poll() == []
    with live.open("a") as handle:
        handle.write(line("core", "first", 2) + line("core", "half", 1)[:20])
    assert events(follower.poll()) == ["first"]
    with live.open("a") as handle:
        handle.write(line("core", "half", 1)[20:] + line("core", "last_before_rotation", 1))
    live.rename(tmp_path / "core.log.1")
    live.write_text(line("core", "after_rotation", 0))
    assert events(follower.poll()) == ["half", "last_before_rotation", "after_rotation"]


def test_logs_command_with_rotated_files(log_dir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        logs_command, ["--log-dir", str(log_dir), "--request-id", "r1", "--service", "core"]
    )
    assert result.exit_code == 0, result.output
    assert [ln.split()[3] for ln in result.output.splitlines()] == [
        "job_queued",
        "job_started",
        "callback_retry",
    ]


def test_logs_command_json_passes_lines_through(log_dir: Path) -> None:
    result = CliRunner().invoke(logs_command, ["--log-dir", str(log_dir), "--json", "-n", "2"])
    assert result.exit_code == 0, result.output
    parsed = [json.loads(ln) for ln in result.output.splitlines()]
    assert [p["event"] for p in parsed] == ["callback_retry", "core_unreachable"]
    assert "_at" not in parsed[0]


def test_logs_command_without_log_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(logs_command, ["--log-dir", str(tmp_path / "none")])
    assert result.exit_code == 0
    assert "no logs yet" in result.output


def open_paths(folder: Path) -> set[str]:
    """The names of the files in FOLDER this process holds open (not, say, its own output)."""
    return {
        Path(f.path).name
        for f in psutil.Process().open_files()
        if Path(f.path).parent.resolve() == folder.resolve()
    }


def test_follow_keeps_no_file_open_between_polls(tmp_path: Path) -> None:
    """On Windows a service cannot rotate a log file another process holds open."""
    live = tmp_path / "core.log"
    live.write_text(line("core", "before", 3))
    follower = logview.Follower(tmp_path, LogFilter(services=("core",)))
    with live.open("a") as handle:
        handle.write(line("core", "new", 1))
    assert events(follower.poll()) == ["new"]
    assert "core.log" not in open_paths(tmp_path)


def test_reading_history_keeps_no_file_open_while_the_reader_waits(log_dir: Path) -> None:
    """`toy-platform logs | less`: the pager may wait for minutes between reads."""
    records = logview.merged(log_dir, LogFilter())
    assert next(records)["event"] == "oldest"
    assert not {name for name in open_paths(log_dir) if ".log" in name}
    assert len(list(records)) == 7


def utf8_line(service: str, event: str, minutes_ago: float, **fields: object) -> bytes:
    """A log line with its non-ASCII text as UTF-8 (our services escape it; others may not)."""
    record = json.loads(line(service, event, minutes_ago, **fields))
    return (json.dumps(record, ensure_ascii=False) + "\n").encode()


def test_history_across_read_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logview, "READ_CHUNK_BYTES", 7)
    (tmp_path / "core.log").write_bytes(
        utf8_line("core", "first", 2, note="héllo wörld 👋🏽") + utf8_line("core", "second", 1)
    )
    records = list(logview.read_service(tmp_path, "core"))
    assert events(records) == ["first", "second"]
    assert records[0]["note"] == "héllo wörld 👋🏽"


def test_follow_a_line_cut_inside_a_character(tmp_path: Path) -> None:
    live = tmp_path / "core.log"
    live.write_bytes(b"")
    follower = logview.Follower(tmp_path, LogFilter(services=("core",)))
    data = utf8_line("core", "accented", 0, note="é€")
    cut = data.index("€".encode()) + 1
    with live.open("ab") as handle:
        handle.write(data[:cut])
    assert follower.poll() == []
    with live.open("ab") as handle:
        handle.write(data[cut:])
    assert [r["note"] for r in follower.poll()] == ["é€"]


def test_follow_while_a_rotating_handler_rotates(tmp_path: Path) -> None:
    """The services' own log handler rotates the file between (and during) our polls."""
    handler = logging.handlers.RotatingFileHandler(
        tmp_path / "core.log", maxBytes=600, backupCount=50, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    writer = logging.getLogger("test_logview.rotating")
    writer.propagate = False
    writer.addHandler(handler)
    try:
        follower = logview.Follower(tmp_path, LogFilter(services=("core",)))
        seen: list[str] = []
        for n in range(40):
            writer.warning(line("core", f"event{n}", 0).strip())
            if n % 3 == 0:
                seen += events(follower.poll())
        seen += events(follower.poll())
    finally:
        writer.removeHandler(handler)
        handler.close()
    assert len(list(tmp_path.glob("core.log.*"))) > 3  # it did rotate, several times
    assert seen == [f"event{n}" for n in range(40)]
