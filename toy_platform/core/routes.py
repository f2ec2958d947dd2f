"""Core's endpoints: jobs in (one or a batch), the queue's figures, and purge."""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, current_app, jsonify

from toy_platform.clock import utc_now
from toy_platform.core.parts import CoreParts
from toy_platform.core.queues.base import Accepted, QueuedJob
from toy_platform.errors import ApiError, bad_field, json_body
from toy_platform.fields import request_id_field
from toy_platform.jobs.types import DEFAULT_TYPE, NAME_PATTERN, schema_error
from toy_platform.jobs.types import get as job_type_named
from toy_platform.log import log_each
from toy_platform.service import require_service_signature, state
from toy_platform.tracing import is_safe_request_id
from toy_platform.unavailable import QueueUnavailable
from toy_platform.urls import is_http_url

logger = logging.getLogger(__name__)
bp = Blueprint("core", __name__)


def _parts() -> CoreParts:
    return current_app.extensions["core"]  # type: ignore[no-any-return]


MAX_BATCH = 500


def _queued_job(item: object, where: str = "", check_data: bool = True) -> QueuedJob:
    """A job to queue from one JSON object, or a 400 naming the bad field.

    The rules are those of CoreJobSubmit in core's OpenAPI document.
    """
    if not isinstance(item, dict):
        raise bad_field(where.rstrip(".") or "jobs", "each job must be a JSON object")
    for name in ("job_id", "callback_url"):
        if not isinstance(item.get(name), str):
            raise bad_field(where + name, f"'{name}' is required and must be a string")
    if "data" not in item:
        raise bad_field(where + "data", "'data' is required")
    job_type = item.get("job_type", DEFAULT_TYPE)
    if not isinstance(job_type, str) or not re.match(NAME_PATTERN, job_type):
        raise bad_field(where + "job_type", "'job_type' must be a job type's name")
    if not is_safe_request_id(item["job_id"]):
        raise bad_field(
            where + "job_id",
            "'job_id' must be 1-64 characters: letters, digits and . _ : - (as a request ID)",
        )
    if not is_http_url(item["callback_url"]):
        raise bad_field(
            where + "callback_url", "'callback_url' must be an absolute http(s) URL with a host"
        )
    known = job_type_named(job_type) if check_data else None
    error = schema_error(known.input_schema, item["data"]) if known is not None else None
    if error is not None:
        path, message = error
        raise ApiError(
            422,
            f"'data' does not match the input schema of '{job_type}' at {path}: {message}",
            "invalid_data",
            field=where + "data",
            path=path,
        )
    request_id = request_id_field(item, where)
    return QueuedJob(
        item["job_id"], item["data"], item["callback_url"], request_id, job_type=job_type
    )


def _accept(jobs: list[QueuedJob]) -> list[dict[str, object]]:
    """Queue JOBS (in one transaction where the queue has them) and log each; a job sent
    again is answered as accepted, not queued twice."""
    parts = _parts()
    queued_at = utc_now()
    try:
        accepted = parts.queue.accept(jobs)
    except QueueUnavailable as exc:  # 503 (errors.py): the middleware keeps them, resends
        parts.jobs_accepted.inc(exc.queued_first)  # queued already: a resend finds them held
        raise
    parts.jobs_accepted.inc(sum(a.new for a in accepted))
    log_each(
        logger,
        [_queued_line(job, answer) for job, answer in zip(jobs, accepted, strict=True)],
        f"{len(jobs)} jobs given to core",
        event="job_queued",
    )
    return [
        {"job_id": job.job_id, "position": answer.position, "queued_at": queued_at}
        for job, answer in zip(jobs, accepted, strict=True)
    ]


def _queued_line(job: QueuedJob, answer: Accepted) -> dict[str, object]:
    """What the log says of a job core was given: its event and message, with the job's IDs."""
    at = answer.position
    if answer.again:
        event = "job_queued_again"
        message = (
            f"job queued again at position {at}: queued before, the broker lost it or failed"
            " before core could note it"
        )
    elif answer.new:
        event, message = "job_queued", f"job queued at position {at}"
    else:
        event, message = "job_already_queued", f"job already queued (position {at})"
    return {
        "event": event,
        "message": message,
        "position": at,
        "job_id": job.job_id,
        "request_id": job.request_id,
    }


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


@bp.get("/job_types")
@require_service_signature
def job_types() -> Response:
    """The job types core's workers offer (the middleware checks submits against them)."""
    return jsonify(job_types=_parts().queue.job_types())


@bp.post("/runs/cancel")
@require_service_signature
def runs_cancel() -> Response:
    """Cancel runs: a queued one never starts, a running one is stopped."""
    items = json_body("runs")["runs"]
    if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH:
        raise bad_field("runs", f"'runs' must be a list of 1 to {MAX_BATCH} runs")
    runs = [_run(item, f"runs[{n}].") for n, item in enumerate(items)]
    found = _parts().queue.cancel(runs)
    for run, held in zip(runs, found, strict=True):
        logger.info(
            "cancel of the job: %s",
            "being done" if held else "not held here",
            extra={"event": "job_cancel", "job_id": run.job_id, "found": held},
        )
    answers = [{"job_id": r.job_id, "found": f} for r, f in zip(runs, found, strict=True)]
    return jsonify(runs=answers)


@bp.post("/runs/held")
@require_service_signature
def runs_held() -> Response:
    """Which of these runs core still holds: how the middleware finds a job the queue lost."""
    items = json_body("runs")["runs"]
    if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH:
        raise bad_field("runs", f"'runs' must be a list of 1 to {MAX_BATCH} runs")
    runs = [_run(item, f"runs[{n}].") for n, item in enumerate(items)]
    queue = _parts().queue
    held = queue.held(runs)
    # A run core holds whose reports cannot reach the middleware: its owner is told why.
    problem = queue.callbacks_problem() if any(held) else None
    return jsonify(
        runs=[
            {"job_id": r.job_id, "held": h, "note": problem if h else None}
            for r, h in zip(runs, held, strict=True)
        ]
    )


def _run(item: object, where: str) -> QueuedJob:
    """A run (job_id and callback_url) to look for, or a 400 naming the bad field."""
    if not isinstance(item, dict):
        raise bad_field(where.rstrip("."), "each run must be a JSON object")
    run = {k: v for k, v in item.items() if k != "job_type"}  # a run is its job and URL
    return _queued_job({**run, "data": None}, where, check_data=False)


@bp.get("/queue_size")
def queue_size() -> Response:
    queue = _parts().queue
    offered = [
        {k: t[k] for k in ("name", "available", "reason", "offered_by")} for t in queue.job_types()
    ]
    return jsonify(queue.figures() | {"job_types": offered})


@bp.post("/purge")
@require_service_signature
def purge() -> Response:
    """Empty the queue and the callbacks not yet sent (the middleware's /reset)."""
    purged = _parts().queue.purge()
    jobs, callbacks = purged["jobs"], purged["callbacks"]
    logger.warning(
        "purged %d queued jobs and %d callbacks",
        jobs,
        callbacks,
        extra={"event": "queue_purged", "jobs": jobs, "callbacks": callbacks},
    )
    return jsonify(purged_jobs=jobs, purged_callbacks=callbacks, service=state().name)
