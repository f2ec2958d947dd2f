"""Workers on many machines: `serve --queue-url redis://...` with `toy-platform worker`s.

A redis-server of the tests' own; `serve --workers 0` (no local worker) and workers started
as separate processes with their own host names, as on other machines. Faults come from
outside: SIGKILL of a worker's whole process tree, the redis-server stopped and started.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from redis import Redis
from support.e2e_worker_crash import KOMBU_ERROR
from support.harness import Platform, all_gone, free_ports, wait_until
from support.redis_server import RedisServer, why_unavailable

from toy_platform.client import PlatformClient, PlatformError
from toy_platform.config import load_settings
from toy_platform.security import load_service_key
from toy_platform.service_http import service_session

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(why_unavailable() is not None, reason=str(why_unavailable())),
]
SPEC_DIR = Path(__file__).resolve().parents[2] / "toy_platform" / "openapi"
TESTS_DIR = Path(__file__).resolve().parents[1]
VISIBILITY_S = 8  # a short visibility timeout: a killed worker's job runs again soon


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


class Workers:
    """`toy-platform worker` processes of the platform under test."""

    def __init__(self, platform: Platform, key_file: Path) -> None:
        self.platform, self.key_file = platform, key_file
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, job_delay: float, concurrency: int = 4, *extra: str) -> str:
        """Start worker NAME@test (EXTRA: more options); its node name."""
        platform = self.platform
        argv = [sys.executable, "-m", "toy_platform", "worker", *platform.common_args(), *extra]
        argv += ["--hostname", f"{name}@test", "--concurrency", str(concurrency)]
        argv += ["--job-delay", str(job_delay), "--service-key-file", str(self.key_file)]
        log = open(platform.home / f"worker-{name}.out", "ab")  # noqa: SIM115
        env = {**platform.env(), "TOY_PLATFORM_CONSOLE_LOG_LEVEL": "WARNING"}
        if "--job-module" in extra:  # the tests' own job types, importable from tests/
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])
            )
        self.running[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_until(lambda: self.online(f"{name}@test"), 30, what=f"worker {name} online")
        return f"{name}@test"

    def online(self, node: str) -> bool:
        workers = queue_size(self.platform).get("workers") or []
        return any(w["hostname"] == node and w["online"] for w in workers)

    def tree(self, name: str) -> list[int]:
        process = psutil.Process(self.running[name].pid)
        return [process.pid] + [child.pid for child in process.children(recursive=True)]

    def kill(self, name: str) -> None:
        """SIGKILL the worker and its pool processes at once, as if its machine died."""
        pids = self.tree(name)
        for pid in pids:
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
        self.running.pop(name).wait(10)
        all_gone(pids)

    def interrupt_all(self) -> list[int]:
        """Ctrl+C to every worker; their process trees' PIDs."""
        pids = [
            pid for name, p in self.running.items() if p.poll() is None for pid in self.tree(name)
        ]
        for process in self.running.values():
            process.send_signal(signal.SIGINT)
        for process in self.running.values():
            process.wait(30)
        self.running.clear()
        return pids


def queue_size(platform: Platform) -> dict:
    try:
        body = requests.get(f"{platform.core_url}/queue_size", timeout=5).json()
        return body if isinstance(body, dict) else {}
    except (requests.RequestException, ValueError):
        return {}


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, redis: RedisServer
) -> Iterator[tuple[Platform, Workers]]:
    home = tmp_path_factory.mktemp("celery")
    key_file = home / "copied-service.key"
    key_file.write_text("a-key-shared-by-every-machine-of-the-test\n")
    (home / "config").mkdir(parents=True)
    (home / "config" / "service.key").write_text(key_file.read_text())
    platform = Platform(home, job_delay=0.05)
    platform.extra_args = ["--queue-url", redis.url, "--workers", "0"]
    platform.extra_args += ["--visibility-timeout", str(VISIBILITY_S), "--reconcile-after", "2"]
    workers = Workers(platform, key_file)
    try:
        platform._spawn("serve", ["serve", "--no-web", "--no-dashboard"])
        wait_until(lambda: "Press Ctrl+C" in platform.output("serve"), 90, what="serve started")
        yield platform, workers
    finally:
        workers.interrupt_all()
        platform.stop()


def conforms(service: str, response: requests.Response) -> None:
    spec = json.loads((SPEC_DIR / f"{service}.json").read_text(encoding="utf-8"))
    OpenAPI.from_dict(spec).validate_response(
        RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
    )


