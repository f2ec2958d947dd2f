"""What both job stores read the same way: one SQL for a job, its events, a page of jobs and
the figures, with each store's placeholder. A store supplies `_rows` (its connection, its
driver's errors turned into StoreUnavailable) and keeps only the SQL that is its own."""

from __future__ import annotations

import time
from typing import Any

from toy_platform.clock import utc_ago
from toy_platform.jobs.lifecycle import (
    HANDED_OVER_STATUSES,
    KeyMatch,
    SilenceLimits,
    counts,
    match_key,
)
from toy_platform.jobs.model import PUBLIC_FIELDS, NewJob, encode, public
from toy_platform.middleware.stores.base import Page, page_of, page_query

JOB_COLUMNS = ", ".join(PUBLIC_FIELDS)
INSERT_JOB_COLUMNS = (
    "job_id, job_name, owner, data, created_at, created_epoch, request_id, idempotency_key,"
    " job_type"
)
FORWARD_COLUMNS = "job_id, data, attempt, request_id, job_type"
"""What the forwarder sends core of a job."""
UNFINISHED = ", ".join(f"'{status}'" for status in HANDED_OVER_STATUSES)
"""The states of a job core accepted and may still lose, as SQL values."""


def insert_job_params(new: NewJob, job_id: str, now: str) -> tuple[object, ...]:
    """The values of INSERT_JOB_COLUMNS for a new job."""
    return (
        job_id,
        new.job_name,
        new.owner,
        encode(new.data),
        now,
        time.time(),
        new.request_id,
        new.idempotency_key,
        new.job_type,
    )


class SqlJobStore:
    """The reading half of a JobStore over SQL tables jobs, job_events and job_counts."""

    MARK = "?"  # the driver's placeholder
    WAITING = "forwarded = 0 AND status = 'queued'"  # as the store's partial index says it
    HANDED_OVER = "forwarded = 1"

    def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _insert(self, new: NewJob) -> tuple[dict[str, Any], bool]:
        raise NotImplementedError

    def create(
        self,
        owner: str,
        job_name: str,
        data: Any,
        request_id: str | None,
        idempotency_key: str | None = None,
        job_type: str = "reverse",
    ) -> tuple[dict[str, Any], bool]:
        """Store a new job (committed when this returns), sharing a transaction with the jobs
        submitted at the same moment; with a known idempotency key, that job (, False)."""
        return self._insert(NewJob(owner, job_name, data, request_id, idempotency_key, job_type))

    def _job_in(self, conn: Any, job_id: str) -> dict[str, Any] | None:
        """The job, read on CONN (inside the caller's transaction)."""
        row = conn.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = {self.MARK}", (job_id,)
        ).fetchone()
        return public(dict(row)) if row else None

    def _job_by_key(self, conn: Any, new: NewJob) -> dict[str, Any] | None:
        """The job this user submitted with NEW's Idempotency-Key in the window (read on
        CONN, in the insert's transaction); None when there is none, or it is older (the
        key is freed). Raises IdempotencyKeyReused."""
        mark = self.MARK
        row = conn.execute(
            "SELECT job_id, created_epoch, job_name, data, job_type FROM jobs"
            f" WHERE owner = {mark} AND idempotency_key = {mark}",
            (new.owner, new.idempotency_key),
        ).fetchone()
        if row is None:
            return None
        if match_key(dict(row), new, time.time()) is KeyMatch.EXPIRED:
            conn.execute(
                f"UPDATE jobs SET idempotency_key = NULL WHERE job_id = {mark}", (row["job_id"],)
            )
            return None
        return self._job_in(conn, row["job_id"])

    def get(self, job_id: str, with_events: bool = False) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = {self.MARK}", (job_id,))
        job = public(rows[0]) if rows else None
        if job is not None and with_events:
            job["events"] = self.events(job_id)
        return job

    def events(self, job_id: str) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT at, status, service, detail FROM job_events"
            f" WHERE job_id = {self.MARK} ORDER BY seq",
            (job_id,),
        )

    def page(
        self,
        owner: str | None,
        status: str | None,
        limit: int,
        offset: int,
        before: int | None = None,
    ) -> Page:
        mark = self.MARK
        query = page_query(owner, status, before, mark)
        (total,) = self._rows(
            f"SELECT COALESCE(SUM(n), 0) AS n FROM job_counts {query.total_where}",
            query.total_params,
        )
        rows = self._rows(
            f"SELECT seq, {JOB_COLUMNS} FROM jobs {query.where}"
            f" ORDER BY seq DESC LIMIT {mark} OFFSET {mark}",
            (*query.params, limit + 1, offset),
        )
        return page_of([public(row) for row in rows], limit, int(total["n"]))

    def counts_by_status(self, owner: str | None = None) -> dict[str, int]:
        clause, params = (f"WHERE owner = {self.MARK}", (owner,)) if owner else ("", ())
        rows = self._rows(
            f"SELECT status, SUM(n) AS n FROM job_counts {clause} GROUP BY status", params
        )
        return counts((row["status"], row["n"]) for row in rows)

    def silent_handed_over(self, limits: SilenceLimits, limit: int) -> list[dict[str, Any]]:
        """Jobs core accepted and has not finished whose history has not moved for as long as
        LIMITS allow their type: oldest first, as claim_unforwarded shows them."""
        mark = self.MARK
        types = list(limits.by_type.items())
        since = f"CASE j.job_type {' '.join([f'WHEN {mark} THEN {mark}'] * len(types))}"
        since = f"{since} ELSE {mark} END" if types else mark
        cutoffs = [value for name, s in types for value in (name, utc_ago(s))]
        return self._rows(
            f"SELECT {FORWARD_COLUMNS}, status FROM jobs j"
            f" WHERE {self.HANDED_OVER} AND status IN ({UNFINISHED}) AND NOT EXISTS (SELECT 1"
            f" FROM job_events e WHERE e.job_id = j.job_id AND e.at >= {since})"
            f" ORDER BY seq LIMIT {mark}",
            (*cutoffs, utc_ago(limits.otherwise), limit),
        )

    def waiting_for_core(self) -> int:
        (row,) = self._rows(f"SELECT COUNT(*) AS n FROM jobs WHERE {self.WAITING}")
        return int(row["n"])

    def oldest_queued_age_s(self) -> float | None:
        (row,) = self._rows("SELECT MIN(created_epoch) AS t FROM jobs WHERE status = 'queued'")
        oldest = row["t"]
        return None if oldest is None else max(0.0, time.time() - float(oldest))
