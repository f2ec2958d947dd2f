"""Merging, filtering, formatting and following JSON logs, on synthetic log files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from toy_platform import logview
from toy_platform.cli.observe import logs_command
from toy_platform.logview import LogFilter

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
