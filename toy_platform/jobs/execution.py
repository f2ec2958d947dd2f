"""Running one job of any type, the same way on both queues: tries, time limits, cancel.

The platform's own `reverse` runs in the worker itself (jobs.running.run_job, as fast as
ever). Every other type runs in a Sandbox, a process of the worker's own: a handler that
hangs past its type's `timeout_s`, ignores a cancel or kills its process is stopped there,
and the worker goes on. A try that raises (or times out) is tried again, up to the type's
`max_retries`, after an exponential back-off; each failed try is a line on the job's
history. Progress goes to the middleware as 'running' reports, at most every PROGRESS_EVERY_S.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from toy_platform.clock import utc_now
from toy_platform.jobs.model import JobStatus
from toy_platform.jobs.running import run_job
from toy_platform.jobs.sandbox import Outcome, RunRequest, Sandbox
from toy_platform.jobs.types import JobType

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.5
RUNNING_REPORT_MIN_S = 0.5
"""A built-in job expected to take less than this reports no 'running' of its own: its final
report carries started_at, so the history still shows when it started (the middleware adds
the 'running' step), and a report per job is saved (a transaction, a call)."""
QUICK_JOB_S = 0.001
"""A built-in job whose simulated work is shorter than this counts as taking no time."""
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0

Report = Callable[[dict[str, Any]], None]
"""Hands a report (a callback's body) to whatever delivers it to the middleware."""


@dataclass(frozen=True)
class JobRun:
    """One run of a job, as a worker took it from its queue."""

    job_id: str
    request_id: str | None
    job_type: str
    data: Any
    started_at: str


def backoff_s(failed_tries: int) -> float:
    """The wait before try N + 1 after N failed ones: 1, 2, 4 … 60 s."""
    return float(min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (failed_tries - 1)))


