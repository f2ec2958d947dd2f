"""The built React app's files, served by WhiteNoise: hashed assets cached for a year,
index.html never without asking again."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Response, jsonify
from whitenoise import WhiteNoise

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
NOT_BUILT_CODE = "not_built"
# Paths the web process answers itself, never from the files.
OWN_PATHS = frozenset({"/config.json", "/healthz", "/readyz"})


def not_built_reason(dist: Path) -> str:
    """Why the web app cannot be served, and what a pip user or a developer can do."""
    return (
        f"the web app is not built: {dist / 'index.html'} is missing (a package built"
        " without Node.js has no web app). Install a toy-platform wheel that includes it, or, in a"
        " clone of the repository, install Node.js >= 20.19 and run `pip install .` (or"
        " `npm ci && npm run build` in frontend_react/); `toy-platform serve --no-web` runs"
        " the rest without it"
    )


def is_asset(url: str) -> bool:
    return url.startswith("/assets/")


def _file_headers(headers: Any, path: str, url: str) -> None:
    """Cache headers for a file WhiteNoise serves."""
    headers["Cache-Control"] = IMMUTABLE if is_asset(url) else NO_CACHE
    headers["X-Content-Type-Options"] = "nosniff"


def error(status: int, message: str, code: str) -> Response:
    response = jsonify({"error": message, "code": code})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


class StaticFiles:
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
        if environ.get("PATH_INFO", "") in OWN_PATHS:
            return self._app(environ, start_response)
        files = self._files()
        if files is None:
            return self._app(environ, start_response)
        return files(environ, start_response)
