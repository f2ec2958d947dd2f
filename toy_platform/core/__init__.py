"""The core service: a durable FIFO queue, workers that process jobs, callbacks back."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, jsonify
from prometheus_client import CollectorRegistry, Counter, Gauge

from toy_platform.config import Settings
from toy_platform.core.worker import CorePool, utc_now
from toy_platform.errors import bad_field, json_body
from toy_platform.fields import is_http_url, request_id_field
from toy_platform.jobqueue import CallbackOutbox, QueuedJob, SqliteJobQueue, open_core_store
from toy_platform.service import (
    ServiceState,
    create_service_app,
    require_service_signature,
    state,
)
from toy_platform.tracing import is_safe_request_id

logger = logging.getLogger(__name__)
bp = Blueprint("core", __name__)
CALLBACK_SENDERS = 4


@dataclass
class CoreMetrics:
    jobs_processed: Counter
    callbacks: Counter
    jobs_accepted: Counter
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
        jobs_accepted=Counter(
            "toy_platform_core_jobs_accepted_total",
            "Jobs accepted into the queue.",
            registry=registry,
        ),
        thread_restarts=Counter(
            "toy_platform_thread_restarts_total",
            "Worker and sender threads restarted by the watchdog after they died.",
            ["thread"],
            registry=registry,
        ),
    )


@dataclass
class CoreParts:
    queue: SqliteJobQueue
    outbox: CallbackOutbox
    pool: CorePool
    metrics: CoreMetrics


def create_app(settings: Settings, start_workers: bool = True) -> Flask:
    """The core service app; its worker threads start with it."""
    app = create_service_app(settings, "core")
    svc = app.extensions["toy_platform"]
    queue, outbox = open_core_store(settings.data_dir)
    metrics = core_metrics(svc.registry)
    pool = CorePool(
        queue,
        outbox,
        svc.service_key,
        settings.job_delay,
        settings.failure_rate,
        workers=settings.workers,
        senders=CALLBACK_SENDERS,
        wait_if_paused=svc.wait_if_paused,
        metrics=metrics,
    )
    _register_gauges(svc.registry, queue, outbox, pool)
    app.extensions["core"] = CoreParts(queue, outbox, pool, metrics)
    svc.readiness.append(("queue database", queue.db.check_writable))
    if start_workers:
        _watch_the_pool(svc, pool)
        pool.start()
    app.register_blueprint(bp)
    return app


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
    svc.readiness.append(("workers", lambda: _dead_threads_reason(pool)))
    svc.readiness.append(("callback senders", pool.senders.not_ready))
    svc.stall_checks.append(
        ("workers", lambda: pool.work_stalled(stall_after, since=svc.paused_until))
    )
    svc.stall_checks.append(
        ("callback senders", lambda: pool.callbacks_stalled(stall_after, since=svc.paused_until))
    )


def _dead_threads_reason(pool: CorePool) -> str | None:
    dead = pool.dead_threads()
    return f"threads not running: {', '.join(dead)}" if dead else None


def _parts() -> CoreParts:
    return current_app.extensions["core"]  # type: ignore[no-any-return]


MAX_BATCH = 500


def _queued_job(item: object, where: str = "") -> QueuedJob:
    """A job to queue from one JSON object, or a 400 naming the bad field.

    The rules are those of CoreJobSubmit in core's OpenAPI document.
    """
    if not isinstance(item, dict):
        raise bad_field(where.rstrip(".") or "jobs", "each job must be a JSON object")
    for name in ("job_id", "data", "callback_url"):
        if not isinstance(item.get(name), str):
            raise bad_field(where + name, f"'{name}' is required and must be a string")
    if not is_safe_request_id(item["job_id"]):
        raise bad_field(
            where + "job_id",
            "'job_id' must be 1-64 characters: letters, digits and . _ : - (as a request ID)",
        )
    if not is_http_url(item["callback_url"]):
        raise bad_field(
            where + "callback_url", "'callback_url' must be an absolute http(s) URL with a host"
        )
    request_id = request_id_field(item, where)
    return QueuedJob(item["job_id"], item["data"], item["callback_url"], request_id)


def _accept(jobs: list[QueuedJob]) -> list[dict[str, object]]:
    """Queue JOBS in one transaction, wake the workers, and log each."""
    parts = _parts()
    queued_at = utc_now()
    positions = parts.queue.enqueue_many(jobs)
    parts.pool.jobs_ready.notify()
    parts.metrics.jobs_accepted.inc(len(jobs))
    for job, position in zip(jobs, positions, strict=True):
        logger.info(
            "job queued at position %d",
            position,
            extra={
                "event": "job_queued",
                "position": position,
                "job_id": job.job_id,
                "request_id": job.request_id,
            },
        )
    return [
        {"job_id": job.job_id, "position": position, "queued_at": queued_at}
        for job, position in zip(jobs, positions, strict=True)
    ]


@bp.post("/job_submit")
@require_service_signature
def job_submit() -> tuple[Response, int]:
    """Queue one job."""
    body = json_body("job_id", "data", "callback_url")
    (accepted,) = _accept([_queued_job(body)])
    return jsonify(status="queued", **accepted), 202


@bp.post("/job_submit/batch")
@require_service_signature
def job_submit_batch() -> tuple[Response, int]:
    """Queue several jobs in one call: how the middleware forwards under load."""
    items = json_body("jobs")["jobs"]
    if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH:
        raise bad_field("jobs", f"'jobs' must be a list of 1 to {MAX_BATCH} jobs")
    jobs = [_queued_job(item, f"jobs[{n}].") for n, item in enumerate(items)]
    return jsonify(status="queued", jobs=_accept(jobs)), 202


@bp.get("/queue_size")
def queue_size() -> Response:
    parts = _parts()
    queue, outbox, threads = parts.queue, parts.outbox, parts.pool.threads
    return jsonify(
        queue_size=queue.size(),
        running=queue.running(),
        oldest_queued_age_s=queue.oldest_age_s(),
        callbacks_pending=outbox.pending(),
        callbacks_waiting_retry=outbox.waiting_for_retry(),
        callbacks_parked=outbox.parked(),
        workers_alive=threads.alive("worker-"),
        callback_senders_alive=threads.alive("sender-"),
    )


@bp.post("/purge")
@require_service_signature
def purge() -> Response:
    """Empty the queue and the callbacks not yet sent (the middleware's /reset)."""
    parts = _parts()
    jobs = parts.queue.purge()
    callbacks = parts.outbox.purge()
    logger.warning(
        "purged %d queued jobs and %d callbacks",
        jobs,
        callbacks,
        extra={"event": "queue_purged", "jobs": jobs, "callbacks": callbacks},
    )
    return jsonify(purged_jobs=jobs, purged_callbacks=callbacks, service=state().name)
