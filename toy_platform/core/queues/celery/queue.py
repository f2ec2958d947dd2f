"""The core's JobQueue on Celery: jobs are published to Redis, workers anywhere run them."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import OrderedDict
from typing import Any

from toy_platform.config import Settings
from toy_platform.core.queues.base import Accepted, QueuedJob
from toy_platform.core.queues.celery.app import celery_app
from toy_platform.core.queues.celery.config import (
    ACCEPTED_KEY,
    ACCEPTED_TTL_S,
    CALLBACKS_QUEUE,
    CANCEL_KEY,
    DELIVER_CALLBACK,
    ENQUEUED_AT,
    JOB_QUEUES_KEY,
    JOBS_QUEUE,
    PENDING_S,
    REQUEST_ID_HEADER,
    RUN_JOB,
    WORKER_TYPES_KEY,
    broker_client,
    describe_broker_error,
    jobs_queue,
)
from toy_platform.core.queues.celery.waiting import WaitingMover, WaitingReport, WaitingReports
from toy_platform.core.queues.celery.watch import BrokerWatch, LocalWorker
from toy_platform.core.queues.celery.whereabouts import LOST, Whereabouts, published_mark
from toy_platform.jobs.running import blocked_reason, run_id
from toy_platform.jobs.types import DEFAULT_TYPE, load_job_types
from toy_platform.service import ServiceState
from toy_platform.unavailable import QueueUnavailable
from toy_platform.urls import mask_url

COUNTED_RUNS_KEPT = 100_000
"""The runs this core process counted accepted, newest kept: a run published a second time (a
publish that went through, though the broker failed before core could note it) is not
counted twice. The oldest are forgotten past this many (about 10 MB)."""


class CountedRuns:
    """Runs counted once each, up to KEEP of the newest (a thread-safe set)."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._runs: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, run: str) -> bool:
        """Count RUN: whether it was not counted before."""
        with self._lock:
            if run in self._runs:
                return False
            self._runs[run] = None
            if len(self._runs) > self.keep:
                self._runs.popitem(last=False)
            return True


