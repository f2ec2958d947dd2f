"""The embedded job store: one SQLite file beside one middleware (the default, `sqlite`)."""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar, cast

import psutil

from toy_platform.clock import utc_now
from toy_platform.db import Database, GroupCommit
from toy_platform.jobs.lifecycle import (
    LEASE_S,
    REPORT_ROW,
    ReportOutcome,
    apply_reports,
    cancel,
    carries_events,
    forwarded_events,
    handed_over_again_event,
    refused_event,
    reports_held_up_event,
    retry_event,
    said_already,
    submitted_event,
)
from toy_platform.jobs.model import NewJob, Report, encode, new_job, new_job_id, public
from toy_platform.middleware.stores.base import StoreSetupError
from toy_platform.middleware.stores.sql import (
    FORWARD_COLUMNS,
    INSERT_JOB_COLUMNS,
    UNFINISHED,
    SqlJobStore,
    insert_job_params,
)
from toy_platform.unavailable import StoreUnavailable

F = TypeVar("F", bound=Callable[..., Any])

# Ordered migrations; PRAGMA user_version is the number applied. The first is the schema of
# the releases before versioning (so their files open as version 1).
MIGRATIONS: tuple[str, ...] = (
    """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    job_name TEXT NOT NULL,
    owner TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    created_at TEXT NOT NULL,
    created_epoch REAL NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    result TEXT,
    error TEXT,
    request_id TEXT,
    attempt INTEGER NOT NULL DEFAULT 1,
    forwarded INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT
);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, seq);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
CREATE INDEX IF NOT EXISTS jobs_owner_status ON jobs (owner, status, seq);
CREATE INDEX IF NOT EXISTS jobs_unforwarded ON jobs (forwarded, seq);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS job_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    service TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS job_events_job ON job_events (job_id, seq);
""",
    # Counts per owner and status, kept by triggers in the writing transaction, so that a
    # page's `total` is read from a few rows instead of counting a user's whole history.
    """
CREATE TABLE job_counts (
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (owner, status)
) WITHOUT ROWID;
INSERT INTO job_counts (owner, status, n)
    SELECT owner, status, COUNT(*) FROM jobs GROUP BY owner, status;
CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_counts (owner, status, n) VALUES (new.owner, new.status, 1)
        ON CONFLICT (owner, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER job_counts_update AFTER UPDATE OF status ON jobs
    WHEN old.status <> new.status BEGIN
    UPDATE job_counts SET n = n - 1 WHERE owner = old.owner AND status = old.status;
    INSERT INTO job_counts (owner, status, n) VALUES (new.owner, new.status, 1)
        ON CONFLICT (owner, status) DO UPDATE SET n = n + 1;
END;
CREATE INDEX jobs_waiting ON jobs (seq) WHERE forwarded = 0 AND status = 'queued';
DROP INDEX jobs_unforwarded;
CREATE TABLE store_holder (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    create_time REAL NOT NULL
);
""",
    # Job types: data and results become any JSON value (kept as JSON text), a job has a
    # type (the platform's own `reverse` for every earlier one), its last progress, and
    # whether a cancel was asked while it ran.
    """
ALTER TABLE jobs ADD COLUMN job_type TEXT NOT NULL DEFAULT 'reverse';
ALTER TABLE jobs ADD COLUMN progress TEXT;
ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET data = json_quote(data);
UPDATE jobs SET result = json_quote(result) WHERE result IS NOT NULL;
""",
)
INSERT_EVENT = "INSERT INTO job_events (job_id, at, status, service, detail) VALUES (?, ?, ?, ?, ?)"
INSERT_JOB = f"INSERT INTO jobs ({INSERT_JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


class _NewRow:
    """A submitted job as its INSERT and first event will write it, made before the write."""

    __slots__ = ("new", "job_id", "now", "params", "event")

    def __init__(self, new: NewJob, job_id: str, now: str) -> None:
        self.new, self.job_id, self.now = new, job_id, now
        self.params = insert_job_params(new, job_id, now)
        self.event = submitted_event(job_id, new.owner, now)

    def job(self) -> dict[str, Any]:
        return dict(new_job(self.new, self.job_id, self.now))


def _available(method: F) -> F:
    """SQLite errors of the file (locked, disk full, unreadable) become StoreUnavailable."""

    @functools.wraps(method)
    def wrapper(self: SqliteJobStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"{self.name}: {exc}") from exc

    return cast(F, wrapper)


def migrate(db: Database, name: str) -> None:
    """Bring the file's schema to the newest this release knows; refuse a newer one."""
    with db.transaction() as conn:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise StoreSetupError(
                f"{name} has schema version {version}, newer than this toy-platform knows"
                f" ({len(MIGRATIONS)}): upgrade toy-platform, or use another store"
            )
        for number in range(version, len(MIGRATIONS)):
            for statement in _statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")


def _statements(script: str) -> list[str]:
    """The statements of a migration (triggers hold ';' inside BEGIN ... END)."""
    statements, current = [], ""
    for line in script.strip().splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


