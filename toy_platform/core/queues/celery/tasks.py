"""The tasks a `toy-platform worker` runs: a job, and the delivery of its callbacks.

A job reports its progress to the middleware at once, from the task. A report the
middleware does not take then waits in the broker (see waiting), not in the worker's memory:
core hands it back as a `deliver_callback` task when it is due, with exponential back-off,
for as long as it takes, and whichever worker is alive delivers it, so it survives the
worker that ran the job. The job is acknowledged only after its report was taken or kept in
the broker. How the
middleware's answer is read, and the 'failed' report that replaces one it refuses for good,
are the rules of jobs.running, as for the embedded queue.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from celery.exceptions import Reject

from toy_platform.clock import utc_now
from toy_platform.config import Settings
from toy_platform.core.queues.celery.config import (
    ACCEPTED_KEY,
    ACCEPTED_TTL_S,
    CANCEL_KEY,
    DELIVER_CALLBACK,
    DELIVERED_TTL_S,
    DONE_KEY,
    ENQUEUED_AT,
    GIVEN_BACK_KEY,
    HEARTBEAT_EVERY_S,
    HEARTBEAT_TTL_S,
    MAX_DELIVERIES,
    OUTCOMES_KEY,
    PUBLISH_RETRY_S,
    REQUEST_ID_HEADER,
    RUN_JOB,
    RUNNING_KEY,
    RUNS_KEY,
    STARTED_UPTO_KEY,
    broker_client,
    copy_wait,
    jobs_queue,
)
from toy_platform.core.queues.celery.waiting import (
    WaitingReport,
    WaitingReports,
    undelivered_record,
)
from toy_platform.http_errors import describe_error, timed_out
from toy_platform.jobs.execution import Execution, JobRun
from toy_platform.jobs.model import FINISHED
from toy_platform.jobs.running import (
    answer_outcome,
    broken_run_report,
    error_outcome,
    failure_report,
    gave_up_report,
    is_failure_report,
    job_of,
    kind_of,
    run_id,
    running_report,
    unreachable_outcome,
)
from toy_platform.jobs.types import DEFAULT_TYPE, JobType, load_job_types
from toy_platform.security import load_service_key
from toy_platform.service_http import NO_ANSWER, ServiceAnswer, ServiceSession, service_session
from toy_platform.tracing import outgoing_headers, tagged

logger = logging.getLogger(__name__)

CALLBACK_TIMEOUT_S = 5.0


COPY_POLL_S = 0.5
CLAIM_RETRY_S = 0.5
CLAIM_BROKER_WAIT_S = 20.0
"""How long a worker waits for a broker that cannot say whether a run was reported (it
restarts, is loading its data): a run is not started blind, which could run it twice."""
CANCEL_CHECK_S = 0.5
HOLD_RETRY_S = 1.0
REFRESH_IF_HELD = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end
return 0
"""
RELEASE_IF_HELD = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
CLAIM = """
if redis.call('exists', KEYS[1]) == 1 then return -1 end
if not redis.call('set', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
local runs = redis.call('incr', KEYS[3])
redis.call('expire', KEYS[3], ARGV[3])
if tonumber(ARGV[4]) > tonumber(redis.call('get', KEYS[4]) or '0') then
  redis.call('set', KEYS[4], ARGV[4])
end
return {runs, tonumber(redis.call('get', KEYS[5]) or '0')}
"""
"""Done already (-1), running elsewhere (0), or the running mark taken and this start
counted: the starts so far, and how many of them were given back (see GIVE_BACK); the
queue's latest start moved on (see whereabouts)."""
GIVE_BACK = """
if redis.call('exists', KEYS[1]) == 1 then
  redis.call('incr', KEYS[2])
  redis.call('expire', KEYS[2], ARGV[2])
end
if redis.call('get', KEYS[3]) == ARGV[1] then redis.call('del', KEYS[3]) end
return 1
"""
"""A start the worker gave back is counted as such (while the broker still counts the run's
starts), and its running mark goes at once: the copy put back need not wait for it."""
GIVE_BACK_RETRY_S = 1.0


