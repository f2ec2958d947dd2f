"""What every page shares: settings, logging, the logged-in client, and error handling.

The per-user token lives only in `st.session_state` (inside the session's
PlatformClient), never in the URL. Pages call the platform only through `call()`,
which turns every PlatformError into an `st.error` (or, for a rejected token, a
return to the login form) so no service failure ever shows a traceback.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import streamlit as st

from dashboard_streamlit.settings import environment, settings_from
from toy_platform.client import PlatformClient, PlatformError, PlatformStatus
from toy_platform.config import Settings
from toy_platform.log import configure_logging
from toy_platform.tracing import new_request_id

logger = logging.getLogger("dashboard_streamlit")

T = TypeVar("T")
P = ParamSpec("P")

CLIENT_KEY = "client"
FLASH_KEY = "flash"
STATUS_KEY = "status_snapshot"
CLIENT_TIMEOUT_S = 5.0
SESSION_EXPIRED = "Your session has expired — please log in again"
SERVICE_LABELS = {"auth": "auth service", "middleware": "middleware"}
UNEXPECTED = "Something went wrong in the dashboard itself"


@st.cache_resource(show_spinner=False)
def _setup(env: tuple[tuple[str, str], ...]) -> Settings:
    """Build the settings and configure logging, once per process (and environment)."""
    built = settings_from(env)
    configure_logging(built, "dashboard", console=False)
    logger.info(
        "dashboard started",
        extra={
            "event": "dashboard_started",
            "auth_url": built.auth_url,
            "middleware_url": built.middleware_url,
        },
    )
    return built


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>#!|~$:{}()])")


def md(text: object) -> str:
    """TEXT (a job name, a result, a user name) escaped for st.markdown and friends."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(text))


def settings() -> Settings:
    return _setup(environment())


# -- the session's client ----------------------------------------------------


def client() -> PlatformClient | None:
    """This session's logged-in client, or None."""
    found = st.session_state.get(CLIENT_KEY)
    return found if isinstance(found, PlatformClient) and found.token else None


def username() -> str:
    found = client()
    return (found.username or "") if found else ""


def require_client() -> PlatformClient:
    """The logged-in client; a page that needs a login stops here otherwise."""
    found = client()
    if found is None:
        st.warning("Please log in first.")
        st.stop()
    return found


def flash(kind: str, message: str) -> None:
    """A message to show once, on the next page drawn (e.g. after a rerun)."""
    st.session_state[FLASH_KEY] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop(FLASH_KEY, ("", ""))
    if kind == "success":
        st.success(message)
    elif kind == "warning":
        st.warning(message)
    elif kind == "error":
        st.error(message)
    elif message:
        st.info(message)


def login(name: str, password: str) -> str | None:
    """Log in; None on success, else the message to show. The password is never logged."""
    s = settings()
    fresh = PlatformClient(s.auth_url, s.middleware_url, timeout=CLIENT_TIMEOUT_S)
    try:
        fresh.login(name, password)
    except PlatformError as exc:
        logger.warning(
            "login failed for %s",
            name,
            extra={
                "event": "login_failed",
                "username": name,
                "code": exc.code,
                "http_status": exc.status,
            },
        )
        return login_error(exc, s.auth_url)
    _clear()
    st.session_state[CLIENT_KEY] = fresh
    logger.info("login ok for %s", name, extra={"event": "login_ok", "username": name})
    return None


def login_error(exc: PlatformError, auth_url: str) -> str:
    if exc.unreachable:
        return f"The auth service at {auth_url} is not answering"
    if exc.status == 401:
        return "Wrong username or password"
    if exc.status == 429:
        wait = f"{exc.retry_after} s" if exc.retry_after else "a moment"
        return f"Too many failed attempts — try again in {wait}"
    return exc.message


def logout() -> None:
    """The Logout button's callback: forget the client and everything else of the session."""
    logger.info("logout by %s", username(), extra={"event": "logout", "username": username()})
    _clear()
    flash("info", "You have logged out.")


def expire_session() -> None:
    """The token was rejected: back to the login form with a message."""
    logger.info(
        "session expired for %s",
        username(),
        extra={"event": "session_expired", "username": username()},
    )
    _clear()
    flash("warning", SESSION_EXPIRED)
    st.rerun()


def _clear() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]


# -- calling the platform ------------------------------------------------------


def call(fn: Callable[[], T], what: str) -> T | None:
    """Run one client call; on a PlatformError show what is wrong and return None."""
    try:
        return fn()
    except PlatformError as exc:
        if exc.unauthorized and exc.service == "middleware":
            expire_session()
        st.error(describe(exc, what))
        return None


def describe(exc: PlatformError, what: str) -> str:
    if exc.unreachable:
        return unreachable_message(exc.service)
    if exc.status == 429 and exc.retry_after:
        return f"Could not {what}: {exc.message} (try again in {exc.retry_after} s)"
    return f"Could not {what}: {exc.message}"


def unreachable_message(service: str | None) -> str:
    s = settings()
    url = s.auth_url if service == "auth" else s.middleware_url
    label = SERVICE_LABELS.get(service or "middleware", service or "service")
    return f"The {label} at {url} is not answering"


def request_id() -> str:
    return new_request_id()


def status_snapshot(max_age_s: float = 10.0) -> PlatformStatus | PlatformError | None:
    """The platform status for the sidebar, fetched at most every MAX_AGE_S seconds."""
    current = client()
    if current is None:
        return None
    cached = st.session_state.get(STATUS_KEY)
    if cached and time.monotonic() - cached[0] < max_age_s:
        result: PlatformStatus | PlatformError = cached[1]
        return result
    try:
        result = current.platform_status()
    except PlatformError as exc:
        if exc.unauthorized:
            expire_session()
        result = exc
    remember_status(result)
    return result


def remember_status(result: PlatformStatus | PlatformError) -> None:
    st.session_state[STATUS_KEY] = (time.monotonic(), result)


# -- the last line of defence ----------------------------------------------------


@contextmanager
def guard() -> Iterator[None]:
    """Show an unexpected error (a dashboard bug) as one line, not a traceback; log it all.

    st.rerun() and st.stop() raise BaseExceptions, so they pass through untouched.
    """
    try:
        yield
    except Exception as exc:
        logger.exception("unexpected dashboard error", extra={"event": "dashboard_error"})
        st.error(f"{UNEXPECTED} ({type(exc).__name__}); the details are in dashboard.log.")


def guarded(fn: Callable[P, None]) -> Callable[P, None]:
    """guard() for a fragment, whose own reruns do not pass through the page's guard."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        with guard():
            fn(*args, **kwargs)

    return wrapper
