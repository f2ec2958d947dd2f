"""The embedded queue (the default): a durable FIFO queue and an outbox in SQLite, with
worker and callback sender threads inside core.

`SqliteJobQueue` holds the jobs: a job is claimed (state 'running') before it is processed
and acknowledged (deleted) after; a job still 'running' when the process died is queued
again on start, so every accepted job runs at least once. `CallbackOutbox` holds the
callbacks until the middleware took them. `SqliteQueue` is the core's `JobQueue` on them,
with the threads of core/worker.py.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toy_platform.core.queues.base import Accepted, QueuedJob
from toy_platform.db import Database
from toy_platform.jobs.model import decode, encode

_QUEUE_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    data TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    request_id TEXT,
    state TEXT NOT NULL DEFAULT 'queued',
    enqueued_at REAL NOT NULL,
    claimed_at REAL,
    claims INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queue_state_seq ON queue (state, seq);
-- A job sent twice is kept once; a retried job has another callback URL (a new attempt).
CREATE UNIQUE INDEX IF NOT EXISTS queue_job_run ON queue (job_id, callback_url);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    url TEXT NOT NULL,
    payload TEXT NOT NULL,
    request_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    lease_until REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    local_errors INTEGER NOT NULL DEFAULT 0,
    stage TEXT NOT NULL DEFAULT 'send'
);
CREATE INDEX IF NOT EXISTS outbox_job ON outbox (job_id, url, seq);
"""
# Columns added since the first version, for files an older version made.
_ADDED_COLUMNS = {
    "queue": {
        "claims": "INTEGER NOT NULL DEFAULT 0",
        "job_type": "TEXT NOT NULL DEFAULT 'reverse'",
        # 1: data is JSON text (any JSON value); 0: the string itself (a file of a release
        # whose jobs all were strings)
        "data_json": "INTEGER NOT NULL DEFAULT 0",
    },
    "outbox": {
        "local_errors": "INTEGER NOT NULL DEFAULT 0",
        "stage": "TEXT NOT NULL DEFAULT 'send'",
    },
}


def _queue_positions(conn: sqlite3.Connection, seqs: list[int]) -> list[int]:
    """Each row's place among the queued jobs (1 = next), counted in one pass over the queue.

    A count per job would read the queue once per job: a batch sent to a long queue
    then held the write lock for a long time (100 jobs behind 50,000: 0.4 s).
    """
    places: dict[int, int] = {}
    queued_so_far, previous = 0, 0
    for seq in sorted(set(seqs)):
        queued_so_far += conn.execute(
            "SELECT COUNT(*) FROM queue WHERE state = 'queued' AND seq > ? AND seq <= ?",
            (previous, seq),
        ).fetchone()[0]
        places[seq], previous = queued_so_far, seq
    return [places[seq] for seq in seqs]


_CLAIMED = "job_id, data, callback_url, request_id, enqueued_at, seq, claims, job_type, data_json"
"""What a claim reads of a job (RETURNING)."""


def _queued_job(row: sqlite3.Row) -> QueuedJob:
    fields = dict(row)
    if fields.pop("data_json"):
        fields["data"] = decode(fields["data"])
    return QueuedJob(**fields)


