"""The web process: serves the built React app (``toy_platform/web_dist``).

- ``/assets/*`` (content-hashed by Vite): cached for a year, ``immutable``.
- ``index.html`` and ``/config.json``: ``no-cache``, so a new build or a new
  backend address is picked up on the next load.
- ``GET /config.json``: where the browser finds the auth service and the
  middleware API (the one build runs against any backend).
- ``GET /healthz``: liveness of this process.
- ``GET /readyz``: 200 when the app is built, else 503 with the reason and what to do.
- Any other GET path that is not a file: ``index.html`` (the app's own routes,
  such as ``/jobs/<id>``, ``/status`` and ``/login``).

When the app has not been built (a wheel made without Node.js), every other request
answers 503 with a JSON error saying how to get it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, jsonify, request, send_file
from whitenoise import WhiteNoise

import toy_platform
from toy_platform.config import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

WEB_DIST = Path(__file__).parent.parent / "web_dist"

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
NOT_BUILT_CODE = "not_built"
# Paths this process answers itself, never from the files.
_OWN_PATHS = frozenset({"/config.json", "/healthz", "/readyz"})


def not_built_reason(dist: Path) -> str:
    """Why the web app cannot be served, and what a pip user or a developer can do."""
    return (
        f"the web app is not built: {dist / 'index.html'} is missing (a package built"
        " without Node.js has no web app). Install a toy-platform wheel that includes it, or, in a"
        " clone of the repository, install Node.js >= 20.19 and run `pip install .` (or"
        " `npm ci && npm run build` in frontend_react/); `toy-platform serve --no-web` runs"
        " the rest without it"
    )


def _is_asset(url: str) -> bool:
    return url.startswith("/assets/")


def _file_headers(headers: Any, path: str, url: str) -> None:
    """Cache headers for a file WhiteNoise serves."""
    headers["Cache-Control"] = IMMUTABLE if _is_asset(url) else NO_CACHE
    headers["X-Content-Type-Options"] = "nosniff"


def _error(status: int, message: str, code: str) -> Response:
    response = jsonify({"error": message, "code": code})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


class _StaticFiles:
    """WhiteNoise over the Flask app, built once web_dist exists (and again after a rebuild)."""

    def __init__(self, app: WSGIApplication, dist: Path) -> None:
        self._app = app
        self._dist = dist
        self._whitenoise: WhiteNoise | None = None
        self._built_at: float | None = None

    def _files(self) -> WSGIApplication | None:
        try:
            built_at = (self._dist / "index.html").stat().st_mtime
        except OSError:
            return None
        if self._whitenoise is None or built_at != self._built_at:
            self._whitenoise = WhiteNoise(
                self._app,
                root=str(self._dist),
                max_age=None,
                add_headers_function=_file_headers,
            )
            self._built_at = built_at
        wsgi: WSGIApplication = self._whitenoise
        return wsgi

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in _OWN_PATHS:
            return self._app(environ, start_response)
        files = self._files()
        if files is None:
            return self._app(environ, start_response)
        return files(environ, start_response)


def create_app(settings: Settings, dist: Path | None = None) -> Flask:
    """The web process's WSGI app; ``dist`` defaults to the packaged ``web_dist``."""
    dist_dir = WEB_DIST if dist is None else dist
    index = dist_dir / "index.html"
    app = Flask("toy_platform.web", static_folder=None)

    @app.before_request
    def require_build() -> Response | None:
        if not index.is_file() and request.path not in ("/healthz", "/readyz"):
            reason = not_built_reason(dist_dir)
            return _error(503, reason[0].upper() + reason[1:], NOT_BUILT_CODE)
        return None

    @app.after_request
    def common_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        response = jsonify(
            status="ok",
            service="web",
            version=toy_platform.__version__,
            built=index.is_file(),
            instance_id=settings.instance_id,
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        built = index.is_file()
        reason = None if built else not_built_reason(dist_dir)
        response = jsonify(
            status="ready" if built else "not_ready", ready=built, service="web", reason=reason
        )
        response.headers["Cache-Control"] = "no-store"
        return response, 200 if built else 503

    @app.get("/config.json")
    def config_json() -> Response:
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

    @app.route("/", defaults={"path": ""}, methods=["GET", "HEAD", "POST", "PUT", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "HEAD", "POST", "PUT", "DELETE"])
    def spa(path: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _error(405, f"{request.method} is not allowed here", "method_not_allowed")
        if _is_asset("/" + path):
            # A missing hashed file is a stale page, not an app route.
            return _error(404, f"There is no file /{path}", "not_found")
        response = send_file(index, mimetype="text/html", max_age=None)
        response.headers["Cache-Control"] = NO_CACHE
        return response

    app.wsgi_app = _StaticFiles(app.wsgi_app, dist_dir)  # type: ignore[method-assign]
    return app
