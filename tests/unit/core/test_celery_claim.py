"""A worker's claim of a run on a broker that restarts: it waits for the broker's answer
rather than starting a run that may have been reported already."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery.exceptions import Reject
from redis import Redis
from support.redis_server import RedisServer, why_unavailable

from toy_platform.config import load_settings
from toy_platform.core.queues.celery import tasks
from toy_platform.core.queues.celery.config import DONE_KEY, JOBS_QUEUE, RUNS_KEY
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


def test_a_broker_that_stays_away_sends_the_task_back(
    server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "CLAIM_BROKER_WAIT_S", 1.0)
    state = worker_state(server, tmp_path)
    server.stop()
    with pytest.raises(Reject) as rejected:
        state.claim("j1.1", "w1", JOBS_QUEUE, time.time())
    assert rejected.value.requeue
