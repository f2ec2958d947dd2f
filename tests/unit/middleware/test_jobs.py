"""The job stores, each test on both (SQLite and PostgreSQL) unless it is about one."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from toy_platform.clock import utc_ago, utc_now
from toy_platform.config import load_settings
from toy_platform.jobs.lifecycle import RECONCILE_MARGIN_S, IdempotencyKeyReused, SilenceLimits
from toy_platform.jobs.model import Report, new_job_id
from toy_platform.jobs.types import DEFAULT_TIMEOUT_S
from toy_platform.middleware.stores.base import JobStore, StoreSetupError
from toy_platform.middleware.stores.choice import open_store
from toy_platform.middleware.stores.postgres import PostgresJobStore
from toy_platform.middleware.stores.sqlite import SqliteJobStore
from toy_platform.unavailable import StoreUnavailable
from toy_platform.urls import mask_url


def _open(tmp_path: Path, url: str) -> JobStore:
    return open_store(load_settings(home=tmp_path, store_url=url))


@pytest.fixture
def store(tmp_path: Path, store_url: str) -> Iterator[JobStore]:
    opened = _open(tmp_path, store_url)
    yield opened
    opened.close()


def _callback(store: JobStore, job_id: str, status: str, attempt: int = 1) -> Any:
    update = {"status": status, "started_at": "2026-01-01T00:00:00.000+00:00"}
    return store.apply_reports([Report(job_id, attempt, update, None)])[0]


def _true_counts(store: JobStore, owner: str | None = None) -> dict[str, int]:
    """Counted the slow way, from the jobs themselves."""
    result = dict.fromkeys(("queued", "running", "succeeded", "failed", "cancelled"), 0)
    page = store.page(owner, None, 1000, 0)
    for job in page.jobs:
        result[job["status"]] += 1
    return result


# -- what both stores do alike ---------------------------------------------------------


def test_counts_and_totals_follow_every_change_without_counting_the_jobs(
    store: JobStore,
) -> None:
    ids = [store.create("alice", f"j{n}", "x", None)[0]["job_id"] for n in range(6)]
    store.create("bob", "b", "x", None)
    _callback(store, ids[0], "running")
    _callback(store, ids[1], "succeeded")
    _callback(store, ids[2], "failed")
    _callback(store, ids[3], "failed")
    store.retry(ids[3], "alice")
    assert store.refuse(ids[4], 1, "core refused the job: HTTP 400")
    _callback(store, ids[1], "running")  # stale: no change anywhere

    expected = {"queued": 2, "running": 1, "succeeded": 1, "failed": 2, "cancelled": 0}
    assert store.counts_by_status("alice") == expected == _true_counts(store, "alice")
    assert store.counts_by_status() == {**expected, "queued": 3}
    assert store.page("alice", "failed", 10, 0).total == 2
    assert store.page("alice", None, 10, 0).total == 6
    assert store.page(None, None, 10, 0).total == 7
    assert store.page("carol", None, 10, 0).total == 0
    assert store.reset() == 7
    assert store.counts_by_status() == dict.fromkeys(expected, 0)
    assert store.page(None, None, 10, 0).total == 0


def test_job_ids_sort_in_the_order_the_jobs_came(store: JobStore) -> None:
    """Time-ordered IDs: a new job's index entries go beside the last ones, not anywhere."""
    ids = []
    for n in range(5):
        ids.append(store.create("alice", f"j{n}", "x", None)[0]["job_id"])
        time.sleep(0.002)  # the next one in a later millisecond
    assert ids == sorted(ids)
    assert all(len(job_id) == 32 and uuid.UUID(job_id).version == 7 for job_id in ids)


