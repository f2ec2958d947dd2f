"""The middleware: the API every front-end calls, in front of auth and core."""

from __future__ import annotations

import logging

from flask import Flask
from prometheus_client import CollectorRegistry, Counter

from toy_platform.config import Settings
from toy_platform.errors import name_data_field
from toy_platform.http_errors import describe_error
from toy_platform.middleware.forwarder import Forwarder
from toy_platform.middleware.identity import TokenVerifier
from toy_platform.middleware.job_types import JobTypes
from toy_platform.middleware.metrics import JobsCollector
from toy_platform.middleware.parts import MiddlewareParts
from toy_platform.middleware.routes import bp
from toy_platform.middleware.stores.choice import open_store
from toy_platform.security import service_key_fingerprint
from toy_platform.service import ServiceState, create_service_app
from toy_platform.service_http import CALL_FAILED, service_session
from toy_platform.tracing import outgoing_headers

logger = logging.getLogger(__name__)


def create_app(settings: Settings, start_forwarder: bool = True) -> Flask:
    """The middleware app; its forwarder thread starts with it."""
    app = create_service_app(settings, "middleware", cors=True)
    svc = app.extensions["toy_platform"]
    registry: CollectorRegistry = svc.registry
    store = open_store(settings)
    logger.info("job store: %s", store.name, extra={"event": "store_opened", "store": store.name})
    core = service_session(svc.service_key)
    job_types = JobTypes(settings.core_url, core, settings.data_dir)
    parts = MiddlewareParts(
        settings=settings,
        store=store,
        verifier=TokenVerifier(f"{settings.auth_url}/.well-known/jwks.json"),
        forwarder=Forwarder(
            store,
            settings.core_url,
            settings.callback_url,
            svc.service_key,
            registry,
            reconcile_after=settings.reconcile_after,
            time_limits=job_types.time_limits,
        ),
        core=core,
        job_types=job_types,
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
    except CALL_FAILED as exc:
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
