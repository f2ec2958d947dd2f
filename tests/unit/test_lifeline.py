"""Starting and stopping children the way each OS needs, simulated here on every OS."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from toy_platform import lifeline

VENV_PYTHON = "C:\\project\\.venv\\Scripts\\python.exe"
BASE_PYTHON = "C:\\Python312\\python.exe"


def _windows_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "executable", VENV_PYTHON)
    monkeypatch.setattr(sys, "_base_executable", BASE_PYTHON, raising=False)


def test_a_windows_venv_child_starts_as_the_real_interpreter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As multiprocessing does: the base interpreter, told the venv by __PYVENV_LAUNCHER__,
    so the child's PID is the service's, not a launcher's."""
    _windows_venv(monkeypatch)
    argv, env = lifeline.without_launcher([VENV_PYTHON, "-m", "toy_platform", "core"], {"A": "1"})
    assert argv == [BASE_PYTHON, "-m", "toy_platform", "core"]
    assert env == {"A": "1", "__PYVENV_LAUNCHER__": VENV_PYTHON}


def test_other_programs_and_other_systems_start_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    _windows_venv(monkeypatch)
    other = ["C:\\tools\\redis-server.exe", "--port", "1"]
    assert lifeline.without_launcher(other, {}) == (other, {})
    monkeypatch.setattr(sys, "platform", "linux")
    argv = [VENV_PYTHON, "-m", "toy_platform", "core"]
    assert lifeline.without_launcher(argv, {}) == (argv, {})


class _Child:
    """A child process as subprocess.Popen shows it, recording what it is sent."""

    pid = 4242

    def __init__(self, break_fails: bool) -> None:
        self.break_fails = break_fails
        self.sent: list[Any] = []

    def send_signal(self, sig: int) -> None:
        if self.break_fails:
            raise OSError(6, "The handle is invalid")  # no console shared with the child
        self.sent.append(("signal", sig))

    def terminate(self) -> None:
        self.sent.append("terminate")


def test_without_a_console_a_child_is_terminated_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under pythonw, a service or Task Scheduler, Ctrl+Break cannot be sent: stop() must
    still stop the child (and go on with the others), not raise."""
    monkeypatch.setattr(sys, "platform", "win32")
    child = _Child(break_fails=True)
    lifeline.ask_to_stop(child)  # type: ignore[arg-type]
    assert child.sent == ["terminate"]


def test_with_a_console_a_windows_child_gets_ctrl_break(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    child = _Child(break_fails=False)
    lifeline.ask_to_stop(child)  # type: ignore[arg-type]
    assert child.sent == [("signal", lifeline.CTRL_BREAK_EVENT)]
