"""What the core service asks of its queue (JobQueue), and the job it queues.

The core service only accepts, counts and purges jobs through `JobQueue`; each queue
(queues/embedded, queues/celery) adds its own readiness checks and metrics to the service.
A queue whose broker cannot be used raises toy_platform.unavailable.QueueUnavailable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class QueuedJob:
    job_id: str
    data: Any  # any JSON value the job type accepts
    callback_url: str
    request_id: str | None = None
    enqueued_at: float = 0.0
    seq: int = 0
    claims: int = 0  # times taken by a worker without being finished or released
    job_type: str = "reverse"


@dataclass(frozen=True)
class Accepted:
    position: int  # 1 = next
    new: bool  # False: the queue already held this job (a resend), it was not queued again
    again: bool = False  # queued again: the broker had lost it (accepted before, not counted)


class QueueSetupError(Exception):
    """--queue-url (or a setting that goes with it) cannot work; the message says why."""


class JobQueue(Protocol):
    """What the core service asks of its queue."""

    kind: str

    def start(self) -> None:
        """Start what runs the jobs (threads, a local worker) and the queue's watchers."""

    def stop(self) -> None:
        """Stop them (the process is ending)."""

    def accept(self, jobs: list[QueuedJob]) -> list[Accepted]:
        """Queue JOBS, each once: a job sent again (same job_id and callback URL, i.e. the
        same attempt) is not queued a second time. Raises QueueUnavailable."""

    def held(self, jobs: list[QueuedJob]) -> list[bool]:
        """For each run (job_id and callback URL), whether the queue still holds it: waiting,
        running, or its report not yet delivered. Raises QueueUnavailable."""

    def cancel(self, jobs: list[QueuedJob]) -> list[bool]:
        """Cancel these runs: a queued one is dropped (it never starts), a running one is
        told to stop. For each, whether the queue held it. Raises QueueUnavailable."""

    def job_types(self) -> list[dict[str, Any]]:
        """The job types its workers offer: JobType.describe() plus available, reason and
        offered_by (the workers)."""

    def callbacks_problem(self) -> str | None:
        """Why reports do not reach the middleware while some wait (None: they do)."""

    def size(self) -> int:
        """Jobs waiting, not yet taken by a worker."""

    def figures(self) -> dict[str, Any]:
        """The body of /queue_size."""

    def purge(self) -> dict[str, int]:
        """Drop every waiting job and undelivered callback: {"jobs": n, "callbacks": n}."""
