from __future__ import annotations

import itertools
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from prometheus_client import CollectorRegistry
from support.harness import wait_until
from support.http_stub import HttpStub, Received

from toy_platform.config import Settings
from toy_platform.core import app as core
from toy_platform.core.queues.base import QueuedJob
from toy_platform.core.queues.embedded.queue import core_metrics, dead_threads_reason
from toy_platform.core.queues.embedded.store import Callback, CallbackOutbox, open_core_store
from toy_platform.core.queues.embedded.workers import CorePool
from toy_platform.jobs.reverse import reverse_text
from unit.conftest import signed_headers


@pytest.mark.parametrize(
    ("text", "reversed_text"),
    [
        ("hello", "olleh"),
        ("", ""),
        ("ab\U0001f44d\U0001f3fde\u0301", "e\u0301\U0001f44d\U0001f3fdba"),
        ("\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea", "\U0001f1e9\U0001f1ea\U0001f1eb\U0001f1f7"),
        (
            "\U0001f468\u200d\U0001f469\u200d\U0001f467!",
            "!\U0001f468\u200d\U0001f469\u200d\U0001f467",
        ),
        ("a\r\nb", "b\r\na"),
    ],
)
def test_reverse_keeps_user_perceived_characters_whole(text: str, reversed_text: str) -> None:
    assert reverse_text(text) == reversed_text


def job(n: int, url: str = "http://mw/cb") -> QueuedJob:
    return QueuedJob(f"job-{n}", f"data-{n}", url)


def test_queue_is_first_in_first_out(tmp_path) -> None:
    queue, _ = open_core_store(tmp_path)
    positions = [queue.enqueue(job(n)) for n in range(3)]
    assert positions == [1, 2, 3]
    assert queue.size() == 3
    assert [queue.claim().job_id for _ in range(3)] == ["job-0", "job-1", "job-2"]
    assert queue.claim() is None
    assert queue.size() == 0


def test_a_job_of_a_type_no_worker_offers_waits_queued_and_keeps_its_data(tmp_path) -> None:
    queue, _ = open_core_store(tmp_path)
    queue.enqueue(QueuedJob("words", {"text": "a b"}, "http://mw/cb", job_type="wordcount"))
    queue.enqueue(job(1))
    assert queue.claim(("reverse",)).job_id == "job-1"
    assert queue.claim(("reverse",)) is None and queue.size() == 1
    taken = queue.claim(("reverse", "wordcount"))
    assert (taken.job_type, taken.data) == ("wordcount", {"text": "a b"})


def test_quick_jobs_are_claimed_together_up_to_one_of_another_type(tmp_path) -> None:
    queue, _ = open_core_store(tmp_path)
    queue.enqueue_many([job(0), job(1), job(2)])
    queue.enqueue(QueuedJob("words", {"text": "a b"}, "http://mw/cb", job_type="wordcount"))
    queue.enqueue_many([job(3), job(4)])
    quick, offered = frozenset({"reverse"}), ("reverse", "wordcount")
    taken = queue.claim_batch(offered, quick, 16)
    assert [j.job_id for j in taken] == ["job-0", "job-1", "job-2"]  # none overtakes 'words'
    assert [j.data for j in taken] == ["data-0", "data-1", "data-2"]
    assert [j.job_id for j in queue.claim_batch(offered, quick, 16)] == ["words"]
    assert [j.job_id for j in queue.claim_batch(offered, quick, 1)] == ["job-3"]
    assert [j.job_id for j in queue.claim_batch(offered, frozenset(), 16)] == ["job-4"]
    assert queue.claim_batch(offered, quick, 16) == [] and queue.running() == 6
    assert queue.requeue_claimed() == 6  # each is claimed as a lone claim would be


def test_a_batch_reports_each_jobs_place_in_the_queue(tmp_path) -> None:
    queue, _ = open_core_store(tmp_path)
    queue.enqueue_many([job(n) for n in range(5)])
    assert queue.claim().job_id == "job-0"  # running: no longer waiting
    batch = [job(7), job(2), job(0), job(8), job(7)]
    # job-7 and job-8 join behind job-1..4; job-2 is already second; job-0 waits for nothing
    accepted = queue.enqueue_many(batch)
    assert [a.position for a in accepted] == [5, 2, 0, 6, 5]
    assert [a.new for a in accepted] == [True, False, False, True, False]
    assert queue.size() == 6


