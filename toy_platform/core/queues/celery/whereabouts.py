"""Whether the broker still holds a run core published, or lost it (core's /runs/held).

A run is held while it waits in its queue, sits with a worker (kombu's unacked hash), runs
(its running mark) or was reported finished (its done mark). kombu takes a message from the
queue (BRPOP) before it notes it unacknowledged: a worker killed in between, or a Redis that
lost its last second of writes, loses it, while core's mark still says 'published'. Such a
run is found by elimination and its mark taken back, so that the middleware's resend
publishes it again. A false alarm costs a copy, which a worker drops or holds back (the run's
running and done marks), never a second run.

A run reported finished whose final report never reached the middleware (its
`deliver_callback` task lost the same way) keeps the report in its done mark: it is handed
to the waiting reports again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from toy_platform.core.queues.celery.config import (
    ACCEPTED_KEY,
    DONE_KEY,
    PENDING_S,
    RUNNING_KEY,
    RUNS_KEY,
    STARTED_UPTO_KEY,
)
from toy_platform.core.queues.celery.waiting import (
    CLAIM_LEASE_S,
    MAX_RETRY_S,
    WaitingReports,
    read_undelivered,
    undelivered_record,
)
from toy_platform.jobs.running import job_of
from toy_platform.tracing import tagged

logger = logging.getLogger(__name__)

LOST_AFTER_S = 10.0
"""A run published more recently is held whatever the broker shows: it may be on its way."""
SCAN_ALL_UP_TO = 2_000
"""A queue this short is read whole; a longer one only at its head (where kombu puts back
the tasks of dead workers), and the rest is judged by the runs started since (FIFO)."""
HEAD_SCAN = 200
CLOCK_SLACK_S = 1.0
REPORT_LOST_AFTER_S = MAX_RETRY_S + CLAIM_LEASE_S + 30
"""A final report not handed on for this long was lost: one still waiting is handed on at
least every MAX_RETRY_S, and one claimed for its next try within CLAIM_LEASE_S."""
LOST = "lost"
"""A run's mark once the broker lost it: not held, so the middleware hands it over again;
core then publishes it again without counting it accepted a second time."""
UNACKED_KEY = "unacked"
"""kombu's hash of the messages workers took and have not acknowledged (its default)."""

REPLACE_IF_UNCHANGED = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('del', KEYS[1]) end
redis.call('set', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
"""


@dataclass(frozen=True)
class AcceptedMark:
    """Core's mark of a run it accepted, as read from the broker."""

    raw: str
    state: str  # 'pending', 'published', 'lost' or '' (none)
    at: float | None = None
    queue: str | None = None


def read_mark(raw: Any) -> AcceptedMark:
    text = raw.decode() if isinstance(raw, bytes) else (raw or "")
    state, *rest = text.split(" ", 2) if text else [""]
    try:
        at = float(rest[0]) if rest else None
    except ValueError:
        at = None
    return AcceptedMark(text, state, at, rest[1] if len(rest) > 1 else None)


def published_mark(queue: str) -> str:
    return f"published {time.time():.3f} {queue}"


class Whereabouts:
    """Answers whether the broker holds runs (a redis-py client), one batch at a time."""

    def __init__(self, redis: Any, waiting: WaitingReports) -> None:
        self.redis, self.waiting = redis, waiting

    def held(self, runs: list[str]) -> list[bool]:
        pipe = self.redis.pipeline(transaction=False)
        for run in runs:
            pipe.get(DONE_KEY.format(run))
            pipe.get(ACCEPTED_KEY.format(run))
            pipe.exists(RUNNING_KEY.format(run), RUNS_KEY.format(run))
        values = pipe.execute()
        look = _BrokerLook(self.redis)
        return [
            self._held(
                run, values[3 * n], read_mark(values[3 * n + 1]), bool(values[3 * n + 2]), look
            )
            for n, run in enumerate(runs)
        ]

    def _held(
        self, run: str, done: Any, mark: AcceptedMark, started: bool, look: _BrokerLook
    ) -> bool:
        if done is not None:
            self._send_lost_report_again(run, done)
            return True
        if mark.state == "pending":  # a publish that never finished is not held
            return mark.at is not None and time.time() - mark.at < PENDING_S
        if mark.state != "published":
            return False  # never published, or the broker lost its data
        if started or mark.at is None or mark.queue is None:
            return True  # an old mark says too little to judge
        if time.time() - mark.at < LOST_AFTER_S:
            return True
        # Looked for where a message goes next: it cannot slip past while moving on.
        if look.in_queue(mark.queue, run, mark.at) or look.in_unacked(run):
            return True
        if self.redis.exists(RUNNING_KEY.format(run), RUNS_KEY.format(run), DONE_KEY.format(run)):
            return True
        if not self.redis.eval(REPLACE_IF_UNCHANGED, 1, ACCEPTED_KEY.format(run), mark.raw, LOST):
            return True  # the mark changed meanwhile: asked again next round
        with tagged(run.rsplit(".", 1)[0], None):
            logger.warning(
                "the broker lost a job it had taken from its queue %s, never started:"
                " it is published again when the middleware hands it over again",
                mark.queue,
                extra={"event": "run_lost"},
            )
        return False

    def _send_lost_report_again(self, run: str, done: Any) -> None:
        """A finished run the middleware still waits for: if its final report has not been
        handed on for REPORT_LOST_AFTER_S, it was lost; it waits for delivery again."""
        kept = read_undelivered(done)
        if kept is None:
            return  # delivered: the middleware will hear of it, or already has
        report, at = kept
        if time.time() - at < REPORT_LOST_AFTER_S:
            return
        raw = done.decode() if isinstance(done, bytes) else str(done)
        renewed = undelivered_record(report, time.time())
        if not self.redis.eval(REPLACE_IF_UNCHANGED, 1, DONE_KEY.format(run), raw, renewed):
            return  # another core (or a worker) got there first
        self.waiting.add(replace(report, since=time.time()), None)
        with tagged(job_of(report.url), report.request_id):
            logger.warning(
                "the %s report of a finished job never reached the middleware: sent again",
                report.payload.get("status"),
                extra={"event": "report_sent_again", "status": report.payload.get("status")},
            )


class _BrokerLook:
    """What one answer reads of the broker, read once for the whole batch."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._queues: dict[str, tuple[bytes, float | None]] = {}
        self._unacked: bytes | None = None

    def in_queue(self, queue: str, run: str, published_at: float) -> bool:
        """Whether RUN may still wait in QUEUE."""
        if queue not in self._queues:
            self._queues[queue] = self._read(queue)
        messages, started_upto = self._queues[queue]
        if _quoted(run) in messages:
            return True
        # Read whole (None), or: a run published after this one started, so this one left.
        return started_upto is not None and started_upto <= published_at + CLOCK_SLACK_S

    def _read(self, queue: str) -> tuple[bytes, float | None]:
        if int(self.redis.llen(queue)) <= SCAN_ALL_UP_TO:
            return b"\n".join(self.redis.lrange(queue, 0, -1)), None
        pipe = self.redis.pipeline(transaction=False)
        pipe.lrange(queue, -HEAD_SCAN, -1).get(STARTED_UPTO_KEY.format(queue))
        head, upto = pipe.execute()
        return b"\n".join(head), float(upto or 0)

    def in_unacked(self, run: str) -> bool:
        if self._unacked is None:
            self._unacked = b"\n".join(self.redis.hvals(UNACKED_KEY))
        return _quoted(run) in self._unacked


def _quoted(run: str) -> bytes:
    """How a task's ID shows in its message's headers."""
    return f'"{run}"'.encode()
