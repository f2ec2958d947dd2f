"""toy-platform against the usual Celery stack doing the same job, in one run.

    python examples/benchmarks/vs_celery.py --rounds 3 --jobs 2000 --clients 16

Each round runs toy-platform (`toy-platform serve`: the embedded queue and SQLite, no web app,
no dashboard, job delay 0, a fresh home), then the peer (celery_peer.py: Flask under waitress
with as many request threads as toy-platform's services have (8), a Celery worker with a
threads pool of 8, Redis 7 as broker and store, no login, no logs), under the same load:
JOBS jobs from CLIENTS client threads, each with its own HTTP connection pool, timed from the
first submit until every job's result is recorded (counted every 0.1 s, every 10 ms for the
last tenth). The sides alternate, so a machine that gets busier or quieter weighs on both;
each round's ratio, the medians and their ratio are printed at the end, with the CPU each
process spent per job.

toy-platform runs as it does by default (--cpu auto: serve keeps the middleware's threads on
the last CPU and core's on the one before); --platform-cpu off spreads them over every CPU.
The peer runs as Celery and waitress do by default, on any CPU; --pin-peer keeps its waitress
on the last CPU and its worker on the one before, as toy-platform does with its two.

Needs the Celery extra (pip install ".[celery]") and redis-server on the PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import urllib3
from services import Services, free_port, service_processes, wait_for

from toy_platform.client import PlatformClient
from toy_platform.config import DEFAULT_THREADS

HERE = Path(__file__).resolve().parent


@dataclass
class Side:
    """One system under load: how a client submits job N, how many jobs have succeeded, and
    the processes whose CPU counts (by name)."""

    name: str
    submit: Callable[[int], None]
    succeeded: Callable[[], int]
    processes: Callable[[], dict[int, str]]


@dataclass
class Figures:
    jobs_per_s: float
    done: int
    seconds: float
    cpu_ms_per_job: dict[str, float]


def drive(side: Side, jobs: int, clients: int, timeout: float) -> Figures:
    """JOBS jobs from CLIENTS threads; timed until the last one succeeded."""
    side.submit(-1)  # a first job (connections made, code warm) before the clock starts
    deadline = time.monotonic() + 30
    while side.succeeded() < 1:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{side.name} did not complete a first job within 30 s")
        time.sleep(0.05)
    baseline = side.succeeded()
    processes = side.processes() | {os.getpid(): "clients"}  # this script: the load itself
    cpu_before = cpu_seconds(processes)
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(side.submit, range(jobs)))
    done = 0
    while done < jobs and time.perf_counter() - started < timeout:
        # Counted every 0.1 s, and every 10 ms for the last tenth: a round of 2 s would
        # otherwise end 50 ms late on average, a bias against the faster side.
        time.sleep(0.01 if done >= 0.9 * jobs else 0.1)
        done = side.succeeded() - baseline
    seconds = time.perf_counter() - started
    cpu_after = cpu_seconds(processes)
    per_job = {
        name: (cpu_after.get(name, 0.0) - cpu_before.get(name, 0.0)) / max(done, 1) * 1000
        for name in cpu_after
    }
    return Figures(done / seconds, done, seconds, per_job)


def cpu_seconds(processes: dict[int, str]) -> dict[str, float]:
    """CPU seconds (user + system) so far, summed by process name."""
    totals: dict[str, float] = {}
    for pid, name in processes.items():
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        totals[name] = totals.get(name, 0.0) + times.user + times.system
    return totals


def tree(pid: int) -> list[psutil.Process]:
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


# -- toy-platform ---------------------------------------------------------------------------


@contextmanager
def platform(jobs: int, cpu: str) -> Iterator[Side]:
    services = Services("sqlite", "--job-delay", "0", "--cpu", cpu)
    serve = services.start("serve", "--no-web", "--no-dashboard")
    try:
        wait_for(f"{services.url('middleware')}/readyz", timeout=90)
        wait_for(f"{services.url('core')}/readyz", timeout=90)
        auth, middleware = services.url("auth"), services.url("middleware")
        reader = PlatformClient(auth, middleware)
        token = reader.login("admin", services.password)["token"]
        local = threading.local()
        prefix = f"bench-{uuid.uuid4().hex[:6]}-"

        def submit(n: int) -> None:
            if not hasattr(local, "client"):
                local.client = PlatformClient(auth, middleware, token=token)
            local.client.submit_job(f"{prefix}{n}", f"payload number {n}")

        def succeeded() -> int:
            return int(reader.list_jobs(status="succeeded", limit=1)["total"])

        def processes() -> dict[int, str]:
            return service_processes(serve.pid)

        yield Side("toy-platform", submit, succeeded, processes)
    finally:
        services.stop()


# -- the peer -------------------------------------------------------------------------------


class Redis:
    """A redis-server of the benchmark's own, with its default persistence (snapshots)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="toy-bench-redis-"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False
            ).stdout.strip()
            != b"PONG"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)

    def flush(self) -> None:
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "flushall"], check=True, capture_output=True
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def pin_threads(pid: int, cpu: int) -> None:
    """Every thread of PID and its children on CPU, and (inherited) those they start later."""
    for process in tree(pid):
        if hasattr(os, "sched_setaffinity"):  # Linux: thread by thread
            for thread in process.threads():
                os.sched_setaffinity(thread.id, {cpu})
        else:  # Windows: the whole process
            process.cpu_affinity([cpu])


