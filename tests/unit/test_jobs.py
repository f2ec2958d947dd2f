from __future__ import annotations

from pathlib import Path

from toy_platform.jobs import JobStore


def test_a_page_of_one_users_jobs_in_one_status_is_read_through_an_index_on_both(
    tmp_path: Path,
) -> None:
    """What a front-end polls: without an index on both, each poll read all of the user's
    (or all the platform's) jobs of that status, 55 ms at 100,000 jobs."""
    store = JobStore(tmp_path / "middleware.sqlite3")
    store.create("alice", "a job", "data", None)
    conn = store.db.connection()  # this thread's connection: the one page() uses here
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    jobs, total = store.page("alice", "queued", 10, 0)
    conn.set_trace_callback(None)

    assert total == 1 and jobs[0]["owner"] == "alice"
    assert len(statements) == 2, statements
    for sql in statements:
        plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "(owner=? AND status=?)" in plan, (sql, plan)
