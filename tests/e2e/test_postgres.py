"""Several middlewares over one PostgreSQL job store, as real processes: every middleware
serves every job, none is forwarded twice or lost, and PostgreSQL going away is a clear 503
that heals by itself."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from psycopg import connect as psycopg_connect
from support.harness import Platform, answers, free_ports, wait_until
from support.pg_cluster import Cluster
from support.signing import ServiceAuth

from toy_platform.client import PlatformClient, PlatformError
from toy_platform.config import load_settings
from toy_platform.middleware.stores.postgres import PostgresJobStore
from toy_platform.security import load_service_key
from toy_platform.urls import mask_url

pytestmark = pytest.mark.e2e


@dataclass
class SharedStorePlatform(Platform):
    """Auth and core, and one middleware per port in `middleware_ports`, all on one store
    (given in TOY_PLATFORM_STORE_URL, so the password is on no command line)."""

    store_url: str = ""
    extra_ports: list[int] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {**super().env(), "TOY_PLATFORM_STORE_URL": self.store_url}

    @property
    def middleware_urls(self) -> list[str]:
        return [self.middleware_url] + [f"http://127.0.0.1:{p}" for p in self.extra_ports]

    def start_extra_middleware(self, port: int) -> subprocess.Popen[bytes]:
        """Another middleware on PORT; its callbacks go to the first one (--callback-url),
        as they would to a load balancer in front of them all."""
        log = open(self.home / f"middleware-{port}.out", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "toy_platform", "middleware", *self.common_args()]
            + ["--middleware-port", str(port), "--callback-url", self.middleware_url],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
        )
        self.processes[f"middleware-{port}"] = process
        return process


def _metric(url: str, name: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=5).text
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@pytest.fixture
def shared(tmp_path: Path, pg_url: str) -> Iterator[SharedStorePlatform]:
    platform = SharedStorePlatform(
        tmp_path,
        job_delay=0.0,
        extra_args=["--workers", "4"],
        store_url=pg_url,
        extra_ports=free_ports(2),
    )
    try:
        platform.start_all_services()
        for port in platform.extra_ports:
            platform.start_extra_middleware(port)
        for url in platform.middleware_urls:
            wait_until(lambda u=url: answers(f"{u}/readyz"), 60, what=f"{url} ready")
        yield platform
    finally:
        platform.stop()


def _clients(platform: SharedStorePlatform, count: int) -> list[PlatformClient]:
    """COUNT clients, round-robin over the middlewares, sharing one login."""
    token = platform.client().token
    urls = platform.middleware_urls
    return [PlatformClient(platform.auth_url, urls[n % len(urls)], token) for n in range(count)]


def _all_jobs(client: PlatformClient) -> list[tuple[str, str, str | None]]:
    """Every job (id, status, result), newest first, walked with keyset paging."""
    jobs: list[Any] = []
    before = None
    while True:
        page = client.list_jobs(limit=1000, before=before)
        jobs += [(j["job_id"], j["status"], j["result"]) for j in page["jobs"]]
        before = page["next_before"]
        if before is None:
            return jobs


def _succeeded(client: PlatformClient) -> int:
    return client.list_jobs(status="succeeded", limit=1)["total"]


def test_three_middlewares_on_one_store_forward_each_job_once_and_agree(
    shared: SharedStorePlatform,
) -> None:
    jobs = 2000
    clients = _clients(shared, 32)

    def submit(n: int) -> str:
        return clients[n % 32].submit_job(f"job-{n}", f"data {n}")["job_id"]

    with ThreadPoolExecutor(32) as pool:
        submitted = set(pool.map(submit, range(jobs)))
    assert len(submitted) == jobs

    wait_until(lambda: _succeeded(clients[0]) == jobs, 120, 0.5, "every job to succeed")
    assert _metric(shared.core_url, "toy_platform_core_jobs_accepted_total") == jobs
    lists = [_all_jobs(clients[n]) for n in range(3)]  # one per middleware
    assert lists[0] == lists[1] == lists[2]
    assert {job_id for job_id, _, _ in lists[0]} == submitted
    job_id, status, result = lists[0][0]
    assert status == "succeeded" and result is not None
    events = [e["status"] for e in clients[1].get_job(job_id)["events"]]
    assert events[:3] == ["submitted", "forwarded", "queued"] and events[-1] == "succeeded"


def _at_once(count: int, work: Any) -> list[Any]:
    """WORK(n) for n in range(COUNT), each in its own thread, let go together."""
    barrier = threading.Barrier(count)

    def run(n: int) -> Any:
        barrier.wait()
        return work(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_one_idempotency_key_or_one_callback_sent_to_three_middlewares_at_once_counts_once(
    shared: SharedStorePlatform,
) -> None:
    token = shared.client().token
    urls = shared.middleware_urls
    for round_ in range(5):
        answers_ = _at_once(
            6,
            lambda n, r=round_: requests.post(
                f"{urls[n % 3]}/job_submit",
                json={"job_name": "once", "data": f"round {r}"},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"key-{r}"},
                timeout=30,
            ),
        )
        assert all(a.status_code == 202 for a in answers_), [a.text for a in answers_]
        assert len({a.json()["job_id"] for a in answers_}) == 1
        assert sum(a.headers.get("Idempotent-Replayed") != "true" for a in answers_) == 1
    client = PlatformClient(shared.auth_url, urls[1], token)
    assert client.list_jobs()["total"] == 5

    # core (stopped here, so that only this test reports) sends one job's callbacks to
    # every middleware at once
    shared.kill_service("core")
    job_id = client.submit_job("callback", "x")["job_id"]
    signed = requests.Session()
    signed.auth = ServiceAuth(load_service_key(load_settings(home=shared.home)))
    for status in ("running", "succeeded"):
        body = {"status": status, "started_at": "2026-11-29T09:00:00.000+00:00", "result": "x"}
        outcomes = _at_once(
            6,
            lambda n, b=body: signed.post(
                f"{urls[n % 3]}/job_callback/{job_id}?attempt=1", json=b, timeout=30
            ).json()["changed"],
        )
        assert outcomes.count(True) == 1, outcomes
    job = client.get_job(job_id)
    assert job["status"] == "succeeded"
    assert [e["status"] for e in job["events"]] == [
        "submitted",
        "forwarded",  # core's report says core took it
        "queued",
        "running",
        "succeeded",
    ]


def test_kill_9_of_a_middleware_under_load_loses_nothing(shared: SharedStorePlatform) -> None:
    clients = _clients(shared, 12)
    accepted: list[str] = []
    lock = threading.Lock()
    victim = shared.processes[f"middleware-{shared.extra_ports[-1]}"]

    def submit(n: int) -> None:
        try:
            job = clients[n % 12].submit_job(f"job-{n}", f"data {n}")
        except PlatformError as exc:
            assert exc.unreachable, exc  # only the killed middleware may fail, unreachable
            return
        with lock:
            accepted.append(job["job_id"])
        if len(accepted) == 300:
            victim.kill()  # kill -9: no goodbye, its claims and connections just stop

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(submit, range(900)))
    assert victim.poll() is not None and len(accepted) >= 600

    survivor = clients[0]  # the middleware callbacks go to

    def all_done() -> bool:
        # >=: a job the victim committed just before it died is stored, though its 202 was lost
        counts = survivor.platform_status()["jobs_by_status"]
        return counts["queued"] + counts["running"] == 0 and counts["succeeded"] >= len(accepted)

    wait_until(all_done, 90, 0.5, "every accepted job to succeed")
    statuses = {job_id: status for job_id, status, _ in _all_jobs(survivor)}
    assert all(statuses[job_id] == "succeeded" for job_id in accepted)


def test_postgres_down_is_a_503_naming_it_and_the_middleware_recovers_without_restart(
    tmp_path: Path, pg_cluster: Cluster, pg_url: str
) -> None:
    platform = SharedStorePlatform(tmp_path, job_delay=0.0, store_url=pg_url)
    masked = mask_url(pg_url)
    try:
        platform.start_all_services()
        wait_until(lambda: answers(f"{platform.middleware_url}/readyz"), 60, what="ready")
        pid = platform.processes["middleware"].pid
        client = platform.client()
        before = client.submit_job("before", "x")["job_id"]

        pg_cluster.pg_ctl_stop()
        try:
            down = requests.post(
                f"{platform.middleware_url}/job_submit",
                json={"job_name": "n", "data": "d"},
                headers={"Authorization": f"Bearer {client.token}"},
                timeout=30,
            )
            ready = requests.get(f"{platform.middleware_url}/readyz", timeout=10)
            overview = requests.get(
                f"{platform.middleware_url}/platform_status",
                headers={"Authorization": f"Bearer {client.token}"},
                timeout=30,
            )
            status = platform.cli("status", check=False, timeout=10)
            doctor = platform.cli("doctor", check=False, timeout=10)
        finally:
            pg_cluster.pg_ctl_start()

        assert down.status_code == 503, down.text
        assert down.json()["code"] == "store_unavailable"
        assert f"PostgreSQL at {masked}" in down.json()["error"]
        assert ready.status_code == 503 and f"PostgreSQL at {masked}" in ready.json()["reason"]
        # the overview still answers, naming the store, rather than a bare 503
        assert overview.status_code == 200, overview.text
        middleware = overview.json()["components"]["middleware"]
        assert not middleware["ready"] and f"PostgreSQL at {masked}" in middleware["reason"]
        assert overview.json()["jobs_by_status"] is None
        for shown in (status, doctor):
            assert shown.returncode != 0
            assert f"PostgreSQL at {masked}" in shown.stdout, shown.stdout
        for text in (down.text, ready.text, status.stdout, doctor.stdout):
            assert pg_cluster.password not in text
        logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
        assert pg_cluster.password not in logs + platform.output("middleware")

        wait_until(lambda: answers(f"{platform.middleware_url}/readyz"), 30, what="recovery")
        assert (
            platform.processes["middleware"].pid == pid
            and platform.processes["middleware"].poll() is None
        )
        after = client.submit_job("after", "y")["job_id"]
        for job_id in (before, after):
            wait_until(lambda j=job_id: client.get_job(j)["status"] == "succeeded", 30, what=job_id)
    finally:
        platform.stop()


def test_a_lock_another_session_holds_is_a_quick_503_naming_it_and_heals(
    tmp_path: Path, pg_url: str
) -> None:
    """An operator's open transaction holding the rows every submit writes (BEGIN; SELECT ...
    FOR UPDATE, left open) made submits hang for minutes and /readyz say ready."""
    platform = SharedStorePlatform(tmp_path, job_delay=0.0, store_url=pg_url)
    try:
        platform.start_all_services()
        wait_until(lambda: answers(f"{platform.middleware_url}/readyz"), 60, what="ready")
        client = platform.client()
        client.submit_job("before", "x")  # the user's count rows exist
        submit = f"{platform.middleware_url}/job_submit"
        headers = {"Authorization": f"Bearer {client.token}"}
        with psycopg_connect(pg_url) as operator:  # a transaction, left open
            operator.execute("SELECT * FROM job_counts FOR UPDATE")
            started = time.monotonic()
            locked = requests.post(
                submit, json={"job_name": "n", "data": "d"}, headers=headers, timeout=60
            )
            took = time.monotonic() - started
            ready = requests.get(f"{platform.middleware_url}/readyz", timeout=10)
            operator.rollback()
        assert locked.status_code == 503 and took < 10, (took, locked.text)
        assert locked.json()["code"] == "store_unavailable" and "lock" in locked.json()["error"]
        assert locked.headers["Retry-After"]
        assert ready.status_code == 503 and "lock another session holds" in ready.json()["reason"]
        after = client.submit_job("after", "y")["job_id"]
        assert client.wait_for_job(after, timeout=30)["status"] == "succeeded"
        wait_until(lambda: answers(f"{platform.middleware_url}/readyz"), 20, what="ready again")
    finally:
        platform.stop()


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_the_list_jobs_benchmark_runs_on_both_stores(store: str, request: Any) -> None:
    """examples/benchmarks/list_jobs.py, small, so the README's figures can be made again."""
    url = "sqlite" if store == "sqlite" else request.getfixturevalue("pg_url")
    script = Path(__file__).resolve().parents[2] / "examples" / "benchmarks" / "list_jobs.py"
    result = subprocess.run(
        [sys.executable, str(script), "--store-url", url, "--jobs", "5000", "--requests", "20"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"store: {store}, 5,000 jobs, alice has 1,000" in result.stdout, result.stdout
    assert re.search(r"alice's first page +p50 +[\d.]+ ms +p99 +[\d.]+ ms", result.stdout)
    if store == "postgresql":
        assert request.getfixturevalue("pg_cluster").password not in result.stdout


@pytest.mark.parametrize("problem", ["wrong password", "newer schema"])
def test_a_middleware_that_cannot_use_its_store_stops_at_once_saying_why(
    problem: str, tmp_path: Path, pg_cluster: Cluster, pg_url: str
) -> None:
    import psycopg

    url = pg_url
    if problem == "wrong password":
        url = pg_url.replace(pg_cluster.password, "not-the-password")
        expected = "password authentication failed"
    else:
        PostgresJobStore(pg_url).close()  # as a middleware of this release left it
        with psycopg.connect(pg_url) as conn:
            conn.execute("UPDATE schema_version SET version = 99")
        expected = "has schema version 99, newer than this toy-platform knows"
    platform = SharedStorePlatform(tmp_path, store_url=url)
    result = platform.cli("middleware", check=False, timeout=60)
    assert result.returncode == 1
    assert f"PostgreSQL at {mask_url(pg_url)}" in result.stderr, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert pg_cluster.password not in result.stderr + result.stdout
    assert "not-the-password" not in result.stderr + result.stdout


def test_serve_on_postgresql_runs_jobs_and_shows_no_password(
    tmp_path: Path, pg_cluster: Cluster, pg_url: str
) -> None:
    platform = SharedStorePlatform(tmp_path, job_delay=0.0, extra_args=["--store-url", pg_url])
    try:
        platform.serve()
        client = platform.client()
        job_id = client.submit_job("on postgres", "abc")["job_id"]
        wait_until(lambda: client.get_job(job_id)["status"] == "succeeded", 30, what="done")
        with psycopg_connect(pg_url) as conn:  # the job is in PostgreSQL, not in a file
            assert conn.execute("SELECT status FROM jobs").fetchall() == [("succeeded",)]
        assert not (tmp_path / "data" / "middleware.sqlite3").exists()
        status = platform.cli("status")
        serve = psutil.Process(platform.processes["serve"].pid)
        children = [" ".join(child.cmdline()) for child in serve.children()]
    finally:
        platform.stop()
    shown = status.stdout + platform.output("serve") + " ".join(children)
    shown += "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    shown += "".join(p.read_text() for p in (tmp_path / "data").glob("*.json"))
    assert pg_cluster.password not in shown


def _cluster_processes(pg_cluster: Cluster) -> list[psutil.Process]:
    postmaster = int((pg_cluster.data_dir / "postmaster.pid").read_text().split()[0])
    parent = psutil.Process(postmaster)
    return [parent, *parent.children(recursive=True)]


def test_a_frozen_postgres_is_a_quick_503_not_a_hang_and_the_same_process_recovers(
    tmp_path: Path, pg_cluster: Cluster, pg_url: str
) -> None:
    """A server that takes connections but never answers (SIGSTOP; a VM paused; a network
    dropping packets) made submits and /readyz hang: no server-side timeout can fire, and
    the kernel still acknowledges every packet, so TCP keepalives do not either."""
    platform = SharedStorePlatform(tmp_path, job_delay=0.0, store_url=pg_url)
    try:
        platform.start_all_services()
        wait_until(lambda: answers(f"{platform.middleware_url}/readyz"), 60, what="ready")
        client = platform.client()
        before = client.submit_job("before", "x")["job_id"]
        client.wait_for_job(before, timeout=30)
        headers = {"Authorization": f"Bearer {client.token}"}
        frozen = _cluster_processes(pg_cluster)
        for process in frozen:
            process.suspend()
        try:
            started = time.monotonic()
            submit = requests.post(
                f"{platform.middleware_url}/job_submit",
                json={"job_name": "n", "data": "d"},
                headers=headers,
                timeout=60,
            )
            submit_took = time.monotonic() - started
            started = time.monotonic()
            ready = requests.get(f"{platform.middleware_url}/readyz", timeout=30)
            ready_took = time.monotonic() - started
        finally:
            for process in frozen:
                process.resume()
        assert submit.status_code == 503 and submit_took < 15, (submit_took, submit.text)
        assert submit.json()["code"] == "store_unavailable"
        assert "is not answering" in submit.json()["error"], submit.text
        assert ready.status_code == 503 and ready_took < 10, (ready_took, ready.text)
        assert "PostgreSQL" in ready.json()["reason"]
        wait_until(lambda: answers(f"{platform.middleware_url}/readyz"), 30, what="recovery")
        after = client.submit_job("after", "y")["job_id"]
        assert client.wait_for_job(after, timeout=30)["status"] == "succeeded"
    finally:
        platform.stop()
