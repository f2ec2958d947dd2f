"""Who is calling: bearer tokens checked against the auth service's published public key."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import jwt
from flask import current_app, g, request

from toy_platform.errors import ApiError
from toy_platform.tracing import outgoing_headers

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
ALGORITHMS = ["EdDSA"]
AUDIENCE = "toy-platform"
ISSUER = "toy-platform-auth"


@dataclass(frozen=True)
class Identity:
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class TracedJWKClient(jwt.PyJWKClient):
    """PyJWKClient that passes the current request ID on to the auth service."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri, cache_keys=True, lifespan=300, timeout=2)
        self._base_headers = dict(self.headers)

    def fetch_data(self) -> Any:
        self.headers = {**self._base_headers, **outgoing_headers()}
        return super().fetch_data()


class TokenVerifier:
    """Checks tokens; a token already verified is remembered until it expires.

    Checking an EdDSA signature costs far more than the rest of a small request, and a
    front-end sends the same token many times.
    """

    CACHE_SIZE = 10_000

    def __init__(self, jwks_url: str) -> None:
        self.jwks = TracedJWKClient(jwks_url)
        self._verified: dict[str, tuple[Identity, float]] = {}

    def verify(self, token: str) -> Identity:
        known = self._verified.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        self._verified.pop(token, None)
        identity, expires = self._verify_signature(token)
        if len(self._verified) >= self.CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)), None)
        self._verified[token] = (identity, expires)
        return identity

    def _verify_signature(self, token: str) -> tuple[Identity, float]:
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            logger.error(
                "cannot fetch the auth service's keys: %s", exc, extra={"event": "jwks_unreachable"}
            )
            raise ApiError(
                503, "Cannot verify tokens: the auth service is not answering", "auth_unavailable"
            ) from exc
        except jwt.PyJWKClientError as exc:
            raise ApiError(
                401, "The token was not issued by this platform's auth service", "invalid_token"
            ) from exc
        except jwt.InvalidTokenError as exc:
            raise ApiError(401, "The token is malformed", "invalid_token") from exc
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "role"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise ApiError(401, "The token has expired; log in again", "token_expired") from exc
        except jwt.InvalidTokenError as exc:
            raise ApiError(401, f"The token is not valid: {exc}", "invalid_token") from exc
        if claims["role"] not in ("user", "admin"):
            raise ApiError(401, "The token has an unknown role", "invalid_token")
        return Identity(str(claims["sub"]), str(claims["role"])), float(claims["exp"])

    def reachable(self) -> str | None:
        """None when the auth service's keys can be fetched now, else why not."""
        try:
            self.jwks.fetch_data()
        except jwt.PyJWKClientError as exc:
            return f"cannot fetch {self.jwks.uri}: {exc}"
        return None


def current_identity() -> Identity:
    identity: Identity = g.identity
    return identity


def login_required(view: F) -> F:
    """Require a valid bearer token; the caller is then current_identity()."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "Log in first: send 'Authorization: Bearer <token>'",
                "unauthorized",
                headers={"WWW-Authenticate": "Bearer"},
            )
        verifier: TokenVerifier = current_app.extensions["middleware"].verifier
        try:
            g.identity = verifier.verify(token.strip())
        except ApiError as err:
            if err.status == 401:  # RFC 6750: say why, on every 401
                err.headers.setdefault("WWW-Authenticate", 'Bearer error="invalid_token"')
            raise
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def admin_required(view: F) -> F:
    """Require a valid token with the admin role (403 for other users)."""

    @functools.wraps(view)
    def check_admin(*args: Any, **kwargs: Any) -> Any:
        if not current_identity().is_admin:
            raise ApiError(403, "Only an admin may do this", "forbidden")
        return view(*args, **kwargs)

    return login_required(check_admin)  # type: ignore[return-value]
