"""What every service shares: request IDs, JSON errors, CORS, health, readiness, metrics."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, TypeVar, cast

from flask import Flask, Response, current_app, jsonify, request
from flask_cors import CORS
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from toy_platform import __version__
from toy_platform.answers_json import AnswersJSONProvider
from toy_platform.config import Settings
from toy_platform.cpu import allowed_cpus
from toy_platform.errors import ApiError, json_body, limit_bodies, register_error_handlers
from toy_platform.security import load_service_key, service_key_fingerprint, verify_signature
from toy_platform.tracing import REQUEST_ID_HEADER, accept_request_id, current_request_id

logger = logging.getLogger(__name__)

ReadinessCheck = Callable[[], "str | None"]
"""Returns None when ready, else the reason it is not."""
StallCheck = Callable[[], "tuple[float, str] | None"]
"""Returns (seconds, what is stuck and why) when the service's own work has stalled, else None."""

QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
SLOW_REQUEST_S = 1.0
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class ServiceState:
    """Per-app state shared by the common endpoints."""

    name: str
    settings: Settings
    service_key: bytes
    registry: CollectorRegistry
    started_at: float = field(default_factory=time.time)
    readiness: list[tuple[str, ReadinessCheck]] = field(default_factory=list)
    stall_checks: list[tuple[str, StallCheck]] = field(default_factory=list)
    paused_until: float = 0.0

    def wait_if_paused(self) -> None:
        """Hang while a chaos pause is on: the service is alive but does not answer."""
        while (remaining := self.paused_until - time.time()) > 0:
            time.sleep(min(remaining, 0.5))

    def not_ready_reason(self) -> str | None:
        """The first failing readiness check's reason, else None."""
        for name, check in self.readiness:
            try:
                reason = check()
            except Exception as exc:  # a failing check is a reason, not a 500
                reason = f"{type(exc).__name__}: {exc}"
            if reason:
                return f"{name}: {reason}"
        return None

    def stalled(self) -> tuple[float | None, list[str]]:
        """The longest stall of the service's own work (None if none) and each one's reason."""
        longest: float | None = None
        reasons = []
        for name, check in self.stall_checks:
            try:
                stall = check()
            except Exception as exc:  # a failing check is a reason, not a 500
                reasons.append(f"{name}: cannot tell whether it moves: {type(exc).__name__}: {exc}")
                continue
            if stall is not None:
                longest = max(longest or 0.0, stall[0])
                reasons.append(f"{name}: stalled: {stall[1]}")
        return longest, reasons

    def readiness_report(self) -> tuple[str | None, float | None]:
        """(why not ready or None, seconds stalled or None): stalls first, then the first
        failing readiness check."""
        stalled_s, reasons = self.stalled()
        reason = self.not_ready_reason()
        reasons += [reason] if reason else []
        return ("; ".join(reasons) or None), stalled_s


def state() -> ServiceState:
    """The ServiceState of the current app."""
    return current_app.extensions["toy_platform"]  # type: ignore[no-any-return]


def create_service_app(settings: Settings, name: str, cors: bool = False) -> Flask:
    """A Flask app with the parts every service has; the service adds its blueprint."""
    app = ServiceFlask(f"toy_platform.{name}")
    answers = AnswersJSONProvider(app)
    answers.sort_keys = False  # as orjson writes them: in the order they were made
    app.json = answers
    registry = CollectorRegistry(auto_describe=True)
    svc = ServiceState(name, settings, load_service_key(settings), registry)
    app.extensions["toy_platform"] = svc
    limit_bodies(app, settings.max_data_bytes)
    register_error_handlers(app)
    if cors:
        _install_cors(app, settings)
    _install_request_hooks(app, svc)
    app.register_blueprint(_common_endpoints(svc))
    return app


def _install_cors(app: Flask, settings: Settings) -> None:
    """flask-cors for exactly the front-ends' origins, run only for requests that name one.

    Browsers send Origin on every cross-origin call; scripts and services do not, and on
    a busy service flask-cors' work for them was a sixth of the time of a simple request.
    """
    CORS(
        app,
        origins=list(settings.allowed_origins),
        expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", REQUEST_ID_HEADER],
        max_age=600,
        always_send=False,  # no Origin, no CORS headers, error answers included
    )
    cors_after_request = cast(Callable[[Response], Response], app.after_request_funcs[None].pop())

    @app.after_request
    def _cors(response: Response) -> Response:
        if "Vary" in response.headers:
            response.vary.add("Origin")
        else:  # the usual case, without parsing a header that is not there
            response.headers["Vary"] = "Origin"
        if "HTTP_ORIGIN" not in request.environ:
            return response
        return cors_after_request(response)


