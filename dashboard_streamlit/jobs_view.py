"""The Jobs page's words and tables: job types, the jobs list and a job's timeline.

No Streamlit calls, so all of it can be tested without running the page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboard_streamlit import formatting
from toy_platform.client import Job, JobEvent, JobTypeInfo

DEFAULT_TYPE = "reverse"
REVERSE_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1}
FALLBACK_TYPES: list[JobTypeInfo] = [
    {
        "name": DEFAULT_TYPE,
        "title": "Reverse a text",
        "input_schema": REVERSE_SCHEMA,
        "timeout_s": 60.0,
        "max_retries": 0,
        "available": True,
        "reason": None,
        "offered_by": [],
    }
]
"""What the picker offers when the middleware cannot list its types: the platform's own
type, which every platform runs (a submit then names no type, so the default is used)."""

UNFINISHED = ("queued", "running")
STATUS_BADGES = {
    "queued": ":gray[:material/schedule:]",
    "running": ":blue[:material/autorenew:]",
    "succeeded": ":green[:material/check_circle:]",
    "failed": ":red[:material/error:]",
    "cancelled": ":orange[:material/block:]",
}
EVENT_LABELS = {
    "submitted": "Submitted",
    "forwarded": "Sent to the core",
    "forwarded_again": "Sent to the core again (it had lost the job)",
    "reports_held_up": "Reports held up (the core cannot reach the middleware)",
    "retry_requested": "Retry requested",
    "queued": "Queued in the core",
    "running": "Running",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "cancel_requested": "Cancel requested",
    "cancelled": "Cancelled",
    "timeout": "Timed out",
    "attempt_failed": "Try failed (will be tried again)",
}
JOB_COLUMNS = (
    "status",
    "job_type",
    "job_name",
    "created_at",
    "completed_at",
    "result",
    "attempt",
    "job_id",
)


# -- job types -----------------------------------------------------------------------


def type_label(info: JobTypeInfo) -> str:
    """A picker entry: the title and name; an unavailable type is marked, with the reason."""
    name, title = info["name"], info.get("title") or info["name"]
    label = name if title == name else f"{title} ({name})"
    if not info.get("available", True):
        label += f" — unavailable: {info.get('reason') or 'no worker offers it'}"
    return label


def default_type(types: list[JobTypeInfo]) -> int:
    """The picker's first choice: reverse, else the first available type, else the first."""
    names = [t["name"] for t in types]
    if DEFAULT_TYPE in names:
        return names.index(DEFAULT_TYPE)
    available = [i for i, t in enumerate(types) if t.get("available", True)]
    return available[0] if available else 0


def unavailable_note(info: JobTypeInfo) -> str | None:
    if info.get("available", True):
        return None
    reason = info.get("reason") or "no running worker offers it"
    return (
        f"No worker offers {info['name']} right now ({reason}). A job of this type waits,"
        " queued, until one does."
    )


# -- the jobs list ----------------------------------------------------------------------


def result_cell(job: Job) -> str:
    """The "Result / error" cell: the error of a failed job, else the result (JSON when it
    is not text), a dash when there is none yet."""
    if job.get("status") == "failed":
        return formatting.cell(job.get("error"))
    return formatting.cell(job.get("result"))


def jobs_frame(jobs: list[Job]) -> pd.DataFrame:
    """The jobs table: every cell text but the attempt; a dash where a value is missing."""
    rows: list[dict[str, Any]] = [
        {
            "status": str(j.get("status") or ""),
            "job_type": formatting.cell(j.get("job_type")),
            "job_name": formatting.cell(j.get("job_name")),
            "created_at": formatting.local_datetime(j.get("created_at")),
            "completed_at": formatting.local_datetime(j.get("completed_at")),
            "result": result_cell(j),
            "attempt": j.get("attempt") or 1,
            "job_id": formatting.cell(j.get("job_id")),
        }
        for j in jobs
    ]
    return pd.DataFrame(rows, columns=list(JOB_COLUMNS))


def job_label(job: Job) -> str:
    created = formatting.local_datetime(job.get("created_at"))
    return f"{job.get('job_name')} · {created} · {job.get('job_id', '')[:8]}"


def can_cancel(job: Job) -> bool:
    return job.get("status") in UNFINISHED and not job.get("cancel_requested")


def cancelling(job: Job) -> bool:
    return job.get("status") in UNFINISHED and bool(job.get("cancel_requested"))


def progress_of(job: Job) -> tuple[float, str] | None:
    """A running job's progress as (fraction 0..1, message), if it said any."""
    progress = job.get("progress")
    if job.get("status") != "running" or not isinstance(progress, dict):
        return None
    try:
        fraction = min(max(float(progress.get("fraction") or 0.0), 0.0), 1.0)
    except (TypeError, ValueError):
        return None
    return fraction, str(progress.get("message") or "")


def progress_text(fraction: float, message: str) -> str:
    percent = f"{fraction * 100:.0f} %"
    return f"{percent} · {message}" if message else percent


# -- a job's timeline -------------------------------------------------------------------


def event_label(status: str) -> str:
    return EVENT_LABELS.get(status, status.replace("_", " ").capitalize())


def events_frame(events: list[JobEvent]) -> pd.DataFrame:
    """The timeline: the local time, what happened (in words), by which service, detail;
    `status` keeps the event's own name."""
    rows = [
        {
            "at": formatting.local_clock_ms(e.get("at")),
            "event": event_label(str(e.get("status") or "")),
            "service": formatting.cell(e.get("service")),
            "detail": e.get("detail") or "",
            "status": str(e.get("status") or ""),
        }
        for e in events
    ]
    return pd.DataFrame(rows, columns=["at", "event", "service", "detail", "status"])
