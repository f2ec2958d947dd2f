"""The middleware's endpoints: jobs for users, reports from core, reset and status."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from toy_platform import __version__
from toy_platform.config import SERVICES_BY_PATH
from toy_platform.errors import ApiError, bad_field, json_body
from toy_platform.fields import has_visible_text, int_arg, int_field, query_arg
from toy_platform.health import add_supervisor_facts, probe_all
from toy_platform.http_errors import describe_error
from toy_platform.jobs.lifecycle import (
    IdempotencyKeyReused,
    NotCancellable,
    ReportOutcome,
    may_see,
)
from toy_platform.jobs.model import STATUSES, JobStatus, Report, encode
from toy_platform.jobs.types import DEFAULT_TYPE, NAME_PATTERN
from toy_platform.log import log_each
from toy_platform.middleware.identity import admin_required, current_identity, login_required
from toy_platform.middleware.parts import MiddlewareParts
from toy_platform.middleware.reports import MAX_CALLBACK_BATCH, callback_update
from toy_platform.service import require_service_signature, state
from toy_platform.service_http import CALL_FAILED
from toy_platform.tracing import current_job_id, current_request_id, outgoing_headers
from toy_platform.unavailable import StoreUnavailable

logger = logging.getLogger(__name__)
bp = Blueprint("middleware", __name__)
MAX_JOB_NAME = 200
MAX_IDEMPOTENCY_KEY = 200
DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET = 100, 1000, 10**9
MAX_CURSOR = 10**12 - 1  # a job's sequence number; int_arg reads at most 12 digits
MAX_ATTEMPT = 10**6


def _parts() -> MiddlewareParts:
    return current_app.extensions["middleware"]  # type: ignore[no-any-return]


def _visible_job(job_id: str, with_events: bool = False) -> dict[str, Any]:
    """The job if the caller may see it (owner or admin), else 404."""
    job = _parts().store.get(job_id, with_events=with_events)
    identity = current_identity()
    if job is None or not may_see(job["owner"], identity.username, identity.is_admin):
        raise ApiError(404, f"No job '{job_id}'", "not_found")
    return job


@bp.post("/job_submit")
@login_required
def job_submit() -> tuple[Response, int]:
    body = json_body("job_name", "data")
    name, data = body["job_name"], body["data"]
    job_type = body.get("job_type", DEFAULT_TYPE)
    if not isinstance(name, str) or not has_visible_text(name) or len(name) > MAX_JOB_NAME:
        raise bad_field(
            "job_name", f"'job_name' must be a string of 1 to {MAX_JOB_NAME} characters"
        )
    if not isinstance(job_type, str) or not re.match(NAME_PATTERN, job_type):
        raise bad_field(
            "job_type", "'job_type' must be a job type's name (letters, digits, '_', '.', '-')"
        )
    parts = _parts()
    limit = parts.settings.max_data_bytes
    if len(encode(data).encode("utf-8", "surrogatepass")) > limit:
        raise bad_field("data", f"'data' is larger than the limit of {limit} bytes", status=413)
    parts.job_types.check(job_type, data)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ApiError(
            400,
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
            "invalid_header",
            field="Idempotency-Key",
        )
    try:
        job, created = parts.store.create(
            current_identity().username, name, data, current_request_id.get(), key, job_type
        )
    except IdempotencyKeyReused as exc:
        raise ApiError(
            422,
            f"Idempotency-Key '{key}' was already used for another job ({exc.job_id}) with a"
            " different job_name, job_type or data; use a new key for a new job",
            "idempotency_key_reused",
            field="Idempotency-Key",
            job_id=exc.job_id,
        ) from exc
    token = current_job_id.set(job["job_id"])
    if created:
        parts.submitted.inc()
        parts.forwarder.wakeup.notify()
        logger.info(
            "job submitted",
            extra={
                "event": "job_submitted",
                "job_name": name,
                "job_type": job_type,
                "owner": job["owner"],
            },
        )
    else:
        logger.info("idempotent replay of job", extra={"event": "job_submit_replayed"})
    current_job_id.reset(token)
    response = jsonify(job_id=job["job_id"], status=job["status"], job=job)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 202


@bp.get("/list_jobs")
@login_required
def list_jobs() -> Response:
    status = query_arg("status")
    if status is not None and status not in STATUSES:
        raise bad_field("status", f"'status' must be one of {', '.join(STATUSES)}")
    limit = int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = int_arg("offset", 0, 0, MAX_OFFSET)
    before = int_arg("before", 0, 1, MAX_CURSOR) or None
    scope = query_arg("scope") or "mine"
    if scope not in ("mine", "all"):
        raise bad_field("scope", "'scope' must be 'mine' or 'all'")
    identity = current_identity()
    if scope == "all" and not identity.is_admin:
        raise ApiError(403, "Only an admin may list everyone's jobs", "forbidden", field="scope")
    owner = None if scope == "all" else identity.username
    page = _parts().store.page(owner, status, limit, offset, before)
    return jsonify(
        jobs=_say_why_waiting(page.jobs),
        total=page.total,
        limit=limit,
        offset=offset,
        next_before=page.next_before,
    )


@bp.get("/jobs/<job_id>")
@login_required
def get_job(job_id: str) -> Response:
    return jsonify(_say_why_waiting([_visible_job(job_id, with_events=True)])[0])


def _say_why_waiting(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A queued job of a type no worker offers says so itself (`waiting_reason`), not only
    /job_types, status and doctor."""
    if not any(job["status"] == JobStatus.QUEUED for job in jobs):
        return jobs
    unoffered = _parts().job_types.unoffered()
    for job in jobs:
        why = unoffered.get(job.get("job_type") or DEFAULT_TYPE)
        if job["status"] == JobStatus.QUEUED and why:
            job["waiting_reason"] = why
    return jobs


