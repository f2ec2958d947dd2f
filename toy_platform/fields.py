"""Checks of the fields and parameters the services take in, written once.

Each check is what the OpenAPI documents (toy_platform/openapi/) say about the field, so
that what a service accepts and what its document describes cannot drift apart.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import request

from toy_platform.errors import bad_field
from toy_platform.tracing import is_safe_request_id, safe_request_id

logger = logging.getLogger(__name__)

_DATE = (
    "(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    "|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)"
)
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:[.][0-9]+)?"
_OFFSET = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
RFC3339_PATTERN = f"^{_DATE}[Tt]{_TIME}{_OFFSET}$"
"""An RFC 3339 date-time (JSON Schema's date-time format) that is a real date, e.g.
2026-01-01T00:00:00.000+00:00; leap seconds aside (Python cannot hold them either)."""
_RFC3339 = re.compile(f"{_DATE}[Tt]{_TIME}{_OFFSET}")
_INTEGER = re.compile("-?[0-9]{1,12}")

# Whitespace by every definition a validator of the documents may use (ECMA-262's, Unicode's,
# Python's), so that "has a visible character" means the same to each of them.
_SPACES = (
    r"\t\n\u000b\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a"
    r"\u2028\u2029\u202f\u205f\u3000\ufeff"
)
VISIBLE_PATTERN = f"[^{_SPACES}]"
"""Text that is not only whitespace: the pattern of job_name in the middleware's document."""
_VISIBLE = re.compile(VISIBLE_PATTERN)


def has_visible_text(text: str) -> bool:
    """True when TEXT has a character that is not whitespace (VISIBLE_PATTERN)."""
    return _VISIBLE.search(text) is not None


def whole_number(value: object) -> int | None:
    """VALUE as an int when JSON Schema calls it an integer (2 and 2.0; not true), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def int_field(value: object, field: str, low: int, high: int | None = None) -> int:
    """VALUE as a whole number from LOW to HIGH, or a 400 naming FIELD."""
    number = whole_number(value)
    if number is None or number < low or (high is not None and number > high):
        limits = f"from {low} to {high}" if high is not None else f">= {low}"
        raise bad_field(field, f"'{_leaf(field)}' must be a whole number {limits}")
    return number


def is_rfc3339(text: str) -> bool:
    """True when TEXT matches RFC3339_PATTERN."""
    return _RFC3339.fullmatch(text) is not None


def optional_text(body: dict[str, Any], name: str, where: str = "") -> str | None:
    """BODY[NAME] when it is a string or null (or absent), else a 400."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise bad_field(where + name, f"'{name}' must be a string or null")
    return value


def optional_timestamp(body: dict[str, Any], name: str, where: str = "") -> str | None:
    """BODY[NAME] when it is an RFC 3339 date-time or null (or absent), else a 400."""
    value = optional_text(body, name, where)
    if value is not None and not is_rfc3339(value):
        raise bad_field(
            where + name,
            f"'{name}' must be an RFC 3339 date-time (e.g. 2026-01-01T00:00:00.000+00:00) or null",
        )
    return value


def request_id_field(body: dict[str, Any], where: str = "") -> str:
    """The request ID a body carries, by the X-Request-ID rule, or the current request's.

    Not a string (nor null): a 400. A string that breaks the rule: replaced by the current
    request's ID, and logged, as an unsafe X-Request-ID header is.
    """
    value = optional_text(body, "request_id", where)
    if value is not None and not is_safe_request_id(value):
        logger.info(
            "request_id replaced: it does not match the request ID rule",
            extra={
                "event": "request_id_replaced",
                "field": where + "request_id",
                "given": repr(value[:80]),
            },
        )
    return safe_request_id(value)


def query_arg(name: str) -> str | None:
    """Query parameter NAME: None when absent; a 400 when it is empty or given twice."""
    values = request.args.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise bad_field(name, f"'{name}' must be given at most once")
    if values[0] == "":
        raise bad_field(name, f"'{name}' must not be empty (leave it out instead)")
    return values[0]


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """Query parameter NAME as a whole number from LOW to HIGH (DEFAULT when absent)."""
    raw = query_arg(name)
    if raw is None:
        return default
    value = int(raw) if _INTEGER.fullmatch(raw) else low - 1
    if not low <= value <= high:
        raise bad_field(name, f"'{name}' must be a whole number from {low} to {high}")
    return value


def _leaf(field: str) -> str:
    return field.rsplit(".", 1)[-1]
