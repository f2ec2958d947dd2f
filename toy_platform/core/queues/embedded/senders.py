"""The core's callback senders: they report each job's progress back to the middleware.

The outcome of one attempt is classified by jobs.running (delivered, dropped, retry,
refused, error). 'refused' and 'error' are the callback's own fault, so after a few of them
it is replaced by a 'failed' report that carries the reason, and if even that cannot go,
parked.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from toy_platform.core.queues.embedded.store import Callback, CallbackOutbox
from toy_platform.http_errors import describe_error
from toy_platform.jobs.running import (
    answer_outcome,
    attempt_of,
    blocked_reason,
    error_outcome,
    failure_report,
    origin_of,
    settled,
    unreachable_outcome,
)
from toy_platform.log import log_each
from toy_platform.loops import (
    LOOP_LOCK_WAIT_S,
    Progress,
    Signal,
    run_loop,
    working_on,
)
from toy_platform.service_http import NO_ANSWER, ServiceAnswer, ServiceSession, service_session
from toy_platform.tracing import accept_request_id, outgoing_headers

logger = logging.getLogger(__name__)

CALLBACK_TIMEOUT_S = 5.0
CALLBACK_BATCH = 50
COALESCE_S = 0.05  # 0.1 gave the same throughput with 50 ms more from submit to result
MAX_RETRY_S = 5.0  # the longest wait between two tries: the middleware back means results soon
MAX_LOCAL_ERRORS = 3


class CallbackSenders:
    """What the sender threads share: the outbox, and how delivery has been going."""

    def __init__(
        self,
        outbox: CallbackOutbox,
        service_key: bytes,
        ready: Signal,
        stopping: threading.Event,
        wait_if_paused: Callable[[], None],
        metrics: Any,
        cancel_asked: Callable[[str, str], None] = lambda job_id, callback_url: None,
    ) -> None:
        """CANCEL_ASKED(job_id, callback_url): the middleware's answer to a report says a
        cancel of that run was asked (core may have missed the cancel itself)."""
        self.outbox, self.service_key = outbox, service_key
        self.ready, self.stopping = ready, stopping
        self.wait_if_paused, self.metrics = wait_if_paused, metrics
        self.cancel_asked = cancel_asked
        self.progress = Progress()

    def run(self) -> None:
        """One sender thread: deliver what is due until the pool stops."""
        self.outbox.db.set_lock_wait(LOOP_LOCK_WAIT_S)
        session = service_session(self.service_key)
        seen = self.ready.version
        leased: list[Callback] = []

        def step() -> None:
            nonlocal seen
            if leased:  # an error cut the last round short: give those back first
                self.outbox.release([c.seq for c in leased])
                leased.clear()
            wait = self._send_due(session, leased)
            leased.clear()
            if wait is not None:
                seen = self.ready.wait(seen, timeout=wait)

        run_loop(step, self.stopping, self.progress)

    def _send_due(self, session: ServiceSession, leased: list[Callback]) -> float | None:
        """Send the callbacks due now (into LEASED while out); else how long to sleep."""
        self.wait_if_paused()
        callbacks = self.outbox.lease_batch(CALLBACK_BATCH)
        if not callbacks:
            self.progress.idle()
            due = self.outbox.next_due_in_s()
            return 1.0 if due is None else min(max(due, 0.05), 1.0)
        leased.extend(callbacks)
        if len(callbacks) == 1:
            self._deliver(session, callbacks[0])
        else:
            for url, group in _by_batch_url(callbacks).items():
                self._deliver_batch(session, url, group)
        # Busy: let a few more callbacks gather, so they go out in one call, not one each.
        self.stopping.wait(COALESCE_S)
        return None

    def _deliver(self, session: ServiceSession, callback: Callback) -> None:
        """POST one callback to its URL (the usual case when the middleware keeps up)."""
        with working_on(callback.job_id, callback.request_id):
            payload = dict(callback.payload, delivery_attempt=callback.attempts)
            # Only a request ID safe in a header goes out; an unsafe one is replaced.
            headers = outgoing_headers(accept_request_id(callback.request_id))
            outcome, answer = _post(session, callback.url, payload, headers)
            if outcome == "delivered" and _says_cancel(answer):
                self.cancel_asked(callback.job_id, callback.url)
            self._settle([callback], [outcome])

    def _deliver_batch(self, session: ServiceSession, url: str, group: list[Callback]) -> None:
        """POST several callbacks to the middleware's batch endpoint in one call."""
        items = [_batch_item(c) for c in group]
        outcome, answer = _post(session, url, {"callbacks": items}, {})
        # Refused whole (one bad callback?), or the batch endpoint missing: send each alone.
        if outcome.startswith(("refused", "error", "dropped")):
            for callback in group:
                self._deliver(session, callback)
            return
        outcomes = [outcome] * len(group)
        results = _results(answer, len(group)) if outcome == "delivered" else None
        if outcome == "delivered" and results is None:
            outcomes = ["retry: the middleware's answer has no result for each callback"] * len(
                group
            )
        for n, result in enumerate(results or []):
            if result.get("outcome") == "not_found":
                outcomes[n] = "dropped: the middleware does not know the job (reset?)"
            elif result.get("cancel_requested") is True:
                self.cancel_asked(group[n].job_id, group[n].url)
        self._settle(group, outcomes)

    def _settle(self, callbacks: list[Callback], outcomes: list[str]) -> None:
        """Forget the callbacks that went through (in one transaction), deal with the others."""
        pairs = list(zip(callbacks, outcomes, strict=True))
        done = [c for c, o in pairs if settled(o)]
        self.outbox.delivered(done)
        delivered = [line for c, o in pairs if (line := self._record(c, o)) is not None]
        log_each(logger, delivered, f"{len(delivered)} callbacks delivered")
        self._note_progress(pairs)
        # The middleware answers again: send what waited out a back-off at once.
        for origin in {origin_of(c.url) + "/" for c in done if c.attempts > 1}:
            self.outbox.retry_now(origin)
        self.ready.notify()

    def _note_progress(self, pairs: list[tuple[Callback, str]]) -> None:
        if any(settled(o) for _, o in pairs):
            self.progress.moved()
            return
        for callback, outcome in pairs:
            if outcome.startswith("retry"):
                self.progress.blocked(blocked_reason(callback.url, outcome))
                return
        self.progress.failed(pairs[0][1])

    def _record(self, callback: Callback, outcome: str) -> dict[str, Any] | None:
        """Count and log what came of CALLBACK; a delivery is the line to log (with the
        others delivered together), anything else is logged here."""
        kind = outcome.split(":")[0]
        extra = {
            "event": "callback_" + kind,
            "job_id": callback.job_id,
            "request_id": callback.request_id,
            "status": callback.payload.get("status"),
            "attempt": callback.attempts,
        }
        if kind == "retry":
            delay = min(MAX_RETRY_S, 0.5 * 2 ** (callback.attempts - 1)) * random.uniform(0.8, 1)
            self.outbox.retry_later(callback.seq, delay, outcome)
            self.metrics.callbacks.labels("retry").inc()
            logger.warning(
                "callback %s not delivered (%s); retrying in %.1f s",
                extra["status"],
                outcome,
                delay,
                extra=extra | {"retry_in_s": round(delay, 2)},
            )
        elif kind in ("refused", "error"):
            self._poisoned(callback, outcome, extra)
        else:
            self.metrics.callbacks.labels(kind).inc()
            if kind == "delivered":
                return extra | {"message": f"callback {extra['status']} delivered"}
            logger.warning("callback %s dropped: %s", extra["status"], outcome, extra=extra)
        return None

    def _poisoned(self, callback: Callback, outcome: str, extra: dict[str, Any]) -> None:
        """A callback that fails through its own fault: try again a few times, then give the
        job's owner a 'failed' report with the reason instead; park what cannot go at all."""
        errors = callback.local_errors + 1
        extra = extra | {"error": outcome, "local_errors": errors}
        if errors < MAX_LOCAL_ERRORS:
            delay = min(MAX_RETRY_S, 0.5 * 2 ** (errors - 1))
            self.outbox.retry_later(callback.seq, delay, outcome, ours=True)
            self.metrics.callbacks.labels("error").inc()
            logger.error(
                "callback cannot be delivered (%s); trying again in %.1f s",
                outcome,
                delay,
                extra=extra,
            )
        elif callback.stage == "send":
            self.outbox.replace(callback, failure_report(callback.payload, outcome))
            self.metrics.callbacks.labels("replaced").inc()
            logger.error(
                "callback given up after %d tries (%s); reporting the job failed instead",
                errors,
                outcome,
                extra=extra | {"event": "callback_replaced"},
            )
        else:
            self.outbox.park(callback, outcome)
            self.metrics.callbacks.labels("parked").inc()
            logger.error(
                "callback parked: it cannot be delivered (%s); kept in the outbox",
                outcome,
                extra=extra | {"event": "callback_parked"},
            )

    def not_ready(self) -> str | None:
        """Why the callbacks do not go out, while some wait: the middleware is down or
        refuses us (None when they go, or when none wait)."""
        blocked = self.progress.blocker()
        if blocked is None:
            return None
        waiting = self.outbox.pending()
        return f"{blocked}; {waiting} callbacks wait" if waiting else None


