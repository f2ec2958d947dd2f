"""Reading the services' JSON logs: merged in time order, filtered, formatted, followed."""

from __future__ import annotations

import heapq
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from toy_platform.clock import parse_time
from toy_platform.log import LOG_SERVICES

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
STANDARD_FIELDS = frozenset(
    {"level", "service", "request_id", "job_id", "event", "logger", "time", "message", "taskName"}
)
LEVEL_COLOURS = {"DEBUG": "bright_black", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "red"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TAIL_BYTES = 1024 * 1024
READ_CHUNK_BYTES = 256 * 1024

Record = dict[str, Any]


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`10m`, `2h`, `30s`, `1d` ago, or an ISO time (local time when it has no zone)."""
    now = now or datetime.now(timezone.utc)
    match = _DURATION.match(text)
    if match:
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        return now - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a time: use e.g. 30s, 10m, 2h, 1d"
            " or an ISO time such as 2024-05-01T10:42:00"
        ) from None
    return moment if moment.tzinfo else moment.astimezone()


def parse_line(line: str) -> Record | None:
    """One JSON log line as a dict with `_at` (its time); None for anything else."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    at = parse_time(record.get("time"))
    if at is None:
        return None
    record["_at"] = at
    return record


def service_files(log_dir: Path, service: str) -> list[Path]:
    """A service's log files, oldest first: <service>.log.N ... .log.1, then <service>.log."""
    rotated = []
    for path in log_dir.glob(f"{service}.log.*"):
        suffix = path.name.rsplit(".", 1)[-1]
        if suffix.isdigit():
            rotated.append((int(suffix), path))
    files = [path for _, path in sorted(rotated, reverse=True)]
    current = log_dir / f"{service}.log"
    return [*files, current] if current.exists() else files


def read_file(path: Path) -> Iterator[Record]:
    """The JSON records of one file; other lines are skipped.

    The file is read a chunk at a time and closed between chunks, so a slow reader (a pager
    after `toy-platform logs`) never holds it open: on Windows, a service cannot rotate a
    log file another process has open.
    """
    position, pending = 0, b""
    while True:
        data = read_chunk(path, position, READ_CHUNK_BYTES)
        if not data:
            break
        position += len(data)
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        yield from _records(lines)
    yield from _records([pending])


def read_chunk(path: Path, position: int, size: int = -1) -> bytes:
    """Up to SIZE bytes of PATH from POSITION (all of the rest when SIZE is -1); b"" when
    the file cannot be read. The file is open only during this call."""
    try:
        with path.open("rb") as handle:
            handle.seek(position)
            return handle.read(size)
    except OSError:
        return b""


def _records(lines: Iterable[bytes]) -> Iterator[Record]:
    for raw in lines:
        record = parse_line(raw.decode("utf-8", errors="replace"))
        if record is not None:
            yield record


def log_names(log_dir: Path, service: str) -> list[str]:
    """The log files' names (without .log) of SERVICE: its own, and for "worker" each
    worker's worker-<host>.log as well (rotated files included)."""
    names = [service]
    if service == "worker" and log_dir.is_dir():
        found = {p.name.split(".log", 1)[0] for p in log_dir.glob("worker-*.log*")}
        names += sorted(found)
    return names


def read_service(log_dir: Path, service: str) -> Iterator[Record]:
    """All records of one service, across its rotated files, oldest first."""
    for path in service_files(log_dir, service):
        yield from read_file(path)


@dataclass(frozen=True)
class LogFilter:
    """Which records to show; an empty field means: any."""

    services: tuple[str, ...] = ()
    request_id: str | None = None
    job_id: str | None = None
    since: datetime | None = None
    level: str | None = None
    known_services: tuple[str, ...] = field(default=LOG_SERVICES)

    def wanted_services(self) -> tuple[str, ...]:
        return self.services or self.known_services

    def matches(self, record: Record) -> bool:
        """True when RECORD passes every filter given."""
        if self.services and record.get("service") not in self.services:
            return False
        if self.request_id and record.get("request_id") != self.request_id:
            return False
        if self.job_id and record.get("job_id") != self.job_id:
            return False
        if self.since and record["_at"] < self.since:
            return False
        return not self.level or level_rank(record.get("level")) >= level_rank(self.level)


def level_rank(level: Any) -> int:
    """The order of a level name (unknown names count as INFO)."""
    name = str(level or "INFO").upper()
    return LEVELS.index(name) if name in LEVELS else LEVELS.index("INFO")


def merged(log_dir: Path, log_filter: LogFilter) -> Iterator[Record]:
    """The matching records of every wanted service, merged in time order."""
    streams = [
        (r for r in read_service(log_dir, name) if log_filter.matches(r))
        for service in log_filter.wanted_services()
        for name in log_names(log_dir, service)
    ]
    return heapq.merge(*streams, key=lambda record: record["_at"])


def last_error(log_dir: Path, service: str) -> Record | None:
    """The service's most recent ERROR (or worse) record, looking at its newest files."""
    for path in reversed(service_files(log_dir, service)[-2:]):
        found = None
        for record in _tail_records(path):
            if level_rank(record.get("level")) >= level_rank("ERROR"):
                found = record
        if found is not None:
            return found
    return None


def _tail_records(path: Path, size: int = TAIL_BYTES) -> Iterator[Record]:
    """The records in the last SIZE bytes of PATH."""
    stat = _stat(path)
    if stat is None:
        return
    data = read_chunk(path, max(0, stat.st_size - size))
    yield from _records(data.split(b"\n"))


# -- formatting ----------------------------------------------------------------


def format_record(record: Record) -> str:
    """`HH:MM:SS.mmm  core        INFO   job_started  job=… req=…  fields`, coloured."""
    at: datetime = record["_at"].astimezone()
    level = str(record.get("level") or "?").upper()
    head = (
        f"{at.strftime('%H:%M:%S')}.{at.microsecond // 1000:03d}"
        f"  {str(record.get('service') or '?'):<11}"
        f" {click.style(f'{level:<6}', fg=LEVEL_COLOURS.get(level))}"
        f" {click.style(str(record.get('event') or ''), bold=True)}"
    )
    tail = [part for part in (_ids(record), describe_fields(record)) if part]
    return "  ".join([head, *tail])


def _ids(record: Record) -> str:
    ids = []
    if record.get("job_id"):
        ids.append(f"job={record['job_id']}")
    if record.get("request_id"):
        ids.append(f"req={record['request_id']}")
    return " ".join(ids)


def describe_fields(record: Record) -> str:
    """The message (when it says more than the event) and the extra fields, as k=v."""
    words = []
    message = record.get("message")
    if message and message != record.get("event"):
        words.append(str(message))
    if record.get("event") == "http_request" and "path" in record:
        words.append(f"{record.get('method', '')} {record['path']} -> {record.get('status', '?')}")
        skip = {"method", "path", "status"}
    else:
        skip = set()
    for key, value in record.items():
        if key in STANDARD_FIELDS or key in skip or key.startswith("_") or value is None:
            continue
        words.append(f"{key}={_short(value)}")
    return " ".join(words)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("\n", "\\n")
    if " " in text and not isinstance(value, (list, dict)):
        text = json.dumps(text)
    return text if len(text) <= 300 else text[:297] + "..."


def as_json(record: Record) -> str:
    """The record as it was in the file (without our `_at`)."""
    return json.dumps({k: v for k, v in record.items() if not k.startswith("_")})


# -- following -----------------------------------------------------------------


@dataclass
class _Tail:
    """Where we are in one live log file; notices rotation and truncation.

    The file is opened, read from the saved position and closed on each poll, never held
    open in between: on Windows a service cannot rotate (rename) a file another process has
    open. Rotation shows as a new identity (device, inode / file index) at the path,
    truncation as a size below the saved position.
    """

    path: Path
    position: int = 0
    identity: tuple[int, int] | None = None
    pending: bytes = b""

    def start_at_end(self) -> None:
        stat = _stat(self.path)
        if stat is not None:
            self.position, self.identity = stat.st_size, (stat.st_dev, stat.st_ino)

    def read_new(self) -> list[Record]:
        """Records written since the last call (including the end of a just-rotated file)."""
        stat = _stat(self.path)
        if stat is None:
            return []
        identity = (stat.st_dev, stat.st_ino)
        records: list[Record] = []
        if self.identity is not None and identity != self.identity:
            records = self._finish_rotated()
            self.position, self.pending = 0, b""
        elif stat.st_size < self.position:
            self.position, self.pending = 0, b""
        self.identity = identity
        return records + self._read_from_position(self.path)

    def _finish_rotated(self) -> list[Record]:
        """What was added to our file after we last read it, before it became .log.1."""
        rotated = self.path.with_name(self.path.name + ".1")
        stat = _stat(rotated)
        if stat is None or (stat.st_dev, stat.st_ino) != self.identity:
            return []
        return self._read_from_position(rotated) + self._flush()

    def _flush(self) -> list[Record]:
        records, self.pending = list(_records([self.pending])), b""
        return records

    def _read_from_position(self, path: Path) -> list[Record]:
        data = read_chunk(path, self.position)
        self.position += len(data)
        lines = (self.pending + data).split(b"\n")
        self.pending = lines.pop()
        return list(_records(lines))


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


class Follower:
    """Polls the wanted services' live log files for new lines, from the moment it is made."""

    def __init__(self, log_dir: Path, log_filter: LogFilter) -> None:
        self.log_filter = log_filter
        self.tails = [
            _Tail(log_dir / f"{name}.log")
            for service in log_filter.wanted_services()
            for name in log_names(log_dir, service)
        ]
        for tail in self.tails:
            tail.start_at_end()

    def poll(self) -> list[Record]:
        """The matching records written since the last poll, in time order."""
        batch = [r for tail in self.tails for r in tail.read_new() if self.log_filter.matches(r)]
        return sorted(batch, key=lambda record: record["_at"])

    def records(
        self, interval: float = 0.5, stop: Callable[[], bool] = lambda: False
    ) -> Iterator[Record]:
        """New records as they come, until STOP says so (or forever)."""
        while not stop():
            batch = self.poll()
            yield from batch
            if not batch:
                time.sleep(interval)


def render(records: Iterable[Record], json_output: bool) -> Iterator[str]:
    """Lines to print for RECORDS."""
    for record in records:
        yield as_json(record) if json_output else format_record(record)
