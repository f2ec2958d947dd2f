"""How core runs a job and reports it: the rules the embedded workers and the Celery tasks
share. A run ends in one report (succeeded, or failed with its reason); a report the
middleware answers is classified the same way wherever it was sent from.

A delivery outcome is a short text, "KIND" or "KIND: why", where KIND is
- delivered: the middleware took it;
- dropped: it never will (it does not know the job: a reset), and that is fine;
- retry: the middleware is down, busy or refuses our signature (keys being fixed): later;
- refused: the middleware refuses this report for good (a 4xx of its own);
- error: it could not even be built or sent (ours).
A refused or erroring report is replaced by a 'failed' one that says why (failure_report).
"""

from __future__ import annotations

import logging
import random
from typing import Any
from urllib.parse import parse_qs, urlsplit

from toy_platform.clock import utc_now
from toy_platform.jobs.model import JobStatus
from toy_platform.jobs.reverse import reverse_text
from toy_platform.loops import describe

logger = logging.getLogger(__name__)

TRANSIENT = (408, 429)
"""Answers that may pass by themselves: a timeout, too busy."""
SIGNATURE_REFUSED = (401, 403)
"""Our signature refused: the two sides have different service keys, which an operator
fixes; the report waits for that, it is not the report's fault."""
GONE = (404, 409, 410)
"""The middleware does not know the job (any more): a reset."""
UNREACHABLE = "cannot reach the middleware at "
REFUSED = "the middleware refused this job's report"


def run_job(
    data: str, failure_rate: float, started_at: str, worker: str | None = None
) -> dict[str, Any]:
    """Run the job on DATA: its final report (succeeded with the result, or failed with why).
    FAILURE_RATE fails that share of jobs on purpose, to see failures happen."""
    payload: dict[str, Any] = {"status": JobStatus.SUCCEEDED.value, "started_at": started_at}
    if worker:
        payload["worker"] = worker
    if failure_rate and random.random() < failure_rate:
        payload.update(
            status=JobStatus.FAILED.value,
            error=f"simulated failure (failure rate {failure_rate:g})",
        )
    else:
        try:
            payload["result"] = reverse_text(data)
        except Exception as exc:  # the job's own fault: its owner is told
            logger.exception("processing the job failed", extra={"event": "job_error"})
            payload.update(
                status=JobStatus.FAILED.value, error=f"processing failed: {describe(exc)}"
            )
    payload["completed_at"] = utc_now()
    return payload


def broken_run_report(
    started_at: str, exc: BaseException, worker: str | None = None
) -> dict[str, Any]:
    """The report of a run that what runs jobs broke off (an error of ours, not the job's):
    its owner is told why, rather than the job left queued or running for ever."""
    report = running_report(started_at, worker)
    report.update(
        status=JobStatus.FAILED.value,
        error=f"the worker failed while running the job: {describe(exc)}",
        completed_at=utc_now(),
    )
    return report


def running_report(started_at: str, worker: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"status": JobStatus.RUNNING.value, "started_at": started_at}
    if worker:
        payload["worker"] = worker
    return payload


def gave_up_report(runs: int, runner: str = "core") -> dict[str, Any]:
    """The report of a job whose every run stopped what ran it (RUNNER: core, a worker) by a
    crash, a kill or running out of memory: it is not run again."""
    now = utc_now()
    error = (
        f"gave up after {runs} attempts: {runner} stopped each time while processing"
        " this job (a crash or a kill)"
    )
    return {
        "status": JobStatus.FAILED.value,
        "error": error,
        "started_at": now,
        "completed_at": now,
    }


def answer_outcome(code: int, text: str) -> str:
    """The outcome of a report the middleware answered with CODE (TEXT: its body)."""
    short = _short(text)
    if code < 300:
        return "delivered"
    if code in GONE:
        return f"dropped: HTTP {code} {short} (the middleware does not know the job: reset?)"
    if code >= 500 or code in TRANSIENT or code in SIGNATURE_REFUSED:
        return f"retry: HTTP {code} {short}"
    return f"refused: HTTP {code} {short}"


def unreachable_outcome(why: str, url: str) -> str:
    """The outcome of a report to URL that found no middleware to answer (WHY: refused, a
    timeout), naming where it went: a wrong address is then plain to see."""
    return f"retry: {UNREACHABLE}{origin_of(url)}: {why}"


def unreachable_reason(outcome: str) -> str:
    """WHY of an unreachable_outcome (the outcome itself for any other)."""
    detail = outcome.split(": ", 1)[-1]
    if detail.startswith(UNREACHABLE):
        return detail.split(": ", 1)[-1]
    return detail


def blocked_reason(url: str, outcome: str) -> str:
    """What holds up reports to URL whose last try ended in OUTCOME (a retry): the
    middleware unreachable there, or refusing core's signature."""
    origin = origin_of(url)
    detail = unreachable_reason(outcome)
    if any(detail.startswith(f"HTTP {code}") for code in SIGNATURE_REFUSED):
        return (
            f"the middleware at {origin} refuses core's signature ({detail}): the two"
            " have different service keys (TOY_PLATFORM_SERVICE_KEY or config/service.key)"
        )
    return f"cannot deliver callbacks to the middleware at {origin}: {detail}"


def origin_of(url: str) -> str:
    """scheme://host:port of URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def error_outcome(exc: BaseException) -> str:
    """The outcome of a report that could not even be built or sent."""
    return f"error: {describe(exc)}"


def attempt_of(callback_url: str) -> int:
    """The attempt a run is of, as its callback URL says (?attempt=N; 1 when it does not)."""
    values = parse_qs(urlsplit(callback_url).query).get("attempt", ["1"])
    return int(values[0]) if values[0].isdigit() else 1


def job_of(callback_url: str) -> str | None:
    """The job a callback URL (…/job_callback/JOB_ID?attempt=N) reports on."""
    path = callback_url.split("?", 1)[0]
    return path.rsplit("/job_callback/", 1)[-1] if "/job_callback/" in path else None


def run_id(job_id: str, callback_url: str) -> str:
    """What names one run of a job wherever it goes: the job and its attempt."""
    return f"{job_id}.{attempt_of(callback_url)}"


def kind_of(outcome: str) -> str:
    return outcome.split(":", 1)[0]


def settled(outcome: str) -> bool:
    """Whether the report needs no more sending (taken, or never wanted)."""
    return kind_of(outcome) in ("delivered", "dropped")


def is_failure_report(payload: dict[str, Any]) -> bool:
    """Whether PAYLOAD is already a report that replaced one that could not go."""
    error = str(payload.get("error") or "")
    return error.startswith((REFUSED, "core could not report this job's"))


def failure_report(payload: dict[str, Any], outcome: str) -> dict[str, Any]:
    """A 'failed' report in place of PAYLOAD, which the middleware refused for good or which
    could not be sent (OUTCOME says which): the owner is told, rather than left with a job
    that seems to run for ever."""
    status = payload.get("status")
    if kind_of(outcome) == "refused":
        error = f"{REFUSED} ({status}): {outcome.split(': ', 1)[-1]}"
    else:
        error = f"core could not report this job's {status} state: {outcome}"
    report: dict[str, Any] = {
        "status": JobStatus.FAILED.value,
        "error": error,
        "started_at": payload.get("started_at"),
        "completed_at": payload.get("completed_at") or utc_now(),
    }
    if payload.get("worker"):
        report["worker"] = payload["worker"]
    return report


def _short(value: object) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= 200 else text[:200] + "..."
