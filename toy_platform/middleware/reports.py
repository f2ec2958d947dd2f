"""Core's reports of a job's progress (the callbacks), checked field by field into Reports.

The rules are those of JobCallback in the middleware's OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from toy_platform.errors import bad_field
from toy_platform.fields import int_field, optional_text, optional_timestamp, request_id_field
from toy_platform.jobs.model import REPORTED

CALLBACK_STATUSES = tuple(status.value for status in REPORTED)
MAX_CALLBACK_BATCH = 500
MAX_WORKER_NAME = 255
MAX_RUN = 10**6


def callback_update(body: object, where: str = "") -> tuple[dict[str, Any], str | None]:
    """The checked update of one callback and its history note, or a 400 naming the field.

    The rules are those of JobCallback in the middleware's OpenAPI document.
    """
    if not isinstance(body, dict):
        raise bad_field(where.rstrip(".") or "callbacks", "each callback must be a JSON object")
    if body.get("status") not in CALLBACK_STATUSES:
        raise bad_field(where + "status", "'status' must be running, succeeded or failed")
    update: dict[str, Any] = {"status": body["status"]}
    for name in ("result", "error"):
        update[name] = optional_text(body, name, where)
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
