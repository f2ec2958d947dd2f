from __future__ import annotations

import json

import pytest
from conftest import signed_headers
from flask import Flask

from toy_platform.config import Settings
from toy_platform.core.processing import reverse_text
from toy_platform.jobqueue import QueuedJob, open_core_store


@pytest.mark.parametrize(
    ("text", "reversed_text"),
    [
        ("hello", "olleh"),
        ("", ""),
        ("ab\U0001f44d\U0001f3fde\u0301", "e\u0301\U0001f44d\U0001f3fdba"),
        ("\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea", "\U0001f1e9\U0001f1ea\U0001f1eb\U0001f1f7"),
        (
            "\U0001f468\u200d\U0001f469\u200d\U0001f467!",
            "!\U0001f468\u200d\U0001f469\u200d\U0001f467",
        ),
        ("a\r\nb", "b\r\na"),
    ],
)
def test_reverse_keeps_user_perceived_characters_whole(text: str, reversed_text: str) -> None:
    assert reverse_text(text) == reversed_text


def job(n: int, url: str = "http://mw/cb") -> QueuedJob:
    return QueuedJob(f"job-{n}", f"data-{n}", url)


def test_queue_is_first_in_first_out(tmp_path) -> None:
    queue, _ = open_core_store(tmp_path)
    positions = [queue.enqueue(job(n)) for n in range(3)]
    assert positions == [1, 2, 3]
    assert queue.size() == 3
    assert [queue.claim().job_id for _ in range(3)] == ["job-0", "job-1", "job-2"]
    assert queue.claim() is None
    assert queue.size() == 0


def test_a_batch_reports_each_jobs_place_in_the_queue(tmp_path) -> None:
    queue, _ = open_core_store(tmp_path)
    queue.enqueue_many([job(n) for n in range(5)])
    assert queue.claim().job_id == "job-0"  # running: no longer waiting
    batch = [job(7), job(2), job(0), job(8), job(7)]
    # job-7 and job-8 join behind job-1..4; job-2 is already second; job-0 waits for nothing
    assert queue.enqueue_many(batch) == [5, 2, 0, 6, 5]
    assert queue.size() == 6


def test_a_job_sent_twice_is_queued_once(tmp_path) -> None:
    queue, _ = open_core_store(tmp_path)
    queue.enqueue(job(1))
    queue.enqueue(job(1))
    assert queue.size() == 1
    queue.enqueue(job(1, url="http://mw/cb?attempt=2"))
    assert queue.size() == 2, "a retried job is a new run"


def test_claimed_jobs_survive_a_crash(tmp_path) -> None:
    queue, _ = open_core_store(tmp_path)
    queue.enqueue(job(1))
    queue.enqueue(job(2))
    claimed = queue.claim()
    assert claimed is not None
    reopened, _ = open_core_store(tmp_path)  # as a restarted process would
    assert reopened.requeue_claimed() == 1
    assert [reopened.claim().job_id, reopened.claim().job_id] == ["job-1", "job-2"]


def test_ack_forgets_the_job(tmp_path) -> None:
    queue, _ = open_core_store(tmp_path)
    queue.enqueue(job(1))
    claimed = queue.claim()
    queue.ack(claimed.seq)
    assert queue.requeue_claimed() == 0


def test_outbox_sends_only_the_newest_callback_of_a_job(tmp_path) -> None:
    _, outbox = open_core_store(tmp_path)
    outbox.add("a", "u", {"status": "running"}, None)
    outbox.add("a", "u", {"status": "succeeded"}, None)
    outbox.add("b", "u", {"status": "running"}, None)
    first, second = outbox.lease_next(), outbox.lease_next()
    assert (first.job_id, first.payload["status"]) == ("a", "succeeded")
    assert (second.job_id, second.payload["status"]) == ("b", "running")
    assert outbox.lease_next() is None
    outbox.delivered([first])
    outbox.delivered([second])
    assert outbox.pending() == 0, "a's running callback went with its succeeded one"


def test_outbox_sends_one_callback_of_a_job_at_a_time(tmp_path) -> None:
    _, outbox = open_core_store(tmp_path)
    outbox.add("a", "u", {"status": "running"}, None)
    running = outbox.lease_next()
    outbox.add("a", "u", {"status": "succeeded"}, None)
    assert outbox.lease_next() is None, "the succeeded callback waits for the one in flight"
    outbox.delivered([running])
    final = outbox.lease_next()
    assert (final.payload["status"], final.attempts) == ("succeeded", 1)


def test_attempts_carry_over_to_the_callback_that_replaces_a_failing_one(tmp_path) -> None:
    _, outbox = open_core_store(tmp_path)
    outbox.add("a", "u", {"status": "running"}, None)
    running = outbox.lease_next()
    outbox.retry_later(running.seq, 0, "connection refused")
    outbox.add("a", "u", {"status": "succeeded"}, None)
    final = outbox.lease_next()
    assert (final.payload["status"], final.attempts) == ("succeeded", 2)


