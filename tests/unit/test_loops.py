"""The loops' shared machinery, and the middleware's forwarder built on it."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from support.harness import wait_until
from support.http_stub import HttpStub, Received

from toy_platform.clock import utc_now
from toy_platform.jobs.lifecycle import MAX_HANDOVERS, lost_error
from toy_platform.loops import Backoff, Progress, Threads, run_loop, working_on
from toy_platform.middleware.forwarder import Forwarder
from toy_platform.middleware.stores.sqlite import SqliteJobStore as JobStore


class Fatal(BaseException):
    """An error that no loop catches: it kills the thread it reaches."""


def test_back_off_grows_to_a_few_seconds_and_starts_again_after_a_success() -> None:
    backoff = Backoff(first=0.1, cap=3.0)
    delays = [backoff.next_delay() for _ in range(10)]
    assert 0.08 <= delays[0] <= 0.1
    assert delays == sorted(delays[:6]) + delays[6:]
    assert all(2.4 <= d <= 3.0 for d in delays[6:])
    backoff.reset()
    assert backoff.next_delay() <= 0.1


def test_waiting_for_a_dependency_is_not_a_stall_but_our_own_stop_is() -> None:
    progress = Progress(blocked_for=0.2)
    progress.last_ok -= 10
    assert progress.stalled_s(waiting=False, threshold=1) is None, "nothing waits"
    assert progress.stalled_s(waiting=True, threshold=1) == pytest.approx(10, abs=0.2)
    assert progress.stalled_s(waiting=True, threshold=1, since=time.time()) is None, "a pause"
    progress.blocked("core is down")
    progress.last_ok -= 10
    assert progress.blocker() == "core is down"
    assert progress.stalled_s(waiting=True, threshold=1) is None
    time.sleep(0.3)  # not seen for a while: it no longer hides a stall
    assert progress.blocker() is None
    assert progress.stalled_s(waiting=True, threshold=1) is not None
    progress.blocked("core is down")
    progress.unblocked()  # core answers again: a stall counts from now
    assert progress.blocker() is None
    assert progress.stalled_s(waiting=True, threshold=1) is None
    progress.last_ok -= 10
    assert progress.stalled_s(waiting=True, threshold=1) is not None
    progress.moved()
    assert progress.stalled_s(waiting=True, threshold=1) is None


def test_a_loop_logs_each_error_with_the_job_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    stopping, progress = threading.Event(), Progress()
    calls = itertools.count()

    def step() -> None:
        n = next(calls)
        if n < 3:
            with working_on("job-1", "req-1"):
                raise RuntimeError(f"bad item {n}")
        stopping.set()

    with caplog.at_level(logging.ERROR, logger="toy_platform.loops"):
        run_loop(step, stopping, progress)
    errors = [r for r in caplog.records if getattr(r, "event", None) == "loop_error"]
    assert [(r.job_id, r.request_id, r.error) for r in errors] == [
        ("job-1", "req-1", f"RuntimeError: bad item {n}") for n in range(3)
    ]
    assert [r.retry_in_s for r in errors] == sorted(r.retry_in_s for r in errors)
    assert progress.last_error == "RuntimeError: bad item 2"


# -- the forwarder ----------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "middleware.sqlite3")


@pytest.fixture
def forwarders(store: JobStore) -> Iterator[Callable[..., Forwarder]]:
    made: list[tuple[Forwarder, HttpStub]] = []

    def make(core: Callable[[Received], tuple[int, Any]], **options: Any) -> Forwarder:
        stub = HttpStub(core)
        forwarder = Forwarder(
            store, stub.url, "http://mw.invalid", b"service-key", CollectorRegistry(), **options
        )
        made.append((forwarder, stub))
        return forwarder

    yield make
    for forwarder, stub in made:
        forwarder.stop()
        stub.close()


def queued(request: Received) -> tuple[int, Any]:
    """What core answers when it takes the job or jobs."""
    taken = request.body.get("jobs", [request.body])
    answers = [{"job_id": j["job_id"], "position": 1, "queued_at": "t"} for j in taken]
    return 202, {"status": "queued", "jobs": answers} if "jobs" in request.body else answers[0]


def test_a_job_core_refuses_is_failed_with_the_reason_and_the_others_go_on(
    store: JobStore, forwarders: Callable[..., Forwarder]
) -> None:
    def core(request: Received) -> tuple[int, Any]:
        if request.path == "/job_submit/batch":
            return 400, {"error": "'data' is bad", "code": "invalid_field", "field": "jobs[1].data"}
        if request.body["data"] == "bad":
            return 400, {"error": "'data' is bad", "code": "invalid_field", "field": "data"}
        return queued(request)

    jobs = [store.create("alice", f"j{n}", "bad" if n == 1 else "ok", f"r{n}")[0] for n in range(3)]
    forwarders(core).start()
    wait_until(lambda: store.waiting_for_core() == 0, 10, what="every job handed over")
    refused = store.get(jobs[1]["job_id"], with_events=True)
    assert refused["status"] == "failed"
    assert refused["error"] == "core refused the job: HTTP 400: 'data' is bad (field data)"
    assert refused["events"][-1]["status"] == "failed"
    assert refused["events"][-1]["detail"] == refused["error"]
    for n in (0, 2):
        events = [e["status"] for e in store.events(jobs[n]["job_id"])]
        assert events == ["submitted", "forwarded", "queued"]


def test_core_refusing_the_signature_makes_the_forwarder_not_ready_with_the_reason(
    store: JobStore, forwarders: Callable[..., Forwarder]
) -> None:
    unauthorized = {"error": "Valid service credentials are required", "code": "unauthorized"}
    forwarder = forwarders(lambda request: (401, unauthorized))
    job, _ = store.create("alice", "j", "data", "r")
    forwarder.start()
    reason = wait_until(forwarder.not_ready, 10, what="the forwarder to say why")
    assert reason.startswith("core refuses this middleware's signature (HTTP 401)")
    assert "different service keys" in reason and "1 jobs wait" in reason
    assert forwarder.stalled(0.0) is None, "waiting for core is not a stall"
    assert store.get(job["job_id"])["status"] == "queued", "the job waits, it is not failed"


def test_the_forwarder_survives_its_store_failing_and_hands_the_jobs_over_after(
    store: JobStore, forwarders: Callable[..., Forwarder], monkeypatch: pytest.MonkeyPatch
) -> None:
    mark = store.mark_forwarded
    calls = itertools.count()

    def mark_or_fail(accepted: list[dict[str, Any]]) -> None:
        if next(calls) < 2:
            raise OSError("disk I/O error")
        mark(accepted)

    monkeypatch.setattr(store, "mark_forwarded", mark_or_fail)
    forwarder = forwarders(queued)
    store.create("alice", "j", "data", "r")
    forwarder.start()
    wait_until(lambda: store.waiting_for_core() == 0, 20, what="the job handed over")
    assert next(calls) == 3


def test_a_dead_dispatcher_is_restarted_by_the_watchdog(
    store: JobStore, forwarders: Callable[..., Forwarder], monkeypatch: pytest.MonkeyPatch
) -> None:
    take = store.claim_unforwarded
    calls = itertools.count()

    def take_or_die(limit: int, lease_s: float = 15.0) -> list[dict[str, Any]]:
        if next(calls) == 0:
            raise Fatal("gone")
        return take(limit, lease_s)

    monkeypatch.setattr(store, "claim_unforwarded", take_or_die)
    forwarder = forwarders(queued, check_every=3600.0)
    forwarder.start()
    wait_until(lambda: forwarder.threads.alive("forwarder") == 0, 10, what="the dispatcher dead")
    assert forwarder.not_ready() == "threads not running: forwarder (died: Fatal: gone)"
    forwarder.threads.check()
    assert forwarder.not_ready() is None
    store.create("alice", "j", "data", "r")
    forwarder.wakeup.notify()
    wait_until(lambda: store.waiting_for_core() == 0, 10, what="the restarted dispatcher works")


def test_a_thread_that_dies_at_each_start_is_restarted_less_and_less_often() -> None:
    stopping = threading.Event()
    restarted: list[str] = []
    threads = Threads(stopping, restarted.append, check_every=3600.0)

    def die() -> None:
        raise Fatal("broken at start")

    threads.add("doomed", die)
    threads.start()
    try:
        wait_until(lambda: threads.alive() == 0, 5, what="the thread dead")
        threads.check()
        assert restarted == ["doomed"], "the first death: restarted at once"
        wait_until(lambda: threads.alive() == 0, 5, what="the thread dead again")
        threads.check()
        assert len(restarted) == 1, "dead again at once: it waits a second"
        assert threads.dead() == ["doomed (died: Fatal: broken at start)"]
        time.sleep(1.1)
        threads.check()
        assert len(restarted) == 2
    finally:
        stopping.set()


def core_that_holds(held: bool, asked: list[str] | None = None) -> Callable[[Received], Any]:
    """A core that takes jobs and says of every run asked about whether it HOLDS it."""

    def core(request: Received) -> tuple[int, Any]:
        if request.path != "/runs/held":  # one job at a time here
            return 202, {"job_id": request.body["job_id"], "position": 1, "queued_at": utc_now()}
        runs = request.body["runs"]
        if asked is not None:
            asked.extend(run["job_id"] for run in runs)
        return 200, {"runs": [{"job_id": run["job_id"], "held": held} for run in runs]}

    return core


def test_a_job_core_lost_is_handed_over_again_then_failed_saying_why(
    store: JobStore, forwarders: Callable[..., Forwarder]
) -> None:
    """Core forgot a job it accepted (its broker lost its data): the forwarder finds it by
    asking core, hands it over again, and after MAX_HANDOVERS times fails it with the reason
    rather than sending it round for ever."""
    asked: list[str] = []
    job = store.create("alice", "j", "data", "r")[0]
    core = core_that_holds(False, asked)
    forwarders(core, reconcile_after=0.0, reconcile_every=0.05).start()

    def failed() -> dict[str, Any] | None:
        found = store.get(job["job_id"], with_events=True)
        return found if found and found["status"] == "failed" else None

    lost = wait_until(failed, 30, what="the job failed as lost")
    assert lost["error"] == lost_error(MAX_HANDOVERS)
    again = [e for e in lost["events"] if e["status"] == "forwarded_again"]
    assert len(again) == MAX_HANDOVERS + 1 and job["job_id"] in asked


def test_a_job_core_still_holds_is_left_alone(
    store: JobStore, forwarders: Callable[..., Forwarder]
) -> None:
    asked: list[str] = []
    job = store.create("alice", "j", "data", "r")[0]
    forwarders(core_that_holds(True, asked), reconcile_after=0.0, reconcile_every=0.05).start()
    wait_until(lambda: job["job_id"] in asked, 10, what="core asked about the job")
    events = [e["status"] for e in store.events(job["job_id"])]
    assert "forwarded_again" not in events and events.count("forwarded") == 1


def test_a_job_still_on_its_way_is_not_sent_again_when_its_lease_runs_out(
    store: JobStore, forwarders: Callable[..., Forwarder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Core slower than the lease: the forwarder's next claim returned the job it was still
    sending, and it went to core a second time."""
    claim = store.claim_unforwarded
    monkeypatch.setattr(store, "claim_unforwarded", lambda limit: claim(limit, lease_s=0.2))
    sent: list[str] = []

    def slow_core(request: Received) -> tuple[int, Any]:
        sent.append(request.body["job_id"])
        time.sleep(2.5)  # past the lease and past the dispatcher's next look
        return queued(request)

    job = store.create("alice", "j", "data", "r")[0]
    forwarders(slow_core).start()
    wait_until(lambda: store.waiting_for_core() == 0, 10, what="the job handed over")
    assert sent == [job["job_id"]]
