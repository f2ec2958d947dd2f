"""serve run by an interpreter that is a launcher, as a Windows venv's python.exe is.

That python.exe does not exec the real interpreter: it starts it as a child of its own and
waits for it. So the PID of each child serve spawns is the launcher's, not the service's.
Here a launcher that does the same (a shell script) is serve's
sys.executable, on every OS: serve must know each service by what it reports, stop the real
one, and leave nothing behind.
"""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from support.harness import Platform, all_gone, wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        sys.platform == "win32",
        reason="Windows takes sys.executable from the program, not argv[0]; there the real"
        " venv launcher runs serve in every other test",
    ),
]


def _launcher(directory: Path) -> Path:
    """A launcher of this interpreter that starts it as its child and waits (no exec)."""
    path = directory / "python-launcher"
    path.write_text(f'#!/bin/sh\n"{sys.executable}" "$@"\nexit $?\n', encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(tmp_path / "home", web=True, dashboard=True, launcher=_launcher(tmp_path))
    try:
        yield platform.serve()
    finally:
        platform.stop()


def _service_pid(platform: Platform, name: str) -> int:
    pid = requests.get(f"{platform.url(name)}/healthz", timeout=5).json()["pid"]
    assert isinstance(pid, int)
    return pid


def _record_pids(platform: Platform) -> dict[str, int]:
    status = platform.cli("status", "--json")
    import json

    return {
        name: c["pid"] for name, c in json.loads(status.stdout)["supervisor"]["children"].items()
    }


def test_serve_under_a_launcher_knows_each_service_by_its_own_pid(launched: Platform) -> None:
    status = launched.cli("status")
    assert status.returncode == 0, status.stdout
    for name in ("auth", "core", "middleware", "web"):
        real = _service_pid(launched, name)
        process = psutil.Process(real)
        assert "toy_platform" in " ".join(process.cmdline())
        assert process.parent().pid != launched.processes["serve"].pid  # a launcher between


def test_chaos_kill_under_a_launcher_stops_the_real_core_and_serve_restarts_it(
    launched: Platform,
) -> None:
    before = _service_pid(launched, "core")
    launched.cli("chaos", "kill", "core")
    all_gone([before], timeout=10)
    wait_until(lambda: _answers_with_another_pid(launched, before), 60, what="core to be restarted")
    job = launched.client().submit_job("after", "restart")
    assert launched.client().wait_for_job(job["job_id"], timeout=30)["status"] == "succeeded"


def _answers_with_another_pid(platform: Platform, old: int) -> bool:
    try:
        return _service_pid(platform, "core") != old
    except requests.RequestException:
        return False


def test_kill_9_of_serve_under_a_launcher_leaves_no_process(launched: Platform) -> None:
    serve = psutil.Process(launched.processes["serve"].pid)
    everything = [p.pid for p in serve.children(recursive=True)]
    real = [_service_pid(launched, name) for name in ("auth", "core", "middleware", "web")]
    assert set(real) <= set(everything) and len(everything) > len(real)  # launchers too
    launched.processes["serve"].kill()
    launched.processes["serve"].wait(10)
    all_gone(everything, timeout=15)