def test_a_job_id_carries_its_millisecond_and_74_random_bits() -> None:
    at_ns = 1_795_000_000_123_456_789
    made = {new_job_id(at_ns) for _ in range(1000)}
    assert len(made) == 1000
    assert {uuid.UUID(job_id).int >> 80 for job_id in made} == {at_ns // 1_000_000}
    assert max(made) < new_job_id(at_ns + 1_000_000)  # the next millisecond sorts after


def test_keyset_pages_walk_every_job_once_newest_first(store: JobStore) -> None:
    made = [store.create("alice", f"j{n}", "x", None)[0]["job_id"] for n in range(25)]
    store.create("bob", "other", "x", None)
    seen, before, totals = [], None, set()
    while True:
        page = store.page("alice", None, 10, 0, before)
        seen += [job["job_id"] for job in page.jobs]
        totals.add(page.total)
        if page.next_before is None:
            break
        before = int(page.next_before)
    assert seen == made[::-1]
    assert totals == {25}
    by_offset = store.page("alice", None, 10, 10).jobs
    assert [job["job_id"] for job in by_offset] == made[::-1][10:20]


def test_a_full_last_page_has_no_cursor_to_an_empty_one(store: JobStore) -> None:
    """A cursor came with every full page: 20 jobs in pages of 10 ended on an empty page."""
    for n in range(20):
        store.create("alice", f"j{n}", "x", None)
    first = store.page("alice", None, 10, 0)
    assert first.next_before is not None
    last = store.page("alice", None, 10, 0, int(first.next_before))
    assert (len(last.jobs), last.next_before) == (10, None)


def test_a_claimed_job_is_not_claimed_again_until_released_or_its_lease_runs_out(
    store: JobStore,
) -> None:
    ids = [store.create("alice", f"j{n}", "x", None)[0]["job_id"] for n in range(3)]
    first = store.claim_unforwarded(2, lease_s=60)
    assert [job["job_id"] for job in first] == ids[:2]
    assert [job["job_id"] for job in store.claim_unforwarded(10, lease_s=0.3)] == ids[2:]
    assert store.claim_unforwarded(10) == []
    store.release([ids[0]])
    assert [job["job_id"] for job in store.claim_unforwarded(10)] == [ids[0]]
    time.sleep(0.4)  # the lease of the third ran out: a middleware that died held it
    assert [job["job_id"] for job in store.claim_unforwarded(10)] == [ids[2]]
    store.mark_forwarded(
        [
            {"job_id": ids[1], "attempt": 1, "sent_at": "t", "position": 1},
            {"job_id": ids[2], "attempt": 1, "sent_at": "t", "position": 2},
        ]
    )
    assert store.waiting_for_core() == 1
    store.release(ids)
    assert [job["job_id"] for job in store.claim_unforwarded(10)] == [ids[0]]


def test_the_idempotency_key_returns_the_first_job_and_refuses_other_content(
    store: JobStore,
) -> None:
    job, created = store.create("alice", "n", "d", None, "key-1")
    again, created_again = store.create("alice", "n", "d", None, "key-1")
    assert created and not created_again and again["job_id"] == job["job_id"]
    with pytest.raises(IdempotencyKeyReused):
        store.create("alice", "n", "other data", None, "key-1")
    assert store.create("bob", "n", "d", None, "key-1")[1]  # keys are per user
    assert store.page(None, None, 10, 0).total == 2


def test_a_newer_schema_than_this_release_knows_is_refused(tmp_path: Path, store_url: str) -> None:
    _open(tmp_path, store_url).close()
    if store_url == "sqlite":
        with sqlite3.connect(tmp_path / "data" / "middleware.sqlite3") as conn:
            conn.execute("PRAGMA user_version = 99")
    else:
        with psycopg.connect(store_url) as conn:
            conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreSetupError, match="schema version 99, newer than") as caught:
        _open(tmp_path, store_url)
    assert "upgrade toy-platform" in str(caught.value)


# -- indexes: a page and its total stay cheap however many jobs there are --------------


def test_sqlite_reads_a_users_page_and_total_through_indexes(tmp_path: Path) -> None:
    """Without an index on both, each poll read all of the user's (or all the platform's)
    jobs of that status, 55 ms at 100,000 jobs; counting them for `total` grew with the
    user's history (10 ms at 100,000)."""
    store = SqliteJobStore(tmp_path / "middleware.sqlite3")
    store.create("alice", "a job", "data", None)
    conn = store.db.connection()  # this thread's connection: the one page() uses here
    for before in (None, 10**9):
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        page = store.page("alice", "queued", 10, 0, before)
        conn.set_trace_callback(None)
        assert page.total == 1 and page.jobs[0]["owner"] == "alice"
        assert len(statements) == 2, statements
        count_plan = _sqlite_plan(conn, statements[0])
        assert "job_counts" in count_plan and "(owner=? AND status=?)" in count_plan
        page_plan = _sqlite_plan(conn, statements[1])
        assert "jobs_owner_status (owner=? AND status=?" in page_plan, page_plan
        assert "TEMP B-TREE" not in page_plan  # no sort: the index gives the order