@contextmanager
def peer(redis: Redis, pin: bool) -> Iterator[Side]:
    redis.flush()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PEER_REDIS_URL": redis.url, "PEER_URL": url}
    web = subprocess.Popen(
        [sys.executable, "-m", "waitress", "--listen", f"127.0.0.1:{port}"]
        + ["--threads", str(DEFAULT_THREADS), "celery_peer:app"],
        cwd=HERE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "celery_peer:celery_app",
            "worker",
            "--pool",
            "threads",
        ]
        + ["--concurrency", "8", "--loglevel", "WARNING"],
        cwd=HERE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"{url}/counts", timeout=60)
        if pin:
            if not hasattr(psutil.Process, "cpu_affinity"):
                raise SystemExit("--pin-peer: this OS cannot keep threads on a CPU")
            allowed = psutil.Process().cpu_affinity() or []
            if len(allowed) < 2:
                raise SystemExit("--pin-peer needs two CPUs this process may use")
            pin_threads(web.pid, allowed[-1])
            pin_threads(worker.pid, allowed[-2])
            print(f"peer pinned: waitress on CPU {allowed[-1]}, worker on CPU {allowed[-2]}")
        local = threading.local()
        reader = urllib3.PoolManager()

        def submit(n: int) -> None:
            if not hasattr(local, "pool"):
                local.pool = urllib3.PoolManager(maxsize=1)
            answer = local.pool.request(
                "POST",
                f"{url}/jobs",
                json={"job_name": f"bench-{n}", "data": f"payload number {n}"},
            )
            if answer.status != 202:
                raise RuntimeError(f"the peer answered {answer.status}: {answer.data[:200]!r}")

        def succeeded() -> int:
            return int(reader.request("GET", f"{url}/counts").json().get("succeeded", 0))

        def processes() -> dict[int, str]:
            named = {p.pid: "waitress" for p in tree(web.pid)}
            named |= {p.pid: "celery worker" for p in tree(worker.pid)}
            return named | {redis.process.pid: "redis"}

        yield Side("Celery peer", submit, succeeded, processes)
    finally:
        for process in (web, worker):
            process.terminate()
        for process in (web, worker):
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def show(round_number: int, side: str, figures: Figures) -> None:
    cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in sorted(figures.cpu_ms_per_job.items()))
    print(
        f"round {round_number} {side:13} {figures.jobs_per_s:7.1f} jobs/s"
        f" ({figures.done} in {figures.seconds:.1f} s); CPU ms per job: {cpu}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--platform-cpu", choices=["auto", "off"], default="auto")
    parser.add_argument("--pin-peer", action="store_true")
    args = parser.parse_args()
    redis = Redis()
    ours: list[float] = []
    theirs: list[float] = []
    try:
        for n in range(1, args.rounds + 1):
            with platform(args.jobs, args.platform_cpu) as side:
                figures = drive(side, args.jobs, args.clients, args.timeout)
            show(n, side.name, figures)
            ours.append(figures.jobs_per_s)
            with peer(redis, args.pin_peer) as side:
                figures = drive(side, args.jobs, args.clients, args.timeout)
            show(n, side.name, figures)
            theirs.append(figures.jobs_per_s)
            print(f"round {n} ratio: {ours[-1] / theirs[-1]:.2f}", flush=True)
    finally:
        redis.stop()
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(
        f"medians of {args.rounds} rounds ({args.jobs} jobs, {args.clients} clients):"
        f" toy-platform {ours_median:.1f} jobs/s, Celery peer {theirs_median:.1f} jobs/s,"
        f" ratio {ours_median / theirs_median:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
