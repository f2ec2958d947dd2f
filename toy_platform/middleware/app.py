"""The middleware: the API every front-end calls, in front of auth and core."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import requests
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from toy_platform import __version__
from toy_platform.config import Settings
from toy_platform.errors import ApiError, bad_field, json_body, name_data_field
from toy_platform.fields import (
    has_visible_text,
    int_arg,
    int_field,
    optional_text,
    optional_timestamp,
    query_arg,
    request_id_field,
)
from toy_platform.health import add_supervisor_facts, describe_error, probe_all
from toy_platform.middleware.forwarder import Forwarder
from toy_platform.middleware.identity import (
    TokenVerifier,
    admin_required,
    current_identity,
    login_required,
)
from toy_platform.middleware.stores import (
    STATUSES,
    CallbackOutcome,
    IdempotencyKeyReused,
    JobStore,
    StoreUnavailable,
    open_store,
)
from toy_platform.security import service_key_fingerprint, service_session
from toy_platform.service import (
    ServiceState,
    create_service_app,
    require_service_signature,
    state,
)
from toy_platform.tracing import current_job_id, current_request_id, outgoing_headers

logger = logging.getLogger(__name__)
bp = Blueprint("middleware", __name__)
MAX_JOB_NAME = 200
MAX_IDEMPOTENCY_KEY = 200
DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET = 100, 1000, 10**9
MAX_CURSOR = 10**12 - 1  # a job's sequence number; int_arg reads at most 12 digits
MAX_ATTEMPT = 10**6
MAX_WORKER_NAME = 255


@dataclass
class MiddlewareParts:
    settings: Settings
    store: JobStore
    verifier: TokenVerifier
    forwarder: Forwarder
    core: requests.Session
    submitted: Counter
    callbacks: Counter


class JobsCollector(Collector):
    """Domain figures read from the job store when Prometheus scrapes."""

    def __init__(self, store: JobStore) -> None:
        self.store = store

    def collect(self) -> Any:
        try:
            by_status = self.store.counts_by_status()
            oldest = self.store.oldest_queued_age_s()
            waiting = self.store.waiting_for_core()
        except StoreUnavailable:  # /metrics still answers: the store is down, and says so
            yield GaugeMetricFamily(
                "toy_platform_job_store_up", "1 if the job store answers, else 0.", value=0
            )
            return
        yield GaugeMetricFamily(
            "toy_platform_job_store_up", "1 if the job store answers, else 0.", value=1
        )
        jobs = GaugeMetricFamily("toy_platform_jobs", "Jobs by status.", labels=["status"])
        for status, count in by_status.items():
            jobs.add_metric([status], count)
        yield jobs
        yield GaugeMetricFamily(
            "toy_platform_jobs_oldest_queued_age_seconds",
            "How long the oldest queued job has waited.",
            value=oldest or 0.0,
        )
        yield GaugeMetricFamily(
            "toy_platform_jobs_waiting_for_core",
            "Jobs stored but not yet accepted by the core.",
            value=waiting,
        )


def create_app(settings: Settings, start_forwarder: bool = True) -> Flask:
    """The middleware app; its forwarder thread starts with it."""
    app = create_service_app(settings, "middleware", cors=True)
    svc = app.extensions["toy_platform"]
    registry: CollectorRegistry = svc.registry
    store = open_store(settings)
    logger.info("job store: %s", store.name, extra={"event": "store_opened", "store": store.name})
    core = service_session(svc.service_key)
    parts = MiddlewareParts(
        settings=settings,
        store=store,
        verifier=TokenVerifier(f"{settings.auth_url}/.well-known/jwks.json"),
        forwarder=Forwarder(
            store, settings.core_url, settings.callback_url, svc.service_key, registry
        ),
        core=core,
        submitted=Counter(
            "toy_platform_jobs_submitted_total", "Jobs accepted with 202.", registry=registry
        ),
        callbacks=Counter(
            "toy_platform_callbacks_received_total",
            "Callbacks from the core, by reported status and whether they changed the job.",
            ["status", "changed"],
            registry=registry,
        ),
    )
    registry.register(JobsCollector(store))
    app.extensions["middleware"] = parts
    _readiness_checks(svc, parts, start_forwarder)
    if start_forwarder:
        parts.forwarder.start()
    app.register_blueprint(bp)
    name_data_field(app, "middleware.job_submit", "data")
    return app


def _parts() -> MiddlewareParts:
    return current_app.extensions["middleware"]  # type: ignore[no-any-return]


def _readiness_checks(svc: ServiceState, parts: MiddlewareParts, forwarder: bool) -> None:
    ours = service_key_fingerprint(svc.service_key)
    svc.readiness.append(("job store", parts.store.unavailable))
    svc.readiness.append(("auth", parts.verifier.reachable))
    svc.readiness.append(("core", lambda: _core_unreachable(parts, ours)))
    if forwarder:
        stall_after = parts.settings.stall_after
        svc.readiness.append(("forwarder", parts.forwarder.not_ready))
        svc.stall_checks.append(
            ("forwarder", lambda: parts.forwarder.stalled(stall_after, since=svc.paused_until))
        )


def _core_unreachable(parts: MiddlewareParts, our_fingerprint: str) -> str | None:
    """Why core cannot take jobs from this middleware: down, or another service key."""
    url = parts.settings.core_url
    try:
        response = parts.core.get(f"{url}/healthz", timeout=2, headers=outgoing_headers())
        response.raise_for_status()
        theirs = response.json().get("service_key_fingerprint")
    except requests.RequestException as exc:
        return f"{url}: {describe_error(exc)}"
    except (ValueError, AttributeError) as exc:
        return f"{url}: its /healthz answer cannot be read ({exc})"
    if theirs and theirs != our_fingerprint:
        return (
            f"{url} refuses this middleware's signature: the two have different service keys"
            f" (fingerprints {theirs} and {our_fingerprint}; TOY_PLATFORM_SERVICE_KEY or"
            " config/service.key)"
        )
    return None


def _visible_job(job_id: str, with_events: bool = False) -> dict[str, Any]:
    """The job if the caller may see it (owner or admin), else 404."""
    job = _parts().store.get(job_id, with_events=with_events)
    identity = current_identity()
    if job is None or (job["owner"] != identity.username and not identity.is_admin):
        raise ApiError(404, f"No job '{job_id}'", "not_found")
    return job


@bp.post("/job_submit")
@login_required
def job_submit() -> tuple[Response, int]:
    body = json_body("job_name", "data")
    name, data = body["job_name"], body["data"]
    if not isinstance(name, str) or not has_visible_text(name) or len(name) > MAX_JOB_NAME:
        raise bad_field(
            "job_name", f"'job_name' must be a string of 1 to {MAX_JOB_NAME} characters"
        )
    if not isinstance(data, str):
        raise bad_field("data", "'data' must be a string")
    limit = _parts().settings.max_data_bytes
    if len(data.encode("utf-8", "surrogatepass")) > limit:
        raise bad_field("data", f"'data' is larger than the limit of {limit} bytes", status=413)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ApiError(
            400,
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
            "invalid_header",
            field="Idempotency-Key",
        )
    parts = _parts()
    try:
        job, created = parts.store.create(
            current_identity().username, name, data, current_request_id.get(), key
        )
    except IdempotencyKeyReused as exc:
        raise ApiError(
            422,
            f"Idempotency-Key '{key}' was already used for another job ({exc.job_id}) with a"
            " different job_name or data; use a new key for a new job",
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
                "owner": job["owner"],
                "data_bytes": len(data),
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
        jobs=page.jobs,
        total=page.total,
        limit=limit,
        offset=offset,
        next_before=page.next_before,
    )


@bp.get("/jobs/<job_id>")
@login_required
def get_job(job_id: str) -> Response:
    return jsonify(_visible_job(job_id, with_events=True))


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


CALLBACK_STATUSES = ("running", "succeeded", "failed")
MAX_CALLBACK_BATCH = 500


def _callback_update(body: object, where: str = "") -> tuple[dict[str, Any], str | None]:
    """The checked update of one callback and its history note, or a 400 naming the field.

    The rules are those of JobCallback in the middleware's OpenAPI document.
    """
    if not isinstance(body, dict):
        raise bad_field(where.rstrip(".") or "callbacks", "each callback must be a JSON object")
    if body.get("status") not in CALLBACK_STATUSES:
        raise bad_field(where + "status", "'status' must be running, succeeded or failed")
    update: dict[str, Any] = {"status": body["status"]}
    for name in ("result", "error"):
        update[name] = optional_text(body, name, where)
    for name in ("started_at", "completed_at"):
        update[name] = optional_timestamp(body, name, where)
    delivery = None
    if "delivery_attempt" in body:
        delivery = int_field(body["delivery_attempt"], where + "delivery_attempt", 1)
    update["delivery_attempt"] = delivery
    update["request_id"] = request_id_field(body, where)
    worker = optional_text(body, "worker", where)
    if worker is not None and not 0 < len(worker) <= MAX_WORKER_NAME:
        raise bad_field(where + "worker", f"'worker' must be 1 to {MAX_WORKER_NAME} characters")
    notes = [f"on worker {worker}"] if worker else []
    if delivery is not None and delivery > 1:
        notes.append(f"callback delivered after {delivery} attempts")
    return update, "; ".join(notes) or None


def _record_callback(job_id: str, update: dict[str, Any], outcome: CallbackOutcome) -> None:
    extra = {
        "job_id": job_id,
        "status": update["status"],
        "delivery_attempt": update["delivery_attempt"],
        "request_id": update["request_id"],
    }
    if outcome.status is None:
        logger.warning("callback for unknown job", extra={"event": "callback_unknown_job", **extra})
        return
    _parts().callbacks.labels(update["status"], str(outcome.changed).lower()).inc()
    logger.info(
        "callback %s (%s)",
        update["status"],
        "applied" if outcome.changed else "no change",
        extra={"event": "callback_received", "changed": outcome.changed, **extra},
    )


@bp.post("/job_callback/<job_id>")
@require_service_signature
def job_callback(job_id: str) -> Response:
    """The core reports one job's progress."""
    update, detail = _callback_update(json_body("status"))
    attempt = int_arg("attempt", 1, 1, MAX_ATTEMPT)
    outcome = _parts().store.apply_callback(job_id, attempt, update, detail)
    _record_callback(job_id, update, outcome)
    if outcome.status is None:
        raise ApiError(404, f"No job '{job_id}' (it may have been reset)", "not_found")
    return jsonify(job_id=job_id, status=outcome.status, changed=outcome.changed)


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
        update, detail = _callback_update(item, where)
        job_id = item.get("job_id")
        if not isinstance(job_id, str) or not job_id:
            raise bad_field(where + "job_id", "'job_id' must be a non-empty string")
        attempt = int_field(item.get("attempt", 1), where + "attempt", 1, MAX_ATTEMPT)
        batch.append((job_id, attempt, update, detail))
    outcomes = _parts().store.apply_callbacks(batch)
    results = []
    for (job_id, _, update, _), outcome in zip(batch, outcomes, strict=True):
        _record_callback(job_id, update, outcome)
        result = (
            "not_found"
            if outcome.status is None
            else ("applied" if outcome.changed else "unchanged")
        )
        results.append({"job_id": job_id, "outcome": result})
    return jsonify(results=results)