def _post(
    session: ServiceSession, url: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[str, ServiceAnswer | None]:
    """POST BODY to URL: the outcome, and the answer when there was one."""
    try:
        response = session.post(url, json=body, timeout=CALLBACK_TIMEOUT_S, headers=headers)
    except NO_ANSWER as exc:
        return unreachable_outcome(describe_error(exc, CALLBACK_TIMEOUT_S), url), None
    except Exception as exc:  # ours: it could not even be built or sent
        return error_outcome(exc), None
    return answer_outcome(response.status_code, response.text), response


def _says_cancel(response: ServiceAnswer | None) -> bool:
    """Whether the middleware's answer to one report says a cancel of the job was asked."""
    try:
        return response is not None and response.json().get("cancel_requested") is True
    except (ValueError, AttributeError):
        return False


def _results(response: ServiceAnswer | None, count: int) -> list[dict[str, Any]] | None:
    """The batch endpoint's result for each callback, or None when its answer has not."""
    try:
        results = response.json()["results"] if response is not None else None
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(results, list) or len(results) != count:
        return None
    return [r if isinstance(r, dict) else {} for r in results]


def _batch_item(callback: Callback) -> dict[str, Any]:
    item = dict(
        callback.payload,
        job_id=callback.job_id,
        attempt=attempt_of(callback.url),
        delivery_attempt=callback.attempts,
    )
    if callback.request_id and accept_request_id(callback.request_id) == callback.request_id:
        item["request_id"] = callback.request_id
    return item


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
