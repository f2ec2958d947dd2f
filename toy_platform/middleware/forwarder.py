"""Hands stored jobs to the core, at least once, whether or not the core is up right now."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import urllib3
from prometheus_client import CollectorRegistry, Counter

from toy_platform.clock import utc_now
from toy_platform.http_errors import describe_error
from toy_platform.jobs.lifecycle import MAX_HANDOVERS, SilenceLimits, lost_error
from toy_platform.jobs.model import decode
from toy_platform.jobs.types import DEFAULT_TYPE
from toy_platform.log import log_each
from toy_platform.loops import (
    LOOP_LOCK_WAIT_S,
    WATCHDOG_EVERY_S,
    Progress,
    Signal,
    Threads,
    describe,
    log_error,
    run_loop,
    working_on,
)
from toy_platform.middleware.stores.base import JobStore, StoreDown
from toy_platform.service_http import CALL_FAILED, ServiceAnswer, ServiceSession, service_session
from toy_platform.tracing import accept_request_id, outgoing_headers

logger = logging.getLogger(__name__)
FORWARD_TIMEOUT_S = 5.0
PARALLEL_FORWARDS = 8
MAX_BACKOFF_S = 5.0
FORWARD_BATCH = 50
RECONCILE_EVERY_S = 5.0
RECONCILE_BATCH = 100
COALESCE_S = 0.05  # 0.1 gave the same throughput with 50 ms more from submit to result
MAX_IN_FLIGHT = PARALLEL_FORWARDS * FORWARD_BATCH
TRANSIENT = (408, 429)
SIGNATURE_REFUSED = (401, 403)


class Forwarder:
    """A dispatcher thread that sends unforwarded jobs to the core through a thread pool.

    The job is stored before the user gets 202; if the core is down it stays queued here
    and goes out when the core answers again. A job the core refuses (a 4xx other than
    for its signature or load) is marked failed with the core's reason; a batch the core
    refuses is sent again job by job, so that one bad job cannot hold up the others.
    """

    def __init__(
        self,
        store: JobStore,
        core_url: str,
        callback_base: str,
        service_key: bytes,
        registry: CollectorRegistry,
        check_every: float = WATCHDOG_EVERY_S,
        reconcile_after: float | None = None,
        reconcile_every: float = RECONCILE_EVERY_S,
        time_limits: Callable[[], Mapping[str, float]] = dict,
    ) -> None:
        self.store = store
        self.core_url = core_url
        self.callback_base = callback_base
        self.service_key = service_key
        self.wakeup = Signal()
        self.stopping = threading.Event()
        self.progress = Progress()
        self._inflight: set[str] = set()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(PARALLEL_FORWARDS, thread_name_prefix="forward")
        self._failures = 0
        self.forwards = Counter(
            "toy_platform_forwards_total",
            "Attempts to hand a job to the core, by outcome (accepted, failed, refused).",
            ["outcome"],
            registry=registry,
        )
        restarts = Counter(
            "toy_platform_thread_restarts_total",
            "Threads restarted by the watchdog after they died.",
            ["thread"],
            registry=registry,
        )
        self.threads = Threads(self.stopping, lambda name: restarts.labels(name).inc(), check_every)
        self.threads.add("forwarder", self._run)
        self.reconcile_after, self.reconcile_every = reconcile_after, reconcile_every
        self.time_limits = time_limits
        self.reconciling = Progress()
        self.threads.add("reconciler", self._reconcile_loop)

    def start(self) -> None:
        self.threads.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wakeup.notify()

    # -- what /readyz asks -----------------------------------------------------

    def not_ready(self) -> str | None:
        """A dead dispatcher, or what holds the jobs up while some wait (core down or
        refusing our signature)."""
        dead = self.threads.dead()
        if dead:
            return f"threads not running: {', '.join(dead)}"
        blocked = self.progress.blocker()
        waiting = self.store.waiting_for_core() if blocked else 0
        return f"{blocked}; {waiting} jobs wait to be handed to core" if waiting else None

    def stalled(self, threshold: float, since: float = 0.0) -> tuple[float, str] | None:
        waiting = self.store.waiting_for_core()
        stalled = self.progress.stalled_s(waiting > 0, threshold, since)
        if stalled is None:
            return None
        why = f"no job handed to core for {stalled:g} s while {waiting} wait"
        last = self.progress.last_error
        return stalled, why + (f"; last error: {last}" if last else "")

    # -- the dispatcher ----------------------------------------------------------

    def _short_waits(self) -> None:
        self.store.set_lock_wait(LOOP_LOCK_WAIT_S)

    def _session(self) -> ServiceSession:
        session: ServiceSession | None = getattr(self._local, "session", None)
        if session is None:
            session = service_session(self.service_key)
            self._local.session = session
        return session

    def _run(self) -> None:
        self._short_waits()
        seen = self.wakeup.version

        def step() -> None:
            nonlocal seen
            seen = self._dispatch(seen)

        run_loop(step, self.stopping, self.progress)

    def _dispatch(self, seen: int) -> int:
        """Hand out what waits, then sleep as fits; the wakeup version seen."""
        try:
            batch = self._take_batch()
        except StoreDown as exc:  # waiting for the database is not a stall of our own work
            self.progress.blocked(str(exc))
            raise
        if not batch and not self._inflight:
            self.progress.idle()
        for start in range(0, len(batch), FORWARD_BATCH):
            self._pool.submit(self._forward, batch[start : start + FORWARD_BATCH])
        if self._failures:  # core is not taking jobs: back off, whatever arrives
            self.stopping.wait(min(MAX_BACKOFF_S, 0.25 * 2**self._failures))
            return self.wakeup.version
        if not batch:
            return self.wakeup.wait(seen, timeout=1.0)
        # Busy: let a few more jobs arrive, so they go out in one call, not one each.
        self.stopping.wait(COALESCE_S)
        return seen

    def _take_batch(self) -> list[dict[str, Any]]:
        """Unforwarded jobs not already on their way, keeping few in memory at once."""
        with self._lock:
            room = MAX_IN_FLIGHT - len(self._inflight)
            if room <= 0:
                return []
            claimed = self.store.claim_unforwarded(room)
            # One of ours still on its way (its lease ran out mid-forward) is not sent twice.
            batch = [job for job in claimed if job["job_id"] not in self._inflight]
            self._inflight.update(job["job_id"] for job in batch)
        return batch

    # -- jobs core lost ------------------------------------------------------------

    def _reconcile_loop(self) -> None:
        """Now and then, ask core for the jobs it accepted that show no sign of life."""
        self._short_waits()

        def step() -> None:
            self._reconcile_once()
            self.stopping.wait(self.reconcile_every)

        run_loop(step, self.stopping, self.reconciling)

    def _reconcile_once(self) -> None:
        """Hand over again each silent job core no longer holds (its broker lost it, or lost
        a run whose worker died too); one lost MAX_HANDOVERS times is failed with the reason
        instead. Silent: nothing on its timeline for its type's time limit and a margin, or
        for --reconcile-after seconds when that is set."""
        limits = SilenceLimits.from_time_limits(self.time_limits(), self.reconcile_after)
        silent = self.store.silent_handed_over(limits, RECONCILE_BATCH)
        answers = self._held_by_core(silent) if silent else []
        for job, (is_held, note) in zip(silent, answers, strict=True):
            if not is_held:
                self._hand_over_again(job)
            elif note:
                self.store.note_held_up(job["job_id"], job["attempt"], note)
        if silent and not all(is_held for is_held, _ in answers):
            self.wakeup.notify()

    def _held_by_core(self, jobs: list[dict[str, Any]]) -> list[tuple[bool, str | None]]:
        """Whether core holds each job, and why its reports do not come when core knows;
        all held when core cannot say now (nothing is done on a guess: the next round asks
        again)."""
        runs = [
            {"job_id": j["job_id"], "callback_url": self._item(j)["callback_url"]} for j in jobs
        ]
        try:
            response = self._session().post(
                f"{self.core_url}/runs/held",
                json={"runs": runs},
                headers=outgoing_headers(),
                timeout=FORWARD_TIMEOUT_S,
            )
            response.raise_for_status()
            answers = response.json()["runs"]
            held = [(bool(a["held"]), _text(a.get("note"))) for a in answers]
            if len(held) != len(jobs):
                raise ValueError(f"{len(held)} answers for {len(jobs)} runs")
        except (*CALL_FAILED, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.info("cannot ask core which jobs it holds: %s", describe(exc))
            return [(True, None)] * len(jobs)
        return held

    def _hand_over_again(self, job: dict[str, Any]) -> None:
        with working_on(job["job_id"], job["request_id"]):
            times = self.store.hand_over_again(job["job_id"], job["attempt"])
            if times == 0:
                return  # it moved meanwhile
            if times > MAX_HANDOVERS:
                self.store.refuse(job["job_id"], job["attempt"], lost_error(times - 1))
                logger.error(
                    "core lost the job %d times: failed", times - 1, extra={"event": "job_lost"}
                )
                return
            logger.warning(
                "core no longer holds the job it accepted: handing it over again (%d)",
                times,
                extra={"event": "job_handed_over_again", "times": times},
            )

    # -- one forward (a task of the pool) --------------------------------------

    def _forward(self, jobs: list[dict[str, Any]]) -> None:
        try:
            self._short_waits()
            self._forward_jobs(jobs)
        except Exception as exc:  # e.g. the job store is locked: they go again later
            self._failures = min(self._failures + 1, 10)
            if isinstance(exc, StoreDown):
                self.progress.blocked(str(exc))
            self.progress.failed(describe(exc))
            first = jobs[0]
            log_error(
                exc,
                min(MAX_BACKOFF_S, 0.25 * 2**self._failures),
                traceback=self._failures == 1,
                event="forward_error",
                job_id=first["job_id"],
                request_id=first["request_id"],
                batch_size=len(jobs),
            )
            self._release(jobs)
        finally:
            with self._lock:
                self._inflight.difference_update(job["job_id"] for job in jobs)
            self.wakeup.notify()

    def _forward_jobs(self, jobs: list[dict[str, Any]]) -> None:
        sent_at = utc_now()
        try:
            kind, answer = self._send(jobs)
        except Exception as exc:  # ours: they could not even be sent
            kind, answer = "refused", f"the middleware could not send it: {describe(exc)}"
        if kind == "accepted":
            for job, accepted in zip(jobs, answer, strict=True):
                accepted.update(attempt=job["attempt"], sent_at=sent_at)
            self.store.mark_forwarded(answer)
            self.progress.moved()
        elif kind == "refused" and len(jobs) > 1:  # find the bad one(s): send each alone
            for job in jobs:
                self._forward_jobs([job])
        elif kind == "refused":
            self._refused(jobs[0], answer)
        else:  # core is down or busy: claimable again when the back-off ends, here or elsewhere
            self._release(jobs)

    def _release(self, jobs: list[dict[str, Any]]) -> None:
        """Give up this middleware's claim on jobs that did not go out; if the store cannot
        be reached to say so, their lease runs out by itself."""
        try:
            self.store.release(job["job_id"] for job in jobs)
        except Exception as exc:  # noqa: BLE001 - the lease is the fallback
            logger.info("claims not released (%s); their lease runs out", describe(exc))

    def _refused(self, job: dict[str, Any], reason: str) -> None:
        """Core will never take this job: tell its owner why, and go on with the others."""
        with working_on(job["job_id"], job["request_id"]):
            error = f"core refused the job: {reason}"
            self.store.refuse(job["job_id"], job["attempt"], error)
            self.forwards.labels("refused").inc()
            self.progress.moved()
            logger.warning("job refused by core: %s", reason, extra={"event": "job_refused"})

    def _send(self, jobs: list[dict[str, Any]]) -> tuple[str, Any]:
        """POST the jobs to the core, alone or as a batch: ('accepted', what it answered for
        each job), ('refused', why) or ('retry', None)."""
        single = len(jobs) == 1
        items = [self._item(job) for job in jobs]
        try:
            response = self._session().post(
                f"{self.core_url}/job_submit" + ("" if single else "/batch"),
                json=items[0] if single else {"jobs": items},
                headers=outgoing_headers(items[0]["request_id"] if single else None),
                timeout=FORWARD_TIMEOUT_S,
            )
        except urllib3.exceptions.HTTPError as exc:
            why = describe_error(exc, FORWARD_TIMEOUT_S)
            return self._failed(f"cannot reach core at {self.core_url}: {why}")
        code = response.status_code
        if code == 202:
            return self._accepted(jobs, response)
        text = _error_text(response)
        if code in SIGNATURE_REFUSED:
            return self._failed(
                f"core refuses this middleware's signature (HTTP {code}): the two have different"
                " service keys (TOY_PLATFORM_SERVICE_KEY or config/service.key)"
            )
        if code >= 500 or code in TRANSIENT or not 400 <= code < 500:
            return self._failed(f"core answered HTTP {code}: {text}")
        return "refused", f"HTTP {code}: {text}"

    def _item(self, job: dict[str, Any]) -> dict[str, Any]:
        item = {
            "job_id": job["job_id"],
            "data": decode(job["data"]),
            "callback_url": self._callback_url(job),
            "request_id": accept_request_id(job["request_id"]),
        }
        if job.get("job_type", DEFAULT_TYPE) != DEFAULT_TYPE:
            item["job_type"] = job["job_type"]
        return item

    def _callback_url(self, job: dict[str, Any]) -> str:
        return f"{self.callback_base}/job_callback/{job['job_id']}?attempt={job['attempt']}"

    def tell_core_to_cancel(self, job: dict[str, Any]) -> None:
        """Tell core, in the background, to drop a cancelled job or stop a running one. If
        core cannot be told now, its worker learns it from the answer to its next report,
        and a job that had not started is refused when it reports (it stays cancelled)."""
        run = {"job_id": job["job_id"], "callback_url": self._callback_url(job)}

        def tell() -> None:
            with working_on(job["job_id"], job.get("request_id")):
                try:
                    response = self._session().post(
                        f"{self.core_url}/runs/cancel",
                        json={"runs": [run]},
                        headers=outgoing_headers(),
                        timeout=FORWARD_TIMEOUT_S,
                    )
                    response.raise_for_status()
                except CALL_FAILED as exc:
                    logger.warning(
                        "cannot tell core to cancel the job now (%s): its worker learns it"
                        " from its next report",
                        describe(exc),
                        extra={"event": "cancel_not_sent"},
                    )

        self._pool.submit(tell)

    def _accepted(self, jobs: list[dict[str, Any]], response: ServiceAnswer) -> tuple[str, Any]:
        try:
            body = response.json()
            accepted: list[dict[str, Any]] = [body] if len(jobs) == 1 else body["jobs"]
            if len(accepted) != len(jobs) or not all(isinstance(a, dict) for a in accepted):
                raise ValueError(f"{len(accepted)} answers for {len(jobs)} jobs")
        except (ValueError, KeyError, TypeError) as exc:
            return self._failed(f"core's answer cannot be read: {describe(exc)}")
        if self.progress.blocker():
            logger.info("core accepts jobs again", extra={"event": "core_reachable"})
        self.progress.unblocked()
        self._failures = 0
        self.forwards.labels("accepted").inc(len(jobs))
        log_each(
            logger,
            [
                {
                    "message": "job forwarded to core",
                    "position": answer.get("position"),
                    "job_id": job["job_id"],
                    "request_id": job["request_id"],
                }
                for job, answer in zip(jobs, accepted, strict=True)
            ],
            f"{len(jobs)} jobs forwarded to core",
            event="job_forwarded",
            batch_size=len(jobs),
        )
        return "accepted", accepted

    def _failed(self, reason: str) -> tuple[str, None]:
        """Core is down, busy or refuses us: the jobs wait, and so does the dispatcher."""
        self.forwards.labels("failed").inc()
        if self.progress.blocker() is None:
            logger.warning(
                "cannot hand jobs to core (%s); they stay queued and go out when it answers",
                reason,
                extra={"event": "core_unreachable", "reason": reason},
            )
        self.progress.blocked(reason)
        self._failures = min(self._failures + 1, 10)
        return "retry", None


def _error_text(response: ServiceAnswer) -> str:
    """What an error answer says: its JSON 'error' (and field), else its text, short."""
    try:
        body = response.json()
        text = str(body["error"]) + (f" (field {body['field']})" if body.get("field") else "")
    except (ValueError, KeyError, TypeError):
        text = response.text
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:200] + "..."


def _text(value: object) -> str | None:
    """A note of core's, at most a line's worth (None when there is none)."""
    return " ".join(str(value).split())[:500] if isinstance(value, str) and value else None
