"""The middleware's job store: every job and its history, in SQLite, so restarts lose nothing."""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from toy_platform.db import Database, GroupCommit

STATUSES = ("queued", "running", "succeeded", "failed")
_RANK = {"queued": 0, "running": 1, "succeeded": 2, "failed": 2}
IDEMPOTENCY_WINDOW_S = 24 * 3600
PUBLIC_FIELDS = (
    "job_id",
    "job_name",
    "owner",
    "status",
    "created_at",
    "started_at",
    "completed_at",
    "result",
    "error",
    "request_id",
    "attempt",
)

_SCHEMA = """
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
"""
INSERT_EVENT = "INSERT INTO job_events (job_id, at, status, service, detail) VALUES (?, ?, ?, ?, ?)"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class IdempotencyKeyReused(Exception):
    """An Idempotency-Key sent again with another job_name or data: a client bug, not a retry."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id


@dataclass(frozen=True)
class _NewJob:
    owner: str
    job_name: str
    data: str
    request_id: str | None
    idempotency_key: str | None


@dataclass(frozen=True)
class CallbackOutcome:
    changed: bool
    status: str | None  # the job's status afterwards; None when there is no such job


class JobStore:
    """Jobs, their events, and which ones still have to be sent to the core."""

    def __init__(self, path: Path) -> None:
        self.db = Database(path, _SCHEMA)
        self._insert = GroupCommit(self.db, self._insert_one)

    def create(
        self,
        owner: str,
        job_name: str,
        data: str,
        request_id: str | None,
        idempotency_key: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store a new job; with a known idempotency key, return that job instead (, False).

        Jobs submitted at the same moment share one transaction (see GroupCommit)."""
        return self._insert(_NewJob(owner, job_name, data, request_id, idempotency_key))

    def _insert_one(self, conn: sqlite3.Connection, new: _NewJob) -> tuple[dict[str, Any], bool]:
        if new.idempotency_key:
            existing = self._by_idempotency_key(conn, new)
            if existing is not None:
                return existing, False
        now, job_id = utc_now(), uuid.uuid4().hex
        conn.execute(
            "INSERT INTO jobs (job_id, job_name, owner, data, created_at, created_epoch,"
            " request_id, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job_id,
                new.job_name,
                new.owner,
                new.data,
                now,
                time.time(),
                new.request_id,
                new.idempotency_key,
            ),
        )
        _add_event(conn, job_id, "submitted", "middleware", f"by {new.owner}", now)
        job = dict.fromkeys(PUBLIC_FIELDS)
        job.update(
            job_id=job_id,
            job_name=new.job_name,
            owner=new.owner,
            status="queued",
            created_at=now,
            request_id=new.request_id,
            attempt=1,
        )
        return job, True

    def _by_idempotency_key(self, conn: sqlite3.Connection, new: _NewJob) -> dict[str, Any] | None:
        """The job this user already submitted with this key in the last 24 h, if any."""
        row = conn.execute(
            "SELECT job_id, created_epoch, job_name, data FROM jobs"
            " WHERE owner = ? AND idempotency_key = ?",
            (new.owner, new.idempotency_key),
        ).fetchone()
        if row is None:
            return None
        if time.time() - row["created_epoch"] > IDEMPOTENCY_WINDOW_S:
            conn.execute(
                "UPDATE jobs SET idempotency_key = NULL WHERE job_id = ?", (row["job_id"],)
            )
            return None
        if (row["job_name"], row["data"]) != (new.job_name, new.data):
            raise IdempotencyKeyReused(row["job_id"])
        return self._get(conn, row["job_id"])

    def get(self, job_id: str, with_events: bool = False) -> dict[str, Any] | None:
        job = self._get(self.db.connection(), job_id)
        if job is not None and with_events:
            job["events"] = self.events(job_id)
        return job

    @staticmethod
    def _get(conn: sqlite3.Connection, job_id: str) -> dict[str, Any] | None:
        row = conn.execute(
            f"SELECT {', '.join(PUBLIC_FIELDS)} FROM jobs WHERE job_id = ?", (job_id,)
        ).fetchone()
        return dict(row) if row else None

    def events(self, job_id: str) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT at, status, service, detail FROM job_events WHERE job_id = ? ORDER BY at, seq",
            (job_id,),
        )
        return [dict(r) for r in rows]

    def page(
        self, owner: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Jobs newest first; OWNER None means everyone's."""
        where, params = [], []
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = self.db.count(f"SELECT COUNT(*) FROM jobs {clause}", tuple(params))
        rows = self.db.query(
            f"SELECT {', '.join(PUBLIC_FIELDS)} FROM jobs {clause}"
            " ORDER BY seq DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [dict(r) for r in rows], total

    def apply_callback(
        self, job_id: str, attempt: int, update: dict[str, Any], detail: str | None
    ) -> CallbackOutcome:
        """Move a job forward with what the core reported; never backwards, never twice."""
        return self.apply_callbacks([(job_id, attempt, update, detail)])[0]

    def apply_callbacks(
        self, callbacks: list[tuple[str, int, dict[str, Any], str | None]]
    ) -> list[CallbackOutcome]:
        """apply_callback for several (job_id, attempt, update, detail) in one transaction."""
        with self.db.transaction() as conn:
            return [_apply(conn, *callback) for callback in callbacks]

    def retry(self, job_id: str, by: str) -> dict[str, Any] | None:
        """Send a failed job round again as a new attempt; None if it is not failed."""
        with self.db.transaction() as conn:
            updated = conn.execute(
                "UPDATE jobs SET status = 'queued', attempt = attempt + 1, forwarded = 0,"
                " started_at = NULL, completed_at = NULL, result = NULL, error = NULL"
                " WHERE job_id = ? AND status = 'failed'",
                (job_id,),
            ).rowcount
            if not updated:
                return None
            _add_event(conn, job_id, "retry_requested", "middleware", f"by {by}")
            return self._get(conn, job_id)

    def unforwarded(self, limit: int, exclude: set[str]) -> list[dict[str, Any]]:
        """Queued jobs the core has not yet accepted, oldest first."""
        rows = self.db.query(
            "SELECT job_id, data, attempt, request_id FROM jobs"
            " WHERE forwarded = 0 AND status = 'queued' ORDER BY seq LIMIT ?",
            (limit + len(exclude),),
        )
        return [dict(r) for r in rows if r["job_id"] not in exclude][:limit]

    def mark_forwarded(self, accepted: list[dict[str, Any]]) -> None:
        """Record that the core accepted jobs: dicts of job_id, attempt, sent_at (when we sent
        it), queued_at (when the core queued it) and position."""
        events: list[tuple[str, str, str, str, str | None]] = []
        with self.db.transaction() as conn:
            for job in accepted:
                updated = conn.execute(
                    "UPDATE jobs SET forwarded = 1 WHERE job_id = ? AND attempt = ?",
                    (job["job_id"], job["attempt"]),
                ).rowcount
                if updated:
                    job_id, sent_at = job["job_id"], job["sent_at"]
                    queued_at = job.get("queued_at") or sent_at
                    events.append((job_id, sent_at, "forwarded", "middleware", None))
                    events.append(
                        (job_id, queued_at, "queued", "core", f"position {job['position']}")
                    )
            conn.executemany(INSERT_EVENT, events)

    def refuse(self, job_id: str, attempt: int, error: str) -> bool:
        """Mark a job the core will not take failed with ERROR, for its owner to see (and
        retry); False when it was no longer waiting to be forwarded."""
        now = utc_now()
        with self.db.transaction() as conn:
            updated = conn.execute(
                "UPDATE jobs SET status = 'failed', error = ?, completed_at = ?"
                " WHERE job_id = ? AND attempt = ? AND status = 'queued' AND forwarded = 0",
                (error, now, job_id, attempt),
            ).rowcount
            if updated:
                _add_event(conn, job_id, "failed", "middleware", error, now)
            return bool(updated)

    def counts_by_status(self, owner: str | None = None) -> dict[str, int]:
        clause, params = ("WHERE owner = ?", (owner,)) if owner else ("", ())
        rows = self.db.query(
            f"SELECT status, COUNT(*) AS n FROM jobs {clause} GROUP BY status", params
        )
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({r["status"]: r["n"] for r in rows})
        return counts

    def waiting_for_core(self) -> int:
        return self.db.count("SELECT COUNT(*) FROM jobs WHERE forwarded = 0 AND status = 'queued'")

    def oldest_queued_age_s(self) -> float | None:
        oldest = self.db.number("SELECT MIN(created_epoch) FROM jobs WHERE status = 'queued'")
        return None if oldest is None else max(0.0, time.time() - oldest)

    def reset(self) -> int:
        """Forget every job; return how many there were."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM job_events")
            return conn.execute("DELETE FROM jobs").rowcount


def _apply(
    conn: sqlite3.Connection, job_id: str, attempt: int, update: dict[str, Any], detail: str | None
) -> CallbackOutcome:
    status = update["status"]
    row = conn.execute("SELECT status, attempt FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    if row is None:
        return CallbackOutcome(False, None)
    stale = row["attempt"] != attempt or _RANK[status] <= _RANK[row["status"]]
    if stale:
        return CallbackOutcome(False, row["status"])
    conn.execute(
        "UPDATE jobs SET status = ?, started_at = COALESCE(started_at, ?),"
        " completed_at = ?, result = ?, error = ? WHERE job_id = ?",
        (
            status,
            update.get("started_at"),
            update.get("completed_at"),
            update.get("result"),
            update.get("error"),
            job_id,
        ),
    )
    if row["status"] == "queued" and status != "running" and update.get("started_at"):
        # the 'running' callback was overtaken by this one: keep the history whole
        _add_event(conn, job_id, "running", "core", None, update["started_at"])
    _add_event(conn, job_id, status, "core", detail)
    return CallbackOutcome(True, status)


def _add_event(
    conn: sqlite3.Connection,
    job_id: str,
    status: str,
    service: str,
    detail: str | None,
    at: str | None = None,
) -> None:
    conn.execute(INSERT_EVENT, (job_id, at or utc_now(), status, service, detail))
