"""What every job store shares: the JobStore interface, the job's shape and its rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from toy_platform.errors import StoreUnavailable as StoreUnavailable

STATUSES = ("queued", "running", "succeeded", "failed")
RANK = {"queued": 0, "running": 1, "succeeded": 2, "failed": 2}
IDEMPOTENCY_WINDOW_S = 24 * 3600
LEASE_S = 15.0
"""How long a middleware holds the jobs it claimed to forward: longer than a forward can take
(5 s timeout and the store's writes), so another middleware takes them only from one that died."""
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
Callback = tuple[str, int, dict[str, Any], "str | None"]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def mask_url(url: str) -> str:
    """URL with its password (in the authority or a password= parameter) shown as ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<a store URL that cannot be parsed>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:***@{hostport}" if colon else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        masked = [(k, "***" if k.lower() == "password" else v) for k, v in pairs]
        query = urlencode(masked, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class StoreDown(StoreUnavailable):
    """The store is a server that does not answer: a dependency that is down, not our own work
    stuck (no restart of the middleware would help; it heals when the server is back)."""


class StoreSetupError(Exception):
    """The job store cannot be used at all (a newer schema, a bad URL): the middleware stops."""


class IdempotencyKeyReused(Exception):
    """An Idempotency-Key sent again with another job_name or data: a client bug, not a retry."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id


@dataclass(frozen=True)
class NewJob:
    owner: str
    job_name: str
    data: str
    request_id: str | None
    idempotency_key: str | None


@dataclass(frozen=True)
class CallbackOutcome:
    changed: bool
    status: str | None  # the job's status afterwards; None when there is no such job


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
    """A page of ROWS (newest first, each with its seq): the cursor of the next page is the
    last row's seq when the page is full."""
    cursor = str(rows[-1]["seq"]) if len(rows) == limit else None
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
        data: str,
        request_id: str | None,
        idempotency_key: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store a new job (committed when this returns); with a known idempotency key,
        return that job instead (, False). Raises IdempotencyKeyReused."""

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

    def apply_callback(
        self, job_id: str, attempt: int, update: dict[str, Any], detail: str | None
    ) -> CallbackOutcome:
        """Move a job forward with what the core reported; never backwards, never twice."""

    def apply_callbacks(self, callbacks: list[Callback]) -> list[CallbackOutcome]: ...

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


def stale(current_status: str, current_attempt: int, status: str, attempt: int) -> bool:
    """Whether a callback would move a job backwards, or belongs to another attempt."""
    return current_attempt != attempt or RANK[status] <= RANK[current_status]


def new_job(new: NewJob, job_id: str, now: str) -> dict[str, Any]:
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
    return job


class CountDeltas:
    """Changes to the per-owner, per-status job counts of one transaction, written at its end
    in one order (owner, status), so that concurrent transactions cannot deadlock on them."""

    def __init__(self) -> None:
        self.deltas: dict[tuple[str, str], int] = {}

    def move(self, owner: str, old: str | None, new: str | None) -> None:
        if old == new:
            return
        for status, step in ((old, -1), (new, 1)):
            if status is not None:
                key = (owner, status)
                self.deltas[key] = self.deltas.get(key, 0) + step

    def sorted(self) -> list[tuple[str, str, int]]:
        return [(o, s, n) for (o, s), n in sorted(self.deltas.items()) if n]


def counts(rows: Iterable[tuple[str, int]]) -> dict[str, int]:
    result = dict.fromkeys(STATUSES, 0)
    for status, n in rows:
        result[status] = result.get(status, 0) + int(n)
    return result
