"""The core's queue and its workers, behind one interface, chosen once from --queue-url.

- `sqlite` (default): the embedded queue in core's data dir, worker and callback sender
  threads inside core (queues/sqlite.py).
- `redis://HOST:PORT/DB`: Celery with a Redis broker; `toy-platform worker`s on any number
  of machines run the jobs and report back through the broker (queues/celery.py).

The core service only accepts, counts and purges jobs through `JobQueue`; each queue adds
its own readiness checks and metrics to the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class QueuedJob:
    job_id: str
    data: str
    callback_url: str
    request_id: str | None = None
    enqueued_at: float = 0.0
    seq: int = 0
    claims: int = 0  # times taken by a worker without being finished or released


class QueueUnavailable(Exception):
    """The queue cannot take jobs now (its broker is down): core answers 503, the
    middleware keeps the jobs and sends them again."""


class QueueSetupError(Exception):
    """--queue-url (or a setting that goes with it) cannot work; the message says why."""


class JobQueue(Protocol):
    """What the core service asks of its queue."""

    kind: str

    def start(self) -> None:
        """Start what runs the jobs (threads, a local worker) and the queue's watchers."""

    def stop(self) -> None:
        """Stop them (the process is ending)."""

    def accept(self, jobs: list[QueuedJob]) -> list[int]:
        """Queue JOBS; their positions (1 = next). Raises QueueUnavailable."""

    def size(self) -> int:
        """Jobs waiting, not yet taken by a worker."""

    def figures(self) -> dict[str, Any]:
        """The body of /queue_size."""

    def purge(self) -> dict[str, int]:
        """Drop every waiting job and undelivered callback: {"jobs": n, "callbacks": n}."""
