"""Background work that heals: faults induced from outside while the services run.

Each test starts auth, core and middleware as processes, breaks something as an operator
would meet it (a bad item in the queue, another process holding a database, services with
different keys) and checks that the work moves again by itself and that /readyz told the
truth meanwhile.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from support.harness import Platform, wait_until
from support.signing import ServiceAuth

from toy_platform.config import load_settings
from toy_platform.security import load_service_key

pytestmark = pytest.mark.e2e

# Longer than the 30 s SQLite busy timeout that a service's requests wait for a lock.
LOCK_HOLD_S = 33.0
STALL_AFTER_S = 2.0


def start(home: Path, job_delay: float) -> Platform:
    platform = Platform(home, job_delay=job_delay, extra_args=["--stall-after", str(STALL_AFTER_S)])
    return platform.start_all_services()


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[Platform]:
    """The services one by one, with jobs that take 0.1 s and a 2 s stall threshold."""
    platform = start(tmp_path, job_delay=0.1)
    try:
        yield platform
    finally:
        platform.stop()


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[Platform]:
    """As `quick`, with jobs that take 0.5 s, so that jobs wait in core's queue."""
    platform = start(tmp_path, job_delay=0.5)
    try:
        yield platform
    finally:
        platform.stop()


def post_to_core(platform: Platform, path: str, body: dict[str, Any]) -> requests.Response:
    """A call signed with the service key, as the middleware makes it."""
    key = load_service_key(load_settings(home=platform.home))
    return requests.post(f"{platform.core_url}{path}", json=body, auth=ServiceAuth(key), timeout=10)


def readyz(url: str) -> dict[str, Any]:
    try:
        response = requests.get(f"{url}/readyz", timeout=5)
    except requests.RequestException as exc:
        return {"ready": None, "reason": f"no answer: {exc}", "stalled_s": None}
    body: dict[str, Any] = response.json()
    assert (response.status_code == 200) == body["ready"], body
    return body


def queue_size(platform: Platform) -> dict[str, Any]:
    body: dict[str, Any] = requests.get(f"{platform.core_url}/queue_size", timeout=5).json()
    return body


def thread_restarts(platform: Platform, service: str) -> float:
    text = requests.get(f"{platform.url(service)}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "toy_platform_thread_restarts_total"
    )


def no_thread_died(platform: Platform, service: str) -> bool:
    output = platform.output(service)
    return "Exception in thread" not in output and "died:" not in output


