"""Core tells a run the broker still holds from one it lost, on a real Redis and real
Celery messages: published by core's queue, taken as kombu takes them."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from redis import Redis
from support.redis_server import RedisServer, why_unavailable

from toy_platform.config import load_settings
from toy_platform.core.queues.base import QueuedJob
from toy_platform.core.queues.celery import whereabouts
from toy_platform.core.queues.celery.config import (
    ACCEPTED_KEY,
    DONE_KEY,
    JOBS_QUEUE,
    PENDING_S,
    RUN_JOB,
    RUNNING_KEY,
    STARTED_UPTO_KEY,
)
from toy_platform.core.queues.celery.queue import CeleryQueue
from toy_platform.core.queues.celery.waiting import (
    WaitingReport,
    read_undelivered,
    undelivered_record,
)
from toy_platform.service import ServiceState
from toy_platform.unavailable import QueueUnavailable

pytestmark = pytest.mark.skipif(why_unavailable() is not None, reason=str(why_unavailable()))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    redis = RedisServer(Path(tmp_path_factory.mktemp("redis"))).start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def queue(server: RedisServer, tmp_path: Path) -> CeleryQueue:
    Redis.from_url(server.url).flushall()
    settings = load_settings(home=tmp_path, queue_url=server.url, workers=0)
    return CeleryQueue(settings, ServiceState("core", settings, b"key", CollectorRegistry()))


def jobs(*names: str) -> list[QueuedJob]:
    return [
        QueuedJob(name, "data", f"http://127.0.0.1:1/job_callback/{name}?attempt=1", None)
        for name in names
    ]


def age(queue: CeleryQueue, run: str, seconds: float) -> None:
    """Make core's mark of RUN as old as if it had been published SECONDS ago."""
    key = ACCEPTED_KEY.format(run)
    state, at, where = queue.redis.get(key).decode().split(" ", 2)
    queue.redis.set(key, f"{state} {float(at) - seconds} {where}")


@contextlib.contextmanager
def worker_connection(queue: CeleryQueue) -> Iterator[Any]:
    """A worker's channel: what it takes waits, unacknowledged, in its hands while it is open
    (closed, kombu puts it back)."""
    with queue.app.connection_for_read() as conn:
        yield conn.default_channel


def test_a_run_taken_by_a_worker_that_died_before_noting_it_is_lost_and_published_again(
    queue: CeleryQueue,
) -> None:
    """kombu takes a message from the queue (BRPOP) before it notes it unacknowledged: a worker
    killed in between lost it while core's mark said 'published', so the job stayed queued."""
    (job,) = jobs("j1")
    assert queue.accept([job])[0].new
    age(queue, "j1.1", 60)
    assert queue.held([job]) == [True]  # waiting in its queue
    queue.redis.rpop(JOBS_QUEUE)  # taken, and the worker died before noting it
    assert queue.held([job]) == [False]
    assert queue.redis.get(ACCEPTED_KEY.format("j1.1")) == b"lost"  # the mark taken back
    again = queue.accept([job])[0]  # the middleware's resend publishes it again
    assert (again.new, again.again) == (False, True)  # accepted once, not counted twice
    assert queue.redis.llen(JOBS_QUEUE) == 1
    assert queue.held([job]) == [True]


def test_a_run_just_published_is_held_whatever_the_broker_shows(queue: CeleryQueue) -> None:
    (job,) = jobs("j1")
    queue.accept([job])
    queue.redis.rpop(JOBS_QUEUE)
    assert queue.held([job]) == [True]  # it may be on its way
    age(queue, "j1.1", whereabouts.LOST_AFTER_S + 1)
    assert queue.held([job]) == [False]


def test_a_run_a_worker_holds_or_runs_or_started_is_held(queue: CeleryQueue) -> None:
    first, second = jobs("j1", "j2")
    queue.accept([first, second])
    age(queue, "j1.1", 60)
    age(queue, "j2.1", 60)
    with worker_connection(queue) as channel:
        taken = [channel.basic_get(JOBS_QUEUE, no_ack=False) for _ in range(2)]  # prefetched
        assert queue.redis.llen(JOBS_QUEUE) == 0 and None not in taken
        assert queue.held([first, second]) == [True, True]
        queue.redis.set(RUNNING_KEY.format("j1.1"), "worker 1")
        for message in taken:
            message.ack()  # (j2 as if acknowledged without a report)
        assert queue.held([first, second]) == [True, False]


