"""Core's reports of a job's progress (the callbacks), checked field by field into Reports.

The rules are those of JobCallback in the middleware's OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from toy_platform.errors import bad_field
from toy_platform.fields import int_field, optional_text, optional_timestamp, request_id_field
from toy_platform.jobs.model import REPORTED, encode

CALLBACK_STATUSES = tuple(status.value for status in REPORTED)
MAX_CALLBACK_BATCH = 500
MAX_WORKER_NAME = 255
MAX_RUN = 10**6
MAX_RESULT_BYTES = 1024 * 1024
MAX_PROGRESS_MESSAGE = 200
MAX_EVENTS, MAX_EVENT_DETAIL = 20, 2000
EVENT_KINDS = ("attempt_failed", "timeout")


def _progress(value: object, field: str) -> dict[str, Any]:
    """{"fraction": 0..1, "message": text}, or a 400 naming the field."""
    if not isinstance(value, dict) or set(value) != {"fraction", "message"}:
        raise bad_field(field, "'progress' must be an object of 'fraction' and 'message'")
    fraction, message = value["fraction"], value["message"]
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        raise bad_field(field + ".fraction", "'fraction' must be a number from 0 to 1")
    if not 0 <= fraction <= 1:
        raise bad_field(field + ".fraction", "'fraction' must be a number from 0 to 1")
    if not isinstance(message, str) or len(message) > MAX_PROGRESS_MESSAGE:
        raise bad_field(
            field + ".message", f"'message' must be a string of at most {MAX_PROGRESS_MESSAGE}"
        )
    return {"fraction": float(fraction), "message": message}


def _events(value: object, field: str) -> list[dict[str, str]]:
    """History lines of a run, or a 400 naming the field."""
    if not isinstance(value, list) or len(value) > MAX_EVENTS:
        raise bad_field(field, f"'events' must be a list of at most {MAX_EVENTS}")
    lines = []
    for n, item in enumerate(value):
        at = f"{field}[{n}]"
        if not isinstance(item, dict) or set(item) - {"status", "detail"}:
            raise bad_field(at, "each event is an object of 'status' and 'detail' only")
        if item.get("status") not in EVENT_KINDS:
            raise bad_field(at + ".status", f"'status' must be one of {', '.join(EVENT_KINDS)}")
        detail = item.get("detail")
        if not isinstance(detail, str) or not 0 < len(detail) <= MAX_EVENT_DETAIL:
            raise bad_field(
                at + ".detail", f"'detail' must be a string of 1 to {MAX_EVENT_DETAIL} characters"
            )
        lines.append({"status": item["status"], "detail": detail})
    return lines


def callback_update(body: object, where: str = "") -> tuple[dict[str, Any], str | None]:
    """The checked update of one callback and its history note, or a 400 naming the field.

    The rules are those of JobCallback in the middleware's OpenAPI document.
    """
    if not isinstance(body, dict):
        raise bad_field(where.rstrip(".") or "callbacks", "each callback must be a JSON object")
    if body.get("status") not in CALLBACK_STATUSES:
        raise bad_field(
            where + "status", "'status' must be running, succeeded, failed or cancelled"
        )
    update: dict[str, Any] = {"status": body["status"]}
    update["error"] = optional_text(body, "error", where)
    update["result"] = body.get("result")
    if update["result"] is not None and len(encode(update["result"])) > MAX_RESULT_BYTES:
        raise bad_field(
            where + "result", f"'result' is larger than {MAX_RESULT_BYTES} bytes", status=413
        )
    if body.get("progress") is not None:
        update["progress"] = _progress(body["progress"], where + "progress")
    if "events" in body:
        update["events"] = _events(body["events"], where + "events")
    for name in ("started_at", "completed_at"):
        update[name] = optional_timestamp(body, name, where)
    delivery = None
    if "delivery_attempt" in body:
        delivery = int_field(body["delivery_attempt"], where + "delivery_attempt", 1)
    update["delivery_attempt"] = delivery
    update["request_id"] = request_id_field(body, where)
    worker = optional_text(body, "worker", where)
    if worker is not None and not 0 < len(worker) <= MAX_WORKER_NAME:
        raise bad_field(where + "worker", f"'worker' must be 1 to {MAX_WORKER_NAME} characters")
    notes = [f"on worker {worker}"] if worker else []
    run = int_field(body["run"], where + "run", 1, MAX_RUN) if "run" in body else 1
    update["run"] = run
    if run > 1:
        notes.append(f"run {run}: a worker stopped mid-job before")
    if delivery is not None and delivery > 1:
        notes.append(f"callback delivered after {delivery} attempts")
    return update, "; ".join(notes) or None
