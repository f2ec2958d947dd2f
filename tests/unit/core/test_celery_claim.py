"""A worker's claim of a run on a broker that restarts: it waits for the broker's answer
rather than starting a run that may have been reported already."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import Reject
from redis import Redis
from support.harness import wait_until
from support.http_stub import HttpStub, Received
from support.redis_server import RedisServer, why_unavailable

from toy_platform.config import load_settings
from toy_platform.core.queues.celery import tasks
from toy_platform.core.queues.celery.app import celery_app
from toy_platform.core.queues.celery.config import (
    DONE_KEY,
    GIVEN_BACK_KEY,
    JOBS_QUEUE,
    RUN_JOB,
    RUNNING_KEY,
    RUNS_KEY,
)
from toy_platform.core.queues.celery.tasks import Claim, WorkerState

pytestmark = pytest.mark.skipif(why_unavailable() is not None, reason=str(why_unavailable()))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    redis = RedisServer(tmp_path / "redis").start()
    try:
        yield redis
    finally:
        redis.stop()


def worker_state(server: RedisServer, home: Path) -> WorkerState:
    return WorkerState(load_settings(home=home, queue_url=server.url, workers=0))


def test_a_run_reported_before_the_broker_restarted_is_not_started_again(
    server: RedisServer, tmp_path: Path
) -> None:
    """A claim the broker could not answer (restarting, loading its data) ran the job blind:
    a copy of a job already reported ran a second time (found by the soak)."""
    Redis.from_url(server.url).set(DONE_KEY.format("j1.1"), "1")
    state = worker_state(server, tmp_path)
    server.stop()
    claims: list[Claim] = []
    claiming = threading.Thread(
        target=lambda: claims.append(state.claim("j1.1", "w1", JOBS_QUEUE, time.time()))
    )
    claiming.start()
    time.sleep(1.5)
    assert not claims  # still waiting for the broker
    server.start()
    claiming.join(30)
    assert claims == [Claim("duplicate", waited=False)]
    assert Redis.from_url(server.url).get(RUNS_KEY.format("j1.1")) is None  # never started


def test_a_run_done_while_the_broker_restarts_is_noted_once_it_answers(
    server: RedisServer, tmp_path: Path
) -> None:
    """The note that a run finished was given up at the first error (Redis loading its data
    after a restart): a copy of the task the broker put back then ran the job a second time
    on the same worker (a soak)."""
    state = worker_state(server, tmp_path)
    server.stop()
    noting = threading.Thread(target=lambda: state.finished("j1.1", None))
    noting.start()
    time.sleep(1.5)
    assert noting.is_alive()  # still asking
    server.start()
    noting.join(30)
    assert Redis.from_url(server.url).get(DONE_KEY.format("j1.1")) == b"1"


def test_a_broker_that_stays_away_sends_the_task_back(
    server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "CLAIM_BROKER_WAIT_S", 1.0)
    state = worker_state(server, tmp_path)
    server.stop()
    with pytest.raises(Reject) as rejected:
        state.claim("j1.1", "w1", JOBS_QUEUE, time.time())
    assert rejected.value.requeue


def test_starts_given_back_while_the_broker_was_away_are_not_taken_for_dead_workers(
    server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that could not keep a job's report in a broker that was down (the middleware
    away too) gives the task back; each such start counted as a worker that died, so after
    three the job was failed as 'a worker stopped each time' though it ran every time."""
    monkeypatch.setattr(tasks, "PUBLISH_RETRY_S", 0.3)
    monkeypatch.setattr(tasks, "HOLD_RETRY_S", 0.1)
    away = {"rounds": 3}

    def middleware(request: Received) -> tuple[int, Any]:
        if away["rounds"] > 0:  # the report is not taken, and the broker goes down
            away["rounds"] -= 1
            server.stop()
            return 503, {"error": "restarting", "code": "store_unavailable"}
        return 200, {}

    stub = HttpStub(middleware)
    try:
        settings = load_settings(
            home=tmp_path,
            queue_url=server.url,
            service_key="shared",
            job_delay=0,
            middleware_url=stub.url,
        )
        task = celery_app(settings).tasks[RUN_JOB]
        args = ("j1", "hello", f"{stub.url}/job_callback/j1?attempt=1")
        redis = Redis.from_url(server.url)
        for given_back in (1, 2, 3):
            assert task.apply(args=args).state == "REJECTED"
            server.start()
            wait_until(
                lambda n=given_back: redis.get(GIVEN_BACK_KEY.format("j1.1")) == str(n).encode(),
                10,
                what="the start told as given back",
            )
            assert redis.get(RUNNING_KEY.format("j1.1")) is None  # the copy need not wait
        assert task.apply(args=args).get() == "succeeded"
        final = stub.received[-1].body
        assert (final["status"], final["result"], final["run"]) == ("succeeded", "olleh", 4)
    finally:
        stub.close()
