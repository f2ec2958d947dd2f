"""How long /list_jobs takes at 1,000,000 jobs: p50/p99 of a user's first page, and more.

    python examples/benchmarks/list_jobs.py --store-url sqlite
    python examples/benchmarks/list_jobs.py --store-url postgresql://toy:PASS@127.0.0.1:5432/bench

The store must be empty (a new database for PostgreSQL): the script fills it with JOBS jobs
straight through SQL (a fifth of them alice's, the rest spread over 200 other users), starts
auth and a middleware on it, and times each page through the HTTP API, one call at a time.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from services import Services, wait_for

from toy_platform.client import PlatformClient


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-url", default="sqlite")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=500, help="calls timed per page kind")
    parser.add_argument("--limit", type=int, default=100, help="jobs per page")
    return parser.parse_args()


# data and result are JSON text in the store (see jobs.model.encode)
FILL_SQLITE = """
INSERT INTO jobs (job_id, job_name, owner, data, status, created_at, created_epoch, forwarded,
                  result)
WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ?)
SELECT printf('%032x', n), 'bench-' || n,
       CASE WHEN n % 5 = 0 THEN 'alice' ELSE 'user' || (n % 200) END,
       '"payload ' || n || '"', CASE WHEN n % 10 = 0 THEN 'failed' ELSE 'succeeded' END,
       '2026-11-29T08:00:00.000+00:00', n, 1, '"daolyap"'
FROM c
"""
FILL_POSTGRES = """
INSERT INTO jobs (job_id, job_name, owner, data, status, created_at, created_epoch, forwarded,
                  result)
SELECT lpad(to_hex(n), 32, '0'), 'bench-' || n,
       CASE WHEN n %% 5 = 0 THEN 'alice' ELSE 'user' || (n %% 200) END,
       '"payload ' || n || '"', CASE WHEN n %% 10 = 0 THEN 'failed' ELSE 'succeeded' END,
       '2026-11-29T08:00:00.000+00:00', n, TRUE, '"daolyap"'
FROM generate_series(1, %s) AS n
"""


def fill(services: Services, store_url: str, jobs: int) -> None:
    """Create the schema (by opening the store as the middleware would), then the jobs."""
    from toy_platform.config import load_settings
    from toy_platform.middleware.stores.choice import open_store

    settings = load_settings(home=services.home, store_url=store_url)
    open_store(settings).close()
    if store_url == "sqlite":
        with sqlite3.connect(settings.data_dir / "middleware.sqlite3") as conn:
            conn.execute(FILL_SQLITE, (jobs,))  # triggers keep job_counts
        return
    import psycopg

    with psycopg.connect(store_url) as conn:
        conn.execute(FILL_POSTGRES.encode(), (jobs,))
        conn.execute(
            "INSERT INTO job_counts SELECT owner, status, COUNT(*) FROM jobs GROUP BY 1, 2"
        )
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def timed(call: Callable[[], object], count: int) -> tuple[float, float]:
    for _ in range(20):  # warm up connections and caches
        call()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    cuts = statistics.quantiles(times, n=100)
    return cuts[49] * 1000, cuts[98] * 1000


def main() -> None:
    args = parse_args()
    services = Services(args.store_url)
    try:
        started = time.perf_counter()
        fill(services, args.store_url, args.jobs)
        print(f"filled {args.jobs:,} jobs in {time.perf_counter() - started:.0f} s")
        services.start("auth")
        wait_for(f"{services.url('auth')}/healthz")
        services.start_middleware()
        admin = PlatformClient(services.url("auth"), services.url("middleware"))
        admin.login("admin", services.password)
        add_user(services, "alice", "alice-password")
        alice = PlatformClient(services.url("auth"), services.url("middleware"))
        alice.login("alice", "alice-password")
        deep = alice.list_jobs(limit=args.limit, offset=500 * args.limit)
        limit = args.limit
        # the cursor after page 499: the next_before of a one-job page ending there
        cursor = alice.list_jobs(limit=1, offset=500 * limit - 1)["next_before"]
        kinds: dict[str, Callable[[], object]] = {
            "alice's first page": lambda: alice.list_jobs(limit=limit),
            "alice's first page, failed only": lambda: alice.list_jobs("failed", limit=limit),
            "alice's page 500 by offset": lambda: alice.list_jobs(limit=limit, offset=500 * limit),
            "alice's page 500 by before=": lambda: alice.list_jobs(limit=limit, before=cursor),
            "admin's first page of all jobs": lambda: admin.list_jobs(limit=limit, all_users=True),
        }
        assert deep["total"] == args.jobs // 5, deep["total"]
        print(
            f"store: {args.store_url.split('://')[0]}, {args.jobs:,} jobs, alice has"
            f" {deep['total']:,}; pages of {limit}; {args.requests} calls each"
        )
        for name, call in kinds.items():
            p50, p99 = timed(call, args.requests)
            print(f"  {name:34} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")
    finally:
        services.stop()


def add_user(services: Services, name: str, password: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "toy_platform", "user", "add", name, "--password-stdin"]
        + ["--home", str(services.home)],
        input=password + "\n",
        text=True,
        check=True,
        env=services.env,
        capture_output=True,
    )


if __name__ == "__main__":
    main()
