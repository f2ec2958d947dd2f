"""Core's job rules, with no queue and no server: the embedded workers and the Celery tasks
both run and report jobs with these."""

from __future__ import annotations

import pytest

from toy_platform.jobs import running
from toy_platform.jobs.running import (
    answer_outcome,
    error_outcome,
    failure_report,
    is_failure_report,
    kind_of,
    run_job,
    settled,
    unreachable_outcome,
    unreachable_reason,
)

STARTED = "2026-01-01T00:00:00.000+00:00"


def test_a_run_reverses_the_data_by_grapheme() -> None:
    report = run_job("e\u0301a🇫🇷", 0.0, STARTED, worker="w1")
    assert (report["status"], report["result"]) == ("succeeded", "🇫🇷ae\u0301")
    assert (report["started_at"], report["worker"]) == (STARTED, "w1")
    assert report["completed_at"] >= STARTED


def test_a_run_that_raises_fails_with_the_error_described(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str) -> str:
        raise ValueError("cannot reverse this")

    monkeypatch.setattr(running, "reverse_text", broken)
    report = run_job("x", 0.0, STARTED)
    assert report["status"] == "failed"
    assert report["error"] == "processing failed: ValueError: cannot reverse this"
    assert "worker" not in report


def test_a_failure_rate_of_one_fails_every_run() -> None:
    report = run_job("x", 1.0, STARTED)
    assert (report["status"], report["error"]) == ("failed", "simulated failure (failure rate 1)")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (200, "delivered"),
        (202, "delivered"),
        (404, "dropped"),
        (409, "dropped"),
        (410, "dropped"),
        (401, "retry"),  # the signature: the same rule on both queues
        (403, "retry"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (400, "refused"),
        (413, "refused"),
        (422, "refused"),
    ],
)
def test_the_middlewares_answer_is_read_the_same_way_on_both_queues(code: int, kind: str) -> None:
    outcome = answer_outcome(code, '{"error": "why"}')
    assert kind_of(outcome) == kind
    assert settled(outcome) is (kind in ("delivered", "dropped"))


def test_an_unreachable_middleware_is_a_retry_that_names_where_it_went() -> None:
    outcome = unreachable_outcome("connection refused (not running?)", "http://10.0.0.9:6302/x")
    assert outcome == (
        "retry: cannot reach the middleware at http://10.0.0.9:6302:"
        " connection refused (not running?)"
    )
    assert unreachable_reason(outcome) == "connection refused (not running?)"


def test_a_refused_report_is_replaced_by_a_failed_one_that_says_why() -> None:
    payload = {"status": "succeeded", "started_at": STARTED, "result": "x", "worker": "w@h"}
    report = failure_report(payload, answer_outcome(400, "'result' is too long"))
    assert report["status"] == "failed"
    assert report["error"].startswith(
        "the middleware refused this job's report (succeeded): HTTP 400"
    )
    assert (report["started_at"], report["worker"]) == (STARTED, "w@h")
    assert is_failure_report(report) and not is_failure_report(payload)


def test_a_report_that_cannot_be_sent_is_replaced_naming_the_error() -> None:
    report = failure_report({"status": "running"}, error_outcome(TypeError("not JSON")))
    assert report["error"] == (
        "core could not report this job's running state: error: TypeError: not JSON"
    )
    assert report["completed_at"] and is_failure_report(report)
