"""The services a `toy-platform` process can run, each by its app factory.

Each factory imports its service late: a process runs one service, and `toy-platform auth`
has no reason to load Celery or psycopg.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from toy_platform.config import Settings


def _auth(settings: Settings) -> Any:
    from toy_platform.auth.app import create_app

    return create_app(settings)


def _core(settings: Settings) -> Any:
    from toy_platform.core.app import create_app

    return create_app(settings)


def _middleware(settings: Settings) -> Any:
    from toy_platform.middleware.app import create_app

    return create_app(settings)


def _web(settings: Settings) -> Any:
    from toy_platform.web.app import create_app

    return create_app(settings)


APP_FACTORIES: dict[str, Callable[[Settings], Any]] = {
    "auth": _auth,
    "core": _core,
    "middleware": _middleware,
    "web": _web,
}
