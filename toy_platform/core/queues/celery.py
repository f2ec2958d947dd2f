"""The core's queue on Celery with a Redis broker: jobs run on `toy-platform worker`s anywhere.

Chosen by `--queue-url redis://HOST:PORT/DB`. The core publishes each job as a `run_job`
task; workers on any machine run it and report back through `deliver_callback` tasks on
the same broker, retried with back-off until the middleware takes them (see celery_tasks).

At least once, never lost:
- task_acks_late: a task is acknowledged after it ran, not when a worker took it;
  task_reject_on_worker_lost: a pool process that dies mid-task hands it back at once.
- A whole worker that dies (SIGKILL, its machine gone) cannot hand anything back: Redis
  keeps its unacknowledged tasks, and any other worker puts them back in the queue once
  they are older than the visibility timeout. kombu looks for them every
  unacked_restore_interval x unacked_restore_throttle seconds (10 x 10 by default, and an
  hour of visibility timeout): here every RESTORE_EVERY_S seconds, and the timeout is
  `--visibility-timeout`, by default max(30 s, 10 x the job delay) — longer than the
  longest job (a job still running past it would run twice), short enough that a dead
  worker's job runs again within about a minute.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from toy_platform.config import Settings
from toy_platform.core.queues import QueuedJob, QueueUnavailable

if TYPE_CHECKING:
    from toy_platform.service import ServiceState

logger = logging.getLogger(__name__)

JOBS_QUEUE = "toy_platform.jobs"
CALLBACKS_QUEUE = "toy_platform.callbacks"
RUN_JOB = "toy_platform.run_job"
DELIVER_CALLBACK = "toy_platform.deliver_callback"
OUTCOMES_KEY = "toy_platform:job_outcomes"
"""A Redis hash: jobs finished by all workers, by outcome (HINCRBY), read by core's /metrics."""
REQUEST_ID_HEADER = "request_id"
"""The task header that carries the request ID, so logs follow a job onto the worker."""
ENQUEUED_AT = "enqueued_at"
"""The task header with the time core queued the job: the oldest waiting job's age."""

MIN_VISIBILITY_TIMEOUT_S = 30.0
VISIBILITY_JOB_DELAYS = 10
RESTORE_EVERY_S = 5
BROKER_TIMEOUT_S = 3.0
"""Connect and socket timeout towards Redis: a broker that is down or hung costs a request
at most this, never a hang."""
PUBLISH_RETRY_S = 120.0
"""How long a worker waits for the broker to publish a job's callback before it gives the
job back to the queue (unacknowledged, it runs again once the broker answers)."""


def is_celery_url(url: str) -> bool:
    return urlsplit(url).scheme in ("redis", "rediss")


def shown_url(url: str) -> str:
    """URL without its password: safe for logs, /readyz and the status screen."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else ":***@"
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = user + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def visibility_timeout(settings: Settings) -> float:
    """Seconds after which a task taken by a worker that never acknowledged it runs again."""
    if settings.visibility_timeout:
        return float(settings.visibility_timeout)
    return max(MIN_VISIBILITY_TIMEOUT_S, VISIBILITY_JOB_DELAYS * settings.job_delay)


def callback_backoff_max(settings: Settings) -> int:
    """The longest wait between two tries of a callback: below the visibility timeout, or
    a callback waiting for its next try would be put back in the queue as if lost."""
    return max(1, min(30, int(visibility_timeout(settings) / 2)))


def default_pool() -> str:
    """prefork where processes can fork (Linux, macOS); threads on Windows."""
    return "threads" if sys.platform == "win32" else "prefork"


def celery_app(settings: Settings) -> Any:
    """The platform's Celery app on the broker at settings.queue_url, with its tasks."""
    from celery import Celery

    from toy_platform.core.queues import celery_tasks

    app = Celery("toy_platform", broker=settings.queue_url, set_as_current=False)
    transport = {
        "visibility_timeout": visibility_timeout(settings),
        "unacked_restore_interval": RESTORE_EVERY_S,
        "unacked_restore_throttle": 1,
        "socket_timeout": BROKER_TIMEOUT_S * 2,
        "socket_connect_timeout": BROKER_TIMEOUT_S,
        "socket_keepalive": True,
        "health_check_interval": 10,
        "retry_on_timeout": True,
    }
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        task_create_missing_queues=True,
        task_default_queue=JOBS_QUEUE,
        task_routes={DELIVER_CALLBACK: {"queue": CALLBACKS_QUEUE}},
        broker_transport_options=transport,
        broker_connection_timeout=BROKER_TIMEOUT_S,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_channel_error_retry=True,
        broker_heartbeat=0,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_enable_remote_control=True,
        worker_send_task_events=False,
        task_send_sent_event=False,
        enable_utc=True,
    )
    celery_tasks.register(app, settings)
    return app