def _sqlite_plan(conn: sqlite3.Connection, sql: str) -> str:
    return " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))


def test_postgres_reads_a_users_page_and_total_through_indexes(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresJobStore(pg_url)
    with psycopg.connect(pg_url) as conn:  # 200,000 jobs of 100 users, so plans are real
        conn.execute(
            "INSERT INTO jobs (job_id, job_name, owner, data, status, created_at,"
            " created_epoch) SELECT 'j' || n, 'n', 'user' || (n % 100), 'd',"
            " (ARRAY['queued','running','succeeded','failed'])[1 + n % 4], 't', 0"
            " FROM generate_series(1, 200000) AS n"
        )
        conn.execute(
            "INSERT INTO job_counts SELECT owner, status, COUNT(*) FROM jobs GROUP BY owner, status"
        )
        conn.execute("ANALYZE")
    statements: list[tuple[Any, Any]] = []
    original = psycopg.Connection.execute

    def recording(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if query:  # not the pool's check of the connection (an empty query)
            statements.append((query, params))
        return original(self, query, params, **kwargs)

    for before in (None, 150_000):
        statements.clear()
        monkeypatch.setattr(psycopg.Connection, "execute", recording)
        page = store.page("user7", "failed", 10, 0, before)
        monkeypatch.undo()
        assert page.total == 2000 and len(page.jobs) == 10
        assert len(statements) == 2, statements
        count_plan, page_plan = (_pg_plan(pg_url, *statement) for statement in statements)
        assert " jobs " not in count_plan and "job_counts" in count_plan, count_plan
        assert "Index Scan Backward using jobs_owner_status" in page_plan, page_plan
        assert "Sort" not in page_plan and "Seq Scan" not in page_plan, page_plan
    store.close()


def _pg_plan(url: str, query: Any, params: Any) -> str:
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"EXPLAIN {query}", params).fetchall()
    return " ".join(str(row[0]) for row in rows)


# -- SQLite: files of earlier releases ---------------------------------------------------


def test_a_sqlite_file_of_an_earlier_release_is_brought_up_to_date_with_its_counts(
    tmp_path: Path,
) -> None:
    from toy_platform.middleware.stores.sqlite import MIGRATIONS

    path = tmp_path / "middleware.sqlite3"
    with sqlite3.connect(path) as conn:  # as the release before versioning left it
        conn.executescript(MIGRATIONS[0])
        conn.execute(
            "INSERT INTO jobs (job_id, job_name, owner, data, created_at, created_epoch,"
            " status) VALUES ('a', 'n', 'alice', 'd', 't', 0, 'succeeded')"
        )
    store = SqliteJobStore(path)
    assert store.counts_by_status("alice")["succeeded"] == 1
    store.create("alice", "n", "d", None)
    assert store.page("alice", None, 10, 0).total == 2


# -- PostgreSQL: several middlewares over one store -------------------------------------


def _together(count: int, work: Any) -> list[Any]:
    """WORK(n) for n in range(COUNT), each in its own thread, all let go at once."""
    barrier, results = threading.Barrier(count), [None] * count

    def run(n: int) -> None:
        barrier.wait()
        results[n] = work(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_several_middlewares_never_claim_one_job_twice(pg_url: str) -> None:
    stores = [PostgresJobStore(pg_url) for _ in range(3)]
    made = {stores[0].create("alice", f"j{n}", "x", None)[0]["job_id"] for n in range(300)}

    def claim_all(n: int) -> list[str]:
        mine: list[str] = []
        while batch := stores[n % 3].claim_unforwarded(7):
            mine += [job["job_id"] for job in batch]
        return mine

    claimed = [job_id for batch in _together(6, claim_all) for job_id in batch]
    assert sorted(claimed) == sorted(made)  # each once, none lost
    for store in stores:
        store.close()


def test_one_idempotency_key_sent_to_two_middlewares_at_once_makes_one_job(pg_url: str) -> None:
    stores = [PostgresJobStore(pg_url) for _ in range(2)]
    for round_ in range(10):
        key = f"key-{round_}"
        results = _together(8, lambda n, k=key: stores[n % 2].create("alice", "n", "d", None, k))
        assert len({job["job_id"] for job, _ in results}) == 1
        assert sum(created for _, created in results) == 1
    assert stores[0].page("alice", None, 100, 0).total == 10
    assert stores[1].counts_by_status("alice")["queued"] == 10
    for store in stores:
        store.close()


def test_one_callback_delivered_to_two_middlewares_at_once_is_applied_once(pg_url: str) -> None:
    stores = [PostgresJobStore(pg_url) for _ in range(2)]
    job_id = stores[0].create("alice", "n", "d", None)[0]["job_id"]
    for status in ("running", "succeeded"):
        outcomes = _together(6, lambda n, s=status: _callback(stores[n % 2], job_id, s))
        assert sum(o.changed for o in outcomes) == 1
    events = [e["status"] for e in stores[1].events(job_id)]
    assert events == ["submitted", "forwarded", "queued", "running", "succeeded"]  # core took it
    assert stores[0].counts_by_status("alice") == {
        "queued": 0,
        "running": 0,
        "succeeded": 1,
        "failed": 0,
        "cancelled": 0,
    }
    for store in stores:
        store.close()


def test_batches_of_callbacks_from_two_middlewares_do_not_deadlock(pg_url: str) -> None:
    stores = [PostgresJobStore(pg_url) for _ in range(2)]
    ids = [stores[0].create(f"u{n % 3}", "n", "d", None)[0]["job_id"] for n in range(60)]

    def report(n: int) -> int:
        order = ids if n % 2 else ids[::-1]  # opposite orders: the classic deadlock
        batch = [Report(job_id, 1, {"status": "running"}, None) for job_id in order]
        done = [Report(job_id, 1, {"status": "succeeded"}, None) for job_id in order]
        store = stores[n % 2]
        return sum(o.changed for o in store.apply_reports(batch) + store.apply_reports(done))

    assert sum(_together(4, report)) == 120
    assert stores[0].counts_by_status()["succeeded"] == 60
    for store in stores:
        store.close()


# -- PostgreSQL down, and passwords -----------------------------------------------------


def test_no_password_in_a_masked_url() -> None:
    assert mask_url("postgresql://toy:s3cr%40t@db:5432/jobs") == "postgresql://toy:***@db:5432/jobs"
    assert mask_url("postgresql://toy@db/jobs") == "postgresql://toy@db/jobs"
    assert (
        mask_url("postgresql://db/jobs?user=toy&password=s3cret&sslmode=require")
        == "postgresql://db/jobs?user=toy&password=***&sslmode=require"
    )
    assert mask_url("sqlite") == "sqlite"


def test_postgres_down_is_store_unavailable_naming_it_and_it_comes_back(
    pg_cluster: Any, pg_url: str
) -> None:
    store = PostgresJobStore(pg_url)
    job_id = store.create("alice", "n", "d", None)[0]["job_id"]
    pg_cluster.pg_ctl_stop()
    try:
        with pytest.raises(StoreUnavailable) as caught:
            store.create("alice", "n", "d", None)
        reason = store.unavailable()
    finally:
        pg_cluster.pg_ctl_start()
    masked = mask_url(pg_url)
    for text in (str(caught.value), reason or ""):
        assert masked in text and "PostgreSQL" in text
        assert pg_cluster.password not in text
    assert store.unavailable() is None  # the pool found new connections by itself
    assert store.get(job_id) is not None
    assert store.create("alice", "n", "d", None)[1]
    store.close()


def test_a_wrong_password_stops_the_start_with_the_password_masked(
    pg_cluster: Any, pg_url: str
) -> None:
    wrong = pg_url.replace(pg_cluster.password, "not-the-password")
    with pytest.raises(StoreSetupError) as caught:
        PostgresJobStore(wrong)
    assert "not-the-password" not in str(caught.value)
    assert "password authentication failed" in str(caught.value)


def test_a_sqlite_file_serves_one_middleware_at_a_time(tmp_path: Path) -> None:
    """Its claims are held in memory: a second middleware on it would forward jobs twice."""
    import subprocess
    import sys

    import psutil

    path = tmp_path / "middleware.sqlite3"
    SqliteJobStore(path).close()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE store_holder SET pid = ?, create_time = ?",
                (other.pid, psutil.Process(other.pid).create_time()),
            )
            conn.execute(
                "INSERT OR IGNORE INTO store_holder VALUES (1, ?, ?)",
                (other.pid, psutil.Process(other.pid).create_time()),
            )
        with pytest.raises(StoreSetupError, match=f"in use by another middleware .PID {other.pid}"):
            SqliteJobStore(path)
    finally:
        other.kill()
        other.wait()
    SqliteJobStore(path).close()  # its holder is gone: the file is free again


def test_postgres_down_is_a_dependency_the_forwarder_waits_for_not_a_stall(
    pg_cluster: Any, pg_url: str
) -> None:
    """Else, after an outage of twice --stall-after, serve would restart a middleware that
    heals by itself."""
    from prometheus_client import CollectorRegistry
    from support.harness import wait_until
    from support.http_stub import HttpStub, Received

    from toy_platform.middleware.forwarder import Forwarder

    def core(request: Received) -> tuple[int, Any]:
        """Core's answer to a batch, or to a single job (the forwarder sends a lone one so)."""
        if "jobs" not in request.body:
            return 202, {"status": "queued", "job_id": request.body["job_id"], "position": 1}
        answers = [{"job_id": j["job_id"], "position": 1} for j in request.body["jobs"]]
        return 202, {"status": "queued", "jobs": answers}

    store = PostgresJobStore(pg_url)
    stub = HttpStub(core)
    forwarder = Forwarder(store, stub.url, "http://mw.invalid", b"key", CollectorRegistry())
    pg_cluster.pg_ctl_stop()
    try:
        forwarder.start()
        time.sleep(1.5)  # the forwarder meets the store down, again and again
        with pytest.raises(StoreUnavailable):  # /readyz: "cannot tell whether it moves"
            forwarder.stalled(0.5)
        time.sleep(1.0)
    finally:
        pg_cluster.pg_ctl_start()
    for n in range(3):
        store.create("alice", f"j{n}", "x", None)
    assert forwarder.stalled(0.5) is None  # just back, nothing waited yet: no stall counted
    wait_until(lambda: store.waiting_for_core() == 0, 20, what="the jobs handed over")
    forwarder.stop()
    stub.close()
    store.close()


def _forwarded(store: JobStore, job_id: str) -> None:
    store.mark_forwarded([{"job_id": job_id, "attempt": 1, "sent_at": utc_now(), "position": 1}])


def test_a_job_core_lost_is_found_and_handed_over_again_on_both_stores(store: JobStore) -> None:
    job_id = store.create("alice", "n", "d", None)[0]["job_id"]
    _forwarded(store, job_id)
    assert store.silent_handed_over(SilenceLimits({}, 60), 10) == []  # it moved since
    later = SilenceLimits({}, -1)  # silent since a second from now: nothing moved since then
    (silent,) = store.silent_handed_over(later, 10)
    assert (silent["job_id"], silent["attempt"], silent["status"]) == (job_id, 1, "queued")
    assert store.hand_over_again(job_id, 1) == 1
    assert store.waiting_for_core() == 1 and store.silent_handed_over(later, 10) == []
    assert [j["job_id"] for j in store.claim_unforwarded(10)] == [job_id]
    assert store.hand_over_again(job_id, 1) == 0  # not with core now: nothing to do
    assert store.events(job_id)[-1]["status"] == "forwarded_again"


def test_a_running_job_core_lost_is_queued_and_handed_over_again(store: JobStore) -> None:
    """A run lost with its worker and the broker's record of it left the job running for
    ever: only queued jobs were ever looked at again."""
    job_id = store.create("alice", "n", "d", None)[0]["job_id"]
    _forwarded(store, job_id)
    store.apply_reports(
        [Report(job_id, 1, {"status": "running", "progress": {"fraction": 0.5}}, None)]
    )
    (silent,) = store.silent_handed_over(SilenceLimits({}, -1), 10)
    assert (silent["job_id"], silent["status"]) == (job_id, "running")
    assert store.hand_over_again(job_id, 1) == 1
    again = store.get(job_id, with_events=True)
    assert again is not None
    assert (again["status"], again["started_at"], again["progress"]) == ("queued", None, None)
    assert "while it ran" in again["events"][-1]["detail"]
    assert store.counts_by_status("alice") == _true_counts(store, "alice")
    assert store.waiting_for_core() == 1
    _forwarded(store, job_id)
    _callback(store, job_id, "succeeded")  # the run core starts anew reports as any run
    assert store.silent_handed_over(SilenceLimits({}, -1), 10) == []


def test_a_job_is_silent_only_past_its_types_time_limit_and_a_margin(store: JobStore) -> None:
    quick = store.create("alice", "q", "d", None)[0]["job_id"]
    slow = store.create("alice", "s", {"n": 1}, None, job_type="slow")[0]["job_id"]
    other = store.create("alice", "o", {"n": 1}, None, job_type="unknown")[0]["job_id"]
    for job_id in (quick, slow, other):
        _forwarded(store, job_id)
    limits = SilenceLimits.from_time_limits({"reverse": -RECONCILE_MARGIN_S - 1, "slow": 600})
    assert [j["job_id"] for j in store.silent_handed_over(limits, 10)] == [quick]
    assert limits.otherwise == DEFAULT_TIMEOUT_S + RECONCILE_MARGIN_S
    every = SilenceLimits.from_time_limits({"slow": 600}, fixed=-1)  # --reconcile-after
    assert [j["job_id"] for j in store.silent_handed_over(every, 10)] == [quick, slow, other]


def test_a_middleware_with_its_clock_ahead_cannot_take_or_free_anothers_claim(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leases were stamped with each host's clock: 15 s of skew let a middleware take a live
    claim of another; and any middleware could give back a claim it did not hold."""
    first, second = PostgresJobStore(pg_url), PostgresJobStore(pg_url)
    try:
        job_id = first.create("alice", "n", "d", None)[0]["job_id"]
        assert [j["job_id"] for j in first.claim_unforwarded(10)] == [job_id]  # 15 s lease
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + 30)  # this host 30 s ahead
        assert second.claim_unforwarded(10) == []
        second.release([job_id])  # not its claim: nothing to give back
        assert second.claim_unforwarded(10) == []
        first.release([job_id])
        assert [j["job_id"] for j in second.claim_unforwarded(10)] == [job_id]
    finally:
        first.close()
        second.close()


def test_a_jobs_history_is_in_the_order_the_store_wrote_it_whatever_the_clocks(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events were ordered by their time stamps: a middleware whose clock is behind the one
    that took the submit wrote a job's end before its start."""
    job_id = store.create("alice", "n", "d", None)[0]["job_id"]
    store.mark_forwarded([{"job_id": job_id, "attempt": 1, "sent_at": utc_now(), "position": 1}])
    from toy_platform.jobs import lifecycle

    monkeypatch.setattr(lifecycle, "utc_now", lambda: utc_ago(3600))  # an hour behind
    update = {"status": "succeeded", "started_at": utc_ago(3600), "result": "x"}
    store.apply_reports([Report(job_id, 1, update, None)])
    statuses = [e["status"] for e in store.events(job_id)]
    assert statuses == ["submitted", "forwarded", "queued", "running", "succeeded"]


def test_a_report_that_overtakes_cores_answer_to_the_forward_keeps_the_history_whole(
    store: JobStore,
) -> None:
    """A fast worker reports before the middleware noted core's 202: the history must not
    read 'succeeded' before 'forwarded', and the late answer adds nothing."""
    job_id = store.create("alice", "n", "d", None)[0]["job_id"]
    (claimed,) = store.claim_unforwarded(10)
    update = {"status": "succeeded", "started_at": utc_now(), "result": "x"}
    assert store.apply_reports([Report(job_id, 1, update, None)])[0].changed
    store.mark_forwarded([{"job_id": job_id, "attempt": 1, "sent_at": utc_now(), "position": 1}])
    statuses = [e["status"] for e in store.events(job_id)]
    assert statuses == ["submitted", "forwarded", "queued", "running", "succeeded"], statuses
    assert store.waiting_for_core() == 0 and store.claim_unforwarded(10) == []
    assert claimed["job_id"] == job_id


def _fail_next(pg_url: str, times: int, body: str, deferred: bool = False) -> None:
    """Make the next TIMES inserts of job events run BODY (PL/pgSQL) inside the writing
    transaction (at its COMMIT if DEFERRED): a fault caused by the database itself."""
    import psycopg

    timing = "AFTER INSERT" if deferred else "BEFORE INSERT"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE SEQUENCE IF NOT EXISTS faults MAXVALUE {10**6}")
        conn.execute(
            "CREATE OR REPLACE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN IF nextval('faults') <= {times} THEN {body} END IF; RETURN NEW; END $$"
        )
        conn.execute(
            f"CREATE {'CONSTRAINT ' if deferred else ''}TRIGGER fault {timing} ON job_events"
            + (" DEFERRABLE INITIALLY DEFERRED" if deferred else "")
            + " FOR EACH ROW EXECUTE FUNCTION fault()"
        )


def test_a_deadlock_or_serialization_failure_is_tried_again_not_a_503(pg_url: str) -> None:
    """PostgreSQL rolls back one of two deadlocked transactions: it did nothing, and the
    same work goes through once tried again. It was a 503 saying the store 'is not answering'."""
    store = PostgresJobStore(pg_url)
    try:
        job_id = store.create("alice", "n", "d", None)[0]["job_id"]
        _fail_next(pg_url, 2, "RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01';")
        (outcome,) = store.apply_reports([Report(job_id, 1, {"status": "running"}, None)])
        assert outcome.changed
        statuses = [e["status"] for e in store.events(job_id)]
        assert statuses.count("running") == 1, statuses
    finally:
        store.close()


def test_a_connection_lost_during_commit_never_says_nothing_was_stored(pg_url: str) -> None:
    """A 503 promises that nothing was stored, so the caller sends it again: not true when
    the connection broke while the transaction was being committed."""
    store = PostgresJobStore(pg_url)
    try:
        job_id = store.create("alice", "n", "d", None)[0]["job_id"]
        _fail_next(pg_url, 1, "PERFORM pg_terminate_backend(pg_backend_pid());", deferred=True)
        with pytest.raises(StoreUnavailable) as caught:
            store.apply_reports([Report(job_id, 1, {"status": "running"}, None)])
        assert caught.value.maybe_done
        assert "stopped answering while it committed" in str(caught.value)
        assert "may have been saved" in caught.value.answer_text()
        # and the same report again is applied once
        store.apply_reports([Report(job_id, 1, {"status": "running"}, None)])
        assert [e["status"] for e in store.events(job_id)].count("running") == 1
    finally:
        store.close()


def test_an_unfinished_job_whose_reports_are_held_up_says_so_once(store: JobStore) -> None:
    job_id = store.create("alice", "n", "d", None)[0]["job_id"]
    why = "cannot deliver callbacks to the middleware at http://10.0.0.9:1: connection refused"
    assert store.note_held_up(job_id, 1, why)
    assert not store.note_held_up(job_id, 1, why)  # still its last line: not again
    assert not store.note_held_up(job_id, 2, why)  # another attempt's
    (line,) = [e for e in store.events(job_id) if e["status"] == "reports_held_up"]
    assert line["detail"] == f"core holds this job; {why}" and line["service"] == "core"
    _callback(store, job_id, "running")
    assert store.note_held_up(job_id, 1, why)  # running, its final report held up: said
    _callback(store, job_id, "succeeded")
    assert not store.note_held_up(job_id, 1, why)  # finished: nothing held up any more