def core_accepted(platform: Platform) -> float:
    """Core's count of the jobs it accepted (/metrics)."""
    text = requests.get(f"{platform.core_url}/metrics", timeout=5).text
    match = re.search(r"^toy_platform_core_jobs_accepted_total ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def events_of(client: PlatformClient, job_id: str) -> list[dict]:
    return list(client.get_job(job_id)["events"])


def worker_of(event: dict) -> str | None:
    detail = event.get("detail") or ""
    return detail.split("on worker ", 1)[1].split(";")[0] if "on worker " in detail else None


def test_no_worker_connected_is_named_by_status_and_doctor(
    platform: tuple[Platform, Workers], redis: RedisServer
) -> None:
    served, _ = platform
    ready = requests.get(f"{served.core_url}/readyz", timeout=5)
    assert ready.status_code == 503
    assert "no Celery worker is connected to " + redis.url in ready.json()["reason"]
    status = served.cli("status", check=False)
    assert status.returncode == 1
    assert "no Celery worker is connected" in status.stdout, status.stdout
    doctor = served.cli("doctor", check=False)
    assert "no Celery worker is connected" in doctor.stdout, doctor.stdout
    assert "toy-platform worker --queue-url " + redis.url in doctor.stdout
    # Jobs wait in Redis meanwhile; /reset empties the Celery queue as well.
    client = served.client()
    waiting = [client.submit_job("waits", "x")["job_id"] for _ in range(3)]
    wait_until(lambda: queue_size(served).get("queue_size") == 3, 20, what="3 jobs in Redis")
    reset = client.reset()
    assert reset["core_purged"] is True
    assert queue_size(served)["queue_size"] == 0
    assert client.list_jobs(all_users=True)["total"] == 0, waiting


def test_500_jobs_all_succeed_on_both_workers(platform: tuple[Platform, Workers]) -> None:
    served, workers = platform
    names = {workers.start("alpha", 0.05), workers.start("beta", 0.05)}
    assert requests.get(f"{served.core_url}/readyz", timeout=5).status_code == 200
    client = served.client()
    ids = [client.submit_job(f"job {n}", f"data {n}")["job_id"] for n in range(500)]

    def all_done() -> bool:
        counts = client.list_jobs(status="succeeded", limit=1)["total"]
        return bool(counts >= 500)

    wait_until(all_done, 180, interval=1, what="500 jobs succeeded")
    ran_on = {}
    for job_id in ids[::10]:  # every tenth job's history, to keep the test short
        job = client.get_job(job_id)
        assert job["status"] == "succeeded"
        finals = [e for e in job["events"] if e["status"] == "succeeded"]
        assert len(finals) == 1
        ran_on[job_id] = worker_of(finals[0])
    assert set(ran_on.values()) <= names
    assert set(ran_on.values()) == names, f"both workers ran jobs: {ran_on}"
    status = client.platform_status()
    assert {w["hostname"] for w in status["workers"]} >= names
    # The new fields are as documented (core's /queue_size, the middleware's /platform_status).
    conforms("core", requests.get(f"{served.core_url}/queue_size", timeout=5))
    token = {"Authorization": f"Bearer {client.token}"}
    conforms(
        "middleware",
        requests.get(f"{served.middleware_url}/platform_status", headers=token, timeout=10),
    )
    assert all(w["concurrency"] == 4 for w in status["workers"] if w["hostname"] in names)
    metrics = requests.get(f"{served.core_url}/metrics", timeout=5).text
    assert 'toy_platform_core_jobs_processed_total{status="succeeded"}' in metrics
    assert "toy_platform_celery_workers_online 2.0" in metrics
    # The request ID went with the job onto the worker: its logs follow the job there.
    logs = served.cli("logs", "--job-id", ids[0], "--json")
    services = {json.loads(line)["service"] for line in logs.stdout.splitlines()}
    assert {"middleware", "core", "worker"} <= services, services
    assert workers.interrupt_all()


def test_a_killed_workers_job_completes_on_another_once(platform: tuple[Platform, Workers]) -> None:
    served, workers = platform
    workers.start("one", 3, concurrency=1)
    workers.start("two", 3, concurrency=1)
    client = served.client()
    job_id = client.submit_job("survivor", "abc")["job_id"]

    def running_on() -> str | None:
        running = [e for e in events_of(client, job_id) if e["status"] == "running"]
        return worker_of(running[0]) if running else None

    first = wait_until(running_on, 30, what="the job running")
    victim = first.split("@")[0]
    killed_at = time.monotonic()
    workers.kill(victim)
    done = client.wait_for_job(job_id, timeout=60)
    assert time.monotonic() - killed_at < 60
    assert done["status"] == "succeeded" and done["result"] == "cba"
    finals = [e for e in events_of(client, job_id) if e["status"] in ("succeeded", "failed")]
    assert len(finals) == 1, finals
    assert worker_of(finals[0]) not in (None, first)
    assert "run 2: a worker stopped mid-job before" in finals[0]["detail"], finals


def test_results_wait_in_the_broker_while_the_middleware_is_down(
    platform: tuple[Platform, Workers],
) -> None:
    served, workers = platform
    if not workers.running:
        workers.start("two", 3, concurrency=1)
    client = served.client()
    job_id = client.submit_job("reported later", "later")["job_id"]
    wait_until(lambda: client.get_job(job_id)["status"] == "running", 30, what="the job running")
    served.stop_child("middleware")
    time.sleep(4)  # the job ends meanwhile: its report goes to the broker, retried
    served.start_child("middleware")
    done = client.wait_for_job(job_id, timeout=60)
    assert (done["status"], done["result"]) == ("succeeded", "retal")
    logs = served.cli("logs", "--job-id", job_id, "--service", "worker", "--json").stdout
    events = [json.loads(line)["event"] for line in logs.splitlines()]
    assert "callback_retry" in events and "callback_delivered" in events, events


def test_redis_down_jobs_wait_and_complete_when_it_is_back(
    platform: tuple[Platform, Workers], redis: RedisServer
) -> None:
    served, workers = platform
    if "two" not in workers.running and "one" not in workers.running:
        workers.start("two", 3, concurrency=1)
    client = served.client()
    redis.stop()
    stopped_at = time.monotonic()
    ids = [client.submit_job(f"while redis is down {n}", "xyz")["job_id"] for n in range(3)]

    def core_names_redis() -> bool:
        ready = requests.get(f"{served.core_url}/readyz", timeout=5)
        reason = ready.json()["reason"] or ""
        return ready.status_code == 503 and f"(Redis) at {redis.url}" in reason

    wait_until(core_names_redis, 10, what="core's /readyz naming Redis")
    assert time.monotonic() - stopped_at < 10
    down = requests.get(f"{served.core_url}/queue_size", timeout=10)
    conforms("core", down)
    assert down.json()["broker_up"] is False and down.json()["queue_size"] is None
    for command in ("status", "doctor"):  # neither hangs on the broker that is gone
        output = served.cli(command, check=False, timeout=10).stdout
        assert "Redis" in output and redis.url in output, output
    redis.start()
    for job_id in ids:
        assert client.wait_for_job(job_id, timeout=90)["status"] == "succeeded"


def _one_worker(workers: Workers, name: str) -> None:
    if not any(p.poll() is None for p in workers.running.values()):
        workers.start(name, job_delay=0.05)


def _log_events(platform: Platform, pattern: str, job_id: str) -> list[dict]:
    lines = []
    for path in (platform.home / "logs").glob(pattern):
        lines += [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
    return [x for x in lines if x.get("job_id") == job_id]


def test_a_job_sent_to_core_again_runs_once(
    platform: tuple[Platform, Workers], redis: RedisServer
) -> None:
    """The middleware sends a job again when it cannot know core took it (its 5 s timeout
    passed while the publish went through, it died before noting core's 202): core does not
    publish that run twice, and a copy that reached the broker all the same is dropped by the
    worker once the run was reported."""
    running, workers = platform
    _one_worker(workers, "gamma")
    client = running.client()
    job_id = client.submit_job("once", "twice?")["job_id"]
    assert client.wait_for_job(job_id, timeout=30)["status"] == "succeeded"
    session = service_session(load_service_key(load_settings(home=running.home)))
    body = {
        "job_id": job_id,
        "data": "twice?",
        "callback_url": f"{running.middleware_url}/job_callback/{job_id}?attempt=1",
    }
    again = session.post(f"{running.core_url}/job_submit", json=body, timeout=10)
    assert again.status_code == 202, again.text
    Redis.from_url(redis.url).delete(f"toy_platform:accepted:{job_id}.1")  # the mark lost
    assert session.post(f"{running.core_url}/job_submit", json=body, timeout=10).ok
    wait_until(
        lambda: any(
            e["event"] == "job_duplicate_dropped" for e in _log_events(running, "worker-*", job_id)
        ),
        30,
        what="the worker to drop the copy",
    )
    core = [e["event"] for e in _log_events(running, "core.log", job_id)]
    # Published again once its mark was gone, but counted accepted once.
    assert core == ["job_queued", "job_already_queued", "job_queued_again"], core
    statuses = [e["status"] for e in events_of(client, job_id)]
    assert statuses.count("succeeded") == 1, statuses
    started = [e for e in _log_events(running, "worker-*", job_id) if e["event"] == "job_started"]
    assert len(started) == 1, started


def test_a_dropped_broker_connection_does_not_start_running_jobs_again(
    platform: tuple[Platform, Workers], redis: RedisServer
) -> None:
    """A connection to Redis that drops (CLIENT KILL, a network blip) puts every task its
    worker had not acknowledged back in the queue, the running ones too: another worker took
    them and ran them a second time while the first still ran them."""
    running, workers = platform
    workers.interrupt_all()
    workers.start("kappa", 3, concurrency=2)
    workers.start("lambda", 3, concurrency=2)
    client = running.client()
    ids = [client.submit_job(f"connection dropped {n}", f"data {n}")["job_id"] for n in range(2)]
    wait_until(
        lambda: all(client.get_job(i)["status"] == "running" for i in ids), 30, what="running"
    )
    Redis.from_url(redis.url).client_kill_filter(_type="normal", skipme=True)
    for job_id in ids:
        assert client.wait_for_job(job_id, timeout=60)["status"] == "succeeded"
    time.sleep(4)  # a second run, if there were one, would have started and ended by now
    for job_id in ids:
        started = [
            e for e in _log_events(running, "worker-*", job_id) if e["event"] == "job_started"
        ]
        assert len(started) == 1, started
        statuses = [e["status"] for e in events_of(client, job_id)]
        assert statuses.count("succeeded") == 1 and statuses.count("running") == 1, statuses


def test_reports_a_wrong_address_holds_are_counted_named_and_go_once_it_is_fixed(
    platform: tuple[Platform, Workers], redis: RedisServer
) -> None:
    """A worker started with a wrong --middleware-url ran the job, then its report retried
    for ever as a countdown task inside that worker: the job showed queued while status said
    'all components ready, callbacks 0 waiting' and doctor 'no problems found'."""
    running, workers = platform
    workers.interrupt_all()
    (wrong_port,) = free_ports(1)
    wrong = f"http://127.0.0.1:{wrong_port}"
    workers.start("mu", 0.05, 2, "--middleware-url", wrong)
    client = running.client()
    job_id = client.submit_job("reported to the wrong place", "abc")["job_id"]

    def core_names_it() -> str | None:
        ready = requests.get(f"{running.core_url}/readyz", timeout=5)
        reason = ready.json().get("reason") or ""
        return reason if ready.status_code == 503 and wrong in reason else None

    reason = wait_until(core_names_it, 30, what="core's /readyz naming the wrong address")
    assert f"cannot deliver callbacks to the middleware at {wrong}: connection refused" in reason
    assert "1 callbacks wait" in reason, reason
    figures = queue_size(running)
    assert figures["callbacks_waiting_retry"] == 1, figures
    conforms("core", requests.get(f"{running.core_url}/queue_size", timeout=5))
    assert client.platform_status()["callbacks_waiting_retry"] == 1
    status = running.cli("status", check=False)
    assert status.returncode == 1 and wrong in status.stdout, status.stdout
    assert "1 waiting for retry" in status.stdout, status.stdout
    doctor = running.cli("doctor", check=False).stdout
    assert wrong in doctor and "no problems found" not in doctor, doctor
    assert client.get_job(job_id)["status"] == "queued"

    def said_on_its_timeline() -> bool:
        held_up = [e for e in events_of(client, job_id) if e["status"] == "reports_held_up"]
        return len(held_up) == 1 and wrong in (held_up[0]["detail"] or "")

    wait_until(said_on_its_timeline, 30, what="the job's timeline to say why")
    time.sleep(3)  # asked again meanwhile: said once
    assert said_on_its_timeline()
    # The operator fixes the address: the report goes where the platform takes reports now.
    workers.interrupt_all()
    workers.start("nu", 0.05, 2)
    done = client.wait_for_job(job_id, timeout=60)
    assert (done["status"], done["result"]) == ("succeeded", "cba")
    wait_until(lambda: queue_size(running).get("callbacks_waiting_retry") == 0, 10, what="none")
    wait_until(lambda: core_names_it() is None, 40, what="core ready again")


def test_job_types_run_on_celery_workers_with_time_limits_and_cancel(
    platform: tuple[Platform, Workers],
) -> None:
    """A worker offers the types of its --job-module; the middleware checks submits against
    them; time limits and cancel hold on the prefork pool."""
    running, workers = platform
    workers.interrupt_all()
    node = workers.start("omicron", 0.0, 2, "--job-module", "support.e2e_types")
    client = running.client()

    def offered() -> dict | None:
        types = {t["name"]: t for t in client.job_types()}
        words = types.get("e2e_words")
        return types if words and words["available"] else None

    types = wait_until(offered, 30, what="the worker's types offered")
    assert types["e2e_words"]["offered_by"] == [node]
    with pytest.raises(PlatformError) as invalid:
        client.submit_job("bad", {"text": 5}, job_type="e2e_words")
    assert invalid.value.code == "invalid_data"
    words = client.submit_job("words", {"text": "a b c d"}, job_type="e2e_words")["job_id"]
    done = client.wait_for_job(words, timeout=30)
    assert (done["status"], done["result"]) == ("succeeded", {"words": 4}), done
    stuck = client.submit_job("stuck", None, job_type="e2e_stuck")["job_id"]
    polite = client.submit_job("polite", {"seconds": 30}, job_type="e2e_wait")["job_id"]
    wait_until(lambda: client.get_job(polite)["status"] == "running", 30, what="running")
    asked = time.monotonic()
    client.cancel_job(polite)
    cancelled = client.wait_for_job(polite, timeout=15)
    assert cancelled["status"] == "cancelled" and time.monotonic() - asked < 3, cancelled
    timed_out = client.wait_for_job(stuck, timeout=30)
    assert timed_out["error"] == "timed out after 2 s", timed_out
    assert "timeout" in [e["status"] for e in events_of(client, stuck)]
    # No worker online offers the type: its jobs wait, queued, and /job_types says why.
    workers.interrupt_all()
    waits = client.submit_job("waits", {"text": "x y"}, job_type="e2e_words")["job_id"]
    wait_until(
        lambda: not {t["name"]: t for t in client.job_types()}["e2e_words"]["available"],
        30,
        what="the type unavailable",
    )
    words_type = {t["name"]: t for t in client.job_types()}["e2e_words"]
    assert words_type["reason"] == "no Celery worker online offers it"
    status = running.cli("status", check=False).stdout
    assert "no worker offers: " in status and "e2e_words" in status, status
    doctor = running.cli("doctor", check=False).stdout
    assert "job type e2e_words" in doctor and "its jobs wait, queued" in doctor, doctor
    why = client.get_job(waits).get("waiting_reason") or ""  # the job itself says so
    assert "no worker offers job type 'e2e_words'" in why, why
    (listed,) = [j for j in client.list_jobs(status="queued")["jobs"] if j["job_id"] == waits]
    assert listed.get("waiting_reason") == why
    workers.start("pi", 0.0, 1)  # a worker without the type does not take the job
    time.sleep(3)
    assert client.get_job(waits)["status"] == "queued"
    workers.start("rho", 0.0, 1, "--job-module", "support.e2e_types")
    assert client.wait_for_job(waits, timeout=30)["result"] == {"words": 2}
    workers.interrupt_all()


def test_tries_progress_crashes_and_a_forced_cancel_on_the_prefork_pool(
    platform: tuple[Platform, Workers],
) -> None:
    """The rest of the job-type contract, on Celery workers as on the embedded queue: a
    raising handler tried again with each try on the timeline, progress, a handler that
    kills its process (exit, segfault) failed with the reason, a cancel it ignores."""
    running, workers = platform
    workers.interrupt_all()
    workers.start("tau", 0.0, 2, "--job-module", "support.e2e_types")
    client = running.client()
    wait_until(
        lambda: {t["name"]: t for t in client.job_types()}["e2e_flaky"]["available"],
        30,
        what="the worker's types offered",
    )
    flaky = client.submit_job("flaky", 2, job_type="e2e_flaky")["job_id"]
    done = client.wait_for_job(flaky, timeout=60)
    assert (done["status"], done["result"]) == ("succeeded", {"attempt": 3}), done
    tries = [e["detail"] for e in events_of(client, flaky) if e["status"] == "attempt_failed"]
    assert [t.split(";")[0] for t in tries] == [
        f"try {n} of 3: RuntimeError: try {n} fails on purpose" for n in (1, 2)
    ]
    words = client.submit_job("words", {"text": "a b"}, job_type="e2e_words")["job_id"]
    counted = client.wait_for_job(words, timeout=30)
    assert counted["progress"] == {"fraction": 0.5, "message": "counting"}, counted
    for crash in ("e2e_crash", "e2e_segfault"):
        job_id = client.submit_job(crash, None, job_type=crash)["job_id"]
        failed = client.wait_for_job(job_id, timeout=30)
        assert failed["status"] == "failed", failed
        assert "the job's process died" in failed["error"], failed
    stubborn = client.submit_job("stubborn", None, job_type="e2e_stubborn")["job_id"]
    wait_until(lambda: client.get_job(stubborn)["status"] == "running", 30, what="running")
    asked = time.monotonic()
    client.cancel_job(stubborn)
    assert client.wait_for_job(stubborn, timeout=15)["status"] == "cancelled"
    assert time.monotonic() - asked < 6  # stopped in its process, within the cancel grace
    after = client.submit_job("after", {"x": 1}, job_type="e2e_noop")["job_id"]
    assert client.wait_for_job(after, timeout=30)["result"] == {"x": 1}
    workers.interrupt_all()


def test_time_limits_and_cancel_hold_on_the_threads_pool(
    platform: tuple[Platform, Workers],
) -> None:
    """Windows workers run Celery's threads pool (no fork): a thread cannot be stopped, so a
    handler that loops for ever or ignores a cancel is stopped in its sandbox process."""
    running, workers = platform
    workers.interrupt_all()
    workers.start("sigma", 0.0, 3, "--job-module", "support.e2e_types", "--pool", "threads")
    log = (running.home / "logs" / "worker-sigma@test.log").read_text(encoding="utf-8")
    assert "(threads pool)" in log, log[-2000:]
    client = running.client()
    wait_until(
        lambda: {t["name"]: t for t in client.job_types()}["e2e_stuck"]["available"],
        30,
        what="the worker's types offered",
    )
    stubborn = client.submit_job("stubborn", None, job_type="e2e_stubborn")["job_id"]
    wait_until(lambda: client.get_job(stubborn)["status"] == "running", 30, what="running")
    polite = client.submit_job("polite", {"seconds": 30}, job_type="e2e_wait")["job_id"]
    # Beside the stubborn one, in a sandbox of its own: one per process ran them in turn.
    wait_until(lambda: client.get_job(polite)["progress"] is not None, 10, what="progress")
    stuck = client.submit_job("stuck", None, job_type="e2e_stuck")["job_id"]
    asked = time.monotonic()
    client.cancel_job(polite)
    client.cancel_job(stubborn)
    assert client.wait_for_job(polite, timeout=15)["status"] == "cancelled"
    assert time.monotonic() - asked < 3
    assert client.wait_for_job(stubborn, timeout=15)["status"] == "cancelled"
    assert time.monotonic() - asked < 6  # stopped in its process, within the cancel grace
    timed_out = client.wait_for_job(stuck, timeout=30)
    assert timed_out["error"] == "timed out after 2 s", timed_out
    words = client.submit_job("after", {"text": "still going"}, job_type="e2e_words")["job_id"]
    assert client.wait_for_job(words, timeout=30)["result"] == {"words": 2}
    workers.interrupt_all()


def test_a_run_that_kept_stopping_its_worker_is_failed_not_run_again(
    platform: tuple[Platform, Workers], redis: RedisServer
) -> None:
    """A job whose worker process dies every time it runs it (out of memory, a crash) would
    be redelivered for ever: after MAX_DELIVERIES starts it is failed, and says why."""
    running, workers = platform
    workers.interrupt_all()
    client = running.client()
    job_id = client.submit_job("poison", "data")["job_id"]
    wait_until(lambda: events_of(client, job_id)[-1]["status"] == "queued", 30, what="queued")
    Redis.from_url(redis.url).set(f"toy_platform:runs:{job_id}.1", 3)  # three starts already
    workers.start("delta", job_delay=0.05)
    done = client.wait_for_job(job_id, timeout=30)
    assert done["status"] == "failed"
    assert done["error"].startswith("gave up after 3 attempts: a worker stopped each time")


def test_redis_killed_mid_burst_loses_no_job(
    platform: tuple[Platform, Workers], redis: RedisServer
) -> None:
    """With appendfsync always (the README's recommendation) a Redis killed with SIGKILL while
    core publishes a burst loses no job it accepted: each is on disk before core's 202, and
    the middleware keeps, and sends again, every job core did not accept."""
    served, workers = platform
    workers.interrupt_all()  # the jobs wait in the broker, where the kill can reach them
    client = served.client()
    ids: list[str] = []

    def burst() -> None:
        for n in range(80):
            ids.append(client.submit_job(f"burst {n}", f"data {n}")["job_id"])

    submitter = threading.Thread(target=burst)
    submitter.start()
    wait_until(lambda: (queue_size(served).get("queue_size") or 0) >= 10, 30, what="a backlog")
    assert redis.process is not None
    redis.process.kill()  # no shutdown, no save: what is on disk is all there is
    redis.process.wait()
    redis.process = None
    submitter.join(60)
    redis.start()
    workers.start("epsilon", job_delay=0.0)
    assert len(ids) == 80
    for job_id in ids:
        try:
            done = client.wait_for_job(job_id, timeout=90)
        except TimeoutError:
            raise AssertionError((job_id, events_of(client, job_id), queue_size(served))) from None
        assert done["status"] == "succeeded", done


def test_jobs_the_broker_lost_are_handed_over_again_and_run(
    platform: tuple[Platform, Workers], redis: RedisServer
) -> None:
    """Once core accepted a job the middleware never looked at it again: a Redis that lost
    its data (FLUSHALL, a restart without persistence) left it queued for ever."""
    served, workers = platform
    workers.interrupt_all()
    client = served.client()
    ids = [client.submit_job(f"lost {n}", f"data {n}")["job_id"] for n in range(3)]

    def statuses(job_id: str) -> list[str]:
        return [e["status"] for e in events_of(client, job_id)]

    wait_until(lambda: all("forwarded" in statuses(i) for i in ids), 30, what="accepted")
    Redis.from_url(redis.url).flushall()  # the broker forgets every job it held
    wait_until(
        lambda: all("forwarded_again" in statuses(i) for i in ids), 30, what="handed over again"
    )
    workers.start("zeta", job_delay=0.0)
    for job_id in ids:
        done = client.wait_for_job(job_id, timeout=60)
        assert done["status"] == "succeeded", (done, statuses(job_id))
        assert statuses(job_id).count("succeeded") == 1


def test_a_running_job_lost_with_its_worker_and_the_broker_is_handed_over_again(
    platform: tuple[Platform, Workers], redis: RedisServer
) -> None:
    """Only queued jobs were ever looked at again: a run lost with both its worker (killed)
    and the broker's record of it (FLUSHALL) left the job running for ever."""
    served, workers = platform
    workers.interrupt_all()
    workers.start("mu", job_delay=60.0)
    client = served.client()
    job_id = client.submit_job("lost while running", "abc")["job_id"]
    wait_until(lambda: client.get_job(job_id)["status"] == "running", 30, what="running")
    workers.kill("mu")
    Redis.from_url(redis.url).flushall()
    again = wait_until(
        lambda: [e for e in events_of(client, job_id) if e["status"] == "forwarded_again"],
        30,
        what="handed over again",
    )
    assert "while it ran" in again[0]["detail"], again
    workers.start("nu", job_delay=0.0)
    done = client.wait_for_job(job_id, timeout=60)
    assert (done["status"], done["result"]) == ("succeeded", "cba")
    statuses = [e["status"] for e in events_of(client, job_id)]
    assert statuses.count("forwarded_again") == 1 and statuses.count("succeeded") == 1, statuses
    workers.interrupt_all()


def test_a_running_reverse_job_is_cancelled_within_its_delay(
    platform: tuple[Platform, Workers],
) -> None:
    """`reverse` runs in the worker's own process: a cancel was not heard while it ran, and
    the job, cancel asked, ended succeeded after its whole delay."""
    served, workers = platform
    workers.interrupt_all()
    workers.start("xi", job_delay=60.0)
    client = served.client()
    job_id = client.submit_job("cancel me", "abc")["job_id"]
    wait_until(lambda: client.get_job(job_id)["status"] == "running", 30, what="running")
    asked = time.monotonic()
    client.cancel_job(job_id)
    done = client.wait_for_job(job_id, timeout=15)
    assert (done["status"], done["error"]) == ("cancelled", "cancelled while it ran"), done
    assert time.monotonic() - asked < 3
    workers.interrupt_all()


def test_a_queued_job_cancelled_in_the_broker_never_starts(
    platform: tuple[Platform, Workers],
) -> None:
    """A cancel of a job waiting in Redis: the worker that takes its task drops it."""
    served, workers = platform
    workers.interrupt_all()
    client = served.client()
    job_id = client.submit_job("never", "abc")["job_id"]
    wait_until(
        lambda: "forwarded" in [e["status"] for e in events_of(client, job_id)], 30, what="sent"
    )
    assert client.cancel_job(job_id)["status"] == "cancelled"
    after = client.submit_job("after it", "xyz")["job_id"]
    workers.start("upsilon", job_delay=0.0)
    assert client.wait_for_job(after, timeout=30)["result"] == "zyx"  # the queue went past it
    job = client.get_job(job_id)
    assert job["status"] == "cancelled" and job["started_at"] is None, job
    assert "running" not in [e["status"] for e in job["events"]]
    log = (served.home / "logs" / "worker-upsilon@test.log").read_text(encoding="utf-8")
    started = [line for line in log.splitlines() if '"job_started"' in line]
    assert started and not [line for line in started if job_id in line], started
    workers.interrupt_all()


def test_a_job_whose_publish_never_finished_is_handed_over_again(
    platform: tuple[Platform, Workers], redis: RedisServer
) -> None:
    """A broker that lost its last writes (fsync every second, a power loss) can keep core's
    'pending' mark of a publish while losing the job itself: that job is not held."""
    served, workers = platform
    workers.interrupt_all()
    client = served.client()
    job_id = client.submit_job("half published", "data")["job_id"]
    wait_until(
        lambda: "forwarded" in [e["status"] for e in events_of(client, job_id)], 30, what="sent"
    )
    broker = Redis.from_url(redis.url)
    broker.flushall()  # the job and its marks lost...
    broker.set(f"toy_platform:accepted:{job_id}.1", f"pending {time.time() - 60}")  # ...but one
    wait_until(
        lambda: "forwarded_again" in [e["status"] for e in events_of(client, job_id)],
        30,
        what="handed over again",
    )
    workers.start("eta", job_delay=0.0)
    assert client.wait_for_job(job_id, timeout=60)["status"] == "succeeded"


def test_a_worker_stopped_by_an_error_of_its_own_is_started_again_and_says_so(
    platform: tuple[Platform, Workers],
) -> None:
    """A worker whose consumer raised (kombu's AttributeError, seen while Redis was killed
    and restarted) logged 'Unrecoverable error' and exited: its machine ran no more jobs
    until someone started it again by hand."""
    served, workers = platform
    workers.interrupt_all()
    client = served.client()
    job_id = client.submit_job("after a crash", "abc")["job_id"]
    workers.start("crashing", 0.0, 2, "--job-module", "support.e2e_worker_crash")
    done = client.wait_for_job(job_id, timeout=60)
    assert (done["status"], done["result"]) == ("succeeded", "cba")
    assert workers.running["crashing"].poll() is None  # the same process, still running
    logged = [
        json.loads(line)
        for line in (served.home / "logs" / "worker-crashing@test.log").read_text().splitlines()
    ]
    restarted = [x for x in logged if x.get("event") == "worker_restarted"]
    assert len(restarted) == 1, restarted
    assert restarted[0]["error"] == f"AttributeError: {KOMBU_ERROR}"
    events = [x.get("event") for x in logged]
    assert "worker_ready" in events[events.index("worker_restarted") :]
    workers.interrupt_all()


def test_a_job_lost_between_the_queue_and_a_worker_is_handed_over_again_and_runs_once(
    platform: tuple[Platform, Workers], redis: RedisServer
) -> None:
    """kombu takes a message from the queue before it notes it unacknowledged: a worker killed
    in between lost it while core's mark said 'published', and the job stayed queued for ever
    (found by the soak)."""
    served, workers = platform
    workers.interrupt_all()
    client = served.client()
    accepted_before = core_accepted(served)
    job_id = client.submit_job("taken and lost", "abc")["job_id"]
    wait_until(
        lambda: "forwarded" in [e["status"] for e in events_of(client, job_id)], 30, what="sent"
    )
    assert Redis.from_url(redis.url).rpop("toy_platform.jobs") is not None  # taken, then lost
    wait_until(
        lambda: "forwarded_again" in [e["status"] for e in events_of(client, job_id)],
        60,
        what="handed over again",
    )
    workers.start("theta", job_delay=0.0)
    done = client.wait_for_job(job_id, timeout=60)
    assert (done["status"], done["result"]) == ("succeeded", "cba")
    statuses = [e["status"] for e in events_of(client, job_id)]
    assert statuses.count("forwarded_again") == 1 and statuses.count("succeeded") == 1, statuses
    # Queued again, yet accepted once: core's figure counted it twice (the soak's 601 of 600).
    core = [e["event"] for e in _log_events(served, "core.log*", job_id)]
    assert core.count("job_queued") == 1 and core.count("job_queued_again") == 1, core
    assert core_accepted(served) - accepted_before == 1


def test_a_final_report_lost_on_its_way_is_sent_again(
    platform: tuple[Platform, Workers], redis: RedisServer
) -> None:
    """A finished job whose report task was lost (a worker killed as it took it) stayed queued
    in the middleware for ever: core said it held the run, which was done."""
    served, workers = platform
    workers.interrupt_all()
    (wrong_port,) = free_ports(1)
    workers.start("iota", 0.0, 2, "--middleware-url", f"http://127.0.0.1:{wrong_port}")
    client = served.client()
    job_id = client.submit_job("report lost", "abc")["job_id"]
    broker = Redis.from_url(redis.url)
    done_key = f"toy_platform:done:{job_id}.1"
    wait_until(lambda: (broker.get(done_key) or b"").startswith(b"{"), 30, what="report waits")
    workers.interrupt_all()
    # The report's task is lost, and long enough ago that nothing is still handing it on.
    broker.delete("toy_platform:callbacks_waiting", "toy_platform.callbacks")
    record = json.loads(broker.get(done_key) or b"{}")
    broker.set(done_key, json.dumps(record | {"at": record["at"] - 600}), keepttl=True)
    workers.start("kappa", 0.0, 2)
    done = client.wait_for_job(job_id, timeout=60)
    assert (done["status"], done["result"]) == ("succeeded", "cba")
    wait_until(lambda: broker.get(done_key) == b"1", 10, what="the report noted delivered")
    assert [e["status"] for e in events_of(client, job_id)].count("succeeded") == 1


def test_ctrl_c_finishes_running_jobs_and_leaves_nothing_running(
    platform: tuple[Platform, Workers],
) -> None:
    served, workers = platform
    workers.interrupt_all()
    workers.start("last", 2, concurrency=1)
    client = served.client()
    job_id = client.submit_job("finished on the way out", "out")["job_id"]
    wait_until(lambda: client.get_job(job_id)["status"] == "running", 30, what="job running")
    record = json.loads((served.home / "data" / "supervisor.json").read_text())
    pids = [child["pid"] for child in record["children"].values() if child.get("pid")]
    pids += workers.interrupt_all()  # a warm shutdown: the running job finishes first
    job = client.get_job(job_id)
    logs = served.cli("logs", "--job-id", job_id, "--service", "worker").stdout
    assert job["status"] == "succeeded", f"{job}\n{logs}"
    serve = served.processes["serve"]
    pids.append(serve.pid)
    serve.send_signal(signal.SIGINT)
    serve.wait(60)
    all_gone(pids)


def test_serve_runs_a_local_worker_and_stops_it(tmp_path: Path, redis: RedisServer) -> None:
    local = Platform(tmp_path, job_delay=0.1)
    local.extra_args = ["--queue-url", redis.url.replace("/0", "/1"), "--workers", "2"]
    try:
        local._spawn("serve", ["serve", "--no-web", "--no-dashboard"])
        wait_until(lambda: "Press Ctrl+C" in local.output("serve"), 90, what="serve started")
        client = local.client()
        job = client.wait_for_job(client.submit_job("local", "abc")["job_id"], timeout=30)
        assert (job["status"], job["result"]) == ("succeeded", "cba")
        (worker,) = client.platform_status()["workers"]
        assert worker["hostname"].startswith("core@") and worker["concurrency"] == 2
        serve = local.processes["serve"]
        pids = [serve.pid] + [p.pid for p in psutil.Process(serve.pid).children(recursive=True)]
        assert len(pids) >= 7  # serve, auth, core, middleware, the worker and its 2 processes
        serve.send_signal(signal.SIGINT)
        serve.wait(60)
        all_gone(pids)
    finally:
        local.stop()
