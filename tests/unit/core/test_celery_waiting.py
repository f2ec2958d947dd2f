"""Reports waiting in Redis for their next try: claimed with a lease, counted, purged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from support.redis_server import RedisServer, why_unavailable

from toy_platform.core.queues.celery import waiting
from toy_platform.core.queues.celery.waiting import (
    WAITING_KEY,
    WaitingReport,
    WaitingReports,
    retry_delay,
)

pytestmark = pytest.mark.skipif(why_unavailable() is not None, reason=str(why_unavailable()))
URL = "http://10.0.0.9:6302/job_callback/j1?attempt=1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    redis = RedisServer(Path(tmp_path_factory.mktemp("redis"))).start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def reports(server: RedisServer) -> WaitingReports:
    client = Redis.from_url(server.url)
    client.flushall()
    return WaitingReports(client)


def report(tries: int = 1) -> WaitingReport:
    return WaitingReport(URL, {"status": "succeeded", "result": "x"}, "r1", tries, time.time())


def test_a_report_is_due_after_its_back_off_and_claimed_once(
    reports: WaitingReports, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports.add(report(), "retry: cannot reach the middleware at http://10.0.0.9:6302: refused")
    assert reports.count() == 1 and reports.take_due() == []  # not due yet
    monkeypatch.setattr(waiting.time, "time", lambda: 10.0**10)
    (taken,) = reports.take_due()
    assert (taken.url, taken.payload["result"], taken.tries) == (URL, "x", 1)
    assert reports.take_due() == []  # leased: another core's mover does not take it too
    assert reports.count() == 1  # still kept until it was handed on
    reports.done([taken])
    assert reports.count() == 0


def test_a_report_claimed_by_a_core_that_died_is_due_again_after_the_lease(
    reports: WaitingReports, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports.add(report(), "retry: HTTP 503")
    now = [10.0**10]
    monkeypatch.setattr(waiting.time, "time", lambda: now[0])
    assert len(reports.take_due()) == 1  # ...and never done
    now[0] += waiting.CLAIM_LEASE_S + 1
    assert len(reports.take_due()) == 1


def test_the_last_failure_is_named_until_a_waiting_report_gets_through(
    reports: WaitingReports,
) -> None:
    outcome = "retry: cannot reach the middleware at http://10.0.0.9:6302: connection refused"
    reports.add(report(), outcome)
    url, said, since = reports.blocked() or ("", "", 0.0)
    assert (url, said) == (URL, outcome) and time.time() - since < 5
    reports.got_through()
    assert reports.blocked() is None and reports.count() == 1


def test_reset_purges_the_waiting_reports(reports: WaitingReports) -> None:
    reports.add(report(), "retry: HTTP 503")
    reports.add(report(2), "retry: HTTP 503")
    assert reports.purge() == 2
    assert reports.count() == 0 and reports.blocked() is None


def test_an_unreadable_entry_is_dropped_not_kept_for_ever(reports: WaitingReports) -> None:
    reports.redis.zadd(WAITING_KEY, {"not json": 0})
    assert reports.take_due() == []
    assert reports.count() == 0


def test_the_back_off_doubles_up_to_half_a_minute() -> None:
    assert 0.8 <= retry_delay(1) <= 1.0
    assert 6.4 <= retry_delay(4) <= 8.0
    assert 24.0 <= retry_delay(20) <= 30.0
