"""The core's worker threads and the callback senders that report back to the middleware."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from toy_platform.core.processing import reverse_text
from toy_platform.jobqueue import Callback, CallbackOutbox, QueuedJob, SqliteJobQueue
from toy_platform.security import service_session
from toy_platform.tracing import current_job_id, current_request_id, outgoing_headers

logger = logging.getLogger(__name__)

CALLBACK_TIMEOUT_S = 5.0
CALLBACK_BATCH = 50
COALESCE_S = 0.05  # 0.1 gave the same throughput with 50 ms more from submit to result
MAX_BACKOFF_S = 30.0


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Signal:
    """Wakes sleeping threads when there is new work, instead of polling fast."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._version = 0

    def notify(self) -> None:
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        with self._cond:
            if self._version == seen:
                self._cond.wait(timeout)
            return self._version

    @property
    def version(self) -> int:
        return self._version


class CorePool:
    """Runs the workers and the callback senders as daemon threads and watches them."""

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
    ) -> None:
        self.queue, self.outbox = queue, outbox
        self.service_key = service_key
        self.job_delay, self.failure_rate = job_delay, failure_rate
        self.wait_if_paused = wait_if_paused
        self.metrics = metrics
        self.jobs_ready, self.callbacks_ready = Signal(), Signal()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._work_loop, name=f"worker-{i}", daemon=True)
            for i in range(workers)
        ] + [
            threading.Thread(target=self._send_loop, name=f"sender-{i}", daemon=True)
            for i in range(senders)
        ]

    def start(self) -> None:
        requeued = self.queue.requeue_claimed()
        self.outbox.release_leases()
        if requeued:
            logger.warning(
                "requeued %d jobs that were running when core stopped",
                requeued,
                extra={"event": "jobs_requeued", "count": requeued},
            )
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.jobs_ready.notify()
        self.callbacks_ready.notify()

    def dead_threads(self) -> list[str]:
        return [t.name for t in self.threads if not t.is_alive()]

    # -- workers -------------------------------------------------------------

    def _work_loop(self) -> None:
        seen = self.jobs_ready.version
        while not self.stopping.is_set():
            self.wait_if_paused()
            job = self.queue.claim()
            if job is None:
                seen = self.jobs_ready.wait(seen, timeout=1.0)
                continue
            self._process(job)

    def _process(self, job: QueuedJob) -> None:
        rid_token = current_request_id.set(job.request_id)
        job_token = current_job_id.set(job.job_id)
        try:
            started_at = utc_now()
            logger.info("job started", extra={"event": "job_started"})
            self._report(job, {"status": "running", "started_at": started_at})
            time.sleep(self.job_delay)
            self.wait_if_paused()
            payload: dict[str, Any] = {"status": "succeeded", "started_at": started_at}
            if self.failure_rate and random.random() < self.failure_rate:
                payload.update(
                    status="failed", error=f"simulated failure (failure rate {self.failure_rate:g})"
                )
            else:
                payload["result"] = reverse_text(job.data)
            payload["completed_at"] = utc_now()
            self._report(job, payload)
            self.queue.ack(job.seq)
            self.metrics.jobs_processed.labels(payload["status"]).inc()
            logger.info(
                "job %s",
                payload["status"],
                extra={"event": f"job_{payload['status']}", "error": payload.get("error")},
            )
        finally:
            current_job_id.reset(job_token)
            current_request_id.reset(rid_token)

    def _report(self, job: QueuedJob, payload: dict[str, Any]) -> None:
        self.outbox.add(job.job_id, job.callback_url, payload, job.request_id)
        self.callbacks_ready.notify()

    # -- callback senders ----------------------------------------------------

    def _send_loop(self) -> None:
        session = service_session(self.service_key)
        seen = self.callbacks_ready.version
        while not self.stopping.is_set():
            self.wait_if_paused()
            callbacks = self.outbox.lease_batch(CALLBACK_BATCH)
            if not callbacks:
                due = self.outbox.next_due_in_s()
                timeout = 1.0 if due is None else min(max(due, 0.05), 1.0)
                seen = self.callbacks_ready.wait(seen, timeout=timeout)
                continue
            if len(callbacks) == 1:
                self._deliver(session, callbacks[0])
            else:
                for url, group in _by_batch_url(callbacks).items():
                    self._deliver_batch(session, url, group)
            # Busy: let a few more callbacks gather, so they go out in one call, not one each.
            self.stopping.wait(COALESCE_S)

    def _deliver(self, session: requests.Session, callback: Callback) -> None:
        """POST one callback to its URL (the usual case when the middleware keeps up)."""
        rid_token = current_request_id.set(callback.request_id)
        job_token = current_job_id.set(callback.job_id)
        payload = dict(callback.payload, delivery_attempt=callback.attempts)
        try:
            response = session.post(
                callback.url, json=payload, timeout=CALLBACK_TIMEOUT_S, headers=outgoing_headers()
            )
            outcome = _classify(response)
        except requests.RequestException as exc:
            outcome = f"retry: {type(exc).__name__}: {_short(exc)}"
        finally:
            current_job_id.reset(job_token)
            current_request_id.reset(rid_token)
        self._settle([callback], [outcome])

    def _deliver_batch(self, session: requests.Session, url: str, group: list[Callback]) -> None:
        """POST several callbacks to the middleware's batch endpoint in one call."""
        items = [
            dict(
                c.payload,
                job_id=c.job_id,
                attempt=_attempt_of(c.url),
                delivery_attempt=c.attempts,
                request_id=c.request_id,
            )
            for c in group
        ]
        try:
            response = session.post(url, json={"callbacks": items}, timeout=CALLBACK_TIMEOUT_S)
            outcome = _classify(response)
            results = response.json()["results"] if outcome == "delivered" else None
        except (requests.RequestException, ValueError, KeyError) as exc:
            outcome, results = f"retry: {type(exc).__name__}: {_short(exc)}", None
        outcomes = [outcome] * len(group)
        for n, result in enumerate(results or []):
            if result.get("outcome") == "not_found":
                outcomes[n] = "dropped: the middleware does not know the job (reset?)"
        self._settle(group, outcomes)

    def _settle(self, callbacks: list[Callback], outcomes: list[str]) -> None:
        """Forget the callbacks that went through (in one transaction), back off the others."""
        done = [c for c, o in zip(callbacks, outcomes, strict=True) if not o.startswith("retry")]
        self.outbox.delivered(done)
        for callback, outcome in zip(callbacks, outcomes, strict=True):
            self._record(callback, outcome)
        # The middleware answers again: send what waited out a back-off at once.
        for origin in {_origin(c.url) for c in done if c.attempts > 1}:
            self.outbox.retry_now(origin)
        self.callbacks_ready.notify()

    def _record(self, callback: Callback, outcome: str) -> None:
        status = callback.payload["status"]
        extra = {
            "event": "callback_" + outcome.split(":")[0],
            "job_id": callback.job_id,
            "request_id": callback.request_id,
            "status": status,
            "attempt": callback.attempts,
        }
        if outcome.startswith("retry"):
            delay = min(MAX_BACKOFF_S, 0.5 * 2 ** (callback.attempts - 1)) * random.uniform(0.8, 1)
            self.outbox.retry_later(callback.seq, delay, outcome)
            self.metrics.callbacks.labels("retry").inc()
            logger.warning(
                "callback %s not delivered (%s); retrying in %.1f s",
                status,
                outcome,
                delay,
                extra=extra | {"retry_in_s": round(delay, 2)},
            )
            return
        self.metrics.callbacks.labels(outcome.split(":")[0]).inc()
        if outcome == "delivered":
            logger.info("callback %s delivered", status, extra=extra)
        else:
            logger.warning("callback %s dropped: %s", status, outcome, extra=extra)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def _by_batch_url(callbacks: list[Callback]) -> dict[str, list[Callback]]:
    """Callbacks grouped by the batch endpoint of the middleware they go to."""
    groups: dict[str, list[Callback]] = {}
    for callback in callbacks:
        parts = urlsplit(callback.url)
        base = parts.path.rsplit("/job_callback/", 1)[0]
        groups.setdefault(f"{parts.scheme}://{parts.netloc}{base}/job_callbacks", []).append(
            callback
        )
    return groups


def _attempt_of(url: str) -> int:
    values = parse_qs(urlsplit(url).query).get("attempt", ["1"])
    return int(values[0]) if values[0].isdigit() else 1


def _classify(response: requests.Response) -> str:
    """delivered, dropped (the middleware will never want it) or retry."""
    if response.status_code < 300:
        return "delivered"
    if response.status_code in (404, 409, 410):
        return f"dropped: {response.status_code} {_short(response.text)}"
    return f"retry: HTTP {response.status_code} {_short(response.text)}"


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "..."
