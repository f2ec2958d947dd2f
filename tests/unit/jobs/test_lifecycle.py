"""The middleware's job rules, with no database and no server: both stores apply these."""

from __future__ import annotations

from typing import Any

import pytest

from toy_platform.jobs.lifecycle import (
    IDEMPOTENCY_WINDOW_S,
    Cancel,
    CountDeltas,
    IdempotencyKeyReused,
    KeyMatch,
    NotCancellable,
    apply_reports,
    cancel,
    counts,
    forwarded_events,
    match_key,
    may_see,
    stale,
)
from toy_platform.jobs.model import JobStatus, NewJob, Report

STARTED = "2026-01-01T00:00:00.000+00:00"


def _job(status: str = "queued", attempt: int = 1, owner: str = "alice") -> dict[str, Any]:
    return {
        "job_id": "j1",
        "status": status,
        "attempt": attempt,
        "owner": owner,
        "started_at": None,
        "completed_at": None,
        "result": None,
        "error": None,
    }


@pytest.mark.parametrize(
    ("owner", "user", "admin", "visible"),
    [("alice", "alice", False, True), ("alice", "bob", False, False), ("alice", "bob", True, True)],
)
def test_a_job_is_seen_by_its_owner_and_admins_only(
    owner: str, user: str, admin: bool, visible: bool
) -> None:
    assert may_see(owner, user, admin) is visible


def test_an_idempotency_key_returns_its_job_inside_the_window_only() -> None:
    new = NewJob("alice", "n", "d", None, "key")
    stored = {"job_id": "j1", "created_epoch": 1000.0, "job_name": "n", "data": '"d"'}
    assert match_key(stored, new, 1000.0 + 60) is KeyMatch.SAME_JOB
    assert match_key(stored, new, 1000.0 + IDEMPOTENCY_WINDOW_S + 1) is KeyMatch.EXPIRED


def test_an_idempotency_key_reused_for_other_content_names_the_first_job() -> None:
    stored = {"job_id": "j1", "created_epoch": 1000.0, "job_name": "n", "data": '"d"'}
    with pytest.raises(IdempotencyKeyReused) as raised:
        match_key(stored, NewJob("alice", "n", "other", None, "key"), 1001.0)
    assert raised.value.job_id == "j1"
    with pytest.raises(IdempotencyKeyReused):  # the same data for another type
        match_key(stored, NewJob("alice", "n", "d", None, "key", job_type="wordcount"), 1001.0)


@pytest.mark.parametrize(
    ("current", "attempt", "reported", "report_attempt", "is_stale"),
    [
        ("queued", 1, "running", 1, False),
        ("running", 1, "succeeded", 1, False),
        ("succeeded", 1, "running", 1, True),  # never backwards
        ("succeeded", 1, "failed", 1, True),  # never a second final state
        ("running", 1, "running", 1, True),  # never twice
        ("queued", 2, "succeeded", 1, True),  # another attempt's report
    ],
)
def test_a_report_never_moves_a_job_backwards_twice_or_across_attempts(
    current: str, attempt: int, reported: str, report_attempt: int, is_stale: bool
) -> None:
    assert stale(current, attempt, reported, report_attempt) is is_stale


def test_applying_a_report_sets_the_fields_the_history_and_the_counts() -> None:
    update = {"status": "succeeded", "started_at": STARTED, "completed_at": STARTED}
    batch, outcomes = apply_reports(
        {"j1": _job()}, [Report("j1", 1, update | {"result": "olleh"}, "on worker w1")]
    )
    assert [(o.changed, o.status) for o in outcomes] == [(True, "succeeded")]
    (job,) = batch.changed_jobs()
    assert (job["status"], job["result"], job["started_at"]) == ("succeeded", "olleh", STARTED)
    # the 'running' report was overtaken: the history still shows when it started
    assert [(e[1], e[2], e[4]) for e in batch.events][0] == (STARTED, "running", None)
    assert [(e[2], e[4]) for e in batch.events][1] == ("succeeded", "on worker w1")
    assert batch.counts.sorted() == [("alice", "queued", -1), ("alice", "succeeded", 1)]


def test_the_same_report_twice_in_one_batch_changes_the_job_once() -> None:
    report = Report("j1", 1, {"status": "running", "started_at": STARTED}, None)
    batch, outcomes = apply_reports({"j1": _job()}, [report, report])
    assert [o.changed for o in outcomes] == [True, False]
    assert [e[2] for e in batch.events] == ["running"]


