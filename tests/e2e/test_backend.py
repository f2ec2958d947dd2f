"""The platform as a user runs it: real processes on free ports with a temporary home."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from support.harness import Platform, all_gone, answers, wait_until

from toy_platform.client import PlatformClient, PlatformError

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    platform = Platform(tmp_path_factory.mktemp("served"), job_delay=0.1)
    try:
        yield platform.serve()
    finally:
        platform.stop()


def test_first_start_prints_a_random_admin_password_that_works(tmp_path: Path) -> None:
    platform = Platform(tmp_path)
    platform.admin_password = ""  # let serve generate one
    try:
        platform.serve()
        found = re.search(r"^admin password: (\S+)$", platform.output("serve"), re.M)
        assert found, platform.output("serve")
        client = platform.client("admin", found.group(1))
        assert client.username == "admin"
        assert str(platform.home / "config" / "users.json") in platform.output("serve")
    finally:
        platform.stop()


def test_jobs_go_queued_running_succeeded(served: Platform, unique_name: str) -> None:
    served.add_user(unique_name, "password-1")
    client = served.client(unique_name, "password-1")
    job = client.submit_job("greet", "hello \U0001f44d\U0001f3fd world")
    assert job["status"] == "queued"
    done = client.wait_for_job(job["job_id"], timeout=30)
    assert done["status"] == "succeeded"
    assert done["result"] == "dlrow \U0001f44d\U0001f3fd olleh"
    assert done["started_at"] and done["completed_at"]
    events = [e["status"] for e in client.get_job(job["job_id"])["events"]]
    assert events == ["submitted", "forwarded", "queued", "running", "succeeded"]


def test_users_only_see_their_own_jobs(served: Platform, unique_name: str) -> None:
    served.add_user(unique_name + "a", "password-a")
    served.add_user(unique_name + "b", "password-b")
    alice = served.client(unique_name + "a", "password-a")
    bob = served.client(unique_name + "b", "password-b")
    job = alice.submit_job("mine", "x")
    assert [j["job_id"] for j in bob.list_jobs()["jobs"]] == []
    with pytest.raises(PlatformError) as err:
        bob.get_job(job["job_id"])
    assert err.value.status == 404
    admin = served.client()
    assert job["job_id"] in [j["job_id"] for j in admin.list_jobs(all_users=True)["jobs"]]


def test_error_paths_answer_json(served: Platform, unique_name: str) -> None:
    served.add_user(unique_name, "password-1")
    with pytest.raises(PlatformError) as wrong:
        served.client(unique_name, "wrong-password")
    assert (wrong.value.status, wrong.value.code) == (401, "invalid_credentials")
    anonymous = PlatformClient(served.auth_url, served.middleware_url)
    with pytest.raises(PlatformError) as unauthenticated:
        anonymous.list_jobs()
    assert unauthenticated.value.status == 401
    user = served.client(unique_name, "password-1")
    with pytest.raises(PlatformError) as forbidden:
        user.reset()
    assert forbidden.value.status == 403
    with pytest.raises(PlatformError) as bad:
        user.submit_job("", "x")
    assert (bad.value.status, bad.value.field) == (400, "job_name")
    with pytest.raises(PlatformError) as too_large:
        user.submit_job("big", "x" * (1024 * 1024 + 1))
    assert (too_large.value.status, too_large.value.field) == (413, "data")
    for url in (
        f"{served.middleware_url}/nope",
        f"{served.core_url}/nope",
        f"{served.auth_url}/nope",
    ):
        response = requests.get(url, timeout=5)
        assert response.status_code == 404
        assert set(response.json()) == {"error", "code"}


def test_internal_endpoints_reject_callers_without_credentials(served: Platform) -> None:
    core = requests.post(
        f"{served.core_url}/job_submit",
        timeout=5,
        json={"job_id": "x", "data": "y", "callback_url": "http://a/b"},
    )
    assert core.status_code == 401
    callback = requests.post(
        f"{served.middleware_url}/job_callback/x", timeout=5, json={"status": "succeeded"}
    )
    assert callback.status_code == 401


def test_an_unreachable_service_is_a_clear_error(served: Platform) -> None:
    client = PlatformClient("http://127.0.0.1:9", served.middleware_url, timeout=2)
    with pytest.raises(PlatformError) as err:
        client.login("a", "b")
    assert err.value.unreachable
    assert "auth service at http://127.0.0.1:9 is not answering" in err.value.message


def test_reset_empties_the_list_and_the_core_queue(tmp_path: Path) -> None:
    platform = Platform(tmp_path, job_delay=2)
    try:
        platform.serve()
        admin = platform.client()
        ids = [admin.submit_job(f"j{n}", "x")["job_id"] for n in range(4)]
        wait_until(
            lambda: (
                requests.get(f"{platform.core_url}/queue_size", timeout=2).json()["queue_size"] >= 2
            ),
            20,
        )
        result = admin.reset()
        assert result["jobs_removed"] == 4
        assert result["core_purged"] is True
        assert admin.list_jobs(all_users=True)["total"] == 0
        assert requests.get(f"{platform.core_url}/queue_size", timeout=2).json()["queue_size"] == 0
        with pytest.raises(PlatformError):
            admin.get_job(ids[0])
        # the job that was running when reset came finishes, and its callback is dropped
        wait_until(
            lambda: "callback_dropped" in (platform.home / "logs" / "core.log").read_text(),
            20,
            what="the late callback to be dropped",
        )
        assert admin.list_jobs(all_users=True)["total"] == 0
    finally:
        platform.stop()


def test_jobs_queued_at_core_survive_a_hard_kill_of_core(services: Platform) -> None:
    admin = services.client()
    ids = [admin.submit_job(f"j{n}", f"data-{n}")["job_id"] for n in range(6)]
    wait_until(
        lambda: all(
            admin.get_job(i)["status"] != "queued"
            or any(e["status"] == "forwarded" for e in admin.get_job(i)["events"])
            for i in ids
        ),
        20,
        what="all jobs forwarded",
    )
    services.kill_service("core")
    unfinished = [i for i in ids if admin.get_job(i)["status"] != "succeeded"]
    assert unfinished, "some jobs were still queued when core died"
    services.start_service("core")
    for n, job_id in enumerate(ids):
        done = admin.wait_for_job(job_id, timeout=30)
        assert (done["status"], done["result"]) == ("succeeded", f"{n}-atad")


def test_results_survive_the_middleware_being_down(services: Platform) -> None:
    admin = services.client()
    ids = [admin.submit_job(f"j{n}", f"data-{n}")["job_id"] for n in range(8)]
    wait_until(
        lambda: all(
            any(e["status"] == "forwarded" for e in admin.get_job(i)["events"]) for i in ids
        ),
        20,
        what="all jobs forwarded",
    )
    services.kill_service("middleware")
    # core finishes the jobs while nobody takes its callbacks
    wait_until(
        lambda: (
            requests.get(f"{services.core_url}/queue_size", timeout=2).json()["running"] == 0
            and requests.get(f"{services.core_url}/queue_size", timeout=2).json()["queue_size"] == 0
        ),
        30,
        what="core to finish",
    )
    pending = requests.get(f"{services.core_url}/queue_size", timeout=2).json()
    assert pending["callbacks_pending"] > 0
    services.start_service("middleware")
    for job_id in ids:
        done = admin.wait_for_job(job_id, timeout=60)
        assert done["status"] == "succeeded", done
    retried = [e for e in admin.get_job(ids[0])["events"] if e["status"] == "succeeded"]
    assert "attempts" in (retried[0]["detail"] or ""), "the history counts the retries"
    assert requests_answered(services, "middleware", "/job_callbacks") >= 1, (
        "the callbacks that piled up went back in a batch"
    )


def test_a_job_submitted_while_core_is_down_is_accepted_and_done_later(
    services: Platform,
) -> None:
    admin = services.client()
    services.kill_service("core")
    jobs = [admin.submit_job(f"later-{n}", f"abc{n}") for n in range(5)]
    assert {job["status"] for job in jobs} == {"queued"}
    services.start_service("core")
    for n, job in enumerate(jobs):
        assert admin.wait_for_job(job["job_id"], timeout=30)["result"] == f"{n}cba"
    assert requests_answered(services, "core", "/job_submit/batch") >= 1, (
        "the jobs that waited for core went to it in a batch"
    )


def requests_answered(platform: Platform, service: str, endpoint: str) -> float:
    """How many requests SERVICE answered on ENDPOINT, from its /metrics."""
    text = requests.get(f"{platform.url(service)}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "toy_platform_http_requests_total"
        and sample.labels.get("endpoint") == endpoint
    )


def test_idempotency_key_prevents_a_duplicate_after_a_retry(served: Platform) -> None:
    admin = served.client()
    first = admin.submit_job("once", "x", idempotency_key="client-retry-1")
    second = admin.submit_job("once", "x", idempotency_key="client-retry-1")
    assert first["job_id"] == second["job_id"]


def test_failed_jobs_can_be_retried(tmp_path: Path) -> None:
    platform = Platform(tmp_path, job_delay=0, extra_args=["--failure-rate", "1"])
    try:
        platform.serve()
        admin = platform.client()
        job = admin.submit_job("doomed", "x")
        failed = admin.wait_for_job(job["job_id"], timeout=30)
        assert failed["status"] == "failed"
        assert "simulated failure" in failed["error"]
        retried = admin.retry_job(job["job_id"])
        assert (retried["status"], retried["attempt"]) == ("queued", 2)
        assert admin.wait_for_job(job["job_id"], timeout=30)["status"] == "failed"
    finally:
        platform.stop()


def test_serve_restarts_a_killed_child_and_stops_cleanly(tmp_path: Path) -> None:
    platform = Platform(tmp_path).serve()
    state_file = tmp_path / "data" / "supervisor.json"
    try:
        children = json.loads(state_file.read_text())["children"]
        core_pid = children["core"]["pid"]
        platform.cli("chaos", "kill", "core")
        wait_until(
            lambda: (
                json.loads(state_file.read_text())["children"]["core"]["pid"]
                not in (None, core_pid)
                and answers(f"{platform.core_url}/healthz")
            ),
            30,
            what="core to be restarted",
        )
        record = json.loads(state_file.read_text())["children"]["core"]
        assert record["restarts"] == 1
        assert record["last_exit_code"] != 0
        pids = [c["pid"] for c in json.loads(state_file.read_text())["children"].values()]
    finally:
        platform.stop()
    assert platform.processes == {}
    all_gone(pids)


def test_the_package_runs_as_python_dash_m(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "toy_platform", "--version"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TOY_PLATFORM_HOME": str(tmp_path)},
    )
    assert result.stdout.startswith("toy-platform, version ")
