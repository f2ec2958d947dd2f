"""Request and job IDs that follow a call through every service and log line."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
current_job_id: ContextVar[str | None] = ContextVar("job_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(header_value: str | None) -> str:
    """The caller's request ID when it is short and safe to log, else a fresh one."""
    if header_value and _SAFE_REQUEST_ID.match(header_value):
        return header_value
    return new_request_id()


def outgoing_headers(request_id: str | None = None) -> dict[str, str]:
    """Headers that pass the current request ID on to a downstream call."""
    rid = request_id or current_request_id.get()
    return {REQUEST_ID_HEADER: rid} if rid else {}