def test_in_a_long_queue_a_run_is_lost_once_runs_queued_after_it_started(
    queue: CeleryQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long queue is not read whole: kombu takes the oldest first, so a run published before
    one that started has left the queue."""
    monkeypatch.setattr(whereabouts, "SCAN_ALL_UP_TO", 1)
    monkeypatch.setattr(whereabouts, "HEAD_SCAN", 1)
    lost, *behind = jobs("j1", "j2", "j3")
    queue.accept([lost, *behind])
    age(queue, "j1.1", 60)
    queue.redis.rpop(JOBS_QUEUE)
    assert queue.held([lost]) == [True]  # nothing started since: it may still wait
    queue.redis.set(STARTED_UPTO_KEY.format(JOBS_QUEUE), time.time())
    assert queue.held([lost]) == [False]
    assert queue.held(behind) == [True, True]  # just published


def test_a_final_report_lost_on_its_way_is_sent_again_once(queue: CeleryQueue) -> None:
    """A finished run's report whose deliver_callback task was lost left the job queued in
    the middleware for ever: core said it held the run (done), and nothing sent it again."""
    (job,) = jobs("j1")
    report = WaitingReport(job.callback_url, {"status": "succeeded", "result": "x"}, "r1", 3, 0)
    old = undelivered_record(report, time.time() - whereabouts.REPORT_LOST_AFTER_S - 1)
    queue.redis.set(DONE_KEY.format("j1.1"), old)
    assert queue.held([job]) == [True]
    (again,) = queue.waiting.take_due()  # due at once
    assert (again.url, again.payload, again.request_id) == (job.callback_url, report.payload, "r1")
    assert queue.waiting.blocked() is None  # nothing failed: no alarm
    assert queue.held([job]) == [True]
    assert queue.waiting.count() == 1  # once: the mark says when it was handed on
    kept = read_undelivered(queue.redis.get(DONE_KEY.format("j1.1")))
    assert kept is not None and time.time() - kept[1] < 5


def test_a_delivered_or_recent_final_report_is_not_sent_again(queue: CeleryQueue) -> None:
    first, second = jobs("j1", "j2")
    queue.redis.set(DONE_KEY.format("j1.1"), "1")
    recent = WaitingReport(second.callback_url, {"status": "failed"}, None, 1, time.time())
    queue.redis.set(DONE_KEY.format("j2.1"), undelivered_record(recent, time.time()))
    assert queue.held([first, second]) == [True, True]
    assert queue.waiting.count() == 0


def test_an_old_mark_or_one_being_published_is_read_as_before(queue: CeleryQueue) -> None:
    first, second, third = jobs("j1", "j2", "j3")
    queue.redis.set(ACCEPTED_KEY.format("j1.1"), "published")  # written by an older core
    queue.redis.set(ACCEPTED_KEY.format("j2.1"), f"pending {time.time()}")
    queue.redis.set(ACCEPTED_KEY.format("j3.1"), f"pending {time.time() - 60}")
    assert queue.held([first, second, third]) == [True, True, False]


def test_a_batch_broken_off_part_way_says_how_many_it_queued(
    queue: CeleryQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Core counted a batch's jobs only once the whole batch was queued: the jobs published
    before the broker failed were found held on the resend, not new, and never counted
    (core's accepted figure 8 short of the jobs in a soak)."""
    task = queue.app.tasks[RUN_JOB]
    publish, calls = task.apply_async, []

    def fails_second(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["task_id"])
        if len(calls) == 2:
            raise ConnectionError("the broker went away")
        return publish(*args, **kwargs)

    monkeypatch.setattr(task, "apply_async", fails_second)
    batch = jobs("a", "b", "c")
    with pytest.raises(QueueUnavailable) as broke:
        queue.accept(batch)
    assert broke.value.queued_first == 1
    again = queue.accept(batch)  # the middleware's resend
    assert [a.new for a in again] == [False, True, True]


def test_a_run_published_just_before_the_broker_failed_is_counted_once(
    queue: CeleryQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The publish went through, then noting it failed (the broker went away between the two
    commands): the batch's 503 did not count it, and once the job had run nothing sent it
    again, so core's accepted figure was one short of the jobs (a soak: 4,999 of 5,000)."""
    note, calls = queue._note_published, []

    def fails_once(job: QueuedJob) -> None:
        calls.append(job.job_id)
        if len(calls) == 1:
            raise ConnectionError("the broker went away")
        note(job)

    monkeypatch.setattr(queue, "_note_published", fails_once)
    (job,) = jobs("j1")
    with pytest.raises(QueueUnavailable) as broke:
        queue.accept([job])
    assert broke.value.queued_first == 1  # it is in the broker: accepted
    key = ACCEPTED_KEY.format("j1.1")
    queue.redis.set(key, f"pending {time.time() - PENDING_S - 1}")  # the resend, later
    again = queue.accept([job])[0]
    assert (again.new, again.again) == (False, True)  # published again, not counted again