class SqliteJobQueue:
    """The queue in a SQLite file (core's data dir)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(self, job: QueuedJob) -> int:
        return self.enqueue_many([job])[0].position

    def enqueue_many(self, jobs: list[QueuedJob]) -> list[Accepted]:
        """Add jobs in one transaction, each once (see JobQueue.accept)."""
        now = time.time()
        with self.db.transaction() as conn:
            seqs, new = [], []
            for job in jobs:
                key = (job.job_id, job.callback_url)
                row = conn.execute(
                    "SELECT seq FROM queue WHERE job_id = ? AND callback_url = ?", key
                ).fetchone()
                if row is None:
                    row = conn.execute(
                        "INSERT INTO queue (job_id, data, callback_url, request_id, enqueued_at,"
                        " job_type, data_json) VALUES (?, ?, ?, ?, ?, ?, 1) RETURNING seq",
                        (
                            job.job_id,
                            encode(job.data),
                            job.callback_url,
                            job.request_id,
                            now,
                            job.job_type,
                        ),
                    ).fetchone()
                    new.append(True)
                else:
                    new.append(False)
                seqs.append(int(row[0]))
            positions = _queue_positions(conn, seqs)
        return [Accepted(p, n) for p, n in zip(positions, new, strict=True)]

    def held(self, jobs: list[QueuedJob]) -> list[bool]:
        """Whether each run is in the queue, or has a callback still to go out."""
        conn = self.db.connection()
        return [
            conn.execute(
                "SELECT EXISTS (SELECT 1 FROM queue WHERE job_id = ? AND callback_url = ?)"
                " OR EXISTS (SELECT 1 FROM outbox WHERE job_id = ? AND url = ?)",
                (job.job_id, job.callback_url, job.job_id, job.callback_url),
            ).fetchone()[0]
            == 1
            for job in jobs
        ]

    def claim(self, types: tuple[str, ...] = ("reverse",)) -> QueuedJob | None:
        """The next queued job of one of TYPES (the ones the workers offer: a job of
        another type waits, queued, until core is started with it)."""
        claimed = self.claim_batch(types)
        return claimed[0] if claimed else None

    def claim_batch(
        self, types: tuple[str, ...], quick: frozenset[str] = frozenset(), limit: int = 1
    ) -> list[QueuedJob]:
        """Claim the next queued job of one of TYPES and, when it is of a QUICK type, the
        jobs queued right behind it as long as they are quick too: at most LIMIT, in queue
        order (a job of another type ends the batch, so none overtakes it). One transaction."""
        marks = ", ".join("?" * len(types))
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute(
                "UPDATE queue SET state = 'running', claimed_at = ?, claims = claims + 1"
                " WHERE seq = (SELECT seq FROM queue WHERE state = 'queued'"
                f" AND job_type IN ({marks}) ORDER BY seq LIMIT 1) RETURNING {_CLAIMED}",
                (now, *types),
            ).fetchone()
            if row is None:
                return []
            first = _queued_job(row)
            if first.job_type not in quick or limit <= 1:
                return [first]
            seqs = []
            for behind in conn.execute(
                "SELECT seq, job_type FROM queue WHERE state = 'queued' AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (first.seq, limit - 1),
            ).fetchall():
                if behind["job_type"] not in quick:
                    break
                seqs.append(behind["seq"])
            rows = (
                conn.execute(
                    "UPDATE queue SET state = 'running', claimed_at = ?, claims = claims + 1"
                    f" WHERE seq IN ({', '.join('?' * len(seqs))}) RETURNING {_CLAIMED}",
                    (now, *seqs),
                ).fetchall()
                if seqs
                else []
            )
        return [first, *sorted((_queued_job(row) for row in rows), key=lambda job: job.seq)]

    def cancel(self, job: QueuedJob) -> str | None:
        """Drop the run if it is still queued ('dropped'); 'running' if a worker has it;
        None when the queue does not hold it."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT seq, state FROM queue WHERE job_id = ? AND callback_url = ?",
                (job.job_id, job.callback_url),
            ).fetchone()
            if row is None:
                return None
            if row["state"] == "queued":
                conn.execute("DELETE FROM queue WHERE seq = ?", (row["seq"],))
                return "dropped"
            return "running"

    def ack(self, seq: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM queue WHERE seq = ?", (seq,))

    def release(self, seqs: list[int]) -> None:
        """Put claimed jobs back at their place in the queue, their claim not counted: the
        worker met an error of its own (a locked database), not of the job."""
        with self.db.transaction() as conn:
            conn.executemany(
                "UPDATE queue SET state = 'queued', claimed_at = NULL,"
                " claims = MAX(claims - 1, 0) WHERE seq = ? AND state = 'running'",
                [(seq,) for seq in seqs],
            )

    def size(self) -> int:
        return self.db.count("SELECT COUNT(*) FROM queue WHERE state = 'queued'")

    def running(self) -> int:
        return self.db.count("SELECT COUNT(*) FROM queue WHERE state = 'running'")

    def oldest_age_s(self) -> float | None:
        oldest = self.db.number("SELECT MIN(enqueued_at) FROM queue WHERE state = 'queued'")
        return None if oldest is None else max(0.0, time.time() - oldest)

    def purge(self) -> int:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM queue WHERE state = 'queued'").rowcount

    def requeue_claimed(self) -> int:
        with self.db.transaction() as conn:
            return conn.execute(
                "UPDATE queue SET state = 'queued', claimed_at = NULL WHERE state = 'running'"
            ).rowcount


@dataclass(frozen=True)
class Callback:
    seq: int
    job_id: str
    url: str
    payload: dict[str, Any]
    request_id: str | None
    attempts: int
    local_errors: int = 0  # failures on our side: it could not even be built or sent
    stage: str = "send"  # 'send'; 'fallback': the 'failed' report replacing a poison one


_INSERT_CALLBACK = "INSERT INTO outbox (job_id, url, payload, request_id) VALUES (?, ?, ?, ?)"


class CallbackOutbox:
    """Callbacks kept on disk until the middleware has taken them.

    Callbacks of one job go out one at a time, in order; those of different jobs in
    parallel. A callback being sent is leased, so two senders never send the same one.
    """

    LEASE_S = 60.0

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, job_id: str, url: str, payload: dict[str, Any], request_id: str | None) -> None:
        """Queue a callback (a 'running' report; final ones go with add_finished)."""
        with self.db.transaction() as conn:
            conn.execute(_INSERT_CALLBACK, (job_id, url, json.dumps(payload), request_id))

    def add_finished(self, finished: list[tuple[QueuedJob, dict[str, Any]]]) -> None:
        """The final reports of jobs a worker ran, and forget those jobs, in one transaction
        (a finished job is never left both reported and still claimed)."""
        with self.db.transaction() as conn:
            conn.executemany(
                _INSERT_CALLBACK,
                [
                    (job.job_id, job.callback_url, json.dumps(payload), job.request_id)
                    for job, payload in finished
                ],
            )
            conn.executemany("DELETE FROM queue WHERE seq = ?", [(job.seq,) for job, _ in finished])

    def lease_next(self) -> Callback | None:
        batch = self.lease_batch(1)
        return batch[0] if batch else None

    def lease_batch(self, limit: int) -> list[Callback]:
        """Lease up to LIMIT callbacks: for each job, its newest, oldest jobs first.

        A job's state only moves forward, so only its newest callback matters: when the
        middleware was slow or down, 'running' is skipped for 'succeeded' (which carries
        started_at). Attempts carry over from the callbacks it replaces.
        """
        now = time.time()
        leased = []
        with self.db.transaction() as conn:
            for _ in range(limit):
                row = conn.execute(
                    "UPDATE outbox SET lease_until = ?, attempts = 1 + (SELECT MAX(p.attempts)"
                    " FROM outbox p WHERE p.job_id = outbox.job_id AND p.url = outbox.url)"
                    " WHERE seq = (SELECT o.seq FROM outbox o"
                    " WHERE o.next_attempt_at <= ? AND o.lease_until <= ? AND o.stage != 'parked'"
                    " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.job_id = o.job_id"
                    " AND p.url = o.url AND (p.seq > o.seq OR p.lease_until > ?))"
                    " ORDER BY o.seq LIMIT 1)"
                    " RETURNING seq, job_id, url, payload, request_id, attempts, local_errors,"
                    " stage",
                    (now + self.LEASE_S, now, now, now),
                ).fetchone()
                if row is None:
                    break
                fields = dict(row)
                fields["payload"] = json.loads(fields["payload"])
                leased.append(Callback(**fields))
        return leased

    def delivered(self, callbacks: list[Callback]) -> None:
        """Forget CALLBACKS and the older ones of their jobs that they made needless."""
        if not callbacks:
            return
        with self.db.transaction() as conn:
            conn.executemany(
                "DELETE FROM outbox WHERE job_id = ? AND url = ? AND seq <= ?",
                [(c.job_id, c.url, c.seq) for c in callbacks],
            )

    def retry_later(self, seq: int, delay_s: float, error: str, ours: bool = False) -> None:
        """Send it again after DELAY_S; OURS: the error was on our side (counted)."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET next_attempt_at = ?, lease_until = 0, last_error = ?,"
                " local_errors = local_errors + ? WHERE seq = ?",
                (time.time() + delay_s, error, int(ours), seq),
            )

    def release(self, seqs: list[int]) -> None:
        """Give back leases of callbacks whose sending was cut short by an error."""
        with self.db.transaction() as conn:
            conn.executemany(
                "UPDATE outbox SET lease_until = 0 WHERE seq = ?", [(seq,) for seq in seqs]
            )

    def replace(self, callback: Callback, payload: dict[str, Any]) -> bool:
        """Put PAYLOAD (a 'failed' report) in place of CALLBACK, which cannot be sent; False
        when a newer callback of the job came meanwhile (that one goes instead)."""
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM outbox WHERE job_id = ? AND url = ? AND seq <= ?",
                (callback.job_id, callback.url, callback.seq),
            )
            newer = conn.execute(
                "SELECT 1 FROM outbox WHERE job_id = ? AND url = ?", (callback.job_id, callback.url)
            ).fetchone()
            if newer:
                return False
            conn.execute(
                "INSERT INTO outbox (job_id, url, payload, request_id, attempts, stage)"
                " VALUES (?, ?, ?, ?, ?, 'fallback')",
                (
                    callback.job_id,
                    callback.url,
                    json.dumps(payload),
                    callback.request_id,
                    callback.attempts,
                ),
            )
            return True

    def park(self, callback: Callback, error: str) -> None:
        """Keep CALLBACK, which cannot be sent at all, with its last error, out of the way."""
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM outbox WHERE job_id = ? AND url = ? AND seq < ?",
                (callback.job_id, callback.url, callback.seq),
            )
            conn.execute(
                "UPDATE outbox SET stage = 'parked', lease_until = 0, last_error = ? WHERE seq = ?",
                (error, callback.seq),
            )

    def retry_now(self, url_prefix: str) -> int:
        """Callbacks to URLs under URL_PREFIX that wait out a back-off become due at once."""
        with self.db.transaction() as conn:
            return conn.execute(
                "UPDATE outbox SET next_attempt_at = 0 WHERE next_attempt_at > ?"
                " AND substr(url, 1, ?) = ? AND stage != 'parked'",
                (time.time(), len(url_prefix), url_prefix),
            ).rowcount

    def release_leases(self) -> None:
        """After a restart no sender holds a lease: make every callback sendable again."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE outbox SET lease_until = 0")

    def pending(self) -> int:
        """Callbacks still to deliver (parked ones aside)."""
        return self.db.count("SELECT COUNT(*) FROM outbox WHERE stage != 'parked'")

    def parked(self) -> int:
        return self.db.count("SELECT COUNT(*) FROM outbox WHERE stage = 'parked'")

    def waiting_for_retry(self) -> int:
        return self.db.count(
            "SELECT COUNT(*) FROM outbox WHERE attempts > 0 AND lease_until = 0"
            " AND stage != 'parked'"
        )

    def next_due_in_s(self) -> float | None:
        due = self.db.number(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE lease_until = 0 AND stage != 'parked'"
        )
        return None if due is None else max(0.0, due - time.time())

    def purge(self) -> int:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM outbox").rowcount


def open_core_store(data_dir: Path) -> tuple[SqliteJobQueue, CallbackOutbox]:
    db = Database(data_dir / "core.sqlite3", _QUEUE_SCHEMA)
    for table, columns in _ADDED_COLUMNS.items():
        db.add_missing_columns(table, columns)
    return SqliteJobQueue(db), CallbackOutbox(db)
