"""`chaos kill|stop|start` signal only a child of a running serve, checked to be that child."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner, Result
from support.serve_fakes import Processes, child, write_record

from toy_platform.cli.chaos import chaos_group


def chaos(home: Path, *args: str) -> Result:
    return CliRunner().invoke(chaos_group, [*args, "--home", str(home)])


def alive(pid: int) -> bool:
    return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


def test_kill_refuses_a_pid_that_is_now_another_program(
    tmp_path: Path, processes: Processes
) -> None:
    stranger = processes.unrelated()
    write_record(tmp_path / "data", processes.ours("serve"), {"core": child(stranger)})
    result = chaos(tmp_path, "kill", "core")
    assert result.exit_code == 1
    assert f"not killing core: pid {stranger.pid} is now another program" in result.output
    assert alive(stranger.pid)


def test_kill_refuses_a_process_started_at_another_time(
    tmp_path: Path, processes: Processes
) -> None:
    lookalike = processes.ours("core")
    entry = child(lookalike)
    entry["create_time"] -= 3600  # the recorded core started an hour earlier
    write_record(tmp_path / "data", processes.ours("serve"), {"core": entry})
    result = chaos(tmp_path, "kill", "core")
    assert result.exit_code == 1
    assert "it is another process that reuses the pid" in result.output
    assert alive(lookalike.pid)


def test_kill_refuses_a_process_that_runs_another_component(
    tmp_path: Path, processes: Processes
) -> None:
    auth = processes.ours("auth")
    write_record(tmp_path / "data", processes.ours("serve"), {"core": child(auth)})
    result = chaos(tmp_path, "kill", "core")
    assert result.exit_code == 1 and "not core" in result.output
    assert alive(auth.pid)


@pytest.mark.parametrize("serve_is", ["gone", "frozen", "another program"])
def test_kill_and_stop_need_a_running_serve(
    tmp_path: Path, processes: Processes, serve_is: str
) -> None:
    core = processes.ours("core")
    serve = {
        "gone": processes.exited(),
        "frozen": processes.ours("serve"),
        "another program": processes.unrelated(),
    }[serve_is]
    updated_ago = 60 if serve_is == "frozen" else 0
    write_record(tmp_path / "data", serve, {"core": child(core)}, updated_ago=updated_ago)
    for action in ("kill", "stop"):
        result = chaos(tmp_path, action, "core")
        assert result.exit_code == 1, result.output
        assert "`toy-platform serve` is not running" in result.output
        assert "nothing was done" in result.output
    assert alive(core.pid)
    assert not (tmp_path / "data" / "hold" / "core").exists()


def test_kill_without_a_record(tmp_path: Path) -> None:
    result = chaos(tmp_path, "kill", "core")
    assert result.exit_code == 1 and "no `toy-platform serve` recorded" in result.output


def test_kill_the_recorded_child(tmp_path: Path, processes: Processes) -> None:
    core = processes.ours("core")
    write_record(tmp_path / "data", processes.ours("serve"), {"core": child(core)})
    result = chaos(tmp_path, "kill", "core")
    assert result.exit_code == 0, result.output
    assert f"killed core (pid {core.pid})" in result.output
    assert not alive(core.pid)


def test_kill_with_an_older_record_checks_started_at(tmp_path: Path, processes: Processes) -> None:
    """A record without create_time (an older serve): the start second must match."""
    core = processes.ours("core")
    entry = child(core)
    del entry["create_time"]
    entry["started_at"] = "2020-01-01T00:00:00+00:00"
    write_record(tmp_path / "data", processes.ours("serve"), {"core": entry})
    assert "reuses the pid" in chaos(tmp_path, "kill", "core").output
    assert alive(core.pid)


def test_stop_and_start_with_a_running_serve(tmp_path: Path, processes: Processes) -> None:
    write_record(
        tmp_path / "data", processes.ours("serve"), {"core": child(processes.ours("core"))}
    )
    hold = tmp_path / "data" / "hold" / "core"
    assert chaos(tmp_path, "stop", "core").exit_code == 0 and hold.exists()
    web = chaos(tmp_path, "stop", "web")
    assert web.exit_code == 1 and "does not run web" in web.output
    result = chaos(tmp_path, "start", "core")
    assert result.exit_code == 0 and "may run again" in result.output and not hold.exists()


def test_start_says_when_nothing_will_start_it(tmp_path: Path, processes: Processes) -> None:
    write_record(tmp_path / "data", processes.exited())
    hold = tmp_path / "data" / "hold" / "core"
    hold.parent.mkdir(parents=True)
    hold.write_text("held")
    result = chaos(tmp_path, "start", "core")
    assert result.exit_code == 1
    assert "released the hold on core, but `toy-platform serve` is not running" in result.output
    assert not hold.exists()