@bp.get("/job_types")
@login_required
def job_types() -> Response:
    types, checked_at = _parts().job_types.listing()
    return jsonify(job_types=types, checked_at=checked_at)


@bp.post("/jobs/<job_id>/cancel")
@login_required
def cancel_job(job_id: str) -> Response:
    """A queued job is cancelled at once (core is told to drop it); a running one is asked
    to stop: core is told now, and its worker also learns it from the answer to its next
    report."""
    _visible_job(job_id)
    parts = _parts()
    try:
        job = parts.store.cancel(job_id, current_identity().username)
    except NotCancellable as exc:
        raise ApiError(
            409,
            f"This job already finished ({exc.status}); there is nothing to cancel",
            "not_cancellable",
        ) from exc
    if job is None:
        raise ApiError(404, f"No job '{job_id}'", "not_found")
    if job["status"] == "cancelled" or job["cancel_requested"]:
        parts.forwarder.tell_core_to_cancel(job)
    logger.info("job cancel asked", extra={"event": "job_cancel_requested", "job_id": job_id})
    return jsonify(job)


@bp.post("/jobs/<job_id>/retry")
@login_required
def retry_job(job_id: str) -> Response:
    job = _visible_job(job_id)
    retried = _parts().store.retry(job_id, current_identity().username)
    if retried is None:
        raise ApiError(
            409, f"Only a failed job can be retried; this one is {job['status']}", "not_failed"
        )
    _parts().forwarder.wakeup.notify()
    logger.info("job retried", extra={"event": "job_retry_requested", "job_id": job_id})
    return jsonify(retried)


def _record_reports(reports: list[Report], outcomes: list[ReportOutcome]) -> None:
    """Count and log the reports of one call (a line each, in one record: log_each)."""
    received = []
    for report, outcome in zip(reports, outcomes, strict=True):
        update = report.update
        extra = {
            "job_id": report.job_id,
            "status": update["status"],
            "delivery_attempt": update["delivery_attempt"],
            "request_id": update["request_id"],
        }
        if outcome.status is None:
            logger.warning(
                "callback for unknown job", extra={"event": "callback_unknown_job", **extra}
            )
            continue
        _parts().callbacks.labels(update["status"], str(outcome.changed).lower()).inc()
        said = "applied" if outcome.changed else "no change"
        received.append(
            {"message": f"callback {update['status']} ({said})", "changed": outcome.changed} | extra
        )
    log_each(logger, received, f"{len(received)} callbacks received", event="callback_received")


@bp.post("/job_callback/<job_id>")
@require_service_signature
def job_callback(job_id: str) -> Response:
    """The core reports one job's progress."""
    update, detail = callback_update(json_body("status"))
    report = Report(job_id, int_arg("attempt", 1, 1, MAX_ATTEMPT), update, detail)
    (outcome,) = _parts().store.apply_reports([report])
    _record_reports([report], [outcome])
    if outcome.status is None:
        raise ApiError(404, f"No job '{job_id}' (it may have been reset)", "not_found")
    return jsonify(
        job_id=job_id,
        status=outcome.status,
        changed=outcome.changed,
        cancel_requested=outcome.cancel_requested,
    )


