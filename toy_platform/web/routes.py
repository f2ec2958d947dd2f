"""The web process's own endpoints: health, the runtime config, and the app's routes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request, send_file

import toy_platform
from toy_platform.config import Settings
from toy_platform.web.static import NO_CACHE, NOT_BUILT_CODE, error, is_asset, not_built_reason

bp = Blueprint("web", __name__)


@dataclass(frozen=True)
class WebParts:
    settings: Settings
    dist: Path

    @property
    def index(self) -> Path:
        return self.dist / "index.html"


def _parts() -> WebParts:
    return current_app.extensions["web"]  # type: ignore[no-any-return]


@bp.before_app_request
def require_build() -> Response | None:
    parts = _parts()
    if not parts.index.is_file() and request.path not in ("/healthz", "/readyz"):
        reason = not_built_reason(parts.dist)
        return error(503, reason[0].upper() + reason[1:], NOT_BUILT_CODE)
    return None


@bp.after_app_request
def common_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


@bp.get("/healthz")
def healthz() -> Response:
    parts = _parts()
    response = jsonify(
        status="ok",
        service="web",
        version=toy_platform.__version__,
        built=parts.index.is_file(),
        instance_id=parts.settings.instance_id,
        pid=os.getpid(),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    parts = _parts()
    built = parts.index.is_file()
    reason = None if built else not_built_reason(parts.dist)
    response = jsonify(
        status="ready" if built else "not_ready", ready=built, service="web", reason=reason
    )
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if built else 503


@bp.get("/config.json")
def config_json() -> Response:
    settings = _parts().settings
    response = jsonify(
        {
            "authUrl": settings.auth_url,
            "middlewareUrl": settings.middleware_url,
            "version": toy_platform.__version__,
            "maxDataBytes": settings.max_data_bytes,
        }
    )
    response.headers["Cache-Control"] = NO_CACHE
    return response


@bp.route("/", defaults={"path": ""}, methods=["GET", "HEAD", "POST", "PUT", "DELETE"])
@bp.route("/<path:path>", methods=["GET", "HEAD", "POST", "PUT", "DELETE"])
def spa(path: str) -> Response:
    if request.method not in ("GET", "HEAD"):
        return error(405, f"{request.method} is not allowed here", "method_not_allowed")
    if is_asset("/" + path):
        # A missing hashed file is a stale page, not an app route.
        return error(404, f"There is no file /{path}", "not_found")
    response = send_file(_parts().index, mimetype="text/html", max_age=None)
    response.headers["Cache-Control"] = NO_CACHE
    return response