def hold_write_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process takes the write lock of the SQLite file PATH for SECONDS, as a backup
    or a `sqlite3` shell with BEGIN IMMEDIATE would; returns once the lock is held."""
    script = (
        "import sqlite3, sys, time\n"
        "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "conn.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "conn.execute('COMMIT')\n"
    )
    locker = subprocess.Popen(
        [sys.executable, "-c", script, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert locker.stdout is not None
    assert locker.stdout.readline().strip() == "locked"
    return locker


def stalled_readyz(url: str, words: str) -> dict[str, Any] | None:
    """/readyz when it reports a stall whose reason has WORDS, else None."""
    body = readyz(url)
    stalled = body.get("stalled_s")
    if stalled is not None and stalled >= STALL_AFTER_S and words in (body["reason"] or ""):
        return body
    return None


def test_a_request_id_outside_latin1_does_not_stop_the_callback_senders(quick: Platform) -> None:
    for n in range(6):  # more than there are callback senders
        response = post_to_core(
            quick,
            "/job_submit",
            {
                "job_id": f"latin-{n}",
                "data": "x",
                "callback_url": f"{quick.middleware_url}/job_callback/latin-{n}",
                "request_id": "é€",
            },
        )
        assert response.status_code == 202, response.text
    client = quick.client()
    job = client.submit_job("after the bad ones", "still works")
    assert client.wait_for_job(job["job_id"], timeout=30)["result"] == "skrow llits"
    wait_until(lambda: queue_size(quick)["callbacks_pending"] == 0, 20, what="callbacks settled")
    size = queue_size(quick)
    assert (size["workers_alive"], size["callback_senders_alive"]) == (1, 4), size
    assert readyz(quick.core_url)["ready"] is True
    assert thread_restarts(quick, "core") == 0 and no_thread_died(quick, "core")


def test_the_queue_moves_again_after_another_process_held_core_database(slow: Platform) -> None:
    client = slow.client()
    jobs = [client.submit_job(f"before-{n}", f"data-{n}") for n in range(6)]
    wait_until(lambda: queue_size(slow)["queue_size"] >= 3, 20, what="jobs waiting in core")
    locker = hold_write_lock(slow.home / "data" / "core.sqlite3", LOCK_HOLD_S)
    try:
        jobs += [client.submit_job(f"during-{n}", f"late-{n}") for n in range(2)]
        locked = wait_until(
            lambda: "database is locked" in (readyz(slow.core_url)["reason"] or ""),
            10,
            what="core's /readyz to say its database is locked",
        )
        assert locked
        stalled = wait_until(
            lambda: stalled_readyz(slow.core_url, "workers"), 20, what="core to report a stall"
        )
        assert stalled["ready"] is False and "database is locked" in stalled["reason"]
        locker.wait(LOCK_HOLD_S + 10)
    finally:
        locker.kill()
    for job in jobs:
        assert client.wait_for_job(job["job_id"], timeout=30)["status"] == "succeeded"
    ready = wait_until(lambda: readyz(slow.core_url)["ready"], 10, what="core ready again")
    assert ready
    assert readyz(slow.core_url)["stalled_s"] is None
    size = queue_size(slow)
    assert (size["workers_alive"], size["callback_senders_alive"]) == (1, 4), size
    assert thread_restarts(slow, "core") == 0, "the threads lived through it"
    assert no_thread_died(slow, "core")


def test_the_forwarder_moves_again_after_another_process_held_middleware_database(
    quick: Platform,
) -> None:
    client = quick.client()
    quick.kill_service("core")
    jobs = [client.submit_job(f"waiting-{n}", f"data-{n}") for n in range(5)]
    locker = hold_write_lock(quick.home / "data" / "middleware.sqlite3", LOCK_HOLD_S)
    try:
        quick.start_service("core")
        stalled = wait_until(
            lambda: stalled_readyz(quick.middleware_url, "forwarder"),
            20,
            what="the middleware to report a stall",
        )
        assert "database is locked" in stalled["reason"]
        locker.wait(LOCK_HOLD_S + 10)
    finally:
        locker.kill()
    for job in jobs:
        assert client.wait_for_job(job["job_id"], timeout=30)["status"] == "succeeded"
    wait_until(lambda: readyz(quick.middleware_url)["ready"], 10, what="middleware ready again")
    assert thread_restarts(quick, "middleware") == 0 and no_thread_died(quick, "middleware")


def test_different_service_keys_make_each_caller_not_ready(tmp_path: Path) -> None:
    platform = Platform(tmp_path, job_delay=0.1)
    try:
        platform.start_service("auth")
        platform.start_service("core")
        other_key = {"TOY_PLATFORM_SERVICE_KEY": secrets.token_urlsafe(32)}
        platform.start_service("middleware", env=other_key)
        client = platform.client()
        job = client.submit_job("refused", "abc")

        def refused(url: str) -> dict[str, Any] | None:
            body = readyz(url)
            return body if "signature" in (body["reason"] or "") else None

        middleware = wait_until(lambda: refused(platform.middleware_url), 15, what="refusal")
        assert middleware["ready"] is False and middleware["stalled_s"] is None
        assert "different service keys" in middleware["reason"]
        callback_url = f"{platform.middleware_url}/job_callback/k1"
        response = post_to_core(
            platform, "/job_submit", {"job_id": "k1", "data": "x", "callback_url": callback_url}
        )
        assert response.status_code == 202
        core = wait_until(lambda: refused(platform.core_url), 15, what="core to see the refusal")
        assert "middleware" in core["reason"] and "different service keys" in core["reason"]
        assert core["stalled_s"] is None

        platform.kill_service("middleware")
        platform.start_service("middleware")  # now with the same key as core
        assert client.wait_for_job(job["job_id"], timeout=30)["result"] == "cba"
        wait_until(lambda: readyz(platform.middleware_url)["ready"], 15, what="middleware ready")
        wait_until(lambda: readyz(platform.core_url)["ready"], 15, what="core ready")
    finally:
        platform.stop()


def test_serve_restarts_a_core_whose_work_stays_stalled_and_the_jobs_complete(
    tmp_path: Path,
) -> None:
    """Under serve, a stall that lasts twice --stall-after gets core restarted (`child_stalled`
    in the supervisor's log); once the lock is gone every job completes."""
    platform = Platform(
        tmp_path, job_delay=0.5, extra_args=["--stall-after", str(STALL_AFTER_S)]
    ).serve()
    try:
        client = platform.client()
        jobs = [client.submit_job(f"stalled-{n}", f"data-{n}") for n in range(6)]
        wait_until(lambda: queue_size(platform)["queue_size"] >= 3, 20, what="jobs waiting")
        locker = hold_write_lock(platform.home / "data" / "core.sqlite3", 4 * STALL_AFTER_S + 2)
        try:
            wait_until(
                lambda: "child_stalled" in supervisor_log(platform),
                30,
                what="serve to restart the stalled core",
            )
            locker.wait(30)
        finally:
            locker.kill()
        for job in jobs:
            assert client.wait_for_job(job["job_id"], timeout=60)["status"] == "succeeded"
        record = platform.cli("status", "--json", check=False).stdout
        assert json.loads(record)["components"]["core"]["restarts"] >= 1
    finally:
        platform.stop()


def supervisor_log(platform: Platform) -> str:
    path = platform.home / "logs" / "supervisor.log"
    return path.read_text(errors="replace") if path.exists() else ""