@bp.post("/job_callbacks")
@require_service_signature
def job_callbacks() -> Response:
    """The core reports several jobs' progress in one call (how it catches up under load).

    Each item is a /job_callback body plus its job_id and attempt; each gets its own outcome.
    """
    items = json_body("callbacks")["callbacks"]
    if not isinstance(items, list) or not 0 < len(items) <= MAX_CALLBACK_BATCH:
        raise bad_field("callbacks", f"'callbacks' must be a list of 1 to {MAX_CALLBACK_BATCH}")
    batch = []
    for n, item in enumerate(items):
        where = f"callbacks[{n}]."
        update, detail = callback_update(item, where)
        job_id = item.get("job_id")
        if not isinstance(job_id, str) or not job_id:
            raise bad_field(where + "job_id", "'job_id' must be a non-empty string")
        attempt = int_field(item.get("attempt", 1), where + "attempt", 1, MAX_ATTEMPT)
        batch.append(Report(job_id, attempt, update, detail))
    outcomes = _parts().store.apply_reports(batch)
    _record_reports(batch, outcomes)
    results = []
    for report, outcome in zip(batch, outcomes, strict=True):
        result = (
            "not_found"
            if outcome.status is None
            else ("applied" if outcome.changed else "unchanged")
        )
        results.append(
            {
                "job_id": report.job_id,
                "outcome": result,
                "cancel_requested": outcome.cancel_requested,
            }
        )
    return jsonify(results=results)


@bp.post("/reset")
@admin_required
def reset() -> Response:
    """Core's queue is emptied first, then the store: a job submitted meanwhile is either
    forgotten with the store (if core has it, its report finds no job and is dropped) or
    run. The other way round, one forwarded between the two was purged by core while the
    store kept it queued for ever."""
    parts = _parts()
    core_purged, core_error = True, None
    try:
        response = parts.core.post(
            f"{parts.settings.core_url}/purge", timeout=5, headers=outgoing_headers()
        )
        response.raise_for_status()
    except CALL_FAILED as exc:
        core_purged, core_error = False, describe_error(exc, 5)
    removed = parts.store.reset()
    logger.warning(
        "reset by %s: %d jobs removed",
        current_identity().username,
        removed,
        extra={"event": "platform_reset", "jobs_removed": removed, "core_purged": core_purged},
    )
    return jsonify(reset=True, jobs_removed=removed, core_purged=core_purged, core_error=core_error)


@bp.get("/platform_status")
@login_required
def platform_status() -> Response:
    parts = _parts()
    settings = parts.settings
    components = probe_all({"auth": settings.auth_url, "core": settings.core_url})
    down = [name for name, c in components.items() if not c["up"]]
    svc = state()
    figures, store_down = _store_figures(parts)
    reasons = ([f"cannot reach {', '.join(down)}"] if down else []) + (
        [store_down] if store_down else []
    )
    components["middleware"] = {
        "up": True,
        "ready": not reasons,
        "reason": "; ".join(reasons) or None,
        "latency_ms": 0.0,
        "version": __version__,
        "uptime_s": round(datetime.now(timezone.utc).timestamp() - svc.started_at, 3),
        "url": settings.middleware_url,
    }
    add_supervisor_facts(components, settings)
    queue = _core_queue(parts) if components["core"]["up"] else {}
    return jsonify(
        components={name: components[name] for name in SERVICES_BY_PATH},
        all_ready=all(c["ready"] for c in components.values()),
        queue_size=queue.get("queue_size"),
        **figures,
        callbacks_pending=queue.get("callbacks_pending"),
        callbacks_waiting_retry=queue.get("callbacks_waiting_retry"),
        workers=queue.get("workers"),
        checked_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
    )


def _store_figures(parts: MiddlewareParts) -> tuple[dict[str, Any], str | None]:
    """The job store's figures for /platform_status, or nulls and why, when it is down: the
    page still answers, naming the store, rather than a bare 503."""
    try:
        return {
            "oldest_queued_age_s": parts.store.oldest_queued_age_s(),
            "jobs_by_status": parts.store.counts_by_status(),
            "jobs_waiting_for_core": parts.store.waiting_for_core(),
        }, None
    except StoreUnavailable as exc:
        nulls = dict.fromkeys(("oldest_queued_age_s", "jobs_by_status", "jobs_waiting_for_core"))
        return nulls, f"job store: {exc}"


def _core_queue(parts: MiddlewareParts) -> dict[str, Any]:
    try:
        response = parts.core.get(
            f"{parts.settings.core_url}/queue_size", timeout=2, headers=outgoing_headers()
        )
        body: dict[str, Any] = response.json()
        return body
    except (*CALL_FAILED, ValueError):
        return {}