def broker_client(url: str) -> Any:
    """A redis-py client for the broker's own figures (queue length, outcomes), quick to fail."""
    import redis

    return redis.Redis.from_url(
        url,
        socket_timeout=BROKER_TIMEOUT_S,
        socket_connect_timeout=BROKER_TIMEOUT_S,
        health_check_interval=10,
    )


def describe_broker_error(exc: BaseException) -> str:
    """A short reason for a failed call to Redis."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    lowered = text.lower()
    if "refused" in lowered or "10061" in lowered:
        return "connection refused (not running?)"
    if "timeout" in lowered or "timed out" in lowered:
        return f"no answer within {BROKER_TIMEOUT_S:g} s (timeout)"
    return text[:200]


class CeleryQueue:
    """The core's JobQueue on Celery: jobs are published to Redis, workers anywhere run them.

    With --workers N (N > 0), core also runs one `toy-platform worker` of concurrency N on
    its own machine, restarted if it dies; with --workers 0 the workers run elsewhere.
    """

    kind = "celery"

    def __init__(self, settings: Settings, svc: ServiceState) -> None:
        from toy_platform.core.queues.celery_watch import BrokerWatch, LocalWorker

        self.settings = settings
        self.url = shown_url(settings.queue_url)
        self.app = celery_app(settings)
        self.redis = broker_client(settings.queue_url)
        self.watch = BrokerWatch(self.app, self.redis, self.url)
        self.local = LocalWorker(settings) if settings.workers > 0 else None
        svc.readiness.append(("broker", self.watch.broker_problem))
        svc.readiness.append(("workers", self.watch.workers_problem))
        svc.registry.register(self.watch.collector())

    def start(self) -> None:
        self.watch.start()
        if self.local is not None:
            self.local.start()

    def stop(self) -> None:
        self.watch.stop()
        if self.local is not None:
            self.local.stop()

    def accept(self, jobs: list[QueuedJob]) -> list[int]:
        """Publish a run_job task per job, the request ID in its headers."""
        task = self.app.tasks[RUN_JOB]
        try:
            with self.app.producer_or_acquire() as producer:
                for job in jobs:
                    task.apply_async(
                        args=(job.job_id, job.data, job.callback_url),
                        headers={REQUEST_ID_HEADER: job.request_id, ENQUEUED_AT: time.time()},
                        producer=producer,
                        retry=False,
                    )
            waiting = int(self.redis.llen(JOBS_QUEUE))
        except Exception as exc:  # kombu's, redis-py's and socket errors alike
            raise QueueUnavailable(self.unreachable(exc)) from exc
        first = max(1, waiting - len(jobs) + 1)
        return [first + n for n in range(len(jobs))]

    def size(self) -> int:
        return int(self.redis.llen(JOBS_QUEUE))

    def figures(self) -> dict[str, Any]:
        """/queue_size: the broker's queues and the workers (null what cannot be known)."""
        workers = self.watch.workers_list()
        online = [w for w in workers if w["online"]]
        try:
            size, callbacks = self.size(), int(self.redis.llen(CALLBACKS_QUEUE))
            oldest = self.watch.oldest_age_s()
        except Exception:  # broker down: /readyz says why
            size, callbacks, oldest = None, None, None
        return {
            "queue": self.kind,
            "broker": self.url,
            "broker_up": self.watch.broker_problem() is None,
            "queue_size": size,
            "running": sum(w["active"] or 0 for w in online),
            "oldest_queued_age_s": oldest,
            "callbacks_pending": callbacks,
            "callbacks_waiting_retry": None,
            "callbacks_parked": None,
            "workers_alive": sum(w["concurrency"] or 0 for w in online),
            "callback_senders_alive": None,
            "workers": workers,
        }

    def purge(self) -> dict[str, int]:
        """Empty both queues; jobs a worker already runs finish, and the middleware, which
        forgot them, drops their callbacks (404)."""
        try:
            with self.app.connection_for_write() as conn:
                channel = conn.default_channel
                jobs = int(channel.queue_purge(JOBS_QUEUE) or 0)
                callbacks = int(channel.queue_purge(CALLBACKS_QUEUE) or 0)
        except Exception as exc:
            raise QueueUnavailable(self.unreachable(exc)) from exc
        return {"jobs": jobs, "callbacks": callbacks}

    def unreachable(self, exc: BaseException) -> str:
        return f"cannot reach the Celery broker (Redis) at {self.url}: {describe_broker_error(exc)}"