class Execution:
    """Runs jobs for one worker (a thread of core, a Celery worker process): their types,
    and the sandbox process its handlers run in (made when first needed)."""

    def __init__(
        self,
        types: dict[str, JobType],
        modules: tuple[str, ...],
        job_delay: float = 0.0,
        failure_rate: float = 0.0,
        name: str = "sandbox",
    ) -> None:
        self.types, self.modules, self.name = types, modules, name
        self.job_delay, self.failure_rate = job_delay, failure_rate
        self._sandbox: Sandbox | None = None

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()

    def in_process(self, job_type: str) -> bool:
        known = self.types.get(job_type)
        return known is not None and known.in_process

    def quick_types(self) -> frozenset[str]:
        """The types whose runs take no time worth speaking of: the built-in ones, run in
        this thread, when their simulated work is under QUICK_JOB_S. A worker may take
        several of them at once (one transaction to claim and one to report them all)."""
        if self.job_delay >= QUICK_JOB_S:
            return frozenset()
        return frozenset(name for name, kind in self.types.items() if kind.in_process)

    def reports_running(self, job_type: str) -> bool:
        """Whether a run of JOB_TYPE says it started before it ends (see RUNNING_REPORT_MIN_S);
        a handler of one's own always does."""
        return not self.in_process(job_type) or self.job_delay >= RUNNING_REPORT_MIN_S

    def run(
        self,
        run: JobRun,
        report: Report,
        cancelled: Callable[[], bool] = lambda: False,
        worker: str | None = None,
    ) -> dict[str, Any]:
        """Run RUN to its final report (succeeded, failed or cancelled), sending REPORT the
        'running' ones on the way (progress, failed tries). CANCELLED says whether a cancel
        was asked."""
        job_type = self.types.get(run.job_type)
        if job_type is None:
            return _final(
                run,
                JobStatus.FAILED,
                error=f"no worker here offers the job type '{run.job_type}' (this one has:"
                f" {', '.join(sorted(self.types))})",
                worker=worker,
            )
        if job_type.in_process:
            return self.run_built_in(run, cancelled, worker)
        return self._tries(job_type, run, report, cancelled, worker)

    def run_built_in(
        self, run: JobRun, cancelled: Callable[[], bool], worker: str | None = None
    ) -> dict[str, Any]:
        """The platform's own type (reverse), in this thread: its simulated work (the job
        delay) ends once a cancel is asked, and the job is cancelled, not done."""
        if self.job_delay > 0 and _cancelled_while_waiting(self.job_delay, cancelled):
            return _final(run, JobStatus.CANCELLED, error="cancelled while it ran", worker=worker)
        return run_job(run.data, self.failure_rate, run.started_at, worker)

    def _tries(
        self,
        job_type: JobType,
        run: JobRun,
        report: Report,
        cancelled: Callable[[], bool],
        worker: str | None,
    ) -> dict[str, Any]:
        tries = job_type.max_retries + 1
        said: dict[str, Any] = {}  # the last progress: the final report keeps it
        for attempt in range(1, tries + 1):
            outcome = self._try(job_type, run, attempt, report, cancelled, worker, said)
            if outcome.kind == "succeeded":
                final = _final(run, JobStatus.SUCCEEDED, result=outcome.result, worker=worker)
                return final | said
            if outcome.kind == "cancelled":
                error = outcome.error or "cancelled while it ran"
                final = _final(
                    run, JobStatus.CANCELLED, result=outcome.result, error=error, worker=worker
                )
                return final | said
            line = _failed_line(outcome, attempt, tries)
            if outcome.kind == "crashed" or attempt == tries:
                error = outcome.error or "failed"
                if tries > 1 and outcome.kind != "crashed":
                    error = f"{error} (try {attempt} of {tries})"
                return _final(run, JobStatus.FAILED, error=error, worker=worker, events=[line])
            wait = backoff_s(attempt)
            line["detail"] += f"; tried again in {wait:g} s"
            report(_running(run, worker, events=[line]))
            logger.warning(
                "try %d of %d failed (%s): again in %g s",
                attempt,
                tries,
                outcome.error,
                wait,
                extra={"event": "job_try_failed", "attempt": attempt},
            )
            if _cancelled_while_waiting(wait, cancelled):
                return _final(
                    run, JobStatus.CANCELLED, error="cancelled between two tries", worker=worker
                )
        raise AssertionError("unreachable")

    def _try(
        self,
        job_type: JobType,
        run: JobRun,
        attempt: int,
        report: Report,
        cancelled: Callable[[], bool],
        worker: str | None,
        said: dict[str, Any],
    ) -> Outcome:
        last_sent = 0.0

        def on_progress(fraction: float, message: str) -> None:
            nonlocal last_sent
            said["progress"] = {"fraction": fraction, "message": message}
            now = time.monotonic()
            if now - last_sent >= PROGRESS_EVERY_S or fraction >= 1.0:
                last_sent = now
                report(_running(run, worker, progress=said["progress"]))

        request = RunRequest(
            job_id=run.job_id,
            request_id=run.request_id,
            job_type=job_type.name,
            data=run.data,
            attempt=attempt,
            timeout_s=job_type.timeout_s,
        )
        return self.sandbox().run(request, on_progress, cancelled)

    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            self._sandbox = Sandbox(self.modules, name=self.name)
        return self._sandbox


def _failed_line(outcome: Outcome, attempt: int, tries: int) -> dict[str, str]:
    status = "timeout" if outcome.kind == "timeout" else "attempt_failed"
    return {"status": status, "detail": f"try {attempt} of {tries}: {outcome.error}"[:2000]}


def _cancelled_while_waiting(seconds: float, cancelled: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cancelled():
            return True
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
    return cancelled()


def _running(run: JobRun, worker: str | None, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"status": JobStatus.RUNNING.value, "started_at": run.started_at}
    if worker:
        payload["worker"] = worker
    payload.update(extra)
    return payload


def _final(
    run: JobRun,
    status: JobStatus,
    result: Any = None,
    error: str | None = None,
    worker: str | None = None,
    events: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "status": status.value,
        "started_at": run.started_at,
        "completed_at": utc_now(),
        "result": result,
        "error": error,
    }
    if worker:
        payload["worker"] = worker
    if events:
        payload["events"] = events
    return payload
