"""Request tracing, metrics, readiness and the platform status API, on real processes."""

from __future__ import annotations

import json

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from support.harness import Platform, wait_until

pytestmark = pytest.mark.e2e


def log_lines(platform: Platform, service: str) -> list[dict]:
    path = platform.home / "logs" / f"{service}.log"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def metric(platform: Platform, service: str, name: str, **labels: str) -> float:
    text = requests.get(f"{platform.url(service)}/metrics", timeout=5).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_a_request_id_follows_the_job_through_every_service(services: Platform) -> None:
    client = services.client()
    job = client.submit_job("traced", "abc", request_id="trace-me-123")
    assert job["request_id"] == "trace-me-123"
    client.wait_for_job(job["job_id"], timeout=20)
    wait_until(
        lambda: any(
            line["event"] == "callback_received" and line["status"] == "succeeded"
            for line in log_lines(services, "middleware")
        ),
        10,
    )
    middleware = [
        line for line in log_lines(services, "middleware") if line["request_id"] == "trace-me-123"
    ]
    core = [line for line in log_lines(services, "core") if line["request_id"] == "trace-me-123"]
    assert {"job_submitted", "job_forwarded", "callback_received"} <= {
        line["event"] for line in middleware
    }
    assert {"job_queued", "job_started", "job_succeeded", "callback_delivered"} <= {
        line["event"] for line in core
    }
    assert all(line["job_id"] == job["job_id"] for line in core)
    events = client.get_job(job["job_id"])["events"]
    assert [e["service"] for e in events] == ["middleware", "middleware", "core", "core", "core"]


def test_logs_are_json_lines_without_secrets(services: Platform) -> None:
    client = services.client()
    client.submit_job("x", "y")
    for service in ("auth", "middleware", "core"):
        text = (services.home / "logs" / f"{service}.log").read_text()
        assert services.admin_password not in text
        assert client.token not in text
        for line in text.splitlines():
            record = json.loads(line)
            assert record["service"] == service
            assert {"time", "level", "event", "request_id", "job_id"} <= set(record)


def test_metrics_count_what_happened(services: Platform) -> None:
    client = services.client()
    before = {
        "submitted": metric(services, "middleware", "toy_platform_jobs_submitted_total"),
        "accepted": metric(services, "core", "toy_platform_core_jobs_accepted_total"),
        "processed": metric(
            services, "core", "toy_platform_core_jobs_processed_total", status="succeeded"
        ),
        "http": metric(
            services,
            "middleware",
            "toy_platform_http_requests_total",
            endpoint="/job_submit",
            status="202",
        ),
        "logins": metric(services, "auth", "toy_platform_logins_total", outcome="ok"),
    }
    ids = [client.submit_job(f"m{n}", "data")["job_id"] for n in range(5)]
    for job_id in ids:
        client.wait_for_job(job_id, timeout=20)
    services.client()  # one more login
    assert metric(services, "middleware", "toy_platform_jobs_submitted_total") == (
        before["submitted"] + 5
    )
    assert metric(services, "core", "toy_platform_core_jobs_accepted_total") == (
        before["accepted"] + 5
    )
    assert (
        metric(services, "core", "toy_platform_core_jobs_processed_total", status="succeeded")
        == before["processed"] + 5
    )
    assert (
        metric(
            services,
            "middleware",
            "toy_platform_http_requests_total",
            endpoint="/job_submit",
            status="202",
        )
        == before["http"] + 5
    )
    assert metric(services, "auth", "toy_platform_logins_total", outcome="ok") == (
        before["logins"] + 1
    )
    assert metric(services, "middleware", "toy_platform_jobs", status="succeeded") >= 5
    assert metric(services, "core", "toy_platform_queue_size") == 0


def test_readyz_turns_503_while_a_dependency_is_down(services: Platform) -> None:
    ready = f"{services.middleware_url}/readyz"
    assert requests.get(ready, timeout=5).status_code == 200
    services.kill_service("core")
    response = requests.get(ready, timeout=5)
    assert response.status_code == 503
    assert response.json()["reason"].startswith("core:")
    services.start_service("core")
    assert requests.get(ready, timeout=5).status_code == 200


def test_auth_is_not_ready_without_its_users_file(services: Platform) -> None:
    users = services.home / "config" / "users.json"
    moved = users.rename(users.with_suffix(".bak"))
    try:
        response = requests.get(f"{services.auth_url}/readyz", timeout=5)
        assert response.status_code == 503
        assert "users.json" in response.json()["reason"]
    finally:
        moved.rename(users)
    assert requests.get(f"{services.auth_url}/readyz", timeout=5).status_code == 200


def test_platform_status_reports_a_dead_core_at_once(services: Platform) -> None:
    client = services.client()
    healthy = client.platform_status()
    assert healthy["all_ready"] is True
    assert {c["up"] for c in healthy["components"].values()} == {True}
    services.kill_service("core")
    down = client.platform_status()
    assert down["all_ready"] is False
    assert down["components"]["core"]["up"] is False
    assert "connection refused" in down["components"]["core"]["reason"]
    assert down["components"]["middleware"]["ready"] is False
    assert down["queue_size"] is None
    client.submit_job("waits", "for core")
    assert client.platform_status()["jobs_waiting_for_core"] == 1
    services.start_service("core")
    wait_until(lambda: client.platform_status()["all_ready"], 10, what="status green again")


def test_a_hanging_core_is_reported_down_within_the_probe_timeout(services: Platform) -> None:
    client = services.client()
    services.cli("chaos", "pause", "core", "6")
    status = client.platform_status()
    assert status["components"]["core"]["up"] is False
    assert "timeout" in status["components"]["core"]["reason"]
    wait_until(lambda: client.platform_status()["components"]["core"]["up"], 15)
