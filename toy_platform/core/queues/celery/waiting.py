"""Reports the middleware did not take, waiting in Redis for their next try.

A worker whose report was not taken (the middleware down, busy, unreachable at the address
it has) puts it in a sorted set, scored by when it is due. Core moves what is due back onto
the callbacks queue as `deliver_callback` tasks, which any worker delivers. Nothing waits
inside a worker as a countdown task: those raised a worker's prefetch past one per process,
could not be counted, and were out of reach of /reset.

Core claims due reports by pushing their score a lease ahead before it publishes them and
removes them after: a core that dies in between publishes them again once the lease ran out
(a report delivered twice is harmless: the middleware applies a report once).

While reports wait, the last failure (where to, why, since when) is kept beside them, so
/readyz, `status` and `doctor` can name it; it goes when a waiting report gets through.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from toy_platform.jobs.running import job_of
from toy_platform.loops import Progress, run_loop
from toy_platform.tracing import tagged

logger = logging.getLogger(__name__)

WAITING_KEY = "toy_platform:callbacks_waiting"
BLOCKED_KEY = "toy_platform:callbacks_blocked"
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 30.0
CLAIM_LEASE_S = 60.0
POLL_S = 0.5
BLOCKED_TTL_S = 2 * MAX_RETRY_S + 30
"""A failure not seen again for this long is forgotten: every waiting report is tried within
MAX_RETRY_S, so one still failing renews it well before."""

TAKE_DUE = """
local due = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, member in ipairs(due) do redis.call('zadd', KEYS[1], ARGV[2], member) end
return due
"""


def retry_delay(tries: int) -> float:
    """Seconds before the next try of a report tried TRIES times: 1, 2, 4 … 30, jittered."""
    return float(min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** min(tries - 1, 10)) * random.uniform(0.8, 1))


@dataclass(frozen=True)
class WaitingReport:
    """A report to send again: where, what, after how many tries, waiting since when."""

    url: str
    payload: dict[str, Any]
    request_id: str | None
    tries: int
    since: float
    member: str = ""  # its entry in the set, once read from it


class WaitingReports:
    """The broker's set of reports waiting for their next try (a redis-py client)."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    def add(self, report: WaitingReport, outcome: str | None) -> None:
        """Keep REPORT, due after its back-off; note OUTCOME as the last failure (None: a
        report sent again that did not fail, due at once)."""
        entry = {
            "id": uuid.uuid4().hex,
            "url": report.url,
            "payload": report.payload,
            "request_id": report.request_id,
            "tries": report.tries,
            "since": report.since,
        }
        due = time.time() + (retry_delay(report.tries) if outcome is not None else 0.0)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(WAITING_KEY, {json.dumps(entry, separators=(",", ":")): due})
        if outcome is not None:
            pipe.hsetnx(BLOCKED_KEY, "since", time.time())
            pipe.hset(BLOCKED_KEY, mapping={"url": report.url, "outcome": outcome})
            pipe.expire(BLOCKED_KEY, int(BLOCKED_TTL_S))
        pipe.execute()

    def got_through(self) -> None:
        """A waiting report was taken: the way to the middleware works again."""
        self.redis.delete(BLOCKED_KEY)

    def take_due(self, limit: int = 100) -> list[WaitingReport]:
        """Claim the reports due now (for CLAIM_LEASE_S); `done` each once published."""
        now = time.time()
        members = self.redis.eval(TAKE_DUE, 1, WAITING_KEY, now, now + CLAIM_LEASE_S, limit)
        taken = []
        for member in members or []:
            try:
                taken.append(_read(member))
            except (ValueError, KeyError, TypeError) as exc:  # never ours: not kept for ever
                logger.error(
                    "a waiting report that cannot be read was dropped: %s: %.200s",
                    exc,
                    _text(member),
                    extra={"event": "callback_unreadable"},
                )
                self.redis.zrem(WAITING_KEY, member)
        return taken

    def done(self, reports: list[WaitingReport]) -> None:
        if reports:
            self.redis.zrem(WAITING_KEY, *[r.member for r in reports])

    def count(self) -> int:
        return int(self.redis.zcard(WAITING_KEY))

    def next_due_in_s(self) -> float | None:
        first = self.redis.zrange(WAITING_KEY, 0, 0, withscores=True)
        return max(0.0, float(first[0][1]) - time.time()) if first else None

    def blocked(self) -> tuple[str, str, float] | None:
        """The last failure while reports wait: (url, outcome, since epoch), or None."""
        fields = {_text(k): _text(v) for k, v in (self.redis.hgetall(BLOCKED_KEY) or {}).items()}
        if not fields.get("url") or not fields.get("since"):
            return None
        return fields["url"], fields.get("outcome", ""), float(fields["since"])

    def purge(self) -> int:
        pipe = self.redis.pipeline(transaction=True)
        pipe.zcard(WAITING_KEY).delete(WAITING_KEY, BLOCKED_KEY)
        count, _ = pipe.execute()
        return int(count)


def undelivered_record(report: WaitingReport, at: float) -> str:
    """A run's done mark while its final REPORT is on its way (last handed on at AT): what
    core sends again if the report is lost (see whereabouts)."""
    entry = {
        "url": report.url,
        "payload": report.payload,
        "request_id": report.request_id,
        "at": at,
    }
    return json.dumps(entry, separators=(",", ":"))


def read_undelivered(raw: Any) -> tuple[WaitingReport, float] | None:
    """The final report a done mark keeps, and when it was last handed on; None when the
    middleware took it ('1') or the mark cannot be read."""
    text = _text(raw)
    if not text.startswith("{"):
        return None
    try:
        entry = json.loads(text)
        report = WaitingReport(
            str(entry["url"]), dict(entry["payload"]), entry.get("request_id"), 1, time.time()
        )
        return report, float(entry["at"])
    except (ValueError, KeyError, TypeError):
        return None


def _read(member: Any) -> WaitingReport:
    text = _text(member)
    entry = json.loads(text)
    return WaitingReport(
        url=str(entry["url"]),
        payload=dict(entry["payload"]),
        request_id=entry.get("request_id"),
        tries=int(entry.get("tries") or 1),
        since=float(entry.get("since") or time.time()),
        member=text,
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class WaitingMover:
    """Core's thread that hands waiting reports back to the workers when they are due:
    PUBLISH(report) puts one on the callbacks queue. Survives any error (logged, backed off)."""

    def __init__(self, waiting: WaitingReports, publish: Callable[[WaitingReport], None]) -> None:
        self.waiting, self.publish = waiting, publish
        self.progress = Progress()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=run_loop,
            args=(self.step, self._stopping, self.progress),
            name="callbacks-waiting",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def step(self) -> None:
        due = self.waiting.take_due()
        for report in due:
            with tagged(job_of(report.url), report.request_id):
                self.publish(report)
        self.waiting.done(due)
        self.progress.idle()
        if not due:
            self._stopping.wait(min(POLL_S, self.waiting.next_due_in_s() or POLL_S))