def test_a_job_sent_twice_is_queued_once(tmp_path) -> None:
    queue, _ = open_core_store(tmp_path)
    queue.enqueue(job(1))
    queue.enqueue(job(1))
    assert queue.size() == 1
    queue.enqueue(job(1, url="http://mw/cb?attempt=2"))
    assert queue.size() == 2, "a retried job is a new run"


def test_claimed_jobs_survive_a_crash(tmp_path) -> None:
    queue, _ = open_core_store(tmp_path)
    queue.enqueue(job(1))
    queue.enqueue(job(2))
    claimed = queue.claim()
    assert claimed is not None
    reopened, _ = open_core_store(tmp_path)  # as a restarted process would
    assert reopened.requeue_claimed() == 1
    assert [reopened.claim().job_id, reopened.claim().job_id] == ["job-1", "job-2"]


def test_ack_forgets_the_job(tmp_path) -> None:
    queue, _ = open_core_store(tmp_path)
    queue.enqueue(job(1))
    claimed = queue.claim()
    queue.ack(claimed.seq)
    assert queue.requeue_claimed() == 0


def test_outbox_sends_only_the_newest_callback_of_a_job(tmp_path) -> None:
    _, outbox = open_core_store(tmp_path)
    outbox.add("a", "u", {"status": "running"}, None)
    outbox.add("a", "u", {"status": "succeeded"}, None)
    outbox.add("b", "u", {"status": "running"}, None)
    first, second = outbox.lease_next(), outbox.lease_next()
    assert (first.job_id, first.payload["status"]) == ("a", "succeeded")
    assert (second.job_id, second.payload["status"]) == ("b", "running")
    assert outbox.lease_next() is None
    outbox.delivered([first])
    outbox.delivered([second])
    assert outbox.pending() == 0, "a's running callback went with its succeeded one"


def test_outbox_sends_one_callback_of_a_job_at_a_time(tmp_path) -> None:
    _, outbox = open_core_store(tmp_path)
    outbox.add("a", "u", {"status": "running"}, None)
    running = outbox.lease_next()
    outbox.add("a", "u", {"status": "succeeded"}, None)
    assert outbox.lease_next() is None, "the succeeded callback waits for the one in flight"
    outbox.delivered([running])
    final = outbox.lease_next()
    assert (final.payload["status"], final.attempts) == ("succeeded", 1)


def test_attempts_carry_over_to_the_callback_that_replaces_a_failing_one(tmp_path) -> None:
    _, outbox = open_core_store(tmp_path)
    outbox.add("a", "u", {"status": "running"}, None)
    running = outbox.lease_next()
    outbox.retry_later(running.seq, 0, "connection refused")
    outbox.add("a", "u", {"status": "succeeded"}, None)
    final = outbox.lease_next()
    assert (final.payload["status"], final.attempts) == ("succeeded", 2)


def test_a_retried_job_has_its_own_callbacks(tmp_path) -> None:
    _, outbox = open_core_store(tmp_path)
    outbox.add("a", "u?attempt=1", {"status": "failed"}, None)
    outbox.add("a", "u?attempt=2", {"status": "running"}, None)
    assert {outbox.lease_next().url, outbox.lease_next().url} == {"u?attempt=1", "u?attempt=2"}


def test_outbox_retries_after_the_backoff(tmp_path) -> None:
    _, outbox = open_core_store(tmp_path)
    outbox.add("a", "u", {"status": "running"}, None)
    first = outbox.lease_next()
    outbox.retry_later(first.seq, 3600, "connection refused")
    assert outbox.lease_next() is None
    assert outbox.waiting_for_retry() == 1
    outbox.retry_later(first.seq, 0, "connection refused")
    assert outbox.lease_next().attempts == 2


def post_signed(app: Flask, settings: Settings, path: str, body: dict):
    raw = json.dumps(body).encode()
    return app.test_client().post(
        path,
        data=raw,
        content_type="application/json",
        headers=signed_headers(settings, "POST", path, raw),
    )


def test_core_submit_requires_service_credentials(core_app: Flask) -> None:
    response = core_app.test_client().post(
        "/job_submit", json={"job_id": "a", "data": "x", "callback_url": "http://mw/cb"}
    )
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"


