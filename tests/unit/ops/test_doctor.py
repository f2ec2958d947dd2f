"""The doctor's checks, each on a situation built for it (no platform running)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.harness import free_ports
from support.serve_fakes import Processes, child, write_record

from toy_platform.cli import cli
from toy_platform.config import load_settings
from toy_platform.ops import doctor
from toy_platform.ops.doctor import Look
from toy_platform.ops.processes import PortOwner
from toy_platform.ops.statusview import supervisor_record
from toy_platform.security import service_key_fingerprint


def look(name: str, up: bool = True, ready: bool = True, **extra: Any) -> Look:
    reason = extra.pop("reason", None)
    status = {"up": up, "ready": ready, "reason": reason, "url": f"http://127.0.0.1:1/{name}"}
    return Look(name, status["url"], status, extra.pop("health", {}), **extra)


def test_missing_users_file(tmp_path: Path) -> None:
    problems = doctor.check_users_file(tmp_path / "users.json")
    assert [p.component for p in problems] == ["auth"]
    assert "users.json is missing" in problems[0].problem
    assert "toy-platform user add" in problems[0].fix


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"something": "else"}'])
def test_unreadable_users_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "users.json"
    path.write_text(content)
    problems = doctor.check_users_file(path)
    assert len(problems) == 1 and "cannot read" in problems[0].problem


def test_good_users_file(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": {}}))
    assert doctor.check_users_file(path) == []


def test_key_files(tmp_path: Path) -> None:
    key = tmp_path / "service.key"
    assert doctor.check_key_file(key, "services", any_up=False) == []  # made on first start
    assert "another config dir" in doctor.check_key_file(key, "services", True)[0].problem
    key.write_text("  \n")
    assert "empty" in doctor.check_key_file(key, "services", False)[0].problem
    key.write_text("secret")
    assert doctor.check_key_file(key, "services", True) == []


def test_log_dir_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings = load_settings(home=tmp_path, log_dir=blocker / "logs")
    problems = doctor.check_writable_dirs(settings)
    assert [p.component for p in problems] == ["logs"]
    assert "--log-dir" in problems[0].fix
    assert doctor.not_writable(tmp_path / "not" / "yet" / "made") is None


def test_different_service_keys_name_the_odd_one(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    looks = {
        "auth": look("auth", health={"service_key_fingerprint": "aaa"}),
        "core": look("core", health={"service_key_fingerprint": "bbb"}),
        "middleware": look("middleware", health={"service_key_fingerprint": "aaa"}),
    }
    problems = doctor.check_fingerprints(settings, looks)
    assert [p.component for p in problems] == ["core"]
    assert "bbb" in problems[0].problem and "aaa" in problems[0].problem


def test_this_commands_key_differs_from_the_services(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, service_key="mine")
    looks = {name: look(name, health={"service_key_fingerprint": "aaa"}) for name in ("auth",)}
    problems = doctor.check_fingerprints(settings, looks)
    assert [p.component for p in problems] == ["config"]


SECRET = "the-service-key-itself-0123456789"


def run_doctor(home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """`toy-platform doctor` on HOME with nothing running; its output."""
    names = ("auth", "core", "middleware", "web", "dashboard")
    ports = [f"--{name}-port={port}" for name, port in zip(names, free_ports(5), strict=True)]
    result = CliRunner().invoke(cli, ["doctor", "--home", str(home), *ports, *args], env=env)
    assert result.exit_code in (0, 1), result.output
    return result.output


@pytest.mark.parametrize("source", ["config_dir", "file", "env"])
def test_doctor_says_where_the_service_key_is_and_its_fingerprint_never_the_key(
    tmp_path: Path, source: str
) -> None:
    fingerprint = service_key_fingerprint(SECRET.encode())
    key_file = tmp_path / "config" / "service.key"
    key_file.parent.mkdir()
    key_file.write_text("another key, not the one in use")
    args: list[str] = []
    env: dict[str, str] = {}
    if source == "config_dir":
        key_file.write_text(SECRET + "\n")
        where = str(key_file)
    elif source == "file":
        copied = tmp_path / "copied.key"
        copied.write_text(SECRET)
        args, where = ["--service-key-file", str(copied)], f"--service-key-file {copied}"
    else:
        env, where = {"TOY_PLATFORM_SERVICE_KEY": SECRET}, "the TOY_PLATFORM_SERVICE_KEY variable"
    out = run_doctor(tmp_path, *args, env=env)
    assert f"service key: {where} (fingerprint {fingerprint})" in out, out
    shown = json.loads(run_doctor(tmp_path, "--json", *args, env=env))["service_key"]
    assert shown["source"] == source and shown["fingerprint"] == fingerprint
    assert SECRET not in out and SECRET not in json.dumps(shown)


def test_doctor_says_the_service_key_is_made_on_first_start(tmp_path: Path) -> None:
    out = run_doctor(tmp_path)
    key_file = tmp_path / "config" / "service.key"
    assert f"service key: {key_file} (none yet: the first service to start creates it)" in out
    assert not key_file.exists()


def test_clock_offset() -> None:
    looks = {"core": look("core", clock_offset_s=-95.0), "auth": look("auth", clock_offset_s=2)}
    problems = doctor.check_clocks(looks)
    assert [p.component for p in problems] == ["core"]
    assert "95 s behind" in problems[0].problem


def test_restarting_repeatedly() -> None:
    now = datetime.now(timezone.utc)

    def at(minutes: float) -> str:
        return (now - timedelta(minutes=minutes)).isoformat(timespec="seconds")

    history = [{"at": at(m), "event": "exited", "exit_code": 1} for m in (30, 3, 2, 1)]
    record = {
        "running": True,
        "children": {
            "core": {"history": history, "last_exit_code": 1, "last_exit_at": at(1)},
            "auth": {"history": history[:2]},
        },
    }
    problems = doctor.check_restarts(record)
    assert [p.component for p in problems] == ["core"]
    assert "restarted 3 times" in problems[0].problem
    assert doctor.check_restarts({**record, "running": False}) == []


def test_not_ready_because_of_another_component(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    looks = {
        "core": look("core", up=False, ready=False, reason="connection refused"),
        "middleware": look("middleware", ready=False, reason="core: http://x: refused"),
    }
    problem = doctor.not_ready_problem(settings, looks["middleware"], looks)
    assert problem.component == "middleware"
    assert "fix core first" in problem.fix


def test_nothing_running_and_no_users(tmp_path: Path) -> None:
    ports = free_ports(3)
    settings = load_settings(
        home=tmp_path, auth_port=ports[0], core_port=ports[1], middleware_port=ports[2]
    )
    problems = doctor.run_checks(settings)
    by_component = {p.component: p for p in problems if "not running" in p.problem}
    assert set(by_component) == {"auth", "core", "middleware"}
    assert "toy-platform serve" in by_component["core"].fix
    assert any("users.json is missing" in p.problem for p in problems)


def test_a_frozen_supervisor(tmp_path: Path, processes: Processes) -> None:
    settings = load_settings(home=tmp_path)
    serve = processes.ours("serve")
    write_record(settings.data_dir, serve, updated_ago=45)
    problems = doctor.check_supervisor(settings, supervisor_record(settings))
    assert [p.component for p in problems] == ["supervisor"]
    assert "`toy-platform serve` is not running: its record" in problems[0].problem
    assert "is stale" in problems[0].problem and f"pid {serve.pid} is alive" in problems[0].problem
    assert f"kill -CONT {serve.pid}" in problems[0].fix


def test_a_supervisor_gone_without_stopping_its_services(
    tmp_path: Path, processes: Processes
) -> None:
    settings = load_settings(home=tmp_path)
    children = {"core": child(processes.ours("core"))}
    write_record(settings.data_dir, processes.exited(), children)
    problems = doctor.check_supervisor(settings, supervisor_record(settings))
    assert [p.component for p in problems] == ["supervisor"]
    assert "went without stopping its services" in problems[0].problem
    assert "is not running" in problems[0].problem


def test_a_supervisor_that_stopped_cleanly_or_runs_is_fine(
    tmp_path: Path, processes: Processes
) -> None:
    settings = load_settings(home=tmp_path)
    core = processes.ours("core")
    stopped = {"core": child(core, state="stopped")}
    core.kill()
    core.wait()
    write_record(settings.data_dir, processes.exited(), stopped)
    assert doctor.check_supervisor(settings, supervisor_record(settings)) == []
    write_record(
        settings.data_dir, processes.ours("serve"), {"core": child(processes.ours("core"))}
    )
    assert doctor.check_supervisor(settings, supervisor_record(settings)) == []
    assert doctor.check_supervisor(settings, None) == []


def test_services_left_running_by_a_gone_supervisor(tmp_path: Path, processes: Processes) -> None:
    settings = load_settings(home=tmp_path)
    core = processes.ours("core")
    write_record(settings.data_dir, processes.exited(), {"core": child(core, state="stopped")})
    problems = doctor.check_supervisor(settings, supervisor_record(settings))
    assert [p.component for p in problems] == ["supervisor"]
    assert "its services still run without it: core" in problems[0].problem
    assert f"kill {core.pid}" in problems[0].fix


def test_a_hung_service_without_a_supervisor_is_not_left_to_one() -> None:
    hung = look("core", up=False, ready=False, reason="no answer within 2 s (timeout)")
    owner = PortOwner(1234, "PID 1234 python", True)
    alone = doctor.hung_problem(hung, "timeout", owner, None)
    assert "no supervisor watches it" in alone.fix and "PID 1234" in alone.fix
    record = {"running": True, "children": {"core": {"pid": 1234}}}
    watched = doctor.hung_problem(hung, "timeout", owner, record)
    assert "`toy-platform serve` restarts it" in watched.fix
    frozen = doctor.hung_problem(hung, "timeout", owner, {**record, "running": False})
    assert "no supervisor watches it" in frozen.fix


def test_a_web_app_that_is_not_built(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    web = look("web", ready=False, reason="the web app is not built: install a wheel")
    problem = doctor.not_ready_problem(settings, web, {"web": web})
    assert "not built" in problem.problem and "--no-web" in problem.fix


def test_a_postgres_job_store_that_does_not_answer_is_named_with_its_password_masked(
    tmp_path: Path,
) -> None:
    (port,) = free_ports(1)
    url = f"postgresql://toy:pa55word@127.0.0.1:{port}/jobs"
    (problem,) = doctor.check_store(load_settings(home=tmp_path, store_url=url))
    assert problem.component == "job store"
    assert f"PostgreSQL at postgresql://toy:***@127.0.0.1:{port}/jobs" in problem.problem
    assert "refused" in problem.problem and "pa55word" not in problem.problem
    assert doctor.check_store(load_settings(home=tmp_path)) == []  # sqlite: a file


def test_a_postgres_job_store_that_answers_is_no_problem(tmp_path: Path, pg_url: str) -> None:
    assert doctor.check_store(load_settings(home=tmp_path, store_url=pg_url)) == []


def test_a_store_url_of_an_unknown_kind_is_named(tmp_path: Path) -> None:
    url = "mysql://root:hunter2@db/jobs"
    (problem,) = doctor.check_store(load_settings(home=tmp_path, store_url=url))
    assert "mysql://root:***@db/jobs" in problem.problem and "hunter2" not in problem.problem
