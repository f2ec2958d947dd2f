"""Which queue the core runs, chosen once from --queue-url.

- `sqlite` (default): the embedded queue in core's data dir, worker and callback sender
  threads inside core (queues/embedded).
- `redis://HOST:PORT/DB`: Celery with a Redis broker; `toy-platform worker`s on any number
  of machines run the jobs and report back through the broker (queues/celery).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toy_platform.config import Settings
from toy_platform.core.queues.base import JobQueue, QueueSetupError
from toy_platform.extras import missing_extra
from toy_platform.urls import mask_url

if TYPE_CHECKING:
    from toy_platform.service import ServiceState


def queue_kind(settings: Settings) -> str:
    """ "sqlite" or "celery", or a QueueSetupError saying what is wrong with the settings."""
    from toy_platform.core.queues.celery.config import (
        celery_url_problem,
        is_celery_url,
        kombu_problem,
    )

    url = settings.queue_url.strip()
    if url in ("", "sqlite"):
        if settings.workers < 1:
            raise QueueSetupError(
                "--workers 0 leaves nothing to run the jobs of the embedded sqlite queue:"
                " give --workers 1 or more, or run workers elsewhere with"
                " --queue-url redis://HOST:6379/0"
            )
        return "sqlite"
    if is_celery_url(url):
        problem = (
            celery_url_problem(url)
            or missing_extra("celery", f"--queue-url {mask_url(url)}")
            or kombu_problem()
        )
        if problem:
            raise QueueSetupError(problem)
        return "celery"
    raise QueueSetupError(
        f"--queue-url {mask_url(url)!r} is not a queue toy-platform knows: give sqlite (the"
        " embedded queue) or redis://HOST:PORT/DB (Celery with a Redis broker)"
    )


def open_queue(settings: Settings, svc: ServiceState, start: bool = True) -> JobQueue:
    """The queue settings.queue_url names, its readiness checks and metrics added to SVC."""
    if queue_kind(settings) == "sqlite":
        from toy_platform.core.queues.embedded.queue import SqliteQueue

        return SqliteQueue(settings, svc, watch=start)
    from toy_platform.core.queues.celery.queue import CeleryQueue

    return CeleryQueue(settings, svc)