def test_core_submit_queues_and_reports_the_position(core_app: Flask, settings: Settings) -> None:
    for n in (1, 2):
        response = post_signed(
            core_app,
            settings,
            "/job_submit",
            {"job_id": f"j{n}", "data": "x", "callback_url": "http://mw/cb"},
        )
        assert response.status_code == 202
        assert response.get_json()["position"] == n
    size = core_app.test_client().get("/queue_size").get_json()
    assert size["queue_size"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": "x", "callback_url": "http://a"}, "job_id"),
        ({"job_id": "a", "callback_url": "http://a"}, "data"),
        (
            {"job_id": "a", "data": 1, "callback_url": "http://a", "job_type": "no spaces"},
            "job_type",
        ),
        ({"job_id": "a", "data": "x", "callback_url": "file:///etc/passwd"}, "callback_url"),
    ],
)
def test_core_submit_names_the_bad_field(
    core_app: Flask, settings: Settings, body: dict, field: str
) -> None:
    response = post_signed(core_app, settings, "/job_submit", body)
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_purge_empties_the_queue(core_app: Flask, settings: Settings) -> None:
    post_signed(
        core_app,
        settings,
        "/job_submit",
        {"job_id": "j", "data": "x", "callback_url": "http://mw/cb"},
    )
    assert core_app.test_client().post("/purge").status_code == 401
    response = post_signed(core_app, settings, "/purge", {})
    assert response.get_json()["purged_jobs"] == 1
    assert core_app.test_client().get("/queue_size").get_json()["queue_size"] == 0