class SqliteJobStore(SqlJobStore):
    """Jobs in one SQLite file (WAL); only this process forwards them, so a claim is held in
    memory."""

    def __init__(self, path: Path) -> None:
        self.name = f"SQLite at {path}"
        self.db = Database(path, "")
        migrate(self.db, self.name)
        self._hold()
        self._group_insert = GroupCommit(self.db, self._insert_all)
        self._leases: dict[str, float] = {}
        self._lease_lock = threading.Lock()

    def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[dict[str, Any]]:
        try:
            return [dict(row) for row in self.db.query(sql, params)]
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"{self.name}: {exc}") from exc

    @_available
    def _insert(self, new: NewJob) -> tuple[dict[str, Any], bool]:
        job = _NewRow(new, new_job_id(), utc_now())  # made before the write lock is taken
        return self._group_insert(job)

    def _hold(self) -> None:
        """Note this process as the file's one middleware; refuse if another live one is.
        Only this process forwards its jobs (its claims are in memory), so two middlewares
        on one file would hand jobs to core twice."""
        me = psutil.Process()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT pid, create_time FROM store_holder").fetchone()
            if row is not None and row["pid"] != me.pid and _alive(row["pid"], row["create_time"]):
                raise StoreSetupError(
                    f"{self.name} is in use by another middleware (PID {row['pid']}): a SQLite"
                    " job store serves one middleware. Give each middleware its own --data-dir,"
                    " or run several on one PostgreSQL store (--store-url postgresql://...)"
                )
            conn.execute(
                "INSERT OR REPLACE INTO store_holder (id, pid, create_time) VALUES (1, ?, ?)",
                (me.pid, me.create_time()),
            )

    def _insert_all(
        self, conn: sqlite3.Connection, rows: list[_NewRow]
    ) -> list[tuple[dict[str, Any], bool]]:
        """The jobs submitted together, in one statement for the jobs and one for their first
        events; one by one when one of them has an Idempotency-Key (it may be a replay)."""
        if any(row.new.idempotency_key for row in rows):
            return [self._insert_one(conn, row) for row in rows]
        conn.executemany(INSERT_JOB, [row.params for row in rows])
        conn.executemany(INSERT_EVENT, [row.event for row in rows])
        return [(row.job(), True) for row in rows]

    def _insert_one(self, conn: sqlite3.Connection, row: _NewRow) -> tuple[dict[str, Any], bool]:
        if row.new.idempotency_key:
            existing = self._job_by_key(conn, row.new)
            if existing is not None:
                return existing, False
        conn.execute(INSERT_JOB, row.params)
        conn.execute(INSERT_EVENT, row.event)
        return row.job(), True

    @_available
    def apply_reports(self, reports: list[Report]) -> list[ReportOutcome]:
        """In one transaction (SQLite's write lock: no other writer meanwhile)."""
        ids = sorted({report.job_id for report in reports})
        with self.db.transaction() as conn:
            rows = conn.execute(
                f"SELECT {REPORT_ROW} FROM jobs WHERE job_id IN ({', '.join('?' * len(ids))})",
                ids,
            ).fetchall()
            said = self._said(conn, carries_events(reports))
            batch, outcomes = apply_reports(
                {row["job_id"]: public(dict(row)) for row in rows}, reports, said
            )
            conn.executemany(
                "UPDATE jobs SET status = ?, forwarded = ?, started_at = ?, completed_at = ?,"
                " result = ?, error = ?, progress = ? WHERE job_id = ?",
                [
                    (
                        j["status"],
                        int(bool(j["forwarded"])),
                        j["started_at"],
                        j["completed_at"],
                        None if j["result"] is None else encode(j["result"]),
                        j["error"],
                        None if j["progress"] is None else encode(j["progress"]),
                        j["job_id"],
                    )
                    for j in batch.changed_jobs()
                ],
            )
            conn.executemany(INSERT_EVENT, batch.events)
        return outcomes

    @staticmethod
    def _said(conn: sqlite3.Connection, job_ids: list[str]) -> dict[str, set[tuple[str, str]]]:
        said: dict[str, set[tuple[str, str]]] = {}
        for job_id in job_ids:
            rows = conn.execute(
                "SELECT status, detail FROM job_events WHERE job_id = ? AND service = 'core'",
                (job_id,),
            ).fetchall()
            said[job_id] = {(r["status"], r["detail"]) for r in rows}
        return said

    @_available
    def cancel(self, job_id: str, by: str) -> dict[str, Any] | None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT job_id, status, cancel_requested FROM jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
            if row is None:
                return None
            change = cancel(dict(row), by)
            if change.update:
                names = ", ".join(f"{name} = ?" for name in change.update)
                conn.execute(
                    f"UPDATE jobs SET {names} WHERE job_id = ?", (*change.update.values(), job_id)
                )
            if change.event:
                conn.execute(INSERT_EVENT, change.event)
            return self._job_in(conn, job_id)

    @_available
    def retry(self, job_id: str, by: str) -> dict[str, Any] | None:
        with self.db.transaction() as conn:
            updated = conn.execute(
                "UPDATE jobs SET status = 'queued', attempt = attempt + 1, forwarded = 0,"
                " started_at = NULL, completed_at = NULL, result = NULL, error = NULL"
                " WHERE job_id = ? AND status = 'failed'",
                (job_id,),
            ).rowcount
            if not updated:
                return None
            conn.execute(INSERT_EVENT, retry_event(job_id, by))
            return self._job_in(conn, job_id)

    @_available
    def claim_unforwarded(self, limit: int, lease_s: float = LEASE_S) -> list[dict[str, Any]]:
        with self._lease_lock:
            now = time.monotonic()
            self._leases = {k: t for k, t in self._leases.items() if t > now}
            rows = self.db.query(
                f"SELECT {FORWARD_COLUMNS} FROM jobs"
                " WHERE forwarded = 0 AND status = 'queued' ORDER BY seq LIMIT ?",
                (limit + len(self._leases),),
            )
            jobs = [dict(r) for r in rows if r["job_id"] not in self._leases][:limit]
            self._leases.update((job["job_id"], now + lease_s) for job in jobs)
        return jobs

    def release(self, job_ids: Iterable[str]) -> None:
        with self._lease_lock:
            for job_id in job_ids:
                self._leases.pop(job_id, None)

    @_available
    def mark_forwarded(self, accepted: list[dict[str, Any]]) -> None:
        with self.db.transaction() as conn:
            updated = [
                job
                for job in accepted
                if conn.execute(
                    "UPDATE jobs SET forwarded = 1 WHERE job_id = ? AND attempt = ?"
                    " AND forwarded = 0",
                    (job["job_id"], job["attempt"]),
                ).rowcount
            ]
            conn.executemany(INSERT_EVENT, forwarded_events(updated))
        self.release(job["job_id"] for job in accepted)

    @_available
    def refuse(self, job_id: str, attempt: int, error: str) -> bool:
        now = utc_now()
        with self.db.transaction() as conn:
            updated = conn.execute(
                "UPDATE jobs SET status = 'failed', error = ?, completed_at = ?"
                " WHERE job_id = ? AND attempt = ? AND status = 'queued' AND forwarded = 0",
                (error, now, job_id, attempt),
            ).rowcount
            if updated:
                conn.execute(INSERT_EVENT, refused_event(job_id, error, now))
        self.release([job_id])
        return bool(updated)

    @_available
    def note_held_up(self, job_id: str, attempt: int, why: str) -> bool:
        event = reports_held_up_event(job_id, why)
        with self.db.transaction() as conn:
            if not conn.execute(
                f"SELECT 1 FROM jobs WHERE job_id = ? AND attempt = ? AND status IN ({UNFINISHED})",
                (job_id, attempt),
            ).fetchone():
                return False
            last = conn.execute(
                "SELECT status, detail FROM job_events WHERE job_id = ? ORDER BY seq DESC LIMIT 1",
                (job_id,),
            ).fetchone()
            if said_already(tuple(last) if last else None, event):
                return False
            conn.execute(INSERT_EVENT, event)
            return True

    @_available
    def hand_over_again(self, job_id: str, attempt: int) -> int:
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT status FROM jobs WHERE job_id = ? AND attempt = ? AND forwarded = 1"
                f" AND status IN ({UNFINISHED})",
                (job_id, attempt),
            ).fetchone()
            if row is None:
                return 0
            conn.execute(
                "UPDATE jobs SET forwarded = 0, status = 'queued', started_at = NULL,"
                " progress = NULL WHERE job_id = ?",
                (job_id,),
            )
            times = (
                1
                + conn.execute(
                    "SELECT COUNT(*) FROM job_events WHERE job_id = ?"
                    " AND status = 'forwarded_again'",
                    (job_id,),
                ).fetchone()[0]
            )
            conn.execute(INSERT_EVENT, handed_over_again_event(job_id, times, row[0]))
        return int(times)

    @_available
    def reset(self) -> int:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM job_events")
            conn.execute("DELETE FROM job_counts")
            removed = conn.execute("DELETE FROM jobs").rowcount
        with self._lease_lock:
            self._leases.clear()
        return removed

    def unavailable(self) -> str | None:
        reason = self.db.check_writable()
        return None if reason is None else f"{self.name}: {reason}"

    def set_lock_wait(self, seconds: float) -> None:
        self.db.set_lock_wait(seconds)

    def close(self) -> None:
        """Let another middleware have the file (each thread's connection closes with it)."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM store_holder WHERE pid = ?", (os.getpid(),))


def _alive(pid: int, create_time: float) -> bool:
    """Whether process PID still runs, and is the one that started at CREATE_TIME."""
    try:
        return abs(psutil.Process(pid).create_time() - create_time) < 1.0
    except psutil.Error:
        return False


def _row(job: dict[str, Any]) -> tuple[Any, ...]:
    """A changed job as the parameters of apply_reports' UPDATE."""
    return (
        job["status"],
        job["started_at"],
        job["completed_at"],
        job["result"],
        job["error"],
        job["job_id"],
    )