def test_a_report_for_an_unknown_job_says_so_and_changes_nothing() -> None:
    batch, (outcome,) = apply_reports({}, [Report("gone", 1, {"status": "running"}, None)])
    assert (outcome.changed, outcome.status) == (False, None)
    assert batch.changed_jobs() == [] and batch.events == []


def test_a_later_report_keeps_the_first_start_time() -> None:
    job = _job("running") | {"started_at": STARTED}
    later = {"status": "succeeded", "started_at": "2026-01-01T00:00:09.000+00:00"}
    batch, _ = apply_reports({"j1": job}, [Report("j1", 1, later, None)])
    assert batch.changed_jobs()[0]["started_at"] == STARTED


def test_forwarding_writes_two_history_lines_per_job() -> None:
    accepted = [{"job_id": "j1", "sent_at": "t1", "queued_at": "t2", "position": 3}]
    assert forwarded_events(accepted) == [
        ("j1", "t1", "forwarded", "middleware", None),
        ("j1", "t2", "queued", "core", "position 3"),
    ]


def test_count_deltas_are_written_in_one_order_and_cancel_out() -> None:
    deltas = CountDeltas()
    deltas.move("bob", "queued", "running")
    deltas.move("alice", None, "queued")
    deltas.move("bob", "running", "queued")
    assert deltas.sorted() == [("alice", "queued", 1)]


def test_counts_name_every_status() -> None:
    assert counts([("failed", 2)]) == {
        s.value: (2 if s is JobStatus.FAILED else 0) for s in JobStatus
    }


def test_a_run_started_again_after_a_worker_stopped_shows_it_and_its_own_time() -> None:
    """'running on w1' then 'succeeded on w2' with w1's start made a 3 s job look like 36 s,
    and nothing said it ran again."""
    first = _job("running") | {"started_at": STARTED}
    again = "2026-01-01T00:00:30.000+00:00"
    update = {"status": "succeeded", "started_at": again, "run": 2}
    batch, (outcome,) = apply_reports({"j1": first}, [Report("j1", 1, update, "run 2: ...")])
    assert outcome.changed and batch.changed_jobs()[0]["started_at"] == again


def test_a_queued_job_is_cancelled_at_once_and_a_running_one_asked_to_stop() -> None:
    queued = cancel({"job_id": "j1", "status": "queued", "cancel_requested": False}, "alice")
    assert queued.update["status"] == "cancelled" and queued.move == ("queued", "cancelled")
    assert queued.event is not None and queued.event[2:] == ("cancelled", "middleware", "by alice")
    running = cancel({"job_id": "j1", "status": "running", "cancel_requested": False}, "bob")
    assert running.update == {"cancel_requested": True} and running.move is None
    assert running.event is not None and running.event[2] == "cancel_requested"
    again = cancel({"job_id": "j1", "status": "running", "cancel_requested": True}, "bob")
    assert again == Cancel({}, None, None)
    assert cancel({"job_id": "j1", "status": "cancelled"}, "bob") == Cancel({}, None, None)
    for finished in ("succeeded", "failed"):
        with pytest.raises(NotCancellable):
            cancel({"job_id": "j1", "status": finished}, "bob")


def test_a_report_after_a_cancel_never_turns_the_job_back_and_says_stop() -> None:
    job = _job("cancelled")
    batch, (outcome,) = apply_reports(
        {"j1": job}, [Report("j1", 1, {"status": "succeeded", "result": "x"}, None)]
    )
    assert (outcome.changed, outcome.status, outcome.cancel_requested) == (False, "cancelled", True)
    assert batch.changed_jobs() == [] and batch.events == []


def test_progress_and_history_lines_of_a_running_job_are_kept_once() -> None:
    job = _job("running")
    line = {"status": "attempt_failed", "detail": "attempt 1 failed: ValueError: x; again in 1 s"}
    update = {"status": "running", "progress": {"fraction": 0.5, "message": "half"}}
    report = Report("j1", 1, update | {"events": [line]}, None)
    batch, (outcome, _) = apply_reports({"j1": job}, [report, report])
    assert outcome.changed and job["progress"] == {"fraction": 0.5, "message": "half"}
    assert [e[2] for e in batch.events] == ["attempt_failed"]  # delivered twice, said once
    said = {"j1": {("attempt_failed", line["detail"])}}
    batch, _ = apply_reports({"j1": _job("running")}, [report], said)
    assert batch.events == []  # already in the store's history
