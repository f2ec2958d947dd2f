"""One JSON error shape for every service: {"error", "code", "field"?}."""

from __future__ import annotations

import logging
import math
import sqlite3
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from toy_platform.unavailable import StoreUnavailable, Unavailable

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a caller can fix or understand; becomes a JSON response."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.field = field
        self.headers = headers or {}
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


MAX_DATA_BYTES = "TOY_PLATFORM_MAX_DATA_BYTES"
DATA_FIELDS = "TOY_PLATFORM_DATA_FIELDS"


def limit_bodies(app: Flask, max_data_bytes: int) -> None:
    """Refuse bodies larger than jobs of MAX_DATA_BYTES (--max-data-bytes) of data can need.

    JSON escapes can make a body up to six times the size of the data it carries, hence
    the derived MAX_CONTENT_LENGTH; a 413 names the user's own limit, never this number.
    """
    app.config["MAX_CONTENT_LENGTH"] = max_data_bytes * 6 + 64 * 1024
    app.config[MAX_DATA_BYTES] = max_data_bytes
    app.config[DATA_FIELDS] = {}


def name_data_field(app: Flask, endpoint: str, field: str) -> None:
    """At ENDPOINT a body over the limit is answered as FIELD too large: FIELD is what makes
    a body large there, and a smaller body with FIELD over the limit is answered so too."""
    app.config[DATA_FIELDS][endpoint] = field


def body_too_large() -> ApiError:
    """The 413 for a body over MAX_CONTENT_LENGTH, in the user's terms (see limit_bodies)."""
    limit = current_app.config.get(MAX_DATA_BYTES)
    if limit is None:
        return ApiError(413, "The request body is too large", "too_large")
    field = current_app.config[DATA_FIELDS].get(request.endpoint)
    if field:
        return bad_field(
            field, f"'{field}' is larger than the limit of {limit} bytes (--max-data-bytes)", 413
        )
    return ApiError(
        413,
        f"The request body is too large for the limit set by --max-data-bytes ({limit} bytes"
        " of data per job)",
        "too_large",
    )


def bad_field(field: str, message: str, status: int = 400) -> ApiError:
    code = "too_large" if status == 413 else "invalid_field"
    return ApiError(status, message, code, field=field)


def json_body(*required: str) -> dict[str, Any]:
    """The request's JSON object, or a 400 naming what is wrong with it."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON parser goes
        data = None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object", "invalid_json")
    for name in required:
        if name not in data:
            raise bad_field(name, f"'{name}' is required")
    problem = _unencodable(data)
    if problem is not None:
        where, what = problem
        raise bad_field(where, f"'{where}' holds {what}")
    return data


SURROGATE = "text that is not valid Unicode (a lone surrogate)"
NOT_FINITE = "NaN or Infinity, which JSON has no number for"


def _unencodable(data: dict[str, Any]) -> tuple[str, str] | None:
    """Where in DATA (e.g. 'jobs[2].data') a value parses but cannot be kept as JSON, and
    what it holds: a string (or key) with a lone surrogate, or NaN or Infinity (Python's
    parser takes them; stored, they made answers that are not JSON). None if nowhere.

    Walked without recursion, so any depth the parser took is fine; walked a second time,
    naming every value's place, only when the first walk found something.
    """
    if _all_encodable(data):
        return None
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if not _encodable(value):
                return where, SURROGATE
        elif isinstance(value, float):
            if not math.isfinite(value):
                return where, NOT_FINITE
        elif isinstance(value, dict):
            for key, item in value.items():
                path = f"{where}.{key}" if where else str(key)
                if not _encodable(key):
                    return where or "(body)", SURROGATE
                stack.append((path, item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{n}]", item) for n, item in enumerate(value))
    return None


def _all_encodable(data: Any) -> bool:
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if not _encodable(value):
                return False
        elif isinstance(value, float):
            if not math.isfinite(value):
                return False
        elif isinstance(value, dict):
            if not all(_encodable(key) for key in value):
                return False
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return True


def _encodable(text: str) -> bool:
    if text.isascii():  # nearly all text; no encoding needed to know
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def register_error_handlers(app: Flask) -> None:
    """Every error, 404/405 and unexpected ones included, answers in the one JSON shape."""

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> tuple[Response, int, dict[str, str]]:
        return jsonify(err.to_dict()), err.status, err.headers

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> tuple[Response, int, list[tuple[str, str]]]:
        status = err.code or 500
        code = (err.name or "error").lower().replace(" ", "_")
        body = {"error": err.description or err.name, "code": code}
        if status == 413:
            body = body_too_large().to_dict()
        headers = [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"]
        return jsonify(body), status, headers

    @app.errorhandler(Unavailable)
    def _unavailable(err: Unavailable) -> tuple[Response, int, dict[str, str]]:
        """A store or a broker the service needs is down, busy or locked: 503 and
        Retry-After, never a 500. Nothing was stored (or, when the commit itself was cut
        off, the answer says it may have been), so the caller may send it again."""
        logger.warning(
            "%s: %s",
            err.code.replace("_", " "),
            err,
            extra={"event": err.code, "path": request.path, "reason": str(err)},
        )
        body = {"error": err.answer_text(), "code": err.code}
        return jsonify(body), 503, {"Retry-After": str(err.retry_after_s)}

    @app.errorhandler(sqlite3.OperationalError)
    def _sqlite_unavailable(err: sqlite3.OperationalError) -> tuple[Response, int, dict[str, str]]:
        """A SQLite file of the service locked by another process for longer than a request
        waits, or the disk full, where no backend translated it."""
        return _unavailable(StoreUnavailable(str(err)))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> tuple[Response, int]:
        logger.exception(
            "unhandled error", extra={"event": "unhandled_error", "path": request.path}
        )
        body = {"error": "Internal error; see the service log", "code": "internal_error"}
        return jsonify(body), 500