@dataclass(frozen=True)
class Claim:
    """What a worker may do with a run it took from the queue: run it (RUNS: the starts so
    far, this one included, GIVEN_BACK of them given back by their worker), drop it (a copy
    of a run already reported) or give it back (busy: another live worker is still running
    it)."""

    kind: str
    runs: int | None = None
    waited: bool = False
    given_back: int = 0

    @property
    def stopped_workers(self) -> int:
        """The earlier starts that ended with no report and no give-back: their worker died."""
        return (self.runs or 1) - 1 - self.given_back


class Heartbeat:
    """Keeps a run's running mark alive while this worker runs and reports it (a thread),
    and gives it back at the end; a mark that is no longer ours is left alone."""

    def __init__(self, state: WorkerState, run: str, holder: str) -> None:
        self.state, self.key, self.holder = state, RUNNING_KEY.format(run), holder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {run}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(HEARTBEAT_EVERY_S + 1)
        self._call(RELEASE_IF_HELD)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY_S):
            self._call(REFRESH_IF_HELD, HEARTBEAT_TTL_S)

    def _call(self, script: str, *args: object) -> None:
        try:
            self.state.redis().eval(script, 1, self.key, self.holder, *args)
        except Exception as exc:  # the mark expires by itself; a copy then runs the job
            logger.warning(
                "cannot keep the running mark: %s", exc, extra={"event": "heartbeat_failed"}
            )