class CeleryQueue:
    """The core's JobQueue on Celery: jobs are published to Redis, workers anywhere run them.

    With --workers N (N > 0), core also runs one `toy-platform worker` of concurrency N on
    its own machine, restarted if it dies; with --workers 0 the workers run elsewhere.
    """

    kind = "celery"

    def __init__(self, settings: Settings, svc: ServiceState) -> None:
        self.settings = settings
        self.url = mask_url(settings.queue_url)
        self.app = celery_app(settings)
        self.redis = broker_client(settings.queue_url)
        self.watch = BrokerWatch(self.app, self.redis, self.url)
        self.types = load_job_types(settings.job_modules)
        self.waiting = WaitingReports(self.redis)
        self.mover = WaitingMover(self.waiting, self._publish_waiting)
        self.whereabouts = Whereabouts(self.redis, self.waiting)
        self._counted = CountedRuns(COUNTED_RUNS_KEPT)
        self.local = LocalWorker(settings) if settings.workers > 0 else None
        svc.readiness.append(("broker", self.watch.broker_problem))
        svc.readiness.append(("workers", self.watch.workers_problem))
        svc.readiness.append(("callbacks", self.callbacks_problem))
        svc.registry.register(self.watch.collector(self.size))

    def start(self) -> None:
        self.watch.start()
        self.mover.start()
        if self.local is not None:
            self.local.start()

    def stop(self) -> None:
        self.watch.stop()
        self.mover.stop()
        if self.local is not None:
            self.local.stop()

    def accept(self, jobs: list[QueuedJob]) -> list[Accepted]:
        """Publish a run_job task per job, named by the run (job and attempt) and the
        request ID in its headers; a run already published is not published again."""
        task = self.app.tasks[RUN_JOB]
        kinds: list[str] = []
        first_times = 0
        try:
            with self.app.producer_or_acquire() as producer:
                for job in jobs:
                    kind = self._first_time(job)
                    if kind != "held":
                        self._publish(task, producer, job, again=kind == "again")
                        if not self._counted.first(run_id(job.job_id, job.callback_url)):
                            kind = "again"  # published before, the broker failing after
                        first_times += kind == "new"
                        self._note_published(job)
                    kinds.append(kind)
            waiting = int(self.redis.llen(jobs_queue(jobs[-1].job_type)))
        except QueueUnavailable as exc:
            exc.queued_first = first_times
            raise
        except Exception as exc:  # kombu's, redis-py's and socket errors alike
            raise QueueUnavailable(self.unreachable(exc), queued_first=first_times) from exc
        first_position = max(1, waiting - len(jobs) + 1)
        return [
            Accepted(first_position + n, kind == "new", again=kind == "again")
            for n, kind in enumerate(kinds)
        ]

    def _first_time(self, job: QueuedJob) -> str:
        """Whether this run is 'new' to the broker, or 'held': a resend (the middleware gave
        up waiting while the publish went through, or lost track after core's 202) is not
        published again. A publish of it still under way is neither: QueueUnavailable, so
        the middleware sends it again shortly; one that never finished (the broker died
        under it) is published again, and so is a run the broker lost ('again', see
        whereabouts: accepted once already, it is not counted twice)."""
        key = ACCEPTED_KEY.format(run_id(job.job_id, job.callback_url))
        if self.redis.set(key, f"pending {time.time()}", nx=True, ex=ACCEPTED_TTL_S):
            return "new"
        state, *rest = (self.redis.get(key) or b"").decode().split() or [""]
        if state == "published":
            return "held"
        if state == "pending" and time.time() - float(rest[0]) < PENDING_S:
            raise QueueUnavailable(f"job {job.job_id} is being queued by another request")
        was_accepted = state == LOST or (state == "pending" and rest[1:] == [LOST])
        mark = f"pending {time.time()}" + (f" {LOST}" if was_accepted else "")
        self.redis.set(key, mark, ex=ACCEPTED_TTL_S)
        return "again" if was_accepted else "new"

    def _publish(self, task: Any, producer: Any, job: QueuedJob, again: bool) -> None:
        key = ACCEPTED_KEY.format(run_id(job.job_id, job.callback_url))
        if job.job_type != DEFAULT_TYPE:
            self.redis.sadd(JOB_QUEUES_KEY, jobs_queue(job.job_type))
        try:
            args: tuple[Any, ...] = (job.job_id, job.data, job.callback_url)
            if job.job_type != DEFAULT_TYPE:
                args += (job.job_type,)
            task.apply_async(
                args=args,
                queue=jobs_queue(job.job_type),
                task_id=run_id(job.job_id, job.callback_url),
                headers={REQUEST_ID_HEADER: job.request_id, ENQUEUED_AT: time.time()},
                producer=producer,
                retry=False,
            )
        except Exception:
            with contextlib.suppress(Exception):  # the broker may be gone: see PENDING_S
                if again:  # not published: a resend must publish it
                    self.redis.set(key, LOST, keepttl=True)
                else:
                    self.redis.delete(key)
            raise

    def _note_published(self, job: QueuedJob) -> None:
        key = ACCEPTED_KEY.format(run_id(job.job_id, job.callback_url))
        self.redis.set(key, published_mark(jobs_queue(job.job_type)), ex=ACCEPTED_TTL_S)

    def held(self, jobs: list[QueuedJob]) -> list[bool]:
        """Whether the broker still holds each run: reported, being published, waiting,
        taken by a worker or running (see whereabouts); a lost run's mark is taken back, so
        the middleware's resend publishes it again."""
        try:
            return self.whereabouts.held([run_id(j.job_id, j.callback_url) for j in jobs])
        except Exception as exc:
            raise QueueUnavailable(self.unreachable(exc)) from exc

    def size(self) -> int:
        """Jobs waiting in every job queue (reverse's, and each type's)."""
        queues = self._job_queues()
        pipe = self.redis.pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)
        return sum(int(n) for n in pipe.execute())

    def _job_queues(self) -> list[str]:
        others = {
            _text(k) for k in self.redis.scan_iter(f"{JOBS_QUEUE}.*", count=100, _type="list")
        }
        return [JOBS_QUEUE, *sorted(others)]

    def cancel(self, jobs: list[QueuedJob]) -> list[bool]:
        """Mark each run cancelled in the broker: the worker that takes it drops it, the one
        running it stops it. Whether the broker knew the run."""
        try:
            found = self.whereabouts.held([run_id(j.job_id, j.callback_url) for j in jobs])
            for job in jobs:
                run = run_id(job.job_id, job.callback_url)
                self.redis.set(CANCEL_KEY.format(run), "1", ex=ACCEPTED_TTL_S)
        except Exception as exc:
            raise QueueUnavailable(self.unreachable(exc)) from exc
        return found

    def job_types(self) -> list[dict[str, Any]]:
        """The types the workers online offer (each says so in the broker), and those core
        knows (its --job-module) that none offers now."""
        online = {w["hostname"] for w in self.watch.workers_list() if w["online"]}
        offered: dict[str, dict[str, Any]] = {}
        try:
            keys = list(self.redis.scan_iter(WORKER_TYPES_KEY.format("*"), count=100))
            for key, raw in zip(keys, self.redis.mget(keys) if keys else [], strict=True):
                worker = _text(key).split(":", 2)[-1]
                for info in json.loads(raw or "[]"):
                    entry = offered.setdefault(info["name"], info | {"offered_by": []})
                    if worker in online:
                        entry["offered_by"].append(worker)
        except Exception:  # the broker is down: nothing runs; /readyz says why
            offered = {}
        for job_type in self.types.values():
            offered.setdefault(job_type.name, job_type.describe() | {"offered_by": []})
        for entry in offered.values():
            entry["offered_by"] = sorted(entry["offered_by"])
            entry["available"] = bool(entry["offered_by"])
            entry["reason"] = None if entry["available"] else "no Celery worker online offers it"
        return list(offered.values())

    def figures(self) -> dict[str, Any]:
        """/queue_size: the broker's queues and the workers (null what cannot be known)."""
        workers = self.watch.workers_list()
        online = [w for w in workers if w["online"]]
        try:
            size, callbacks = self.size(), int(self.redis.llen(CALLBACKS_QUEUE))
            oldest, waiting = self.watch.oldest_age_s(), self.waiting.count()
        except Exception:  # broker down: /readyz says why
            size, callbacks, oldest, waiting = None, None, None, None
        return {
            "queue": self.kind,
            "broker": self.url,
            "broker_up": self.watch.broker_problem() is None,
            "queue_size": size,
            "running": sum(w["active"] or 0 for w in online),
            "oldest_queued_age_s": oldest,
            "callbacks_pending": callbacks,
            "callbacks_waiting_retry": waiting,
            "callbacks_parked": None,
            "workers_alive": sum(w["concurrency"] or 0 for w in online),
            "callback_senders_alive": None,
            "workers": workers,
        }

    def purge(self) -> dict[str, int]:
        """Empty both queues and the reports waiting for a retry; jobs a worker already runs
        finish, and the middleware, which forgot them, drops their callbacks (404)."""
        try:
            with self.app.connection_for_write() as conn:
                channel = conn.default_channel
                jobs = sum(int(channel.queue_purge(q) or 0) for q in self._job_queues())
                callbacks = int(channel.queue_purge(CALLBACKS_QUEUE) or 0)
            callbacks += self.waiting.purge()
        except Exception as exc:
            raise QueueUnavailable(self.unreachable(exc)) from exc
        return {"jobs": jobs, "callbacks": callbacks}

    def callbacks_problem(self) -> str | None:
        """Why reports do not reach the middleware while some wait (None: they do, or none
        wait, or the broker itself is down, which its own check says)."""
        if not self.mover.alive():  # never expected: its loop survives every error
            self.mover.start()
            return "the thread that hands waiting callbacks back to the workers died: restarted"
        if self.watch.broker_problem() is not None:
            return None
        try:
            count, blocked = self.waiting.count(), self.waiting.blocked()
        except Exception:  # the broker went down since its last check
            return None
        if not count or blocked is None:
            return None
        url, outcome, since = blocked
        return (
            f"{blocked_reason(url, outcome)} (for {time.time() - since:.0f} s);"
            f" {count} callbacks wait"
        )

    def _publish_waiting(self, report: WaitingReport) -> None:
        """Hand a waiting report back to the workers (see waiting)."""
        self.app.tasks[DELIVER_CALLBACK].apply_async(
            args=(report.url, report.payload, report.tries, report.since),
            headers={REQUEST_ID_HEADER: report.request_id} if report.request_id else None,
            queue=CALLBACKS_QUEUE,
            retry=False,
        )

    def unreachable(self, exc: BaseException) -> str:
        return f"cannot reach the Celery broker (Redis) at {self.url}: {describe_broker_error(exc)}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
