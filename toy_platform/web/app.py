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

from pathlib import Path

from flask import Flask

from toy_platform.config import Settings
from toy_platform.web.routes import WebParts, bp
from toy_platform.web.static import StaticFiles

WEB_DIST = Path(__file__).parent.parent / "web_dist"


def create_app(settings: Settings, dist: Path | None = None) -> Flask:
    """The web process's WSGI app; ``dist`` defaults to the packaged ``web_dist``."""
    app = Flask("toy_platform.web", static_folder=None)
    parts = WebParts(settings, WEB_DIST if dist is None else dist)
    app.extensions["web"] = parts
    app.register_blueprint(bp)
    app.wsgi_app = StaticFiles(app.wsgi_app, parts.dist)  # type: ignore[method-assign]
    return app
