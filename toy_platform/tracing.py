"""Request and job IDs that follow a call through every service and log line."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN = "^[A-Za-z0-9._:-]{1,64}$"
"""What a request ID may be, wherever it comes from (a header or a field of a body):
short, ASCII and safe to put in a header and a log line. The OpenAPI documents say the same."""
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
current_job_id: ContextVar[str | None] = ContextVar("job_id", default=None)


@contextmanager
def tagged(job_id: str | None, request_id: str | None) -> Iterator[None]:
    """Inside, every log line names this job and request (see log.py)."""
    job_token = current_job_id.set(job_id)
    request_token = current_request_id.set(request_id)
    try:
        yield
    finally:
        current_request_id.reset(request_token)
        current_job_id.reset(job_token)


def new_request_id() -> str:
    return uuid.uuid4().hex


def is_safe_request_id(value: object) -> bool:
    """True when VALUE follows REQUEST_ID_PATTERN (a trailing newline included: it does not)."""
    return isinstance(value, str) and _SAFE_REQUEST_ID.fullmatch(value) is not None


def accept_request_id(header_value: str | None) -> str:
    """The caller's request ID when it is short and safe to log, else a fresh one."""
    if header_value and is_safe_request_id(header_value):
        return header_value
    return new_request_id()


def safe_request_id(value: str | None) -> str:
    """VALUE when it follows the rule, else the current request's ID (or a fresh one).

    The same rule as for the X-Request-ID header: an unsafe ID is replaced, never kept.
    """
    if is_safe_request_id(value):
        return value  # type: ignore[return-value]
    return current_request_id.get() or new_request_id()


def outgoing_headers(request_id: str | None = None) -> dict[str, str]:
    """Headers that pass the current request ID on to a downstream call.

    An ID that breaks the rule (e.g. stored before the rule was checked) is replaced:
    text outside Latin-1 cannot even be put in a header.
    """
    rid = request_id or current_request_id.get()
    if not rid:
        return {}
    return {REQUEST_ID_HEADER: rid if is_safe_request_id(rid) else new_request_id()}
