"""What every job store shares: the JobStore interface and the shape of a page of jobs.

The job's rules (what a report does to a job, idempotency, its history) are the domain's
(toy_platform.jobs.lifecycle); a store reads rows, applies those rules, writes the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from toy_platform.jobs.lifecycle import LEASE_S, ReportOutcome, SilenceLimits
from toy_platform.jobs.model import Report
from toy_platform.unavailable import StoreUnavailable


class StoreDown(StoreUnavailable):
    """The store is a server that does not answer: a dependency that is down, not our own work
    stuck (no restart of the middleware would help; it heals when the server is back)."""


class StoreSetupError(Exception):
    """The job store cannot be used at all (a newer schema, a bad URL): the middleware stops."""


@dataclass(frozen=True)
class Page:
    jobs: list[dict[str, Any]]
    total: int
    next_before: str | None  # the cursor of the next (older) page; None after the last


@dataclass(frozen=True)
class PageQuery:
    """The WHERE clauses (with their parameters) of a page of jobs and of its total."""

    total_where: str
    total_params: tuple[object, ...]
    where: str
    params: tuple[object, ...]


def page_query(owner: str | None, status: str | None, before: int | None, mark: str) -> PageQuery:
    """The filters of /list_jobs as SQL, with MARK as the store's placeholder (? or %s).

    The total counts the jobs of the filters, not those before the cursor."""
    given: list[tuple[str, object]] = [(f"owner = {mark}", owner), (f"status = {mark}", status)]
    filters = [(condition, value) for condition, value in given if value is not None]
    total_where, total_params = _where(filters)
    if before is not None:
        filters.append((f"seq < {mark}", before))
    where, params = _where(filters)
    return PageQuery(total_where, total_params, where, params)


def _where(filters: list[tuple[str, object]]) -> tuple[str, tuple[object, ...]]:
    if not filters:
        return "", ()
    return "WHERE " + " AND ".join(c for c, _ in filters), tuple(v for _, v in filters)


def page_of(rows: list[dict[str, Any]], limit: int, total: int) -> Page:
    """A page of LIMIT of ROWS (newest first, each with its seq; read one more than LIMIT):
    the cursor of the next page is the last shown row's seq when an older row exists, so a
    last page that is full leads nowhere further."""
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = str(rows[-1]["seq"]) if more else None
    for row in rows:
        del row["seq"]
    return Page(rows, total, cursor)


class JobStore(Protocol):
    """Jobs, their events, and which ones still have to be sent to the core.

    Every method raises StoreUnavailable when the store cannot be reached."""

    name: str  # e.g. "PostgreSQL at postgresql://toy:***@db:5432/toy" (never a password)

    def create(
        self,
        owner: str,
        job_name: str,
        data: Any,
        request_id: str | None,
        idempotency_key: str | None = None,
        job_type: str = "reverse",
    ) -> tuple[dict[str, Any], bool]:
        """Store a new job (committed when this returns); with a known idempotency key,
        return that job instead (, False). Raises IdempotencyKeyReused."""

    def cancel(self, job_id: str, by: str) -> dict[str, Any] | None:
        """Cancel a job (see jobs.lifecycle.cancel): the job afterwards, None when there is
        no such job. Raises NotCancellable for a finished one."""

    def get(self, job_id: str, with_events: bool = False) -> dict[str, Any] | None: ...

    def events(self, job_id: str) -> list[dict[str, Any]]: ...

    def page(
        self,
        owner: str | None,
        status: str | None,
        limit: int,
        offset: int,
        before: int | None = None,
    ) -> Page:
        """Jobs newest first (OWNER None: everyone's), older than the cursor BEFORE if given."""

    def apply_reports(self, reports: list[Report]) -> list[ReportOutcome]:
        """Move jobs forward with what core reported (jobs.lifecycle: never backwards, never
        twice), in one transaction; an outcome for each report."""

    def retry(self, job_id: str, by: str) -> dict[str, Any] | None:
        """Send a failed job round again as a new attempt; None if it is not failed."""

    def claim_unforwarded(self, limit: int, lease_s: float = LEASE_S) -> list[dict[str, Any]]:
        """Queued jobs the core has not yet accepted, oldest first, that no one else holds:
        this middleware holds them for LEASE_S (no other claim returns them meanwhile)."""

    def release(self, job_ids: Iterable[str]) -> None:
        """Give claimed jobs back (they could not be forwarded now): claimable again at once."""

    def mark_forwarded(self, accepted: list[dict[str, Any]]) -> None:
        """Record that the core accepted jobs: dicts of job_id, attempt, sent_at, queued_at and
        position."""

    def refuse(self, job_id: str, attempt: int, error: str) -> bool:
        """Mark a job the core will not take failed with ERROR; False when it was no longer
        waiting to be forwarded."""

    def silent_handed_over(self, limits: SilenceLimits, limit: int) -> list[dict[str, Any]]:
        """Jobs core accepted and has not finished (queued or running) with nothing in their
        history for as long as LIMITS allow their type, oldest first."""

    def note_held_up(self, job_id: str, attempt: int, why: str) -> bool:
        """Say on an unfinished job's history that core holds it but its reports do not come
        (WHY); not again while that is still its last line. Whether a line was added."""

    def hand_over_again(self, job_id: str, attempt: int) -> int:
        """Make a job core accepted (and lost) queued and claimable again; how many times
        that happened to it (0: it was not waiting on core any more)."""

    def counts_by_status(self, owner: str | None = None) -> dict[str, int]: ...

    def waiting_for_core(self) -> int: ...

    def oldest_queued_age_s(self) -> float | None: ...

    def reset(self) -> int:
        """Forget every job; return how many there were."""

    def unavailable(self) -> str | None:
        """None when the store can be written, else why not (naming the store)."""

    def set_lock_wait(self, seconds: float) -> None:
        """Make this thread's writes give up after SECONDS when the store is held by another
        process (a background loop would rather fail fast and say why than hang)."""

    def close(self) -> None: ...
