"""How a job's state changes in the middleware's store: the rules both stores apply.

The stores only read rows and write what these functions decide, so SQLite and PostgreSQL
cannot drift apart: who may see a job, when an Idempotency-Key returns the job it made,
how core's report moves a job (never backwards, never twice), and what its history says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from toy_platform.clock import utc_now
from toy_platform.jobs.model import JobStatus, NewJob, Report, encode
from toy_platform.jobs.types import DEFAULT_TIMEOUT_S

IDEMPOTENCY_WINDOW_S = 24 * 3600
LEASE_S = 15.0
"""How long a middleware holds the jobs it claimed to forward: longer than a forward can take
(5 s timeout and the store's writes), so another middleware takes them only from one that died."""

RANK = {
    JobStatus.QUEUED: 0,
    JobStatus.RUNNING: 1,
    JobStatus.SUCCEEDED: 2,
    JobStatus.FAILED: 2,
    JobStatus.CANCELLED: 2,
}
REPORT_FIELDS = ("status", "started_at", "completed_at", "result", "error")
"""The fields of a job a report of core sets."""
REPORT_ROW = (
    "job_id, status, attempt, owner, forwarded, cancel_requested, started_at, completed_at,"
    " result, error, progress"
)
"""The columns of a job a report is applied to (ReportBatch)."""
TOOK_IT = "core took it (its report came before its answer)"

Event = tuple[str, str, str, str, str | None]
"""A history line to store: (job_id, at, status, service, detail)."""


class IdempotencyKeyReused(Exception):
    """An Idempotency-Key sent again with another job_name or data: a client bug, not a retry."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id


class KeyMatch(Enum):
    """What an Idempotency-Key already in the store means for a new submit."""

    SAME_JOB = "same"  # a retry of the submit: answer the job it made
    EXPIRED = "expired"  # older than the window: the key is free again


def may_see(owner: str, username: str, is_admin: bool) -> bool:
    """A job is visible to its owner and to admins."""
    return is_admin or owner == username


def match_key(existing: dict[str, Any], new: NewJob, now_epoch: float) -> KeyMatch:
    """Whether EXISTING (job_id, created_epoch, job_name, data: the job stored under the same
    owner and key) is the job NEW asks for again. Raises IdempotencyKeyReused for a key
    reused with other content inside the window."""
    if now_epoch - float(existing["created_epoch"]) > IDEMPOTENCY_WINDOW_S:
        return KeyMatch.EXPIRED
    stored = (existing["job_name"], existing["data"], existing.get("job_type", "reverse"))
    if stored != (new.job_name, encode(new.data), new.job_type):
        raise IdempotencyKeyReused(str(existing["job_id"]))
    return KeyMatch.SAME_JOB


def submitted_event(job_id: str, owner: str, at: str) -> Event:
    return (job_id, at, "submitted", "middleware", f"by {owner}")


def stale(current_status: str, current_attempt: int, status: str, attempt: int) -> bool:
    """Whether a report would move a job backwards, or belongs to another attempt."""
    return current_attempt != attempt or RANK[JobStatus(status)] <= RANK[JobStatus(current_status)]


def news_of_a_running_job(current_status: str, current_attempt: int, report: Report) -> bool:
    """Whether REPORT, a 'running' report to a job already running (same attempt), brings
    something to keep: its progress, or history lines (a try that failed, a timeout)."""
    update = report.update
    return (
        current_status == JobStatus.RUNNING
        and update["status"] == JobStatus.RUNNING
        and current_attempt == report.attempt
        and bool(update.get("progress") or update.get("events"))
    )


@dataclass(frozen=True)
class ReportOutcome:
    changed: bool
    status: str | None  # the job's status afterwards; None when there is no such job
    cancel_requested: bool = False  # a cancel was asked: whoever runs it stops it


class ReportBatch:
    """Reports applied in memory to the jobs they name (rows of job_id, status, attempt,
    owner, forwarded and REPORT_FIELDS, read under the store's lock), as one transaction will
    write them: the changed jobs, their new history lines, and how each status count moves."""

    def __init__(
        self, jobs: dict[str, dict[str, Any]], said: dict[str, set[tuple[str, str]]] | None = None
    ) -> None:
        self.jobs = jobs
        self.said = said if said is not None else {}
        """Per job, the (status, detail) history lines of core's already stored."""
        self.changed: set[str] = set()
        self.events: list[Event] = []
        self.counts = CountDeltas()

    def apply(self, report: Report) -> ReportOutcome:
        job = self.jobs.get(report.job_id)
        if job is None:
            return ReportOutcome(False, None)
        update, before = report.update, job["status"]
        status = update["status"]
        cancel = bool(job.get("cancel_requested"))
        if news_of_a_running_job(before, job["attempt"], report):
            self._keep_news(job, report)
            return ReportOutcome(True, str(before), cancel)
        if stale(before, job["attempt"], status, report.attempt):
            return ReportOutcome(False, str(before), cancel or before == JobStatus.CANCELLED)
        if update.get("run", 1) > 1 and update.get("started_at"):
            job["started_at"] = update["started_at"]  # it ran again: its time starts anew
        else:
            job["started_at"] = job["started_at"] or update.get("started_at")
        for name in ("completed_at", "result", "error"):
            job[name] = update.get(name)
        if update.get("progress") is not None:
            job["progress"] = update["progress"]
        job["status"] = status
        self.changed.add(report.job_id)
        if not job.get("forwarded", True):
            # core's report overtook its answer to the forward: the history says it was
            # forwarded first, and the answer, when it comes, adds nothing
            job["forwarded"] = True
            now = utc_now()
            self.events.append((report.job_id, now, "forwarded", "middleware", TOOK_IT))
            self.events.append((report.job_id, now, "queued", "core", None))
        if before == JobStatus.QUEUED and status != JobStatus.RUNNING and update.get("started_at"):
            # the 'running' report was overtaken by this one: keep the history whole
            self.events.append((report.job_id, update["started_at"], "running", "core", None))
        self._add_report_events(report)
        self.events.append((report.job_id, utc_now(), status, "core", report.detail))
        self.counts.move(job["owner"], before, status)
        return ReportOutcome(True, str(status), cancel)

    def _keep_news(self, job: dict[str, Any], report: Report) -> None:
        if report.update.get("progress") is not None:
            job["progress"] = report.update["progress"]
            self.changed.add(report.job_id)
        self._add_report_events(report)

    def _add_report_events(self, report: Report) -> None:
        """The history lines a report carries (a try that failed, a timeout), each once: a
        report delivered twice finds its lines already there."""
        for line in report.update.get("events") or ():
            event = (report.job_id, utc_now(), line["status"], "core", line["detail"])
            seen = self.said.setdefault(report.job_id, set())
            if (line["status"], line["detail"]) not in seen:
                seen.add((line["status"], line["detail"]))
                self.events.append(event)

    def changed_jobs(self) -> list[dict[str, Any]]:
        """The jobs that changed, in job_id order (the order their rows are locked in)."""
        return [self.jobs[job_id] for job_id in sorted(self.changed)]


def apply_reports(
    jobs: dict[str, dict[str, Any]],
    reports: list[Report],
    said: dict[str, set[tuple[str, str]]] | None = None,
) -> tuple[ReportBatch, list[ReportOutcome]]:
    """Apply REPORTS, in order, to JOBS (by job_id): what to write, and each one's outcome.
    SAID: the history lines the reports' jobs already have (for reports that carry some)."""
    batch = ReportBatch(jobs, said)
    return batch, [batch.apply(report) for report in reports]


def carries_events(reports: list[Report]) -> list[str]:
    """The jobs whose reports carry history lines: the store reads theirs first."""
    return sorted({r.job_id for r in reports if r.update.get("events")})


class NotCancellable(Exception):
    """A cancel of a job that already finished."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class Cancel:
    """What a cancel does to a job: its new fields, the history line, the count moved."""

    update: dict[str, Any]
    event: Event | None
    move: tuple[str, str] | None  # (from, to) status


def cancel(job: dict[str, Any], by: str) -> Cancel:
    """A cancel of JOB (status, cancel_requested, job_id) asked by BY. A queued job is
    cancelled at once (it never starts: core drops it); a running one is asked to stop (its
    worker reports 'cancelled' once it did); asked again, nothing changes. Raises
    NotCancellable for a job that finished."""
    status, job_id = job["status"], job["job_id"]
    if status == JobStatus.QUEUED:
        now = utc_now()
        update = {"status": JobStatus.CANCELLED.value, "completed_at": now}
        return Cancel(
            update, (job_id, now, "cancelled", "middleware", f"by {by}"), (status, "cancelled")
        )
    if status == JobStatus.RUNNING and not job.get("cancel_requested"):
        event = (job_id, utc_now(), "cancel_requested", "middleware", f"by {by}")
        return Cancel({"cancel_requested": True}, event, None)
    if status in (JobStatus.RUNNING, JobStatus.CANCELLED):
        return Cancel({}, None, None)
    raise NotCancellable(str(status))


def retry_event(job_id: str, by: str) -> Event:
    return (job_id, utc_now(), "retry_requested", "middleware", f"by {by}")


def forwarded_events(accepted: list[dict[str, Any]]) -> list[Event]:
    """The two history lines of each job core accepted: the middleware sent it, core queued
    it (at its position). ACCEPTED: dicts of job_id, sent_at, queued_at and position."""
    events: list[Event] = []
    for job in accepted:
        queued_at = job.get("queued_at") or job["sent_at"]
        events.append((job["job_id"], job["sent_at"], "forwarded", "middleware", None))
        events.append((job["job_id"], queued_at, "queued", "core", f"position {job['position']}"))
    return events


MAX_HANDOVERS = 3
"""How many times a job core lost is handed to it again before it is failed with the reason."""


HANDED_OVER_STATUSES = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
"""The states of a job core accepted and has not finished: the ones it may lose."""

RECONCILE_MARGIN_S = 30.0
"""How long past its type's time limit a job handed to core may show no sign of life before
core is asked whether it still holds it: by then a run has ended, by its limit at the latest,
and said so."""


@dataclass(frozen=True)
class SilenceLimits:
    """How long a job handed to core may show no sign of life (no line in its history) before
    the middleware asks core whether it still holds it: per job type, and for any other."""

    by_type: dict[str, float]
    otherwise: float

    @classmethod
    def from_time_limits(
        cls, time_limits: Mapping[str, float], fixed: float | None = None
    ) -> SilenceLimits:
        """Each type's time limit plus RECONCILE_MARGIN_S; FIXED seconds for every type when
        the operator set one (--reconcile-after)."""
        if fixed is not None:
            return cls({}, fixed)
        return cls(
            {name: limit + RECONCILE_MARGIN_S for name, limit in time_limits.items()},
            DEFAULT_TIMEOUT_S + RECONCILE_MARGIN_S,
        )


def handed_over_again_event(job_id: str, times: int, status: str = "queued") -> Event:
    """Core no longer held a job it had accepted (its broker lost it, or the run and its
    worker were lost): sent again, and queued again."""
    ran = status == JobStatus.RUNNING
    where = "while it ran (its worker and its queue lost it?)" if ran else "(its queue lost it?)"
    detail = f"core no longer held it {where}: handed over again ({times})"
    return (job_id, utc_now(), "forwarded_again", "middleware", detail)


REPORTS_HELD_UP = "reports_held_up"


def reports_held_up_event(job_id: str, why: str) -> Event:
    """Core holds the job, but its reports cannot reach the middleware (WHY: core's reason)."""
    return (job_id, utc_now(), REPORTS_HELD_UP, "core", f"core holds this job; {why}")


def said_already(last: tuple[str, str | None] | None, event: Event) -> bool:
    """Whether LAST (the job's last history line: status, detail) already says EVENT."""
    return last is not None and (last[0], last[1]) == (event[2], event[4])


def lost_error(times: int) -> str:
    return (
        f"core lost this job {times} times (its queue's broker lost its data?); it was not"
        " sent again: submit it again, or retry it"
    )


def refused_event(job_id: str, error: str, at: str) -> Event:
    """A job core will never take is failed by the middleware, with core's reason."""
    return (job_id, at, "failed", "middleware", error)


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
                key = (owner, str(status))
                self.deltas[key] = self.deltas.get(key, 0) + step

    def sorted(self) -> list[tuple[str, str, int]]:
        return [(o, s, n) for (o, s), n in sorted(self.deltas.items()) if n]


def counts(rows: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Jobs by status, every status present (0 where none)."""
    result = {status.value: 0 for status in JobStatus}
    for status, n in rows:
        result[status] = result.get(status, 0) + int(n)
    return result