def test_a_retried_job_has_its_own_callbacks(tmp_path) -> None:
    _, outbox = open_core_store(tmp_path)
    outbox.add("a", "u?attempt=1", {"status": "failed"}, None)
    outbox.add("a", "u?attempt=2", {"status": "running"}, None)
    assert {outbox.lease_next().url, outbox.lease_next().url} == {"u?attempt=1", "u?attempt=2"}


def test_outbox_retries_after_the_backoff(tmp_path) -> None:
    _, outbox = open_core_store(tmp_path)
    outbox.add("a", "u", {"status": "running"}, None)
    first = outbox.lease_next()
    outbox.retry_later(first.seq, 3600, "connection refused")
    assert outbox.lease_next() is None
    assert outbox.waiting_for_retry() == 1
    outbox.retry_later(first.seq, 0, "connection refused")
    assert outbox.lease_next().attempts == 2


def post_signed(app: Flask, settings: Settings, path: str, body: dict):
    raw = json.dumps(body).encode()
    return app.test_client().post(
        path,
        data=raw,
        content_type="application/json",
        headers=signed_headers(settings, "POST", path, raw),
    )


def test_core_submit_requires_service_credentials(core_app: Flask) -> None:
    response = core_app.test_client().post(
        "/job_submit", json={"job_id": "a", "data": "x", "callback_url": "http://mw/cb"}
    )
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"


def test_core_submit_queues_and_reports_the_position(core_app: Flask, settings: Settings) -> None:
    for n in (1, 2):
        response = post_signed(
            core_app,
            settings,
            "/job_submit",
            {"job_id": f"j{n}", "data": "x", "callback_url": "http://mw/cb"},
        )
        assert response.status_code == 202
        assert response.get_json()["position"] == n
    size = core_app.test_client().get("/queue_size").get_json()
    assert size["queue_size"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": "x", "callback_url": "http://a"}, "job_id"),
        ({"job_id": "a", "data": 1, "callback_url": "http://a"}, "data"),
        ({"job_id": "a", "data": "x", "callback_url": "file:///etc/passwd"}, "callback_url"),
    ],
)
def test_core_submit_names_the_bad_field(
    core_app: Flask, settings: Settings, body: dict, field: str
) -> None:
    response = post_signed(core_app, settings, "/job_submit", body)
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_purge_empties_the_queue(core_app: Flask, settings: Settings) -> None:
    post_signed(
        core_app,
        settings,
        "/job_submit",
        {"job_id": "j", "data": "x", "callback_url": "http://mw/cb"},
    )
    assert core_app.test_client().post("/purge").status_code == 401
    response = post_signed(core_app, settings, "/purge", {})
    assert response.get_json()["purged_jobs"] == 1
    assert core_app.test_client().get("/queue_size").get_json()["queue_size"] == 0


def test_readyz_names_what_is_not_ready(core_app: Flask) -> None:
    client = core_app.test_client()
    assert client.get("/readyz").status_code == 200
    core_app.extensions["toy_platform"].readiness.append(("disk", lambda: "full"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["reason"] == "disk: full"


def test_a_batch_is_queued_in_order_with_each_jobs_request_id(
    core_app: Flask, settings: Settings
) -> None:
    jobs = [
        {"job_id": f"b{n}", "data": "x", "callback_url": "http://mw/cb", "request_id": f"req-{n}"}
        for n in range(3)
    ]
    response = post_signed(core_app, settings, "/job_submit/batch", {"jobs": jobs})
    assert response.status_code == 202
    assert [j["position"] for j in response.get_json()["jobs"]] == [1, 2, 3]
    queue = core_app.extensions["core"].queue
    claimed = [queue.claim() for _ in range(3)]
    assert [(j.job_id, j.request_id) for j in claimed] == [
        ("b0", "req-0"),
        ("b1", "req-1"),
        ("b2", "req-2"),
    ]


@pytest.mark.parametrize(
    ("jobs", "field"),
    [
        ([], "jobs"),
        ("x", "jobs"),
        (
            [{"job_id": "a", "data": "x", "callback_url": "http://a"}, {"job_id": "b"}],
            "jobs[1].data",
        ),
    ],
)
def test_a_bad_batch_is_refused_whole(
    core_app: Flask, settings: Settings, jobs: object, field: str
) -> None:
    response = post_signed(core_app, settings, "/job_submit/batch", {"jobs": jobs})
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert core_app.extensions["core"].queue.size() == 0


def test_callbacks_waiting_out_a_back_off_can_be_sent_at_once(tmp_path) -> None:
    _, outbox = open_core_store(tmp_path)
    outbox.add("a", "http://mw:1/job_callback/a", {"status": "running"}, None)
    outbox.add("b", "http://other:2/job_callback/b", {"status": "running"}, None)
    for callback in outbox.lease_batch(2):
        outbox.retry_later(callback.seq, 3600, "connection refused")
    assert outbox.lease_next() is None
    assert outbox.retry_now("http://mw:1/") == 1
    assert [c.job_id for c in outbox.lease_batch(5)] == ["a"]
