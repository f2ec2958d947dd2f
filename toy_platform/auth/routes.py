"""Auth's endpoints: /login issues a signed JWT, /.well-known/jwks.json its public key."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from toy_platform.auth.tokens import TokenIssuer
from toy_platform.auth.users import User, UsersFileError
from toy_platform.errors import ApiError, bad_field, json_body

logger = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)


def _parts() -> dict[str, Any]:
    return current_app.extensions["auth"]  # type: ignore[no-any-return]


@bp.post("/login")
def login() -> Response:
    body = json_body("username", "password")
    username, password = body["username"], body["password"]
    for name, value in (("username", username), ("password", password)):
        if not isinstance(value, str) or not value:
            raise bad_field(name, f"'{name}' must be a non-empty string")
    parts = _parts()
    address = request.remote_addr or "unknown"
    wait = parts["throttle"].retry_after(username, address)
    if wait:
        parts["logins"].labels("throttled").inc()
        logger.warning(
            "login refused: too many failures for %s",
            username,
            extra={
                "event": "login_throttled",
                "username": username,
                "address": address,
                "retry_after": wait,
            },
        )
        raise ApiError(
            429,
            f"Too many failed logins; try again in {wait} s",
            "too_many_attempts",
            headers={"Retry-After": str(wait)},
            retry_after=wait,
        )
    user = _authenticate(parts, username, password)
    if user is None:
        parts["throttle"].record_failure(username, address)
        parts["logins"].labels("failed").inc()
        logger.warning(
            "login failed for %s",
            username,
            extra={"event": "login_failed", "username": username, "address": address},
        )
        raise ApiError(401, "Invalid username or password", "invalid_credentials")
    parts["throttle"].record_success(username)
    parts["logins"].labels("ok").inc()
    logger.info("login ok for %s", username, extra={"event": "login_ok", "username": username})
    issuer: TokenIssuer = parts["issuer"]
    return jsonify(
        token=issuer.issue(user.username, user.role),
        token_type="Bearer",
        expires_in=issuer.ttl_s,
        username=user.username,
        role=user.role,
    )


def _authenticate(parts: dict[str, Any], username: str, password: str) -> User | None:
    """The user, None for wrong credentials; 503 when users.json cannot be used.

    The caller is told which file is at fault, not where it is: the log and /readyz say.
    """
    try:
        user: User | None = parts["users"].authenticate(username, password)
    except UsersFileError as exc:
        parts["logins"].labels("unavailable").inc()
        logger.error(
            "login impossible: %s",
            exc,
            extra={"event": "users_unavailable", "username": username},
        )
        raise ApiError(
            503,
            "Logins are unavailable: the auth service cannot use its users file (users.json);"
            " its log and /readyz say why",
            "users_unavailable",
        ) from exc
    return user


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(_parts()["issuer"].jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