@bp.post("/reset")
@admin_required
def reset() -> Response:
    parts = _parts()
    removed = parts.store.reset()
    core_purged, core_error = True, None
    try:
        response = parts.core.post(
            f"{parts.settings.core_url}/purge", timeout=5, headers=outgoing_headers()
        )
        response.raise_for_status()
    except requests.RequestException as exc:
        core_purged, core_error = False, describe_error(exc, 5)
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
    components["middleware"] = {
        "up": True,
        "ready": not down,
        "reason": f"cannot reach {', '.join(down)}" if down else None,
        "latency_ms": 0.0,
        "version": __version__,
        "uptime_s": round(datetime.now(timezone.utc).timestamp() - svc.started_at, 3),
        "url": settings.middleware_url,
    }
    add_supervisor_facts(components, settings)
    queue = _core_queue(parts) if components["core"]["up"] else {}
    return jsonify(
        components={name: components[name] for name in ("auth", "middleware", "core")},
        all_ready=all(c["ready"] for c in components.values()),
        queue_size=queue.get("queue_size"),
        oldest_queued_age_s=parts.store.oldest_queued_age_s(),
        jobs_by_status=parts.store.counts_by_status(),
        jobs_waiting_for_core=parts.store.waiting_for_core(),
        callbacks_pending=queue.get("callbacks_pending"),
        callbacks_waiting_retry=queue.get("callbacks_waiting_retry"),
        workers=queue.get("workers"),
        checked_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
    )


def _core_queue(parts: MiddlewareParts) -> dict[str, Any]:
    try:
        response = parts.core.get(
            f"{parts.settings.core_url}/queue_size", timeout=2, headers=outgoing_headers()
        )
        body: dict[str, Any] = response.json()
        return body
    except (requests.RequestException, ValueError):
        return {}