class ServiceFlask(Flask):
    """Flask, asking once per function whether it is a coroutine function.

    Flask asks it for every hook and view of every request (ensure_sync: an inspection each
    time); its docs name ensure_sync as the method to override.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        sync = self._sync.get(func)
        if sync is None:  # two threads may both ask the first time: the same answer
            sync = self._sync[func] = super().ensure_sync(func)
        return sync


_request_started: ContextVar[float] = ContextVar("request_started", default=0.0)


def _install_request_hooks(app: Flask, svc: ServiceState) -> None:
    requests_total = Counter(
        "toy_platform_http_requests_total",
        "HTTP requests answered, by endpoint and status code.",
        ["service", "endpoint", "method", "status"],
        registry=svc.registry,
    )
    latency = Histogram(
        "toy_platform_http_request_duration_seconds",
        "Time to answer an HTTP request.",
        ["service", "endpoint"],
        registry=svc.registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    )
    # Each label set's metrics, looked up once: labels() takes a lock and checks its
    # arguments on every call.
    counted: dict[tuple[str, str, int], Any] = {}
    timed: dict[str, Any] = {}

    @app.before_request
    def _start() -> None:
        if svc.paused_until:
            svc.wait_if_paused()
        _request_started.set(time.perf_counter())
        req = request._get_current_object()  # type: ignore[attr-defined]  # one lookup, not one a use
        request_id = accept_request_id(req.headers.get(REQUEST_ID_HEADER))
        req.environ[_TOKEN_KEY] = current_request_id.set(request_id)

    @app.after_request
    def _finish(response: Response) -> Response:
        elapsed = time.perf_counter() - (_request_started.get() or time.perf_counter())
        req = request._get_current_object()  # type: ignore[attr-defined]
        rule = req.url_rule
        endpoint = rule.rule if rule else "unmatched"
        method, status = req.method, response.status_code
        key = (endpoint, method, status)
        if (count := counted.get(key)) is None:
            count = counted[key] = requests_total.labels(svc.name, endpoint, method, status)
        count.inc()
        if (timer := timed.get(endpoint)) is None:
            timer = timed[endpoint] = latency.labels(svc.name, endpoint)
        timer.observe(elapsed)
        response.headers[REQUEST_ID_HEADER] = current_request_id.get() or ""
        if method != "OPTIONS" and req.path not in QUIET_PATHS:
            _log_request(status, elapsed)
        return response

    @app.teardown_request
    def _reset_context(_exc: BaseException | None) -> None:
        _request_started.set(0.0)
        token = request.environ.pop(_TOKEN_KEY, None)
        if token is not None:
            current_request_id.reset(token)


_TOKEN_KEY = "toy_platform.request_id_token"
"""Where a request keeps the token that undoes its request ID (in its WSGI environ)."""


def _log_request(status: int, elapsed: float) -> None:
    """One line per request: DEBUG when all went well (the domain events tell the story),
    INFO for a refused request, WARNING when slow, ERROR for a failure of ours."""
    if status >= 500:
        level = logging.ERROR
    elif elapsed > SLOW_REQUEST_S:
        level = logging.WARNING
    elif status >= 400:
        level = logging.INFO
    else:
        level = logging.DEBUG
    if not logger.isEnabledFor(level):
        return
    logger.log(
        level,
        "%s %s -> %s in %.1f ms",
        request.method,
        request.path,
        status,
        elapsed * 1000,
        extra={
            "event": "http_request",
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
        },
    )


def require_service_signature(view: F) -> F:
    """Reject callers that do not sign with the shared service key (401)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        body = request.get_data(cache=True)
        query = request.query_string.decode("latin-1")
        target = request.path + (f"?{query}" if query else "")
        if not verify_signature(state().service_key, request.method, target, request.headers, body):
            raise ApiError(401, "Valid service credentials are required", "unauthorized")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _common_endpoints(svc: ServiceState) -> Any:
    from flask import Blueprint

    bp = Blueprint("common", __name__)

    @bp.get("/healthz")
    def healthz() -> Response:
        return jsonify(
            status="ok",
            service=svc.name,
            version=__version__,
            uptime_s=round(time.time() - svc.started_at, 3),
            service_key_fingerprint=service_key_fingerprint(svc.service_key),
            instance_id=svc.settings.instance_id,
            pid=os.getpid(),  # this process, even where a launcher started it (Windows venv)
            cpus=allowed_cpus(),  # where its threads may run (--cpu); null: the OS cannot tell
        )

    @bp.get("/readyz")
    def readyz() -> tuple[Response, int]:
        reason, stalled_s = svc.readiness_report()
        body = {
            "ready": reason is None,
            "service": svc.name,
            "reason": reason,
            "stalled_s": stalled_s,
        }
        return jsonify(status="ready" if reason is None else "not_ready", **body), (
            200 if reason is None else 503
        )

    @bp.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(svc.registry), content_type=CONTENT_TYPE_LATEST)

    @bp.get("/openapi.json")
    def openapi() -> Response:
        spec = (
            resources.files("toy_platform.openapi")
            .joinpath(f"{svc.name}.json")
            .read_text(encoding="utf-8")
        )
        return Response(spec, mimetype="application/json")

    @bp.post("/_chaos/pause")
    @require_service_signature
    def chaos_pause() -> tuple[Response, int]:
        seconds = json_body("seconds")["seconds"]
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not 0 < seconds <= 600
        ):
            raise ApiError(
                400, "'seconds' must be a number from 0 to 600", "invalid_field", field="seconds"
            )
        svc.paused_until = time.time() + float(seconds)
        logger.warning(
            "chaos: pausing for %s s", seconds, extra={"event": "chaos_pause", "seconds": seconds}
        )
        return jsonify(paused_s=seconds), 202

    return bp
