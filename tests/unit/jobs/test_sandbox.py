"""The sandbox: handlers run in a child process of their own, which is stopped at the job's
timeout, on a cancel, and replaced when it dies, while the service goes on. Real processes."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from toy_platform.jobs.sandbox import (
    CANCEL_GRACE_S,
    Outcome,
    RunRequest,
    Sandbox,
    SandboxError,
    describe_exit,
)
from toy_platform.log import ContextFilter

MODULES = ("support.sandbox_types",)
POSIX = sys.platform != "win32"


@pytest.fixture(scope="module")
def shared() -> Iterator[Sandbox]:
    """One sandbox for the tests that leave its child as it was: a warm child, fast tests."""
    with Sandbox(MODULES, name="shared") as sandbox:
        yield sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(MODULES) as sandbox:
        yield sandbox


def run(
    sandbox: Sandbox,
    job_type: str,
    data: Any = None,
    *,
    timeout_s: float = 10.0,
    cancelled: Callable[[], bool] = lambda: False,
    job_id: str = "job-1",
    attempt: int = 1,
    progress: list[tuple[float, str]] | None = None,
) -> Outcome:
    reports = progress if progress is not None else []
    request = RunRequest(job_id, "req-1", job_type, data, attempt, timeout_s)
    return sandbox.run(request, lambda f, m: reports.append((f, m)), cancelled)


def cancelled_after(delay_s: float) -> tuple[Callable[[], bool], list[float]]:
    """A cancelled() that turns true DELAY_S from now; the list gets the moment it did."""
    when = time.monotonic() + delay_s
    seen: list[float] = []

    def cancelled() -> bool:
        if time.monotonic() >= when:
            if not seen:
                seen.append(time.monotonic())
            return True
        return False

    return cancelled, seen


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize(
    "value",
    [{"a": [1, 2.5, None], "b": {"c": True}}, [1, "two", 3.0], 42, -0.5, "héllo 🇫🇷", None],
)
def test_the_handlers_result_comes_back_whatever_json_it_is(shared: Sandbox, value: Any) -> None:
    assert run(shared, "sbx_echo", value) == Outcome("succeeded", result=value)


def test_the_child_says_the_types_it_loaded(shared: Sandbox) -> None:
    types = shared.types()
    assert {"sbx_echo", "sbx_spin", "reverse"} <= set(types)
    assert types["sbx_echo"]["timeout_s"] == 60.0


def test_the_child_imports_no_web_framework_and_no_service(shared: Sandbox) -> None:
    heavy = ["flask", "waitress", "toy_platform.core", "toy_platform.middleware", "celery"]
    heavy += ["toy_platform.auth", "toy_platform.config", "toy_platform.jobs.sandbox", "psutil"]
    assert run(shared, "sbx_heavy_modules", heavy).result == []


def test_progress_reaches_the_caller_in_order(shared: Sandbox) -> None:
    progress: list[tuple[float, str]] = []
    assert run(shared, "sbx_steps", {"steps": 4, "pause": 0.12}, progress=progress).kind == (
        "succeeded"
    )
    assert progress == [(0.25, "step 1"), (0.5, "step 2"), (0.75, "step 3"), (1.0, "done")]


def test_a_burst_of_progress_is_thinned_out_but_the_last_report_arrives(shared: Sandbox) -> None:
    progress: list[tuple[float, str]] = []
    assert run(shared, "sbx_steps", {"steps": 5000}, progress=progress).kind == "succeeded"
    assert progress[-1] == (1.0, "done")
    assert len(progress) < 20
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions)


def test_progress_is_clamped_and_its_message_cut(shared: Sandbox) -> None:
    progress: list[tuple[float, str]] = []
    run(shared, "sbx_out_of_range", progress=progress)
    assert progress == [(1.0, "x" * 200), (0.0, "")]


def test_an_exception_fails_the_job_with_its_type_and_message_and_logs_the_traceback(
    shared: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(ContextFilter("test"))
    with caplog.at_level(logging.WARNING, logger="toy_platform.jobs.sandbox"):
        outcome = run(shared, "sbx_fail", job_id="job-fail")
    assert outcome == Outcome("failed", error="ValueError: bad input")
    (record,) = [r for r in caplog.records if "Traceback" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert (record.job_id, record.request_id) == ("job-fail", "req-1")  # type: ignore[attr-defined]
    assert 'raise ValueError("bad input")' in record.getMessage()


def test_a_result_that_is_not_json_fails_the_job(shared: Sandbox) -> None:
    outcome = run(shared, "sbx_not_json")
    assert outcome.kind == "failed"
    assert outcome.error is not None
    assert outcome.error.startswith("the handler returned a value that is not JSON: TypeError")


def test_what_a_handler_prints_does_not_break_the_protocol(shared: Sandbox) -> None:
    assert run(shared, "sbx_print") == Outcome("succeeded", result="ok")


def test_an_unknown_type_or_data_that_is_not_json_fails(shared: Sandbox) -> None:
    outcome = run(shared, "sbx_nope")
    assert (outcome.kind, outcome.error is not None and "sbx_nope" in outcome.error) == (
        "failed",
        True,
    )
    assert run(shared, "sbx_echo", {1, 2}).kind == "failed"
    assert run(shared, "sbx_echo", float("nan")).kind == "failed"


def test_the_handler_gets_the_jobs_id_and_attempt(shared: Sandbox) -> None:
    outcome = run(shared, "sbx_whoami", job_id="job-42", attempt=3)
    assert outcome.result == {"job_id": "job-42", "attempt": 3}


def test_ctx_log_lines_are_logged_by_the_parent_with_the_jobs_ids(
    shared: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(ContextFilter("test"))
    with caplog.at_level(logging.INFO, logger="toy_platform.jobs.sandbox"):
        assert run(shared, "sbx_log", "the data", job_id="job-log").kind == "succeeded"
    lines = [
        (r.levelname, r.getMessage(), r.job_id, r.request_id)  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "event", None) == "job_log"
    ]
    assert lines == [
        ("INFO", "working on the data", "job-log", "req-1"),
        ("WARNING", "careful", "job-log", "req-1"),
    ]


def test_a_handler_that_never_yields_is_stopped_at_its_timeout(sandbox: Sandbox) -> None:
    sandbox.types()  # started: the timeout counts from the job's start, not the child's
    first = sandbox.pid
    started = time.monotonic()
    outcome = run(sandbox, "sbx_spin", timeout_s=0.5)
    overshoot = time.monotonic() - started - 0.5
    assert outcome == Outcome("timeout", error="timed out after 0.5 s")
    assert 0 <= overshoot < 1.0
    assert first is not None and gone(first)
    assert run(sandbox, "sbx_echo", "again") == Outcome("succeeded", result="again")
    assert sandbox.pid != first


def test_a_sleeping_handler_is_stopped_at_its_timeout_with_its_own_children(
    sandbox: Sandbox,
) -> None:
    progress: list[tuple[float, str]] = []
    started = time.monotonic()
    outcome = run(sandbox, "sbx_grandchild", timeout_s=1.5, progress=progress)
    assert outcome.kind == "timeout"
    assert time.monotonic() - started < 2.5
    (grandchild,) = [int(message) for _, message in progress]
    assert gone(grandchild)


def test_a_handler_that_checks_cancelled_stops_and_returns(sandbox: Sandbox) -> None:
    sandbox.types()
    child = sandbox.pid
    cancelled, seen = cancelled_after(0.3)
    outcome = run(sandbox, "sbx_polite", cancelled=cancelled)
    latency = time.monotonic() - seen[0]
    assert outcome == Outcome("cancelled", result="stopped")
    assert latency < 1.0
    assert sandbox.pid == child  # a handler that stopped leaves its process in use


def test_a_handler_that_ignores_the_cancel_is_killed_after_the_grace(sandbox: Sandbox) -> None:
    cancelled, seen = cancelled_after(0.2)
    outcome = run(sandbox, "sbx_stubborn", cancelled=cancelled)
    latency = time.monotonic() - seen[0]
    assert outcome == Outcome(
        "cancelled", error="stopped by force: the handler did not stop within 3 s of the cancel"
    )
    assert CANCEL_GRACE_S <= latency < 3.5
    assert run(sandbox, "sbx_echo", 1).kind == "succeeded"


def test_a_process_that_exits_is_a_crash_and_the_next_run_works(sandbox: Sandbox) -> None:
    assert run(sandbox, "sbx_exit", 3) == Outcome(
        "crashed", error="the job's process died (exit code 3)"
    )
    assert run(sandbox, "sbx_echo", "next") == Outcome("succeeded", result="next")


def test_a_segfault_is_a_crash(sandbox: Sandbox) -> None:
    outcome = run(sandbox, "sbx_segfault")
    assert outcome.kind == "crashed"
    if POSIX:
        assert outcome.error == "the job's process died (exit code -11, SIGSEGV)"
    assert run(sandbox, "sbx_echo", 2).result == 2


def test_a_process_killed_from_outside_is_a_crash(sandbox: Sandbox) -> None:
    pid = run(sandbox, "sbx_pid").result
    threading.Timer(0.3, lambda: psutil.Process(pid).kill()).start()
    outcome = run(sandbox, "sbx_sleep", 30)
    assert outcome.kind == "crashed"
    if POSIX:
        assert outcome.error == "the job's process died (exit code -9, SIGKILL)"


def test_exit_codes_are_described() -> None:
    assert describe_exit(3) == "the job's process died (exit code 3)"
    if POSIX:
        assert describe_exit(-15) == "the job's process died (exit code -15, SIGTERM)"


def test_a_module_that_cannot_be_imported_fails_the_run_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sbx_broken_types.py").write_text("raise RuntimeError('no config here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # the child gets our sys.path
    for module, reason in [
        ("sbx_broken_types", "RuntimeError: no config here"),
        ("support.sbx_no_such_module", "ModuleNotFoundError"),
    ]:
        with Sandbox((*MODULES, module)) as sandbox:
            outcome = run(sandbox, "sbx_echo", 1)
            assert outcome.kind == "failed"
            assert outcome.error is not None
            assert f"--job-module {module}: cannot be imported" in outcome.error
            assert reason in outcome.error
            with pytest.raises(SandboxError, match=module):
                sandbox.types()
            assert sandbox.pid is None


def test_close_leaves_no_process_and_runs_no_more() -> None:
    sandbox = Sandbox(MODULES)
    child = run(sandbox, "sbx_pid").result
    sandbox.close()
    assert gone(child)
    assert sandbox.pid is None
    assert run(sandbox, "sbx_echo", 1).kind == "failed"


def test_close_from_another_thread_ends_a_running_job(sandbox: Sandbox) -> None:
    sandbox.types()
    child = sandbox.pid
    assert child is not None
    threading.Timer(0.3, sandbox.close).start()
    started = time.monotonic()
    outcome = run(sandbox, "sbx_sleep", 30)
    assert outcome.kind == "crashed"
    assert time.monotonic() - started < 2
    assert gone(child)


def test_the_child_exits_when_its_parent_dies(tmp_path: Path) -> None:
    """Nothing closes the child: the parent is gone, its end of the child's stdin with it."""
    script = textwrap.dedent(
        """
        import os, sys
        from toy_platform.jobs.sandbox import Sandbox
        sandbox = Sandbox(("support.sandbox_types",))
        sandbox.types()
        print(sandbox.pid, flush=True)
        os._exit(0)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, timeout=30, check=True
    )
    child = int(out.stdout)
    deadline = time.monotonic() + 5
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(child)