def test_readyz_names_what_is_not_ready(core_app: Flask) -> None:
    client = core_app.test_client()
    assert client.get("/readyz").status_code == 200
    core_app.extensions["toy_platform"].readiness.append(("disk", lambda: "full"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["reason"] == "disk: full"


def test_a_batch_is_queued_in_order_with_each_jobs_request_id(
    core_app: Flask, settings: Settings
) -> None:
    jobs = [
        {"job_id": f"b{n}", "data": "x", "callback_url": "http://mw/cb", "request_id": f"req-{n}"}
        for n in range(3)
    ]
    response = post_signed(core_app, settings, "/job_submit/batch", {"jobs": jobs})
    assert response.status_code == 202
    assert [j["position"] for j in response.get_json()["jobs"]] == [1, 2, 3]
    queue = core_app.extensions["core"].queue.store
    claimed = [queue.claim() for _ in range(3)]
    assert [(j.job_id, j.request_id) for j in claimed] == [
        ("b0", "req-0"),
        ("b1", "req-1"),
        ("b2", "req-2"),
    ]


@pytest.mark.parametrize(
    ("jobs", "field"),
    [
        ([], "jobs"),
        ("x", "jobs"),
        (
            [{"job_id": "a", "data": "x", "callback_url": "http://a"}, {"job_id": "b"}],
            "jobs[1].callback_url",
        ),
    ],
)
def test_a_bad_batch_is_refused_whole(
    core_app: Flask, settings: Settings, jobs: object, field: str
) -> None:
    response = post_signed(core_app, settings, "/job_submit/batch", {"jobs": jobs})
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert core_app.extensions["core"].queue.size() == 0


def test_callbacks_waiting_out_a_back_off_can_be_sent_at_once(tmp_path) -> None:
    _, outbox = open_core_store(tmp_path)
    outbox.add("a", "http://mw:1/job_callback/a", {"status": "running"}, None)
    outbox.add("b", "http://other:2/job_callback/b", {"status": "running"}, None)
    for callback in outbox.lease_batch(2):
        outbox.retry_later(callback.seq, 3600, "connection refused")
    assert outbox.lease_next() is None
    assert outbox.retry_now("http://mw:1/") == 1
    assert [c.job_id for c in outbox.lease_batch(5)] == ["a"]


# -- the loops: they survive bad items and database errors ------------------------


class Fatal(BaseException):
    """An error that no loop catches: it kills the thread it reaches."""


@pytest.fixture
def pools(tmp_path: Path) -> Iterator[Callable[..., CorePool]]:
    """Makes CorePools on TMP_PATH's queue (the watchdog asleep unless asked) and stops them."""
    made: list[CorePool] = []

    def make(workers: int = 1, senders: int = 0, **options: Any) -> CorePool:
        queue, outbox = open_core_store(tmp_path)
        settings = {"job_delay": 0.0, "check_every": 3600.0} | options
        pool = CorePool(
            queue,
            outbox,
            b"service-key",
            settings["job_delay"],
            0.0,
            workers=workers,
            senders=senders,
            wait_if_paused=lambda: None,
            metrics=core_metrics(CollectorRegistry()),
            check_every=settings["check_every"],
            job_modules=settings.get("job_modules", ()),
        )
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.stop()


@pytest.fixture
def middleware_stub() -> Iterator[HttpStub]:
    """Takes every callback, as the middleware does."""

    def answer(request: Received) -> tuple[int, Any]:
        if request.path.endswith("/job_callbacks"):
            items = request.body["callbacks"]
            return 200, {"results": [{"job_id": c["job_id"], "outcome": "applied"} for c in items]}
        return 200, {"changed": True}

    stub = HttpStub(answer)
    yield stub
    stub.close()


def reports(outbox: CallbackOutbox) -> list[dict[str, Any]]:
    """The callbacks waiting in the outbox, oldest first."""
    return [json.loads(r["payload"]) for r in outbox.db.query("SELECT payload FROM outbox")]


def restarts(pool: CorePool, thread: str) -> float:
    return pool.metrics.thread_restarts.labels(thread)._value.get()  # type: ignore[no-any-return]


def test_quick_jobs_are_taken_and_reported_a_batch_at_a_time(
    pools: Callable[..., CorePool], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = pools(workers=1)
    pool.queue.enqueue_many([job(n) for n in range(20)])
    transactions = 0
    begin = pool.queue.db._transaction_held

    def counted(conn: sqlite3.Connection) -> Any:
        nonlocal transactions
        transactions += 1
        return begin(conn)

    monkeypatch.setattr(pool.queue.db, "_transaction_held", counted)
    pool.start()
    wait_until(lambda: len(reports(pool.outbox)) == 20, 10, what="20 reports")
    assert [r["result"] for r in reports(pool.outbox)] == [f"data-{n}"[::-1] for n in range(20)]
    assert pool.queue.size() == pool.queue.running() == 0
    # start-up (2), then 16 + 4: a claim and a report each, and a claim finding none (one by
    # one it was 2 a job)
    assert transactions <= 7


def test_a_batch_cut_short_by_an_error_of_ours_reports_the_jobs_done_and_queues_the_rest(
    pools: Callable[..., CorePool], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = pools(workers=1)
    pool.queue.enqueue_many([job(n) for n in range(5)])
    process = pool._process
    calls = itertools.count()

    def process_or_fail(queued: QueuedJob, execution: Any) -> dict[str, Any]:
        if next(calls) == 2:
            raise sqlite3.OperationalError("database is locked")
        return process(queued, execution)

    monkeypatch.setattr(pool, "_process", process_or_fail)
    pool.start()
    wait_until(lambda: len(reports(pool.outbox)) == 5, 10, what="5 reports")
    assert sorted(r["result"] for r in reports(pool.outbox)) == [f"{n}-atad" for n in range(5)]
    assert pool.queue.size() == pool.queue.running() == 0
    claims = pool.queue.db.query("SELECT COUNT(*) AS n FROM queue")
    assert claims[0]["n"] == 0


def test_a_sender_puts_only_a_safe_request_id_in_headers(
    pools: Callable[..., CorePool], middleware_stub: HttpStub
) -> None:
    pool = pools(workers=0, senders=1)
    pool.start()
    for n in range(3):  # one at a time: each goes alone, with its request ID in a header
        url = f"{middleware_stub.url}/job_callback/j{n}"
        pool.outbox.add(f"j{n}", url, {"status": "running"}, "é€")
        pool.callbacks_ready.notify()
        wait_until(lambda: pool.outbox.pending() == 0, 10, what="the callback delivered")
    assert [r.path for r in middleware_stub.received] == [f"/job_callback/j{n}" for n in range(3)]
    for request in middleware_stub.received:
        assert re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", request.headers["X-Request-ID"])
    assert pool.threads.alive("sender-") == 1
    assert restarts(pool, "sender-0") == 0


def test_a_batch_of_callbacks_carries_only_safe_request_ids(
    pools: Callable[..., CorePool], middleware_stub: HttpStub
) -> None:
    pool = pools(workers=0, senders=1)
    for n, request_id in enumerate(["é€", "req-1"]):
        pool.outbox.add(
            f"j{n}", f"{middleware_stub.url}/job_callback/j{n}", {"status": "running"}, request_id
        )
    pool.start()
    wait_until(lambda: pool.outbox.pending() == 0, 10, what="the callbacks delivered")
    (batch,) = middleware_stub.received
    assert [c.get("request_id") for c in batch.body["callbacks"]] == [None, "req-1"]


def test_a_cancel_the_middleware_answers_with_stops_the_running_handler(
    pools: Callable[..., CorePool],
) -> None:
    """A cancel that did not reach core (down, unreachable then) was lost on the embedded
    queue: the middleware says it in its answer to the job's reports, which went unread."""

    def answer(request: Received) -> tuple[int, Any]:
        if request.path.endswith("/job_callbacks"):
            items = request.body["callbacks"]
            results = [
                {"job_id": c["job_id"], "outcome": "applied", "cancel_requested": True}
                for c in items
            ]
            return 200, {"results": results}
        return 200, {"changed": True, "cancel_requested": True}

    stub = HttpStub(answer)
    try:
        pool = pools(workers=1, senders=1, job_modules=("support.sandbox_types",))
        url = f"{stub.url}/job_callback/j1"
        pool.queue.enqueue(QueuedJob("j1", None, url, job_type="sbx_polite"))
        pool.start()

        def final() -> dict[str, Any] | None:
            bodies = [r.body for r in stub.received if r.path.startswith("/job_callback/")]
            done = [b for b in bodies if b["status"] != "running"]
            return done[0] if done else None

        report = wait_until(final, 20, what="the job's final report")
        assert report["status"] == "cancelled", report
        assert pool.queue.running() == 0
    finally:
        stub.close()


def test_a_running_reverse_job_stops_at_a_cancel_within_its_delay(
    pools: Callable[..., CorePool], middleware_stub: HttpStub
) -> None:
    """The platform's own type runs in-process: a cancel asked while it ran was not heard,
    and the job, cancel asked, ended succeeded after its whole delay."""
    pool = pools(workers=1, senders=1, job_delay=30.0)
    job = QueuedJob("j1", "abc", f"{middleware_stub.url}/job_callback/j1")
    pool.queue.enqueue(job)
    pool.start()
    wait_until(lambda: pool.queue.running() == 1, 10, what="the job running")
    asked = time.monotonic()
    assert pool.cancel(job)

    def final() -> dict[str, Any] | None:
        bodies = [c for r in middleware_stub.received for c in r.body.get("callbacks", [r.body])]
        done = [b for b in bodies if b.get("status") not in (None, "running")]
        return done[0] if done else None

    report = wait_until(final, 10, what="the job's final report")
    assert (report["status"], report["error"]) == ("cancelled", "cancelled while it ran")
    assert time.monotonic() - asked < 2
    assert pool.queue.running() == 0


def test_a_job_whose_processing_raises_is_reported_failed_with_the_error(
    pools: Callable[..., CorePool], monkeypatch: pytest.MonkeyPatch
) -> None:
    def reverse_or_break(text: str) -> str:
        if text == "poison":
            raise ValueError("cannot reverse this")
        return text[::-1]

    monkeypatch.setattr("toy_platform.jobs.running.reverse_text", reverse_or_break)
    pool = pools()
    pool.queue.enqueue(QueuedJob("bad", "poison", "http://mw/cb"))
    pool.queue.enqueue(QueuedJob("good", "abc", "http://mw/cb"))
    pool.start()
    wait_until(lambda: len(reports(pool.outbox)) == 2, 10, what="both jobs reported")
    finals = {r["status"]: r for r in reports(pool.outbox)}
    assert finals["failed"]["error"] == "processing failed: ValueError: cannot reverse this"
    assert finals["succeeded"]["result"] == "cba"
    assert (pool.queue.size(), pool.queue.running()) == (0, 0)


@pytest.mark.parametrize(
    ("job_delay", "statuses"), [(0.0, ["succeeded"]), (0.5, ["running", "succeeded"])]
)
def test_a_quick_built_in_job_reports_once_a_slower_one_says_it_runs(
    pools: Callable[..., CorePool], job_delay: float, statuses: list[str]
) -> None:
    """A reverse job of no delay wrote a 'running' report it superseded at once: a transaction
    and a report per job for nothing. Its final report carries when it started."""
    pool = pools(job_delay=job_delay)
    pool.queue.enqueue(QueuedJob("j1", "abc", "http://mw/cb"))
    pool.start()
    wait_until(lambda: pool.queue.size() + pool.queue.running() == 0, 10, what="the job done")
    payloads = reports(pool.outbox)
    assert [p["status"] for p in payloads] == statuses
    assert payloads[-1]["started_at"] <= payloads[-1]["completed_at"]


def test_a_job_that_stopped_core_each_time_is_failed_instead_of_run_again(
    tmp_path: Path, pools: Callable[..., CorePool]
) -> None:
    queue, _ = open_core_store(tmp_path)
    queue.enqueue(job(1))
    for _ in range(3):  # core was killed three times while it processed this job
        assert queue.claim() is not None
        queue.requeue_claimed()
    pool = pools()
    pool.start()
    payloads = wait_until(lambda: reports(pool.outbox), 10, what="the job reported")
    assert [p["status"] for p in payloads] == ["failed"]
    assert payloads[0]["error"].startswith("gave up after 3 attempts: core stopped each time")
    assert (pool.queue.size(), pool.queue.running()) == (0, 0)


def test_a_claim_cut_short_by_an_error_of_ours_does_not_count(tmp_path: Path) -> None:
    queue, _ = open_core_store(tmp_path)
    queue.enqueue(job(1))
    for _ in range(5):
        claimed = queue.claim()
        queue.release([claimed.seq])
    assert queue.claim().claims == 1


def test_a_worker_waits_out_a_locked_database_then_finishes_the_job(
    tmp_path: Path, pools: Callable[..., CorePool]
) -> None:
    pool = pools(job_delay=1.0)
    pool.start()
    pool.queue.enqueue(job(1))
    pool.jobs_ready.notify()
    wait_until(lambda: reports(pool.outbox), 10, what="the job started")
    locker = sqlite3.connect(tmp_path / "core.sqlite3", isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process, as a backup would
    try:
        stalled = wait_until(
            lambda: (stall := pool.work_stalled(0.5)) and "database is locked" in stall[1],
            20,
            what="a stall for the locked database",
        )
        assert stalled
        assert pool.threads.alive("worker-") == 1
    finally:
        locker.execute("COMMIT")
    wait_until(lambda: reports(pool.outbox)[-1]["status"] == "succeeded", 20, what="job done")
    assert (pool.queue.size(), pool.queue.running()) == (0, 0)
    assert pool.work_stalled(0.5) is None
    assert queue_claims(tmp_path) == []


def queue_claims(tmp_path: Path) -> list[int]:
    queue, _ = open_core_store(tmp_path)
    return [r["claims"] for r in queue.db.query("SELECT claims FROM queue")]


def test_a_callback_that_cannot_be_sent_is_replaced_by_a_failed_report(
    pools: Callable[..., CorePool], middleware_stub: HttpStub
) -> None:
    pool = pools(workers=0, senders=1)
    payload = {"status": "succeeded", "result": float("nan"), "started_at": "t0"}
    pool.outbox.add("j1", f"{middleware_stub.url}/job_callback/j1", payload, "req-1")
    pool.start()
    wait_until(lambda: middleware_stub.received, 20, what="a report delivered")
    (report,) = [r.body for r in middleware_stub.received]
    assert (report["status"], report["started_at"]) == ("failed", "t0")
    assert report["error"].startswith("core could not report this job's succeeded state: error:")
    assert "not JSON compliant" in report["error"]
    wait_until(lambda: pool.outbox.pending() == 0, 10, what="the outbox empty")
    assert pool.outbox.parked() == 0
    assert pool.metrics.callbacks.labels("replaced")._value.get() == 1


def test_a_callback_that_nothing_can_send_is_parked_with_its_error(
    pools: Callable[..., CorePool],
) -> None:
    pool = pools(workers=0, senders=1)
    pool.outbox.add("j1", "http://127.0.0.1:99999/job_callback/j1", {"status": "running"}, None)
    pool.start()
    wait_until(lambda: pool.outbox.parked() == 1, 30, what="the callback parked")
    assert pool.outbox.pending() == 0
    (row,) = pool.outbox.db.query("SELECT payload, last_error FROM outbox")
    assert json.loads(row["payload"])["status"] == "failed"
    assert "Failed to parse: http://127.0.0.1:99999/" in row["last_error"]
    assert pool.threads.alive("sender-") == 1
    assert pool.callbacks_stalled(0.0) is None, "nothing left to send is not a stall"


def test_a_thread_killed_by_an_error_is_restarted_counted_and_named_until_then(
    pools: Callable[..., CorePool],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = pools(workers=1, senders=1)
    claim = pool.queue.claim_batch
    calls = itertools.count()

    def claim_or_die(*args: Any) -> list[QueuedJob]:
        if next(calls) == 0:
            raise Fatal("out of luck")
        return claim(*args)

    monkeypatch.setattr(pool.queue, "claim_batch", claim_or_die)
    pool.start()
    wait_until(lambda: pool.threads.alive("worker-") == 0, 10, what="the worker dead")
    assert dead_threads_reason(pool) == "threads not running: worker-0 (died: Fatal: out of luck)"
    pool.threads.check()  # the watchdog's round
    assert pool.dead_threads() == []
    assert restarts(pool, "worker-0") == 1
    restarted = [r for r in caplog.records if getattr(r, "event", None) == "thread_restarted"]
    assert [(r.thread_name, r.error) for r in restarted] == [("worker-0", "Fatal: out of luck")]
    pool.queue.enqueue(job(1))
    pool.jobs_ready.notify()
    wait_until(lambda: reports(pool.outbox), 10, what="the restarted worker to work")


def test_the_watchdog_restarts_a_dead_sender_by_itself(
    pools: Callable[..., CorePool], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = pools(workers=0, senders=1, check_every=0.05)
    lease = pool.outbox.lease_batch
    calls = itertools.count()

    def lease_or_die(limit: int) -> list[Callback]:
        if next(calls) == 0:
            raise Fatal("gone")
        return lease(limit)

    monkeypatch.setattr(pool.outbox, "lease_batch", lease_or_die)
    pool.start()
    wait_until(lambda: restarts(pool, "sender-0") == 1, 10, what="the sender restarted")
    assert pool.threads.alive("sender-") == 1


def test_queue_size_counts_workers_and_senders_apart(settings: Settings) -> None:
    app = core.create_app(settings)
    try:
        client = app.test_client()
        wait_until(lambda: client.get("/queue_size").get_json()["callback_senders_alive"] == 4, 10)
        size = client.get("/queue_size").get_json()
        assert (size["workers_alive"], size["callbacks_parked"]) == (1, 0)
        ready = client.get("/readyz").get_json()
        assert (ready["ready"], ready["stalled_s"]) == (True, None)
    finally:
        app.extensions["core"].queue.stop()


def test_callbacks_waiting_for_a_middleware_that_is_down_are_not_a_stall(
    pools: Callable[..., CorePool],
) -> None:
    pool = pools(workers=0, senders=1)
    pool.outbox.add("j1", "http://127.0.0.1:1/job_callback/j1", {"status": "running"}, None)
    pool.start()
    reason = wait_until(pool.senders.not_ready, 10, what="the senders to say why")
    assert reason == (
        "cannot deliver callbacks to the middleware at http://127.0.0.1:1:"
        " connection refused (not running?); 1 callbacks wait"
    )
    assert pool.callbacks_stalled(0.0) is None


def test_a_batch_the_middleware_refuses_whole_goes_again_one_by_one(
    pools: Callable[..., CorePool],
) -> None:
    def answer(request: Received) -> tuple[int, Any]:
        if request.path.endswith("/job_callbacks"):
            return 400, {"error": "'status' is bad", "code": "invalid_field"}
        if request.body["status"] == "bogus":
            return 400, {"error": "'status' is bad", "code": "invalid_field"}
        return 200, {"changed": True}

    stub = HttpStub(answer)
    try:
        pool = pools(workers=0, senders=1)
        for n, status in enumerate(["running", "bogus", "succeeded"]):
            pool.outbox.add(f"j{n}", f"{stub.url}/job_callback/j{n}", {"status": status}, None)
        pool.start()
        wait_until(lambda: pool.outbox.pending() == 0, 30, what="every callback settled")
        delivered = [
            (r.path, r.body["status"]) for r in stub.received if r.path != "/job_callbacks"
        ]
        assert ("/job_callback/j0", "running") in delivered
        assert ("/job_callback/j2", "succeeded") in delivered
        final = [b for p, b in delivered if p == "/job_callback/j1"][-1]
        assert final == "failed", "the refused one was replaced by a 'failed' report"
    finally:
        stub.close()


def test_the_embedded_queue_says_which_runs_it_holds(tmp_path) -> None:
    queue, outbox = open_core_store(tmp_path)
    queue.enqueue(job(1))
    outbox.add("job-2", "http://mw/cb", {"status": "succeeded"}, None)  # reported, not sent
    asked = [job(1), job(2), job(3), job(1, url="http://mw/cb?attempt=2")]
    assert queue.held(asked) == [True, True, False, False]
