"""Soak: thousands of jobs on Celery + Redis + PostgreSQL while faults hit every part of it.

    python examples/benchmarks/soak.py --jobs 5000
    python examples/benchmarks/soak.py --jobs 500 --fault-every 2 --keep --json

Starts, on free loopback ports in temporary directories: a PostgreSQL cluster of its own
(initdb and pg_ctl from /usr/lib/postgresql/*/bin or $PGBIN, as the `postgres` user when run
as root), a redis-server of its own (appendonly yes, appendfsync always), auth, core
(`--workers 0`), TWO middlewares sharing one PostgreSQL database and TWO `toy-platform
worker` processes (one reporting to each middleware). --clients threads submit --jobs jobs
at --rate jobs/s (so that faults meet submits all along), round-robin over the two
middlewares, each with its own Idempotency-Key; a submit that fails
unreachable (refused, a timeout) or with a 503 is sent again, to the other middleware, with
the SAME key, so a retry never makes a second job. Only a 202/200 counts as accepted.

Meanwhile a fault injector hits the platform from outside every --fault-every seconds,
cycling through the kinds:

    redis-pause        CLIENT PAUSE 5500 WRITE
    redis-client-kill  CLIENT KILL TYPE normal (every client connection but the injector's)
    redis-debug-sleep  DEBUG SLEEP 2 (the server started with --enable-debug-command local)
    redis-kill         SIGKILL of redis-server, started again on its port and data dir
    pg-terminate       pg_terminate_backend of every connection to the platform's database
    pg-row-lock        an outside transaction holding SELECT ... FOR UPDATE on up to 200
                       queued or running jobs rows (and the job_counts rows) for 3 s
    pg-sigstop         SIGSTOP of the postmaster and all its backends for 2 s, then SIGCONT
    worker-kill        SIGKILL of one worker's whole process tree, then a new worker
    middleware-kill    SIGKILL of one middleware, started again on the same port

It goes on until every accepted job has finished and each kind was injected at least once (or
--timeout), then waits with no more faults (--grace) for stragglers, lingers --linger
seconds for late copies of jobs to show up, and counts:

- accepted: jobs answered 202/200; submit errors that were not retried, and gave-ups;
- succeeded / failed (with each distinct error text and its count), from GET /jobs/<id>;
- LOST: accepted, but no such job in the store (404);
- STUCK: still queued or running at the end (accepted ones, and any job of the store);
- DOUBLED: more than one final (succeeded/failed) event in the job's history, or more
  `job_started` events in the workers' logs (where the tests count starts) than 1 + the
  starts marked `redelivered` there (a redelivery after a worker died, or a task Redis gave
  back). Shown beside it, not counted: jobs that ran to the end more than once (the
  README's "at least once, one result": a run whose acknowledgement was lost);
- core's toy_platform_core_jobs_accepted_total from its /metrics, faults per kind, duration,
  and the workers and middlewares found stopped that no fault had killed.

Exit status 0 only when lost = doubled = stuck = 0. The temporary home (services' logs in
logs/, their output in *.out, faults.log, soak-report.json) is kept with --keep, and always
when the run was not clean; its path is printed.

With --postgres-url (a server URL whose user may create databases) or --redis-url the soak
uses those servers instead: the faults that need their processes (pg-sigstop, redis-kill)
are then skipped, and the table says so. SIGSTOP of PostgreSQL proved reliable here (the
backends and the postmaster resume where they were); were it not, pg-terminate covers
connections lost mid-transaction. The cluster runs with fsync=off (as the tests' does):
PostgreSQL's own crash is not among the faults, so its durability is not under test.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import json
import re
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis
import requests
from services import PostgresCluster, RedisProcess, Services, free_port, wait_for
from stores import drop_database, new_database

from toy_platform.client import PlatformClient, PlatformError

KINDS = (  # the cycle: a broker fault, a database fault, a process fault, and again
    "redis-pause",
    "pg-terminate",
    "worker-kill",
    "redis-client-kill",
    "pg-row-lock",
    "middleware-kill",
    "redis-debug-sleep",
    "pg-sigstop",
    "redis-kill",
)
NEEDS_OWN_REDIS = {"redis-kill"}
NEEDS_OWN_POSTGRES = {"pg-sigstop"}
FINAL = ("succeeded", "failed")
RETRY_STATUSES = (502, 503, 504)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8, help="submitting threads")
    parser.add_argument(
        "--rate", type=float, default=25.0, help="jobs submitted per second (0: at once)"
    )
    parser.add_argument("--fault-every", type=float, default=3.0, help="seconds between faults")
    parser.add_argument("--job-delay", type=float, default=0.05)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--visibility-timeout", type=float, default=30.0)
    parser.add_argument(
        "--reconcile-after",
        type=float,
        help="seconds of silence before a job is looked for in core (default: the platform's"
        " own, each type's time limit plus a margin: 90 s for reverse)",
    )
    parser.add_argument(
        "--submit-patience", type=float, default=180.0, help="seconds one submit is retried"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds, from the first submit, of faults"
    )
    parser.add_argument(
        "--grace", type=float, default=180.0, help="seconds with no faults for jobs to finish"
    )
    parser.add_argument(
        "--linger", type=float, default=20.0, help="seconds more, for late copies of jobs"
    )
    parser.add_argument("--postgres-url", help="a PostgreSQL server to use (no pg-sigstop)")
    parser.add_argument("--redis-url", help="a Redis to use, an empty database (no redis-kill)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    parser.add_argument("--json", action="store_true", help="print the report as JSON too")
    return parser.parse_args()


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# -- the platform ----------------------------------------------------------------------------


class Platform:
    """Auth, core, two middlewares and two workers (Services), and who runs where."""

    def __init__(self, args: argparse.Namespace, store_url: str, queue_url: str) -> None:
        common = ["--queue-url", queue_url, "--visibility-timeout", str(args.visibility_timeout)]
        common += ["--log-max-bytes", str(2**31), "--console-log-level", "warning"]
        self.worker_args = [*common, "--job-delay", str(args.job_delay)]
        self.worker_args += ["--concurrency", str(args.worker_concurrency)]
        services = ["--token-ttl", "7200"]
        if args.reconcile_after is not None:
            services += ["--reconcile-after", str(args.reconcile_after)]
        self.services = Services(store_url, *common, *services)
        self.home = self.services.home
        self.middlewares: list[subprocess.Popen[bytes]] = []
        self.workers: dict[int, tuple[str, subprocess.Popen[bytes]]] = {}
        self.generation = itertools.count(1)
        self.killed_workers: dict[str, float] = {}  # host name: when it was killed (epoch)
        self.stopped_alone: list[str] = []  # processes found stopped that no fault killed

    def start(self) -> None:
        services = self.services
        services.start("auth")
        services.start("core", "--workers", "0")
        for _ in range(2):
            services.start_middleware()
            self.middlewares.append(services.processes[-1])
        wait_for(f"{services.url('auth')}/readyz")
        for slot in range(2):
            self.start_worker(slot)
        wait_for(f"{services.url('core')}/readyz", timeout=90)  # a worker is connected

    @property
    def middleware_urls(self) -> list[str]:
        return self.services.middleware_urls

    def start_worker(self, slot: int) -> str:
        hostname = f"w{slot}-{next(self.generation)}@soak"
        url = self.middleware_urls[slot % 2]
        process = self.services.start_worker(hostname, url, *self.worker_args)
        self.workers[slot] = (hostname, process)
        return hostname

    def kill_worker(self, slot: int) -> str:
        """SIGKILL the worker and its pool processes at once (its machine died); a new one
        (another host name) in its place."""
        hostname, process = self.workers[slot]
        if process.poll() is not None:
            self.stopped_alone.append(f"worker {hostname} (exit {process.returncode})")
        try:
            tree = psutil.Process(process.pid)
            victims = [tree, *tree.children(recursive=True)]
        except psutil.NoSuchProcess:
            victims = []
        for victim in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                victim.kill()
        process.wait(10)
        psutil.wait_procs(victims, timeout=10)
        self.killed_workers[hostname] = time.time()
        return f"killed {hostname} ({len(victims)} processes), started {self.start_worker(slot)}"

    def still_running(self) -> None:
        """Note the workers and middlewares that stopped by themselves (none was killed now)."""
        for hostname, process in self.workers.values():
            if process.poll() is not None:
                self.stopped_alone.append(f"worker {hostname} (exit {process.returncode})")
        for n, process in enumerate(self.middlewares):
            if process.poll() is not None:
                url = self.middleware_urls[n]
                self.stopped_alone.append(f"middleware {url} (exit {process.returncode})")

    def kill_middleware(self, n: int) -> str:
        process = self.middlewares[n]
        if process.poll() is not None:
            url = self.middleware_urls[n]
            self.stopped_alone.append(f"middleware {url} (exit {process.returncode})")
        process.kill()
        process.wait(10)
        self.middlewares[n] = self.services.restart(process)
        url = self.middleware_urls[n]
        wait_for(f"{url}/healthz", timeout=60)
        return f"killed and restarted the middleware at {url}"

    def client(self, n: int, token: str | None = None) -> PlatformClient:
        urls = self.middleware_urls
        return PlatformClient(self.services.url("auth"), urls[n % len(urls)], token, timeout=10)

    def login(self) -> str:
        client = self.client(0)
        return client.login("admin", self.services.password)["token"]


# -- the faults ------------------------------------------------------------------------------


class Faults:
    """Injects one fault every EVERY seconds, cycling through KINDS, from a thread of its own;
    each one written to faults.log (time, kind, what was done)."""

    def __init__(
        self,
        platform: Platform,
        redis_url: str,
        redis_server: RedisProcess | None,
        admin_url: str,
        database: str,
        cluster: PostgresCluster | None,
        every: float,
    ) -> None:
        self.platform, self.redis_url, self.redis_server = platform, redis_url, redis_server
        self.admin_url, self.database, self.cluster = admin_url, database, cluster
        self.every = every
        self.kinds = [
            k
            for k in KINDS
            if not (k in NEEDS_OWN_REDIS and redis_server is None)
            and not (k in NEEDS_OWN_POSTGRES and cluster is None)
        ]
        self.skipped = [k for k in KINDS if k not in self.kinds]
        self.done: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="faults", daemon=True)
        self.log = open(platform.home / "faults.log", "a", encoding="utf-8")  # noqa: SIM115
        self.started = time.monotonic()

    def start(self) -> None:
        self.started = time.monotonic()
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.log.close()

    def every_kind_done(self) -> bool:
        return all(self.done[k] + self.errors[k] for k in self.kinds)

    def _run(self) -> None:
        for n in itertools.count():
            if self.stopping.wait(max(0.0, self.started + (n + 1) * self.every - time.monotonic())):
                return
            kind = self.kinds[n % len(self.kinds)]
            at = now_iso()
            try:
                what = self.inject(kind)
                self.done[kind] += 1
            except Exception as exc:  # noted and shown; the soak goes on
                what = f"FAILED: {type(exc).__name__}: {exc}"
                self.errors[kind] += 1
            line = f"{at} {kind}: {what}"
            self.log.write(line + "\n")
            self.log.flush()
            print(f"  fault {line}", flush=True)

    def inject(self, kind: str) -> str:
        if kind.startswith("redis-"):
            return self._redis(kind)
        if kind.startswith("pg-"):
            return self._postgres(kind)
        if kind == "worker-kill":
            return self.platform.kill_worker(self.done[kind] % 2)
        if kind == "middleware-kill":
            return self.platform.kill_middleware(self.done[kind] % 2)
        raise ValueError(kind)

    def _redis(self, kind: str) -> str:
        if kind == "redis-kill":
            assert self.redis_server is not None
            self.redis_server.kill()
            self.redis_server.start()
            return f"SIGKILL, started again on port {self.redis_server.port}"
        with redis.Redis.from_url(self.redis_url, socket_timeout=10) as admin:
            if kind == "redis-pause":
                admin.execute_command("CLIENT", "PAUSE", 5500, "WRITE")
                return "CLIENT PAUSE 5500 WRITE"
            if kind == "redis-client-kill":
                killed = admin.execute_command("CLIENT", "KILL", "TYPE", "normal")
                return f"CLIENT KILL TYPE normal: {killed} connections"
            admin.execute_command("DEBUG", "SLEEP", 2)
            return "DEBUG SLEEP 2"

    def _postgres(self, kind: str) -> str:
        if kind == "pg-sigstop":
            assert self.cluster is not None
            processes = self.cluster.processes()
            for process in processes:
                process.suspend()
            time.sleep(2)
            for process in reversed(processes):
                process.resume()
            return f"SIGSTOP of {len(processes)} processes for 2 s, SIGCONT"
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            if kind == "pg-terminate":
                rows = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self.database,),
                ).fetchall()
                return f"pg_terminate_backend of {len(rows)} connections"
        url = self.admin_url.rsplit("/", 1)[0] + f"/{self.database}"
        with psycopg.connect(url) as operator:  # one transaction, left open for 3 s
            locked = operator.execute(
                "SELECT job_id FROM jobs WHERE status IN ('queued', 'running')"
                " ORDER BY seq LIMIT 200 FOR UPDATE"
            ).fetchall()
            operator.execute("SELECT * FROM job_counts FOR UPDATE")
            time.sleep(3)
            operator.rollback()
        return f"SELECT ... FOR UPDATE on {len(locked)} jobs rows and job_counts for 3 s"


# -- submitting ------------------------------------------------------------------------------


@dataclass
class Submissions:
    accepted: dict[int, str] = field(default_factory=dict)  # job number: job_id
    refused: dict[int, str] = field(default_factory=dict)  # job number: why
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def submit_all(platform: Platform, args: argparse.Namespace, token: str, run: str) -> Submissions:
    result = Submissions()
    numbers = iter(range(args.jobs))
    numbers_lock = threading.Lock()
    started = time.monotonic()

    def client_thread(c: int) -> None:
        clients = [platform.client(n, token) for n in range(2)]
        while True:
            with numbers_lock:
                n = next(numbers, None)
            if n is None:
                return
            if args.rate:  # job N goes at its time: the faults meet submits all along
                time.sleep(max(0.0, started + n / args.rate - time.monotonic()))
            submit_one(clients, n)

    def submit_one(clients: list[PlatformClient], n: int) -> None:
        key, target = f"soak-{run}-{n}", n % 2
        deadline = time.monotonic() + args.submit_patience
        pause = 0.2
        while True:
            try:
                job = clients[target].submit_job(f"soak {n}", f"data {n}", idempotency_key=key)
                with result.lock:
                    result.accepted[n] = job["job_id"]
                return
            except PlatformError as exc:
                retry = exc.unreachable or exc.status in RETRY_STATUSES
                why = f"{exc.status or 'unreachable'} {exc.code}: {exc.message}"
                if not retry or time.monotonic() > deadline:
                    with result.lock:
                        result.refused[n] = why if not retry else f"gave up retrying: {why}"
                    return
            with result.lock:
                result.retries += 1
            time.sleep(min(pause, 2.0))
            pause *= 1.5
            target = 1 - target  # the other middleware: the store is shared, the key too

    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(client_thread, range(args.clients)))
    return result


# -- counting --------------------------------------------------------------------------------


def statuses_now(platform: Platform, token: str) -> dict[str, int] | None:
    for n in range(2):
        try:
            counts = platform.client(n, token).platform_status().get("jobs_by_status")
            if counts is not None:
                return counts
        except PlatformError:
            pass
    return None


def get_job(platform: Platform, token: str, job_id: str) -> dict[str, Any] | None:
    """The job with its events; None when the store has no such job (404)."""
    last: Exception | None = None
    for attempt in range(20):
        try:
            return dict(platform.client(attempt, token).get_job(job_id))
        except PlatformError as exc:
            if exc.status == 404:
                return None
            last = exc
            time.sleep(0.5)
    raise RuntimeError(f"cannot read job {job_id}: {last}")


def all_job_ids(platform: Platform, token: str) -> list[str]:
    client, ids, before = platform.client(0, token), [], None
    while True:
        page = client.list_jobs(limit=1000, before=before, all_users=True)
        ids += [job["job_id"] for job in page["jobs"]]
        before = page["next_before"]
        if before is None:
            return ids


def worker_log_events(home: Path) -> dict[str, list[dict[str, Any]]]:
    """The workers' log lines about jobs, by job_id, in the order they were written."""
    events: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for path in sorted((home / "logs").glob("worker-*.log*")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("job_id"):
                events[record["job_id"]].append(record)
    for records in events.values():
        records.sort(key=lambda r: str(r.get("time", "")))
    return events


def core_accepted(platform: Platform) -> float | None:
    try:
        text = requests.get(f"{platform.services.url('core')}/metrics", timeout=10).text
    except requests.RequestException:
        return None
    match = re.search(r"^toy_platform_core_jobs_accepted_total ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else None


def job_log_lines(home: Path, job_id: str, limit: int = 40) -> list[str]:
    """Every service's log lines about JOB_ID, oldest first (the evidence of a bad job)."""
    lines = []
    for path in sorted((home / "logs").glob("*.log*")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if job_id in line:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                shown = {k: r.get(k) for k in ("time", "service", "event", "message", "worker")}
                extra = {k: r[k] for k in ("redelivered", "status", "error") if r.get(k)}
                lines.append(json.dumps({**shown, **extra}))
    lines.sort()
    return lines[:limit]


def broker_facts(queue_url: str, job_id: str) -> str:
    """Where the broker has JOB_ID's first run: core's mark, the workers' counters, the queue,
    the unacknowledged tasks (why a stuck job is stuck)."""
    run = f"{job_id}.1"
    try:
        with redis.Redis.from_url(queue_url, socket_timeout=10) as broker:
            mark = broker.get(f"toy_platform:accepted:{run}")
            runs = broker.get(f"toy_platform:runs:{run}")
            done = broker.exists(f"toy_platform:done:{run}")
            queued = sum(job_id.encode() in m for m in broker.lrange("toy_platform.jobs", 0, -1))
            unacked = sum(job_id.encode() in m for m in broker.hvals("unacked"))
    except redis.RedisError as exc:
        return f"cannot ask the broker: {exc}"
    return (
        f"accepted mark {mark!r}, runs {runs!r}, done {bool(done)},"
        f" in the queue {queued}, unacknowledged {unacked}"
    )


def census(
    platform: Platform, token: str, submissions: Submissions, clients: int
) -> dict[str, Any]:
    accepted = set(submissions.accepted.values())
    stored = set(all_job_ids(platform, token))
    unacknowledged = sorted(stored - accepted)  # stored, though its submitter gave up
    ids = sorted(accepted) + unacknowledged
    with ThreadPoolExecutor(clients) as pool:
        jobs = dict(zip(ids, pool.map(lambda i: get_job(platform, token, i), ids), strict=True))
    logs = worker_log_events(platform.home)
    report: dict[str, Any] = {
        "succeeded": 0,
        "failed": 0,
        "failed_errors": collections.Counter(),
        "lost": [],
        "stuck": [],
        "doubled": {},
        "ran_twice": {},
        "redelivered_starts": 0,
        "unacknowledged_in_store": len(unacknowledged),
    }
    for job_id, job in jobs.items():
        if job is None:
            report["lost"].append(job_id)
            continue
        status = job["status"]
        if status in ("queued", "running"):
            report["stuck"].append(job_id)
        elif status == "succeeded":
            report["succeeded"] += job_id in accepted
        else:
            report["failed"] += job_id in accepted
            report["failed_errors"][str(job.get("error"))] += job_id in accepted
        finals = [e for e in job["events"] if e["status"] in FINAL]
        records = logs.get(job_id, [])
        starts = [r for r in records if r.get("event") == "job_started"]
        redelivered = sum(bool(r.get("redelivered")) for r in starts)
        ended = [r for r in records if r.get("event") in ("job_succeeded", "job_failed")]
        report["redelivered_starts"] += redelivered
        why = []
        if len(finals) > 1:
            why.append(f"{len(finals)} final events in its history")
        if len(starts) > 1 + redelivered:
            why.append(f"{len(starts)} job_started in the workers' logs, {redelivered} redelivered")
        if why:
            report["doubled"][job_id] = "; ".join(why)
        elif len(ended) > 1:
            workers = ", ".join(str(r.get("worker")) for r in ended)
            report["ran_twice"][job_id] = f"ran to the end {len(ended)} times ({workers})"
    report["jobs"] = jobs
    return report


# -- the run ---------------------------------------------------------------------------------


def wait_until_finished(
    platform: Platform, token: str, total: int, deadline: float, extra: Any = None
) -> bool:
    """Until every stored job is finished (and EXTRA() is true) or DEADLINE; print progress."""
    last_shown = 0.0
    while time.monotonic() < deadline:
        counts = statuses_now(platform, token)
        finished = counts is not None and counts["queued"] + counts["running"] == 0
        done = finished and counts is not None and counts["succeeded"] + counts["failed"] >= total
        if done and (extra is None or extra()):
            return True
        if time.monotonic() - last_shown >= 10:
            print(f"  {time.strftime('%H:%M:%S')} jobs by status: {counts}", flush=True)
            last_shown = time.monotonic()
        time.sleep(1)
    return False


def main() -> int:
    args = parse_args()
    run = uuid.uuid4().hex[:8]
    keep = args.keep
    cluster = None if args.postgres_url else PostgresCluster().start()
    admin_url = args.postgres_url or cluster.url()  # type: ignore[union-attr]
    database, store_url = new_database(admin_url)
    platform: Platform | None = None
    redis_server = None
    faults = None
    clean = False
    try:
        port = free_port()
        queue_url = args.redis_url or f"redis://127.0.0.1:{port}/0"
        platform = Platform(args, store_url, queue_url)
        print(f"home {platform.home}", flush=True)
        if not args.redis_url:  # its data beside the services' logs
            redis_server = RedisProcess(platform.home / "redis", port).start()
        platform.start()
        token = platform.login()
        faults = Faults(
            platform, queue_url, redis_server, admin_url, database, cluster, args.fault_every
        )
        print(
            f"{args.jobs} jobs from {args.clients} clients to {platform.middleware_urls};"
            f" a fault every {args.fault_every:g} s: {', '.join(faults.kinds)}",
            flush=True,
        )
        started = time.monotonic()
        faults.start()
        submissions = submit_all(platform, args, token, run)
        submitted_in = time.monotonic() - started
        print(
            f"  submitted in {submitted_in:.1f} s: {len(submissions.accepted)} accepted,"
            f" {len(submissions.refused)} not, {submissions.retries} retries",
            flush=True,
        )
        total = len(submissions.accepted)
        wait_until_finished(platform, token, total, started + args.timeout, faults.every_kind_done)
        faults.stop()
        print("  faults stopped; waiting for the last jobs", flush=True)
        wait_until_finished(platform, token, total, time.monotonic() + args.grace)
        time.sleep(args.linger)
        duration = time.monotonic() - started
        report = census(platform, token, submissions, args.clients)
        report["core_accepted"] = core_accepted(platform)
        platform.still_running()
        report["stopped_alone"] = platform.stopped_alone
        clean = not (report["lost"] or report["doubled"] or report["stuck"])
        summary = summarize(args, submissions, report, faults, duration, submitted_in)
        show(summary, report, platform.home, queue_url)
        (platform.home / "soak-report.json").write_text(json.dumps(summary, indent=2))
        if args.json:
            print(json.dumps(summary, indent=2))
    finally:
        if faults is not None and not faults.stopping.is_set():
            faults.stop()
        keep = keep or not clean
        if platform is not None:
            platform.services.stop(keep=keep)
            if keep:
                print(f"kept {platform.home}", flush=True)
        if redis_server is not None:
            redis_server.stop()
        if cluster is not None:
            cluster.stop(keep)
            if keep:
                print(f"kept the PostgreSQL cluster in {cluster.root}", flush=True)
        elif args.postgres_url:
            drop_database(args.postgres_url, database)
    return 0 if clean else 1


def summarize(
    args: argparse.Namespace,
    submissions: Submissions,
    report: dict[str, Any],
    faults: Faults,
    duration: float,
    submitted_in: float,
) -> dict[str, Any]:
    refused = collections.Counter(submissions.refused.values())
    return {
        "jobs_submitted": args.jobs,
        "accepted": len(submissions.accepted),
        "not_accepted": dict(refused),
        "submit_retries": submissions.retries,
        "succeeded": report["succeeded"],
        "failed": report["failed"],
        "failed_errors": {k: v for k, v in report["failed_errors"].items() if v},
        "lost": report["lost"],
        "doubled": report["doubled"],
        "stuck": report["stuck"],
        "ran_to_the_end_twice": report["ran_twice"],
        "redelivered_starts": report["redelivered_starts"],
        "stored_without_a_202": report["unacknowledged_in_store"],
        "core_accepted_total": report["core_accepted"],
        "stopped_by_themselves": report["stopped_alone"],
        "faults": dict(faults.done),
        "faults_that_failed": dict(faults.errors),
        "faults_skipped": faults.skipped,
        "fault_every_s": args.fault_every,
        "submit_s": round(submitted_in, 1),
        "duration_s": round(duration, 1),
    }


def show(summary: dict[str, Any], report: dict[str, Any], home: Path, queue_url: str) -> None:
    rows = [
        ("jobs submitted", summary["jobs_submitted"]),
        ("accepted (202)", summary["accepted"]),
        ("not accepted", sum(summary["not_accepted"].values())),
        ("submit retries (same key)", summary["submit_retries"]),
        ("succeeded", summary["succeeded"]),
        ("failed", summary["failed"]),
        ("LOST", len(summary["lost"])),
        ("DOUBLED", len(summary["doubled"])),
        ("STUCK", len(summary["stuck"])),
        ("ran to the end twice (one result)", len(summary["ran_to_the_end_twice"])),
        ("redelivered starts", summary["redelivered_starts"]),
        ("stored without a 202", summary["stored_without_a_202"]),
        ("core accepted (metrics)", summary["core_accepted_total"]),
        ("duration", f"{summary['duration_s']} s (submitting {summary['submit_s']} s)"),
    ]
    print("\nsoak summary")
    for name, value in rows:
        print(f"  {name:34} {value}")
    print("  faults injected")
    for kind in KINDS:
        if kind in summary["faults_skipped"]:
            print(f"    {kind:32} skipped (a server the soak did not start)")
        else:
            failed = summary["faults_that_failed"].get(kind, 0)
            print(
                f"    {kind:32} {summary['faults'].get(kind, 0)}"
                + (f" ({failed} failed)" if failed else "")
            )
    for name in summary["stopped_by_themselves"]:
        print(f"  stopped by itself (its log says why): {name}")
    for why, count in summary["not_accepted"].items():
        print(f"  not accepted x{count}: {why}")
    for error, count in summary["failed_errors"].items():
        print(f"  failed x{count}: {error}")
    for job_id, why in list(summary["ran_to_the_end_twice"].items())[:10]:
        print(f"  ran twice {job_id}: {why}")
    bad = [("LOST", j, "not in the store") for j in summary["lost"]]
    bad += [("DOUBLED", j, why) for j, why in summary["doubled"].items()]
    bad += [("STUCK", j, report["jobs"][j]["status"]) for j in summary["stuck"]]
    for label, job_id, why in bad[:20]:
        print(f"\n{label} {job_id}: {why}")
        if label == "STUCK":
            print(f"    broker: {broker_facts(queue_url, job_id)}")
        job = report["jobs"].get(job_id)
        for event in (job or {}).get("events", []):
            print(f"    event {event['at']} {event['status']} {event['service']} {event['detail']}")
        for line in job_log_lines(home, job_id):
            print(f"    log {line}")
    if len(bad) > 20:
        print(f"\n... and {len(bad) - 20} more (soak-report.json in the home lists them)")


if __name__ == "__main__":
    sys.exit(main())
