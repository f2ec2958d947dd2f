"""Job types on the embedded queue, as real processes: the contract of `toy_platform.job_type`
end to end — submit checks, results of any JSON, progress, tries, time limits, cancel and a
handler that kills its own process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.harness import Platform, wait_until

from toy_platform.client import PlatformClient, PlatformError

pytestmark = pytest.mark.e2e
TESTS_DIR = Path(__file__).resolve().parents[1]
EXAMPLES = TESTS_DIR.parent / "examples"


class TypesPlatform(Platform):
    def env(self) -> dict[str, str]:
        path = os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))
        return {**super().env(), "PYTHONPATH": path}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TypesPlatform]:
    served = TypesPlatform(
        tmp_path_factory.mktemp("types"),
        job_delay=0.0,
        extra_args=["--workers", "2", "--job-module", "support.e2e_types"],
    )
    try:
        yield served.serve()
    finally:
        served.stop()


def events(client: PlatformClient, job_id: str) -> list[str]:
    return [e["status"] for e in client.get_job(job_id)["events"]]


def test_the_types_are_listed_and_a_submit_is_checked_against_them(
    platform: TypesPlatform,
) -> None:
    client = platform.client()
    types = {t["name"]: t for t in client.job_types()}
    assert {"reverse", "e2e_words", "e2e_stuck"} <= set(types)
    words = types["e2e_words"]
    assert words["title"] == "Count words" and words["timeout_s"] == 10
    assert words["available"] and words["offered_by"] == ["core"]
    assert words["input_schema"]["required"] == ["text"]
    before = client.list_jobs()["total"]
    with pytest.raises(PlatformError) as unknown:
        client.submit_job("n", {"text": "a"}, job_type="e2e_wrods")
    assert (unknown.value.status, unknown.value.code) == (422, "unknown_job_type")
    assert "e2e_words" in str(unknown.value)
    with pytest.raises(PlatformError) as invalid:
        client.submit_job("n", {"text": 3}, job_type="e2e_words")
    assert (invalid.value.status, invalid.value.code) == (422, "invalid_data")
    assert "$.text" in str(invalid.value)
    with pytest.raises(PlatformError) as empty:
        client.submit_job("n", "", job_type="reverse")
    assert empty.value.code == "invalid_data"
    assert client.list_jobs()["total"] == before  # nothing stored for any of them
    status = platform.cli("status").stdout
    assert "e2e_words (core)" in status and "reverse (core)" in status, status


def test_a_job_of_a_plugin_type_returns_any_json_and_its_progress(platform: TypesPlatform) -> None:
    client = platform.client()
    job = client.submit_job("count", {"text": "one two three"}, job_type="e2e_words")
    assert job["job_type"] == "e2e_words"
    done = client.wait_for_job(job["job_id"], timeout=30)
    assert (done["status"], done["result"]) == ("succeeded", {"words": 3}), done
    assert done["progress"] == {"fraction": 0.5, "message": "counting"}
    reverse = client.wait_for_job(client.submit_job("r", "abc")["job_id"], timeout=30)
    assert (reverse["job_type"], reverse["result"]) == ("reverse", "cba")


def test_a_raising_handler_is_tried_again_and_each_try_is_on_the_timeline(
    platform: TypesPlatform,
) -> None:
    client = platform.client()
    passes = client.submit_job("flaky", 2, job_type="e2e_flaky")["job_id"]
    fails = client.submit_job("flakier", 5, job_type="e2e_flaky")["job_id"]
    done = client.wait_for_job(passes, timeout=60)
    assert (done["status"], done["result"]) == ("succeeded", {"attempt": 3})
    assert events(client, passes).count("attempt_failed") == 2
    failed = client.wait_for_job(fails, timeout=60)
    assert failed["status"] == "failed"
    assert "RuntimeError: try 3 fails on purpose (try 3 of 3)" == failed["error"], failed
    job = client.get_job(fails)
    lines = [e for e in job["events"] if e["status"] == "attempt_failed"]
    assert [e["detail"].split(";")[0] for e in lines] == [
        f"try {n} of 3: RuntimeError: try {n} fails on purpose" for n in (1, 2, 3)
    ]
    assert "tried again in 1 s" in lines[0]["detail"] and "in 2 s" in lines[1]["detail"]
    assert "tried again" not in lines[2]["detail"]


def test_a_handler_that_never_yields_is_stopped_at_its_time_limit(platform: TypesPlatform) -> None:
    client = platform.client()
    job_id = client.submit_job("stuck", None, job_type="e2e_stuck")["job_id"]
    done = client.wait_for_job(job_id, timeout=30)
    assert done["status"] == "failed" and done["error"] == "timed out after 2 s", done
    assert "timeout" in events(client, job_id)
    # the worker goes on
    after = client.submit_job("after", "xyz")["job_id"]
    assert client.wait_for_job(after, timeout=30)["result"] == "zyx"


def test_a_handler_that_kills_its_process_fails_its_job_and_the_platform_goes_on(
    platform: TypesPlatform,
) -> None:
    client = platform.client()
    job_id = client.submit_job("crash", None, job_type="e2e_crash")["job_id"]
    done = client.wait_for_job(job_id, timeout=30)
    assert done["status"] == "failed"
    assert "the job's process died (exit code 3)" in done["error"], done
    segfault = client.submit_job("segfault", None, job_type="e2e_segfault")["job_id"]
    crashed = client.wait_for_job(segfault, timeout=30)
    assert crashed["status"] == "failed" and "the job's process died" in crashed["error"]
    again = client.submit_job("after a crash", {"x": 1}, job_type="e2e_noop")["job_id"]
    assert client.wait_for_job(again, timeout=30)["result"] == {"x": 1}


def test_cancel_stops_a_running_job_that_checks_and_one_that_does_not(
    platform: TypesPlatform,
) -> None:
    client = platform.client()
    polite = client.submit_job("polite", {"seconds": 30}, job_type="e2e_wait")["job_id"]
    wait_until(lambda: client.get_job(polite)["status"] == "running", 30, what="running")
    asked = time.monotonic()
    answer = client.cancel_job(polite)
    assert answer["cancel_requested"] and answer["status"] == "running"
    done = client.wait_for_job(polite, timeout=10)
    polite_s = time.monotonic() - asked
    assert done["status"] == "cancelled" and polite_s < 2, (done, polite_s)
    assert done["result"]["stopped_after_s"] < 30
    assert client.cancel_job(polite)["status"] == "cancelled"  # asked again: the same

    stubborn = client.submit_job("stubborn", None, job_type="e2e_stubborn")["job_id"]
    wait_until(lambda: client.get_job(stubborn)["status"] == "running", 30, what="running")
    asked = time.monotonic()
    client.cancel_job(stubborn)
    done = client.wait_for_job(stubborn, timeout=10)
    stubborn_s = time.monotonic() - asked
    assert done["status"] == "cancelled" and stubborn_s < 5, (done, stubborn_s)
    assert "stopped by force" in (done["error"] or ""), done
    assert events(client, stubborn)[-2:] == ["cancel_requested", "cancelled"]


def test_a_queued_job_cancelled_never_starts_and_a_finished_one_cannot_be(
    platform: TypesPlatform,
) -> None:
    client = platform.client()
    busy = [
        client.submit_job(f"busy {n}", {"seconds": 3}, job_type="e2e_wait")["job_id"]
        for n in range(2)
    ]
    queued = client.submit_job("never runs", {"seconds": 1}, job_type="e2e_wait")["job_id"]
    assert client.get_job(queued)["status"] == "queued"
    cancelled = client.cancel_job(queued)
    assert cancelled["status"] == "cancelled"
    for job_id in busy:
        client.wait_for_job(job_id, timeout=30)
    time.sleep(1.5)  # had it started, it would be running or done by now
    assert client.get_job(queued)["status"] == "cancelled"
    assert "running" not in events(client, queued)
    with pytest.raises(PlatformError) as finished:
        client.cancel_job(busy[0])
    assert (finished.value.status, finished.value.code) == (409, "not_cancellable")


def test_only_its_owner_or_an_admin_may_cancel_a_job(platform: TypesPlatform) -> None:
    platform.add_user("cancel-owner", "password-owner")
    platform.add_user("cancel-other", "password-other")
    owner = platform.client("cancel-owner", "password-owner")
    other = platform.client("cancel-other", "password-other")
    job_id = owner.submit_job("mine", {"seconds": 20}, job_type="e2e_wait")["job_id"]
    with pytest.raises(PlatformError) as hidden:
        other.cancel_job(job_id)
    assert hidden.value.status == 404
    assert platform.client().cancel_job(job_id)["job_id"] == job_id  # the admin may
    assert owner.wait_for_job(job_id, timeout=15)["status"] == "cancelled"


class InstalledPackagePlatform(Platform):
    """A platform whose Python sees one more installed package, in SITE (a --target dir)."""

    site: Path

    def env(self) -> dict[str, str]:
        path = os.pathsep.join(filter(None, [str(self.site), os.environ.get("PYTHONPATH")]))
        return {**super().env(), "PYTHONPATH": path}


def test_the_example_package_installed_with_pip_offers_its_types_by_entry_point(
    tmp_path: Path,
) -> None:
    """The README's way: `pip install examples/job_types`, then serve; no --job-module."""
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--target", str(site), str(EXAMPLES / "job_types")],
        check=True,
        timeout=300,
    )
    served = InstalledPackagePlatform(tmp_path / "home", job_delay=0.0)
    served.site = site
    try:
        client = served.serve().client()
        names = {t["name"] for t in client.job_types() if t["available"]}
        assert {"wordcount", "sha256", "primes", "slow_echo", "flaky", "reverse"} <= names
        job_id = client.submit_job("count", {"text": "one two\nthree"}, job_type="wordcount")
        done = client.wait_for_job(job_id["job_id"], timeout=60)
        assert done["status"] == "succeeded", done
        assert done["result"]["words"] == 3, done
    finally:
        served.stop()
