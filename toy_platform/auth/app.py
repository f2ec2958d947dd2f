"""The auth service: checks passwords against users.json and issues signed JWTs."""

from __future__ import annotations

from typing import Any

from flask import Flask
from prometheus_client import Counter

from toy_platform.auth.routes import bp
from toy_platform.auth.throttle import LoginThrottle
from toy_platform.auth.tokens import TokenIssuer
from toy_platform.auth.users import UsersFileError, UserStore
from toy_platform.config import Settings
from toy_platform.security import load_signing_key
from toy_platform.service import create_service_app


def create_app(settings: Settings, throttle: LoginThrottle | None = None) -> Flask:
    """The auth service app."""
    app = create_service_app(settings, "auth", cors=True)
    users = UserStore(settings.users_file)
    issuer = TokenIssuer(load_signing_key(settings), settings.token_ttl)
    registry = app.extensions["toy_platform"].registry
    app.extensions["auth"] = {
        "users": users,
        "issuer": issuer,
        "throttle": throttle or LoginThrottle(),
        "logins": Counter(
            "toy_platform_logins_total",
            "Login attempts, by outcome (ok, failed, throttled, unavailable).",
            ["outcome"],
            registry=registry,
        ),
    }
    app.extensions["toy_platform"].readiness.append(("users", _users_readable(users)))
    app.register_blueprint(bp)
    return app


def _users_readable(users: UserStore) -> Any:
    def check() -> str | None:
        if not users.exists():
            return f"{users.path} does not exist"
        try:
            users.all()
        except UsersFileError as exc:
            return str(exc)
        return None

    return check