class WorkerState:
    """What the tasks of one worker process share; made lazily, after the pool forks."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._lock = threading.Lock()
        self._key: bytes | None = None
        self._redis: Any = None
        self._types: dict[str, JobType] | None = None
        self.cancels_seen: set[str] = set()
        self._cancel_checked: dict[str, float] = {}
        self._given_back: dict[str, str] = {}  # run: holder, not yet told to the broker
        self._telling: threading.Thread | None = None

    def session(self) -> ServiceSession:
        """A signed HTTP session per thread (the threads pool shares the process)."""
        session: ServiceSession | None = getattr(self._local, "session", None)
        if session is None:
            with self._lock:
                if self._key is None:
                    self._key = load_service_key(self.settings)
            session = service_session(self._key)
            self._local.session = session
        return session

    def redis(self) -> Any:
        if self._redis is None:
            self._redis = broker_client(self.settings.queue_url)
        return self._redis

    def claim(self, run: str, holder: str, queue: str, enqueued_at: float) -> Claim:
        """Take RUN's running mark for HOLDER and count one more start of it. While another
        live worker holds it (this is a copy put back in the queue), wait for it, up to
        COPY_WAIT; a run already reported finished is a copy to drop."""
        deadline = time.monotonic() + copy_wait(self.settings)
        broker_deadline = time.monotonic() + CLAIM_BROKER_WAIT_S
        waited = False
        keys = (DONE_KEY, RUNNING_KEY, RUNS_KEY)
        while True:
            try:
                self.tell_given_back()
                answer = self.redis().eval(
                    CLAIM,
                    5,
                    *(key.format(run) for key in keys),
                    STARTED_UPTO_KEY.format(queue),
                    GIVEN_BACK_KEY.format(run),
                    holder,
                    HEARTBEAT_TTL_S,
                    ACCEPTED_TTL_S,
                    enqueued_at,
                )
                if isinstance(answer, list):
                    runs, given_back = (int(n) for n in answer)
                    return Claim("run", runs, waited, given_back)
                if int(answer) < 0:
                    return Claim("duplicate", waited=waited)
            except Exception as exc:  # the broker restarts, say: whether it ran is not known
                self._wait_for_broker(exc, broker_deadline)
                continue
            if time.monotonic() >= deadline:
                return Claim("busy", waited=waited)
            if not waited:
                logger.info(
                    "a copy of a job another worker is running: it waits for that run",
                    extra={"event": "job_copy_waits"},
                )
            waited = True
            time.sleep(COPY_POLL_S)

    def _wait_for_broker(self, exc: Exception, deadline: float) -> None:
        """A claim the broker could not answer: asked again shortly (a run it may know was
        reported is never started blind), until DEADLINE; then the task goes back unacked."""
        if time.monotonic() >= deadline:
            logger.error(
                "cannot reach the broker to start the job (%s): it goes back to the queue",
                exc,
                extra={"event": "run_not_claimed"},
            )
            raise Reject(f"the broker did not answer: {exc}", requeue=True) from exc
        logger.warning(
            "cannot claim the run (%s): asked again shortly",
            exc,
            extra={"event": "run_claim_waits"},
        )
        time.sleep(CLAIM_RETRY_S)

    def gave_back(self, run: str, holder: str) -> None:
        """This worker gave RUN's start back to the queue (the broker could not take its
        report): told to the broker now, or, while it is away, as soon as it answers (before
        this process claims anything else, and from a thread), so that the copy put back
        finds the start counted as given back, not as a worker that died."""
        with self._lock:
            self._given_back[run] = holder
        if self.tell_given_back():
            return
        with self._lock:
            if self._telling is None or not self._telling.is_alive():
                self._telling = threading.Thread(
                    target=self._keep_telling, name="given-back runs", daemon=True
                )
                self._telling.start()

    def tell_given_back(self) -> bool:
        """Tell the broker of the starts given back; whether none is left to tell."""
        if not self._given_back:  # every claim asks: nothing to take a lock for
            return True
        with self._lock:
            pending = list(self._given_back.items())
        for run, holder in pending:
            keys = (RUNS_KEY.format(run), GIVEN_BACK_KEY.format(run), RUNNING_KEY.format(run))
            try:
                self.redis().eval(GIVE_BACK, 3, *keys, holder, ACCEPTED_TTL_S)
            except Exception as exc:  # told once the broker answers
                logger.debug("cannot tell the broker of a start given back: %s", exc)
                return False
            with self._lock:
                self._given_back.pop(run, None)
        return True

    def _keep_telling(self) -> None:
        while not self.tell_given_back():
            time.sleep(GIVE_BACK_RETRY_S)

    def heartbeat(self, run: str, holder: str) -> Heartbeat:
        return Heartbeat(self, run, holder)

    def execution(self) -> Execution:
        """This thread's: the job types, and the sandbox process its handlers run in. A
        sandbox runs one job at a time: with one per process, the threads pool (Windows)
        ran its jobs of other types one after another whatever its concurrency."""
        execution: Execution | None = getattr(self._local, "execution", None)
        if execution is None:
            with self._lock:
                if self._types is None:
                    self._types = load_job_types(self.settings.job_modules)
            thread = threading.current_thread().name
            execution = Execution(
                self._types,
                self.settings.job_modules,
                self.settings.job_delay,
                self.settings.failure_rate,
                name=f"sandbox of worker process {os.getpid()} ({thread})",
            )
            self._local.execution = execution
        return execution

    def cancelled(self, run: str) -> bool:
        """Whether a cancel was asked for RUN (asked of the broker at most every
        CANCEL_CHECK_S; a middleware's answer saying so counts at once)."""
        now = time.monotonic()
        if run in self.cancels_seen:
            return True
        if now - self._cancel_checked.get(run, 0.0) < CANCEL_CHECK_S:
            return False
        self._cancel_checked[run] = now
        try:
            if self.redis().exists(CANCEL_KEY.format(run)):
                self.cancels_seen.add(run)
                return True
        except Exception as exc:  # asked again next time
            logger.debug("cannot ask whether the job was cancelled: %s", exc)
        return False

    def waiting(self) -> WaitingReports:
        return WaitingReports(self.redis())

    def got_through(self) -> None:
        """A report that had waited was taken: the last failure is no longer current."""
        try:
            self.waiting().got_through()
        except Exception as exc:  # a figure: it expires by itself
            logger.warning("cannot clear the callbacks' last failure: %s", exc)

    def finished(self, run: str, waiting: WaitingReport | None) -> None:
        """Note RUN reported finished, so that a late copy of its task is dropped; with its
        final report while that WAITING for the middleware (a delivery already noted wins).
        A broker that does not answer (restarting, loading its data) is asked again for up
        to CLAIM_BROKER_WAIT_S, the running mark held meanwhile: without the note, a copy
        of the task put back by the broker runs the job again."""
        deadline = time.monotonic() + CLAIM_BROKER_WAIT_S
        while True:
            try:
                if waiting is None:
                    self._delivered(run)
                else:
                    record = undelivered_record(waiting, time.time())
                    self.redis().set(DONE_KEY.format(run), record, ex=ACCEPTED_TTL_S, nx=True)
                return
            except Exception as exc:
                if time.monotonic() >= deadline:
                    logger.error(
                        "cannot note the run done (%s): a copy of its task may run it again",
                        exc,
                        extra={"event": "run_not_noted"},
                    )
                    return
                logger.warning(
                    "cannot note the run done (%s): asked again shortly",
                    exc,
                    extra={"event": "run_note_waits"},
                )
                time.sleep(CLAIM_RETRY_S)

    def _delivered(self, run: str) -> None:
        """RUN's final report reached the middleware: its marks go after DELIVERED_TTL_S."""
        pipe = self.redis().pipeline(transaction=False)
        pipe.set(DONE_KEY.format(run), "1", ex=int(DELIVERED_TTL_S))
        pipe.expire(ACCEPTED_KEY.format(run), int(DELIVERED_TTL_S))
        pipe.expire(RUNS_KEY.format(run), int(DELIVERED_TTL_S))
        pipe.expire(GIVEN_BACK_KEY.format(run), int(DELIVERED_TTL_S))
        pipe.execute()

    def final_report_moved(self, url: str, waiting: WaitingReport | None) -> None:
        """A final report was delivered (WAITING None) or waits again: its run's done mark
        says so (see whereabouts: a report lost on its way is sent again)."""
        run = run_id(job_of(url) or "", url)
        try:
            if waiting is None:
                self._delivered(run)
            else:
                record = undelivered_record(waiting, time.time())
                self.redis().set(DONE_KEY.format(run), record, xx=True, keepttl=True)
        except Exception as exc:  # at worst, the report is sent once more
            logger.warning("cannot note the report's delivery: %s", exc)

    def count(self, outcome: str) -> None:
        """Count one outcome in the broker, where core's /metrics reads it; never fails."""
        try:
            self.redis().hincrby(OUTCOMES_KEY, outcome, 1)
        except Exception as exc:  # a figure, not worth failing a job for
            logger.warning(
                "could not count outcome %s: %s",
                outcome,
                exc,
                extra={"event": "outcome_not_counted"},
            )


def request_id_of(task: Any) -> str | None:
    """The request ID the core put in the task's headers."""
    value = getattr(task.request, REQUEST_ID_HEADER, None)
    if not value:
        value = (getattr(task.request, "headers", None) or {}).get(REQUEST_ID_HEADER)
    return str(value) if value else None


def enqueued_at_of(task: Any) -> float:
    """When core queued the task (0: it does not say)."""
    value = getattr(task.request, ENQUEUED_AT, None)
    if value is None:
        value = (getattr(task.request, "headers", None) or {}).get(ENQUEUED_AT)
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def register(app: Any, settings: Settings) -> None:
    """Define the platform's tasks on APP."""
    state = WorkerState(settings)

    @app.task(  # type: ignore[untyped-decorator]
        name=DELIVER_CALLBACK,
        shared=False,  # this app's own: another app in the process has its own settings
        bind=True,
        ignore_result=True,
    )
    def deliver_callback(
        task: Any, url: str, payload: dict[str, Any], tried: int = 0, since: float = 0.0
    ) -> str:
        request_id = request_id_of(task)
        # Where the platform takes reports now, as this worker knows it: a report held for a
        # retry goes to a fixed --middleware-url once a worker with the right one takes it.
        url = rebased(url, settings.callback_url)
        with tagged(job_of(url), request_id):
            outcome = try_once(url, payload, request_id, tried + 1)
            waiting = None
            if outcome.startswith("retry"):
                waiting = WaitingReport(url, payload, request_id, tried + 1, since or time.time())
                hold(waiting, outcome)
            elif tried:
                state.got_through()
            if payload.get("status") in FINISHED:
                state.final_report_moved(url, waiting)
            return outcome

    def try_once(url: str, payload: dict[str, Any], request_id: str | None, attempt: int) -> str:
        outcome = _deliver(state, url, dict(payload, delivery_attempt=attempt), request_id)
        if outcome == CANCEL_ANSWER:  # the middleware says: a cancel was asked
            state.cancels_seen.add(run_id(job_of(url) or "", url))
            outcome = "delivered"
        state.count(f"callback:{outcome.split(':')[0]}")
        if outcome.startswith("retry"):
            logger.warning(
                "callback %s not delivered (%s); it is tried again with back-off",
                payload.get("status"),
                outcome,
                extra={
                    "event": "callback_retry",
                    "status": payload.get("status"),
                    "attempt": attempt,
                },
            )
        else:
            _log_settled(payload, outcome, attempt)
        if kind_of(outcome) in ("refused", "error") and not is_failure_report(payload):
            # The owner is told, rather than left with a job that seems to run for ever.
            return try_once(url, failure_report(payload, outcome), request_id, 1)
        return outcome

    def report(url: str, payload: dict[str, Any], request_id: str | None) -> WaitingReport | None:
        """Deliver a callback now; if the middleware does not take it, it waits in the
        broker for its next try (see waiting), whichever worker is alive then: returned."""
        outcome = try_once(url, payload, request_id, 1)
        if not outcome.startswith("retry"):
            return None
        waiting = WaitingReport(url, payload, request_id, 1, time.time())
        hold(waiting, outcome)
        return waiting

    def hold(report: WaitingReport, outcome: str) -> None:
        """Keep REPORT in the broker for a later try, waiting a while for a broker that is
        down; if it stays down, the task goes back to the queue (unacknowledged, it runs
        again once the broker answers): a report is never dropped."""
        deadline = time.monotonic() + PUBLISH_RETRY_S
        while True:
            try:
                state.waiting().add(report, outcome)
                return
            except Exception as exc:
                if time.monotonic() >= deadline:
                    logger.error(
                        "cannot keep the report in the broker (%s): the task goes back to the"
                        " queue",
                        exc,
                        extra={
                            "event": "report_not_queued",
                            "status": report.payload.get("status"),
                        },
                    )
                    raise Reject(str(exc), requeue=True) from exc
                time.sleep(HOLD_RETRY_S)

    @app.task(  # type: ignore[untyped-decorator]
        name=RUN_JOB, bind=True, ignore_result=True, shared=False
    )
    def run_job_task(
        task: Any, job_id: str, data: Any, callback_url: str, job_type: str = DEFAULT_TYPE
    ) -> str:
        request_id = request_id_of(task)
        callback_url = rebased(callback_url, settings.callback_url)
        worker = str(task.request.hostname or "")
        run = run_id(job_id, callback_url)
        with tagged(job_id, request_id):
            holder = f"{worker} {os.getpid()} {uuid.uuid4().hex}"
            claim = state.claim(run, holder, jobs_queue(job_type), enqueued_at_of(task))
            if claim.kind == "duplicate":
                logger.warning(
                    "a copy of a job already reported finished: dropped",
                    extra={"event": "job_duplicate_dropped", "worker": worker},
                )
                return "duplicate"
            if claim.kind == "busy":
                logger.info(
                    "a copy of a job another worker still runs goes back to the queue",
                    extra={"event": "job_copy_requeued", "worker": worker},
                )
                raise Reject("another worker is running this job", requeue=True)
            try:
                with state.heartbeat(run, holder):
                    return run_claimed(task, job_id, data, callback_url, run, claim, job_type)
            except Reject:  # the broker cannot take the report: not a worker that died
                state.gave_back(run, holder)
                raise

    def run_claimed(
        task: Any,
        job_id: str,
        data: Any,
        callback_url: str,
        run: str,
        claim: Claim,
        job_type: str,
    ) -> str:
        """Run RUN, whose running mark this worker holds: its report, then the mark 'done'."""
        request_id = request_id_of(task)
        worker = str(task.request.hostname or "")
        runs = claim.runs
        if claim.stopped_workers >= MAX_DELIVERIES:
            payload = gave_up_report(claim.stopped_workers, "a worker")
            logger.error(
                "job given up: %s",
                payload["error"],
                extra={
                    "event": "job_given_up",
                    "worker": worker,
                    "runs": runs,
                    "given_back": claim.given_back,
                },
            )
            state.finished(run, report(callback_url, payload, request_id))
            return "failed"
        again = {"run": runs} if runs is not None and runs > 1 else {}
        if state.cancelled(run):  # asked while it waited in the queue: it never starts
            payload = cancelled_before(worker) | again
            logger.info(
                "job cancelled before it started: dropped",
                extra={"event": "job_dropped", "worker": worker},
            )
            state.finished(run, report(callback_url, payload, request_id))
            state.count("job:cancelled")
            return "cancelled"
        started_at = utc_now()
        logger.info(
            "job started on %s",
            worker,
            extra={
                "event": "job_started",
                "worker": worker,
                "redelivered": _redelivered(task, runs),
            },
        )
        try:
            execution = state.execution()
            if execution.reports_running(job_type):
                report(callback_url, running_report(started_at, worker) | again, request_id)
            job = JobRun(job_id, request_id, job_type, data, started_at)
            if execution.in_process(job_type):  # reverse: as fast as it ever was
                payload = execution.run_built_in(job, lambda: state.cancelled(run), worker) | again
            else:

                def tell(update: dict[str, Any]) -> None:
                    report(callback_url, update | again, request_id)

                payload = execution.run(job, tell, lambda: state.cancelled(run), worker) | again
        except Reject:
            raise  # the broker cannot take the report now: the job goes back, runs again
        except Exception as exc:  # ours, not the job's: never acknowledged in silence
            logger.exception("running the job failed", extra={"event": "job_error"})
            payload = broken_run_report(started_at, exc, worker) | again
        state.finished(run, report(callback_url, payload, request_id))
        state.count(f"job:{payload['status']}")
        logger.info(
            "job %s",
            payload["status"],
            extra={
                "event": f"job_{payload['status']}",
                "worker": worker,
                "error": payload.get("error"),
            },
        )
        return str(payload["status"])

    app.toy_platform_tasks = {"run_job": run_job_task, "deliver_callback": deliver_callback}


CANCEL_ANSWER = "delivered: cancel requested"


def cancelled_before(worker: str | None) -> dict[str, Any]:
    """The report of a run cancelled before it started: it never does (no started_at)."""
    payload: dict[str, Any] = {
        "status": "cancelled",
        "error": "cancelled before it started",
        "completed_at": utc_now(),
    }
    if worker:
        payload["worker"] = worker
    return payload


def _redelivered(task: Any, runs: int | None) -> bool:
    """Whether this start is not the run's first: counted by the broker, or said by it."""
    if runs is not None:
        return runs > 1
    info = getattr(task.request, "delivery_info", None) or {}
    return bool(info.get("redelivered"))


def _deliver(state: WorkerState, url: str, payload: dict[str, Any], request_id: str | None) -> str:
    """POST one callback: its outcome, as jobs.running reads it."""
    try:
        response = _post(state.session(), url, payload, request_id)
    except NO_ANSWER as exc:
        return unreachable_outcome(describe_error(exc, CALLBACK_TIMEOUT_S), url)
    except Exception as exc:  # ours: it could not even be built or sent
        return error_outcome(exc)
    outcome = answer_outcome(response.status_code, response.text)
    if outcome == "delivered" and '"cancel_requested":true' in response.text.replace(" ", ""):
        return CANCEL_ANSWER
    return outcome


def _post(
    session: ServiceSession, url: str, payload: dict[str, Any], request_id: str | None
) -> ServiceAnswer:
    """POST, once more at once if the connection broke: a kept-alive connection to a
    middleware that restarted fails on first use (callbacks are idempotent)."""
    headers = outgoing_headers(request_id)
    try:
        return session.post(url, json=payload, timeout=CALLBACK_TIMEOUT_S, headers=headers)
    except NO_ANSWER as exc:
        if timed_out(exc):
            raise
        return session.post(url, json=payload, timeout=CALLBACK_TIMEOUT_S, headers=headers)


def _log_settled(payload: dict[str, Any], outcome: str, attempt: int) -> None:
    kind = outcome.split(":")[0]
    extra = {"event": f"callback_{kind}", "status": payload.get("status"), "attempt": attempt}
    if kind == "delivered":
        logger.info("callback %s delivered", payload.get("status"), extra=extra)
    elif kind == "dropped":
        logger.warning("callback %s dropped: %s", payload.get("status"), outcome, extra=extra)
    else:
        logger.error(
            "callback %s refused by the middleware, dropped (it would never be taken): %s",
            payload.get("status"),
            outcome,
            extra=extra,
        )


def rebased(callback_url: str, base: str) -> str:
    """The job's callback URL on this worker's view of the middleware (--middleware-url or
    --callback-url): the API machine may know itself by another address than workers do."""
    if not base or "/job_callback/" not in callback_url:
        return callback_url
    return base.rstrip("/") + "/job_callback/" + callback_url.split("/job_callback/", 1)[1]
