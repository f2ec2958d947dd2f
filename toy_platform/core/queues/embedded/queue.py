"""The core's JobQueue on the embedded store, run by worker and sender threads inside core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from toy_platform.config import Settings
from toy_platform.core.queues.base import Accepted, QueuedJob
from toy_platform.core.queues.embedded.store import CallbackOutbox, SqliteJobQueue, open_core_store
from toy_platform.core.queues.embedded.workers import CorePool
from toy_platform.jobs.types import load_job_types
from toy_platform.service import ServiceState

CALLBACK_SENDERS = 4


@dataclass
class CoreMetrics:
    jobs_processed: Counter
    callbacks: Counter
    thread_restarts: Counter


def core_metrics(registry: CollectorRegistry) -> CoreMetrics:
    return CoreMetrics(
        jobs_processed=Counter(
            "toy_platform_core_jobs_processed_total",
            "Jobs the workers finished, by outcome.",
            ["status"],
            registry=registry,
        ),
        callbacks=Counter(
            "toy_platform_callbacks_total",
            "Callback attempts to the middleware, by outcome (delivered, retry, dropped; error:"
            " it could not be sent; replaced by a 'failed' report; parked).",
            ["outcome"],
            registry=registry,
        ),
        thread_restarts=Counter(
            "toy_platform_thread_restarts_total",
            "Worker and sender threads restarted by the watchdog after they died.",
            ["thread"],
            registry=registry,
        ),
    )


class SqliteQueue:
    """The core's JobQueue in its data dir, run by worker threads inside core."""

    kind = "sqlite"

    def __init__(self, settings: Settings, svc: ServiceState, watch: bool = True) -> None:
        from toy_platform.core.queues.embedded.workers import CorePool

        self.store, self.outbox = open_core_store(settings.data_dir)
        self.metrics = core_metrics(svc.registry)
        self.pool = CorePool(
            self.store,
            self.outbox,
            svc.service_key,
            settings.job_delay,
            settings.failure_rate,
            workers=settings.workers,
            senders=CALLBACK_SENDERS,
            wait_if_paused=svc.wait_if_paused,
            metrics=self.metrics,
            types=load_job_types(settings.job_modules),
            job_modules=settings.job_modules,
        )
        self.workers = settings.workers
        _register_gauges(svc.registry, self.store, self.outbox, self.pool)
        svc.readiness.append(("queue database", self.store.db.check_writable))
        if watch:
            _watch_the_pool(svc, self.pool)

    def start(self) -> None:
        self.pool.start()

    def stop(self) -> None:
        self.pool.stop()

    def accept(self, jobs: list[QueuedJob]) -> list[Accepted]:
        accepted = self.store.enqueue_many(jobs)
        self.pool.jobs_ready.notify()
        return accepted

    def held(self, jobs: list[QueuedJob]) -> list[bool]:
        return self.store.held(jobs)

    def callbacks_problem(self) -> str | None:
        return self.pool.senders.not_ready()

    def cancel(self, jobs: list[QueuedJob]) -> list[bool]:
        return [self.pool.cancel(job) for job in jobs]

    def job_types(self) -> list[dict[str, Any]]:
        none = None if self.workers else "core runs no workers (--workers 0)"
        return [
            job_type.describe()
            | {"available": none is None, "reason": none, "offered_by": ["core"]}
            for job_type in self.pool.types.values()
        ]

    def size(self) -> int:
        return self.store.size()

    def figures(self) -> dict[str, Any]:
        store, outbox, threads = self.store, self.outbox, self.pool.threads
        return {
            "queue": self.kind,
            "queue_size": store.size(),
            "running": store.running(),
            "oldest_queued_age_s": store.oldest_age_s(),
            "callbacks_pending": outbox.pending(),
            "callbacks_waiting_retry": outbox.waiting_for_retry(),
            "callbacks_parked": outbox.parked(),
            "workers_alive": threads.alive("worker-"),
            "callback_senders_alive": threads.alive("sender-"),
        }

    def purge(self) -> dict[str, int]:
        return {"jobs": self.store.purge(), "callbacks": self.outbox.purge()}


def _register_gauges(
    registry: CollectorRegistry, queue: SqliteJobQueue, outbox: CallbackOutbox, pool: CorePool
) -> None:
    gauges = [
        ("toy_platform_queue_size", "Jobs waiting in the core's queue.", queue.size),
        ("toy_platform_jobs_running", "Jobs the core's workers are processing.", queue.running),
        (
            "toy_platform_queue_oldest_age_seconds",
            "How long the oldest queued job has waited.",
            lambda: queue.oldest_age_s() or 0.0,
        ),
        (
            "toy_platform_callbacks_pending",
            "Callbacks not yet taken by the middleware.",
            outbox.pending,
        ),
        (
            "toy_platform_callbacks_waiting_retry",
            "Callbacks that failed and wait to be retried.",
            outbox.waiting_for_retry,
        ),
        (
            "toy_platform_callbacks_parked",
            "Callbacks that cannot be delivered at all, kept aside with their last error.",
            outbox.parked,
        ),
        (
            "toy_platform_workers_alive",
            "Worker threads alive.",
            lambda: pool.threads.alive("worker-"),
        ),
        (
            "toy_platform_callback_senders_alive",
            "Callback sender threads alive.",
            lambda: pool.threads.alive("sender-"),
        ),
    ]
    for name, doc, read in gauges:
        Gauge(name, doc, registry=registry).set_function(read)


def _watch_the_pool(svc: ServiceState, pool: CorePool) -> None:
    """What /readyz says about the workers and the callback senders."""
    stall_after = svc.settings.stall_after
    svc.readiness.append(("workers", lambda: dead_threads_reason(pool)))
    svc.readiness.append(("callback senders", pool.senders.not_ready))
    svc.stall_checks.append(
        ("workers", lambda: pool.work_stalled(stall_after, since=svc.paused_until))
    )
    svc.stall_checks.append(
        ("callback senders", lambda: pool.callbacks_stalled(stall_after, since=svc.paused_until))
    )


def dead_threads_reason(pool: CorePool) -> str | None:
    dead = pool.dead_threads()
    return f"threads not running: {', '.join(dead)}" if dead else None
