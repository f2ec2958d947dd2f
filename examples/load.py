"""Load the platform: N jobs from C concurrent clients, then report throughput and latency.

    python examples/load.py --jobs 2000 --clients 32 --password "$ADMIN_PASSWORD"

Start the platform with a 0 s delay to measure the platform itself:
    toy-platform serve --job-delay 0 --no-web --no-dashboard

Another job type than the default `reverse`: --job-type NAME with --data JSON (the same data
for every job), e.g. --job-type wordcount --data '{"text": "a b c"}'.

Several middlewares over one store (--store-url postgresql://...): give each with
--middleware-url; the clients take them in turn. --cpu-pid PID (repeatable) reports the CPU
those processes (say, the middlewares) spent per completed job.

Progress shows as tqdm bars when tqdm is installed (pip install "toy-platform[examples]"),
else as plain lines; either way on stderr, the report on stdout.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import TracebackType
from typing import Any

import psutil

from toy_platform.client import PlatformClient
from toy_platform.console import tolerant_console


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--auth-url", default="http://127.0.0.1:6300")
    parser.add_argument(
        "--middleware-url",
        action="append",
        help="a middleware's URL; repeat it for several (default http://127.0.0.1:6302)",
    )
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--timeout", type=float, default=600, help="give up after this long")
    parser.add_argument(
        "--rate",
        type=float,
        help="submit at this many jobs/s, evenly spread (default: as fast as the clients go);"
        " for latency at a given load, say half of the top throughput",
    )
    parser.add_argument("--job-type", help="the jobs' type (default: reverse)")
    parser.add_argument(
        "--data", type=json.loads, help="the jobs' data, as JSON (default: a text per job)"
    )
    parser.add_argument(
        "--cpu-pid", type=int, action="append", default=[], help="report this process's CPU"
    )
    parser.add_argument(
        "--separate-stores",
        action="store_true",
        help="each middleware has its own store (SQLite): count jobs on each",
    )
    args = parser.parse_args()
    args.middleware_url = args.middleware_url or ["http://127.0.0.1:6302"]
    return args


class PlainProgress:
    """A progress line on stderr (at most one a second, and the last), for without tqdm."""

    INTERVAL_S = 1.0

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done = total, desc, 0
        self.shown_at = time.monotonic()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.show()

    def update(self, n: int = 1) -> None:
        self.done += n
        if time.monotonic() - self.shown_at >= self.INTERVAL_S:
            self.show()

    def show(self) -> None:
        self.shown_at = time.monotonic()
        print(f"{self.desc}: {self.done}/{self.total} jobs", file=sys.stderr, flush=True)


def progress(total: int, desc: str) -> Any:
    """A tqdm bar when tqdm is installed (it is optional), else a plain progress line."""
    try:
        from tqdm import tqdm
    except ImportError:
        return PlainProgress(total, desc)
    return tqdm(total=total, desc=desc, unit="job")


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used so far (their threads included)."""
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def succeeded_count(clients: list[PlatformClient]) -> int:
    return sum(client.list_jobs(status="succeeded", limit=1)["total"] for client in clients)


def completion_latencies(clients: list[PlatformClient], prefix: str, expected: int) -> list[float]:
    """Seconds from submit to result of this run's jobs, as the middlewares recorded them."""
    latencies: list[float] = []
    for client in clients:
        before = None
        while len(latencies) < expected:
            page = client.list_jobs(status="succeeded", limit=1000, before=before)
            for job in page["jobs"]:
                if job["job_name"].startswith(prefix) and job.get("completed_at"):
                    created = datetime.fromisoformat(job["created_at"])
                    completed = datetime.fromisoformat(str(job["completed_at"]))
                    latencies.append((completed - created).total_seconds())
            before = page["next_before"]
            if before is None:
                break
    return latencies


def ms(values: list[float], percent: int) -> str:
    return f"{statistics.quantiles(values, n=100)[percent - 1] * 1000:.0f} ms"


def main() -> None:
    tolerant_console()  # job results may hold characters the console cannot show
    args = parse_args()
    login = PlatformClient(args.auth_url, args.middleware_url[0])
    token = login.login(args.username, args.password)["token"]
    readers = [login]  # where jobs are counted: one shared store, or each middleware's own
    if args.separate_stores:
        readers += [PlatformClient(args.auth_url, u, token) for u in args.middleware_url[1:]]
    baseline = succeeded_count(readers)
    cpu_before = cpu_seconds(args.cpu_pid)
    local = threading.local()
    urls = itertools.cycle(args.middleware_url)
    urls_lock = threading.Lock()
    prefix = f"load-{uuid.uuid4().hex[:6]}-"
    latencies: list[float] = []

    def submit(n: int) -> None:
        if not hasattr(local, "client"):  # one HTTP session per client thread
            with urls_lock:
                url = next(urls)
            local.client = PlatformClient(args.auth_url, url, token=token)
        if args.rate:  # open loop: job N goes at its time, however the earlier ones fared
            time.sleep(max(0.0, started + n / args.rate - time.perf_counter()))
        started_submit = time.perf_counter()
        data = f"payload number {n}" if args.data is None else args.data
        local.client.submit_job(f"{prefix}{n}", data, job_type=args.job_type)
        latencies.append(time.perf_counter() - started_submit)

    started = time.perf_counter()
    with (
        ThreadPoolExecutor(args.clients) as pool,
        progress(args.jobs, "submitted") as bar,
    ):
        for future in [pool.submit(submit, n) for n in range(args.jobs)]:
            future.result()
            bar.update()
    submit_s = time.perf_counter() - started

    with progress(args.jobs, "completed") as bar:
        done = 0
        while done < args.jobs and time.perf_counter() - started < args.timeout:
            now_done = min(args.jobs, succeeded_count(readers) - baseline)
            bar.update(now_done - done)
            done = now_done
            time.sleep(0.1)
    total_s = time.perf_counter() - started
    cpu_used = cpu_seconds(args.cpu_pid) - cpu_before

    print(f"jobs: {args.jobs}, clients: {args.clients}")
    print(f"submits/s:        {args.jobs / submit_s:8.1f}")
    print(f"completed jobs/s: {done / total_s:8.1f}  ({done} of {args.jobs} in {total_s:.1f} s)")
    print(f"submit latency:   p50 {ms(latencies, 50)}, p99 {ms(latencies, 99)}")
    if args.cpu_pid and done:
        print(f"CPU per job:      {cpu_used / done * 1000:8.2f} ms (pids {args.cpu_pid})")
    finished = completion_latencies(readers, prefix, args.jobs)
    if len(finished) >= 2:
        print(f"submit to result: p50 {ms(finished, 50)}, p99 {ms(finished, 99)}")


if __name__ == "__main__":
    main()
