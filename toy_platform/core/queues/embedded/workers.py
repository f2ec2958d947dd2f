"""The core's worker threads, and the pool that runs them with the callback senders."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from toy_platform.clock import utc_now
from toy_platform.core.queues.base import QueuedJob
from toy_platform.core.queues.embedded.senders import CallbackSenders
from toy_platform.core.queues.embedded.store import CallbackOutbox, SqliteJobQueue
from toy_platform.jobs.execution import Execution, JobRun
from toy_platform.jobs.running import gave_up_report, running_report
from toy_platform.jobs.types import JobType, load_job_types
from toy_platform.log import log_each
from toy_platform.loops import (
    LOOP_LOCK_WAIT_S,
    WATCHDOG_EVERY_S,
    Progress,
    Signal,
    Threads,
    run_loop,
    working_on,
)

logger = logging.getLogger(__name__)

MAX_CLAIMS = 3
"""A job taken this many times without being finished stopped its worker each time (a
crash, a kill): the next claim reports it failed instead of running it again."""
CLAIM_AT_MOST = 16
"""Jobs a worker claims at once when they are quick (see Execution.quick_types): one
transaction to take them and one to report them, instead of two per job."""


class CorePool:
    """Runs the workers and the callback senders as daemon threads, kept alive by a watchdog."""

    def __init__(
        self,
        queue: SqliteJobQueue,
        outbox: CallbackOutbox,
        service_key: bytes,
        job_delay: float,
        failure_rate: float,
        workers: int,
        senders: int,
        wait_if_paused: Callable[[], None],
        metrics: Any,
        check_every: float = WATCHDOG_EVERY_S,
        types: dict[str, JobType] | None = None,
        job_modules: tuple[str, ...] = (),
    ) -> None:
        self.queue, self.outbox = queue, outbox
        self.types = types if types is not None else load_job_types(job_modules)
        self.job_modules = job_modules
        self.offered = tuple(sorted(self.types))
        self._executions: list[Execution] = []
        self._local = threading.local()
        self._cancelled: set[tuple[str, str]] = set()
        self._running: set[tuple[str, str]] = set()  # the runs this pool's workers run now
        self.job_delay, self.failure_rate = job_delay, failure_rate
        self.wait_if_paused = wait_if_paused
        self.metrics = metrics
        self.jobs_ready, self.callbacks_ready = Signal(), Signal()
        self.stopping = threading.Event()
        self.working = Progress()
        self.senders = CallbackSenders(
            outbox,
            service_key,
            self.callbacks_ready,
            self.stopping,
            wait_if_paused,
            metrics,
            self._cancel_asked,
        )
        self.threads = Threads(self.stopping, self._count_restart, check_every)
        for i in range(workers):
            self.threads.add(f"worker-{i}", self._work_loop)
        for i in range(senders):
            self.threads.add(f"sender-{i}", self.senders.run)
        self._unfinished: list[int] = []  # claimed jobs an error stopped: to put back
        self._lock = threading.Lock()

    def start(self) -> None:
        requeued = self.queue.requeue_claimed()
        self.outbox.release_leases()
        if requeued:
            logger.warning(
                "requeued %d jobs that were running when core stopped",
                requeued,
                extra={"event": "jobs_requeued", "count": requeued},
            )
        self.threads.start()

    def stop(self) -> None:
        self.stopping.set()
        self.jobs_ready.notify()
        self.callbacks_ready.notify()
        with self._lock:
            executions, self._executions = self._executions, []
        for execution in executions:
            execution.close()

    def cancel(self, job: QueuedJob) -> bool:
        """Drop a queued run, or ask the worker running it to stop; whether core held it."""
        where = self.queue.cancel(job)
        if where == "running":
            with self._lock:
                self._cancelled.add((job.job_id, job.callback_url))
        return where is not None

    def _cancel_asked(self, job_id: str, callback_url: str) -> None:
        """The middleware says a cancel of this run was asked: one that runs stops (a cancel
        that did not reach core, which was down or unreachable then, is not lost)."""
        with self._lock:
            if (job_id, callback_url) in self._running:
                self._cancelled.add((job_id, callback_url))

    def _is_cancelled(self, job: QueuedJob) -> bool:
        with self._lock:
            return (job.job_id, job.callback_url) in self._cancelled

    def _execution(self) -> Execution:
        """This worker thread's: its sandbox process runs the handlers of its jobs."""
        execution: Execution | None = getattr(self._local, "execution", None)
        if execution is None:
            name = f"sandbox of {threading.current_thread().name}"
            execution = Execution(
                self.types, self.job_modules, self.job_delay, self.failure_rate, name
            )
            self._local.execution = execution
            with self._lock:
                self._executions.append(execution)
        return execution

    def dead_threads(self) -> list[str]:
        return self.threads.dead()

    def _count_restart(self, thread: str) -> None:
        self.metrics.thread_restarts.labels(thread).inc()

    # -- what /readyz asks -----------------------------------------------------

    def work_stalled(self, threshold: float, since: float = 0.0) -> tuple[float, str] | None:
        """(seconds, why) when jobs wait and no worker took or finished one for THRESHOLD
        (plus the time a job takes), else None."""
        waiting = self.queue.size() + self.queue.running()
        stalled = self.working.stalled_s(waiting > 0, threshold + self.job_delay, since)
        if stalled is None:
            return None
        why = f"no job taken or finished for {stalled:g} s while {waiting} wait"
        return stalled, why + _last_error(self.working)

    def callbacks_stalled(self, threshold: float, since: float = 0.0) -> tuple[float, str] | None:
        """(seconds, why) when callbacks wait, the middleware is not known to be down, and
        none was delivered for THRESHOLD, else None."""
        waiting = self.outbox.pending()
        stalled = self.senders.progress.stalled_s(waiting > 0, threshold, since)
        if stalled is None:
            return None
        why = f"no callback delivered for {stalled:g} s while {waiting} wait"
        return stalled, why + _last_error(self.senders.progress)

    # -- workers -------------------------------------------------------------

    def _work_loop(self) -> None:
        self.queue.db.set_lock_wait(LOOP_LOCK_WAIT_S)
        seen = self.jobs_ready.version

        def step() -> None:
            nonlocal seen
            if not self._work_once():
                seen = self.jobs_ready.wait(seen, timeout=1.0)

        run_loop(step, self.stopping, self.working)

    def _work_once(self) -> bool:
        """Take the next job (and the quick ones right behind it) and process them; False
        when there was none."""
        self.wait_if_paused()
        self._release_unfinished()
        execution = self._execution()
        jobs = self.queue.claim_batch(self.offered, execution.quick_types(), CLAIM_AT_MOST)
        if not jobs:
            self.working.idle()
            return False
        self.working.moved()
        finished: list[tuple[QueuedJob, dict[str, Any]]] = []
        try:
            for job in jobs:
                with working_on(job.job_id, job.request_id):
                    finished.append((job, self._process(job, execution)))
                self.working.moved()
        except Exception:  # an error of ours, not the job's: the jobs not done run again
            self._put_back(jobs[len(finished) :])
            self._finish(finished)
            raise
        self._finish(finished)
        return True

    def _put_back(self, jobs: list[QueuedJob]) -> None:
        """Jobs claimed and not finished, for _release_unfinished to queue again."""
        with self._lock:
            self._unfinished.extend(job.seq for job in jobs)

    def _release_unfinished(self) -> None:
        with self._lock:
            seqs, self._unfinished = self._unfinished, []
        if not seqs:
            return
        try:
            self.queue.release(seqs)
        except Exception:
            with self._lock:
                self._unfinished.extend(seqs)
            raise
        logger.info("put %d jobs back in the queue", len(seqs), extra={"event": "jobs_released"})

    def _process(self, job: QueuedJob, execution: Execution) -> dict[str, Any]:
        """Run JOB to its final report."""
        if job.claims > MAX_CLAIMS:
            return _gave_up(job)
        started_at = utc_now()
        logger.info("job started", extra={"event": "job_started", "job_type": job.job_type})
        if execution.reports_running(job.job_type):
            self._report(job, running_report(started_at))
        run = JobRun(job.job_id, job.request_id, job.job_type, job.data, started_at)
        with self._lock:
            self._running.add((job.job_id, job.callback_url))
        try:
            if execution.in_process(job.job_type):  # reverse: as fast as it ever was
                payload = execution.run_built_in(run, lambda: self._is_cancelled(job))
                self.wait_if_paused()
            else:
                payload = execution.run(
                    run, lambda report: self._report(job, report), lambda: self._is_cancelled(job)
                )
        finally:
            with self._lock:
                self._running.discard((job.job_id, job.callback_url))
                self._cancelled.discard((job.job_id, job.callback_url))
        return payload

    def _report(self, job: QueuedJob, payload: dict[str, Any]) -> None:
        self.outbox.add(job.job_id, job.callback_url, payload, job.request_id)
        self.callbacks_ready.notify()

    def _finish(self, finished: list[tuple[QueuedJob, dict[str, Any]]]) -> None:
        """Report the outcomes and forget the jobs, in one transaction."""
        if not finished:
            return
        try:
            self.outbox.add_finished(finished)
        except Exception:  # not reported: they run again
            self._put_back([job for job, _ in finished])
            raise
        with self._lock:  # a cancel that came while an in-process job ran
            for job, _ in finished:
                self._cancelled.discard((job.job_id, job.callback_url))
        self.callbacks_ready.notify()
        for _, payload in finished:
            self.metrics.jobs_processed.labels(payload["status"]).inc()
        log_each(
            logger,
            [
                {
                    "event": f"job_{payload['status']}",
                    "message": f"job {payload['status']}",
                    "error": payload.get("error"),
                    "job_id": job.job_id,
                    "request_id": job.request_id,
                }
                for job, payload in finished
            ],
            f"{len(finished)} jobs finished",
            event="jobs_finished",
        )


def _gave_up(job: QueuedJob) -> dict[str, Any]:
    report: dict[str, Any] = gave_up_report(job.claims - 1)
    logger.error(
        "job given up: %s", report["error"], extra={"event": "job_given_up", "claims": job.claims}
    )
    return report


def _last_error(progress: Progress) -> str:
    return f"; last error: {progress.last_error}" if progress.last_error else ""
