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
  `--visibility-timeout`, by default 30 s on every machine: a dead worker's job runs again
  within about a minute. A job still running past it is not run twice: its worker holds a
  running mark with a heartbeat (RUNNING_KEY), and a copy put back in the queue waits for it.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from toy_platform.config import Settings
from toy_platform.urls import mask_url

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

JOBS_QUEUE = "toy_platform.jobs"
"""The queue of `reverse` jobs; every other job type has a queue of its own (jobs_queue),
which only the workers that offer that type take from: a job of a type no worker offers
waits there, queued, until one does."""
CALLBACKS_QUEUE = "toy_platform.callbacks"
RUN_JOB = "toy_platform.run_job"
DELIVER_CALLBACK = "toy_platform.deliver_callback"
OUTCOMES_KEY = "toy_platform:job_outcomes"
"""A Redis hash: jobs finished by all workers, by outcome (HINCRBY), read by core's /metrics."""
ACCEPTED_KEY = "toy_platform:accepted:{}"
"""A Redis string per run (job and attempt) core published: 'pending <time>' while the
publish is under way, then 'published <time> <queue>'; so a resend of the same run is not
run twice, and a run the broker lost can be told from one still waiting (see whereabouts)."""
ACCEPTED_TTL_S = 7 * 24 * 3600
DELIVERED_TTL_S = 3600.0
"""How long a run's marks stay once its final report reached the middleware: they then only
drop a late copy of its task (kombu puts an unacknowledged one back within minutes), so a
busy platform's Redis holds an hour of finished runs (about 600 bytes each), not a week."""
PENDING_S = 10.0
"""A publish still 'pending' after this long never finished (the broker died under it, and
the mark could not be taken back): a resend publishes it again. Before, a resend is told to
come back (503): the first publish may still go through."""
RUNS_KEY = "toy_platform:runs:{}"
"""A Redis counter per run: how many times a worker started it (a redelivery after a worker
died counts); past MAX_DELIVERIES it is failed instead of run again."""
GIVEN_BACK_KEY = "toy_platform:given_back:{}"
"""A Redis counter per run: how many of its starts a worker gave back to the queue itself
(the broker could not take the job's report). Those starts stopped no worker, so they do
not count towards MAX_DELIVERIES."""
DONE_KEY = "toy_platform:done:{}"
"""Set when a run was reported finished: a copy of its task that arrives later is dropped.
'1' once the middleware took the final report; until then, the report itself (see
waiting.undelivered_record), so a report lost on its way can be sent again."""
STARTED_UPTO_KEY = "toy_platform:started_upto:{}"
"""Per job queue: the latest enqueue time of a run a worker started. kombu takes the oldest
message first, so a run published before it that never started has left the queue."""
RUNNING_KEY = "toy_platform:running:{}"
"""Held by the worker that runs a run, kept alive by a heartbeat while it runs and reports
it: a copy of its task put back in the queue meanwhile (a dropped broker connection puts back
every unacknowledged task, a visibility timeout shorter than the job) waits for it, and is
dropped once the run was reported; it runs only if the heartbeat stops (the worker died)."""
HEARTBEAT_TTL_S = 10
HEARTBEAT_EVERY_S = 2.0
COPY_WAIT_MAX_S = 30.0
"""The longest a copy waits in a worker process for the run in progress; then it goes back to
the queue (at its head) and the process takes other work."""
MAX_DELIVERIES = 3
WORKER_TYPES_KEY = "toy_platform:worker_types:{}"
"""Per worker (its node name): the job types it offers (JSON), renewed every
WORKER_TYPES_EVERY_S while it runs; core's /job_types reads them."""
WORKER_TYPES_EVERY_S = 10
WORKER_TYPES_TTL_S = 60
CANCEL_KEY = "toy_platform:cancel:{}"
"""Set per run (job and attempt) when a cancel was asked: a worker that has not started it
drops it; the one running it stops it (see jobs.execution)."""
REQUEST_ID_HEADER = "request_id"
"""The task header that carries the request ID, so logs follow a job onto the worker."""
ENQUEUED_AT = "enqueued_at"
"""The task header with the time core queued the job: the oldest waiting job's age."""

DEFAULT_VISIBILITY_TIMEOUT_S = 30.0
RESTORE_EVERY_S = 5
RESTORE_MUTEX_S = 15
BROKER_TIMEOUT_S = 3.0
"""Connect and socket timeout towards Redis: a broker that is down or hung costs a request
at most this, never a hang."""
PUBLISH_RETRY_S = 120.0
"""How long a worker waits for the broker to publish a job's callback before it gives the
job back to the queue (unacknowledged, it runs again once the broker answers)."""


JOB_QUEUES_KEY = "toy_platform:job_queues"
"""A Redis set: the queues of the job types other than reverse that jobs were sent to."""


def jobs_queue(job_type: str) -> str:
    """The queue jobs of JOB_TYPE wait in."""
    return JOBS_QUEUE if job_type == "reverse" else f"{JOBS_QUEUE}.{job_type}"


def is_celery_url(url: str) -> bool:
    return urlsplit(url).scheme in ("redis", "rediss")


def celery_url_problem(url: str) -> str | None:
    """What is wrong with a redis:// broker URL (None: nothing), checked before anything uses
    it: kombu reads a malformed one as an AMQP broker on localhost and retries for ever."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"--queue-url {mask_url(url)!r} cannot be read: {exc}"
    shown = mask_url(url)
    if not url.startswith(f"{parts.scheme}://") or not parts.hostname:
        return f"--queue-url {shown!r} names no host: give redis://HOST:PORT/DB"
    if port == 0:
        return f"--queue-url {shown!r}: port 0 is not a port"
    database = parts.path.lstrip("/")
    if database and not database.isdigit():
        return f"--queue-url {shown!r}: the database is a number (redis://HOST:PORT/0)"
    return None


KOMBU_FLOOR = "5.7"
"""The kombu that knows unacked_restore_interval and unacked_restore_throttle: an older one
ignores them silently, and a dead worker's job then waits the visibility timeout + 100 s."""


def kombu_problem() -> str | None:
    """Why the installed kombu cannot give the platform's delivery guarantees, or None."""
    import kombu
    from kombu.transport import redis as kombu_redis

    known = getattr(kombu_redis.Channel, "from_transport_options", ())
    if "unacked_restore_interval" in known and "unacked_restore_throttle" in known:
        return None
    return (
        f"kombu {kombu.__version__} ignores unacked_restore_interval (a dead worker's job would"
        f" wait its visibility timeout + 100 s): pip install 'kombu>={KOMBU_FLOOR}'"
    )


def visibility_timeout(settings: Settings) -> float:
    """Seconds after which a task taken by a worker that never acknowledged it runs again."""
    if settings.visibility_timeout:
        return float(settings.visibility_timeout)
    return DEFAULT_VISIBILITY_TIMEOUT_S


def copy_wait(settings: Settings) -> float:
    """How long a copy of a running run waits for it before it goes back to the queue: under
    the visibility timeout, which would put the waiting copy back as well."""
    return max(1.0, min(COPY_WAIT_MAX_S, visibility_timeout(settings) / 2))


def default_pool() -> str:
    """prefork where processes can fork (Linux, macOS); threads on Windows."""
    return "threads" if sys.platform == "win32" else "prefork"


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
