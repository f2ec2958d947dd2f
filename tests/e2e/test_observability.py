"""`toy-platform status`, `logs` and `doctor` against the real platform, broken on purpose."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import psutil
import pytest
from support.harness import Platform, free_ports, wait_until

from toy_platform.ops import serve_record

pytestmark = pytest.mark.e2e
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Our own platform, since these tests stop components; its logs outside its home."""
    log_dir = tmp_path_factory.mktemp("observe-logs")
    running = Platform(
        tmp_path_factory.mktemp("observe"), job_delay=0.1, extra_args=["--log-dir", str(log_dir)]
    )
    try:
        yield running.serve()
    finally:
        running.stop()


def toy_platform(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `toy-platform ARGS` with exactly these options and environment."""
    return subprocess.run(
        [sys.executable, "-m", "toy_platform", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def lines_of(output: str) -> dict[str, str]:
    """Component name -> its status line."""
    found = {}
    for line in click.unstyle(output).splitlines():
        words = line.split()
        if words and words[0] in ("auth", "middleware", "core", "web", "dashboard"):
            found[words[0]] = line
    return found


def test_status_all_ok(platform: Platform) -> None:
    result = platform.cli("status", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = lines_of(result.stdout)
    assert set(lines) == {"auth", "middleware", "core"}
    assert all(line.split()[1] == "OK" for line in lines.values()), result.stdout
    assert "\x1b[" not in result.stdout  # no colour when not a terminal
    assert "queue" in result.stdout and "callbacks" in result.stdout


def test_status_json_shape(platform: Platform) -> None:
    result = platform.cli("status", "--json")
    status = json.loads(result.stdout)
    assert status["ok"] is True
    assert set(status) >= {"ok", "checked_at", "components", "supervisor", "queue", "jobs"}
    core = status["components"]["core"]
    assert core["state"] == "ok" and core["up"] and core["ready"]
    assert set(core) >= {"reason", "url", "latency_ms", "restarts", "last_exit_code"}
    assert core["url"] == platform.core_url
    assert status["supervisor"]["running"] is True
    assert status["supervisor"]["state"] == "running"
    assert set(status["queue"]) >= {
        "size",
        "oldest_age_s",
        "callbacks_waiting_retry",
        "callbacks_parked",
        "workers_alive",
        "callback_senders_alive",
        "thread_restarts",
    }
    assert status["queue"]["size"] == 0
    assert status["queue"]["workers_alive"] >= 1
    assert isinstance(status["jobs"]["by_status"], dict)


def test_logs_follow_one_request_across_services(platform: Platform) -> None:
    request_id = f"obs-{uuid.uuid4().hex[:12]}"
    client = platform.client()
    job = client.submit_job("observe", "hello", request_id=request_id)
    client.wait_for_job(job["job_id"], timeout=30)

    def services_seen() -> set[str]:
        result = platform.cli("logs", "--request-id", request_id, "--json")
        return {json.loads(line)["service"] for line in result.stdout.splitlines()}

    assert wait_until(lambda: {"middleware", "core"} <= services_seen(), 10, what="log lines")
    readable = platform.cli("logs", "--request-id", request_id).stdout
    assert f"req={request_id}" in readable and "job_started" in readable
    only_core = platform.cli("logs", "--request-id", request_id, "--service", "core").stdout
    assert {line.split()[1] for line in only_core.splitlines()} == {"core"}


def start_cli(platform: Platform, *args: str) -> subprocess.Popen[str]:
    """Run `toy-platform ARGS` in the background, as if from a terminal that may press Ctrl+C."""
    return subprocess.Popen(
        [sys.executable, "-m", "toy_platform", *args, *platform.common_args()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=platform.env(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def read_lines_until(
    process: subprocess.Popen[str], done: Callable[[list[str]], bool], timeout: float
) -> list[str]:
    """Collect PROCESS's output lines until DONE says so (or TIMEOUT passes)."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not done(seen) and time.monotonic() < deadline:
        try:
            seen.append(lines.get(timeout=0.2))
        except queue.Empty:
            pass
    return seen


@posix_only
def test_logs_follow_shows_new_lines_and_stops_on_ctrl_c(platform: Platform) -> None:
    request_id = f"follow-{uuid.uuid4().hex[:12]}"
    follower = start_cli(platform, "logs", "--follow", "--request-id", request_id)
    try:
        time.sleep(2)  # let it start and reach the end of the files
        client = platform.client()
        client.wait_for_job(client.submit_job("f", "x", request_id=request_id)["job_id"])

        def both(lines: list[str]) -> bool:
            return {"middleware", "core"} <= {line.split()[1] for line in lines if line.strip()}

        assert both(read_lines_until(follower, both, 15))
        follower.send_signal(signal.SIGINT)
        assert follower.wait(10) == 0
        assert follower.stderr is not None and "Traceback" not in follower.stderr.read()
    finally:
        follower.kill()


@posix_only
def test_status_watch_refreshes_and_stops_on_ctrl_c(platform: Platform) -> None:
    watcher = start_cli(platform, "status", "--watch", "0.5")
    try:
        lines = read_lines_until(
            watcher, lambda seen: sum(ln.startswith("core ") for ln in seen) >= 2, 20
        )
        assert sum(line.startswith("core ") for line in lines) >= 2
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(10) == 0
        assert watcher.stderr is not None and "Traceback" not in watcher.stderr.read()
    finally:
        watcher.kill()


def test_doctor_finds_no_problem_when_all_is_well(platform: Platform) -> None:
    result = platform.cli("doctor", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems found" in result.stdout


def test_core_down_then_back(platform: Platform) -> None:
    platform.stop_child("core")
    try:
        started = time.monotonic()
        result = platform.cli("status", check=False)
        assert time.monotonic() - started < 5
        assert result.returncode == 1
        core = lines_of(result.stdout)["core"]
        assert core.split()[1] == "DOWN" and "connection refused" in core, result.stdout
        assert "chaos start core" in core
        doctor = platform.cli("doctor", check=False)
        assert doctor.returncode == 1
        assert any(line.startswith("core ") for line in doctor.stdout.splitlines()), doctor.stdout
        assert "chaos start core" in doctor.stdout
    finally:
        platform.start_child("core")
    wait_until(lambda: platform.cli("status", check=False).returncode == 0, 30, what="all ok")
    lines = lines_of(platform.cli("status").stdout)
    assert lines["core"].split()[1] == "OK"


@pytest.fixture
def foreign_port() -> Iterator[int]:
    """A port held by another program that listens but never answers."""
    code = (
        "import socket, sys, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "print(s.getsockname()[1], flush=True); time.sleep(120)\n"
    )
    squatter = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert squatter.stdout is not None
        yield int(squatter.stdout.readline())
    finally:
        squatter.kill()
        squatter.wait()


def doctor_with_ports(home: Path, ports: dict[str, int]) -> subprocess.CompletedProcess[str]:
    args = [f"--{name}-port={port}" for name, port in ports.items()]
    return subprocess.run(
        [sys.executable, "-m", "toy_platform", "doctor", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_doctor_names_a_foreign_program_on_a_port(platform: Platform, foreign_port: int) -> None:
    result = doctor_with_ports(platform.home, {**platform.ports, "core": foreign_port})
    assert result.returncode == 1
    core = [line for line in result.stdout.splitlines() if line.startswith("core ")]
    assert core, result.stdout
    assert f"port {foreign_port} is in use by another program" in core[0]
    assert "--core-port" in core[0]


def test_doctor_without_users_file(tmp_path: Path) -> None:
    names = ("auth", "core", "middleware")
    result = doctor_with_ports(tmp_path, dict(zip(names, free_ports(3), strict=True)))
    assert result.returncode == 1
    assert "users.json is missing" in result.stdout
    for name in names:
        assert any(
            line.startswith(f"{name} ") and "not running" in line
            for line in result.stdout.splitlines()
        ), result.stdout


def test_status_when_nothing_runs(tmp_path: Path) -> None:
    ports = free_ports(3)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "toy_platform",
            "status",
            "--json",
            "--home",
            str(tmp_path),
            f"--auth-port={ports[0]}",
            f"--core-port={ports[1]}",
            f"--middleware-port={ports[2]}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    status = json.loads(result.stdout)
    assert {c["state"] for c in status["components"].values()} == {"down"}
    assert status["queue"]["size"] is None and status["jobs"]["by_status"] is None


def lines_ok(result: subprocess.CompletedProcess[str], platform: Platform) -> dict[str, str]:
    """The status lines, checked to be OK at this platform's own URLs."""
    assert result.returncode == 0, result.stdout + result.stderr
    lines = lines_of(result.stdout)
    for name in ("auth", "core", "middleware"):
        assert lines[name].split()[1] == "OK", result.stdout
        assert platform.url(name) in lines[name], result.stdout
    return lines


def test_status_logs_and_doctor_find_serve_from_its_home_alone(platform: Platform) -> None:
    """Ports and the log dir given to serve are not repeated: they come from its record."""
    env = platform.env()
    home = ["--home", str(platform.home)]
    lines_ok(toy_platform("status", *home, env=env), platform)
    client = platform.client()
    job = client.wait_for_job(client.submit_job("found", "logs")["job_id"], timeout=30)
    logs = toy_platform("logs", "--job-id", job["job_id"], "--json", *home, env=env)
    assert logs.returncode == 0 and "no logs yet" not in logs.stderr, logs.stderr
    assert {json.loads(x)["service"] for x in logs.stdout.splitlines()} >= {"core", "middleware"}
    doctor = toy_platform("doctor", *home, env=env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    pause = toy_platform("chaos", "pause", "core", "0.5", *home, env=env)
    assert pause.returncode == 0 and "core hangs for 0.5 s" in pause.stdout, pause.stderr
    # An explicit option still wins.
    other = toy_platform("status", *home, f"--core-port={free_ports(1)[0]}", env=env)
    assert other.returncode == 1 and lines_of(other.stdout)["core"].split()[1] == "DOWN"


def test_status_and_doctor_never_go_through_a_proxy(platform: Platform) -> None:
    closed = f"http://127.0.0.1:{free_ports(1)[0]}"
    env = {k: v for k, v in platform.env().items() if k.lower() != "no_proxy"}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env[name] = closed
    lines_ok(toy_platform("status", *platform.common_args(), env=env), platform)
    doctor = toy_platform("doctor", *platform.common_args(), env=env)
    assert doctor.returncode == 0 and "no problems found" in doctor.stdout, doctor.stdout


@posix_only
def test_status_doctor_and_chaos_when_serve_is_frozen(platform: Platform) -> None:
    serve = platform.processes["serve"]
    state_file = platform.home / "data" / "supervisor.json"
    core_pid = json.loads(state_file.read_text())["children"]["core"]["pid"]
    serve.send_signal(signal.SIGSTOP)
    try:

        def frozen() -> dict[str, Any] | None:
            status = json.loads(platform.cli("status", "--json", check=False).stdout)
            return status if status["supervisor"]["state"] == "frozen" else None

        status = wait_until(frozen, 30, 0.5, what="status to see serve frozen")
        assert status["ok"] is False and status["supervisor"]["running"] is False
        assert all(c["state"] == "ok" for c in status["components"].values())
        text = platform.cli("status", check=False)
        assert text.returncode == 1
        assert "the supervisor (`toy-platform serve`) is not running" in text.stdout
        assert f"pid {serve.pid} is alive but has not updated its record" in text.stdout
        assert "stopped (Ctrl+Z or SIGSTOP)" in text.stdout
        doctor = platform.cli("doctor", check=False)
        assert doctor.returncode == 1 and doctor.stdout.startswith("supervisor "), doctor.stdout
        assert f"kill -CONT {serve.pid}" in doctor.stdout
        kill = platform.cli("chaos", "kill", "core", check=False)
        assert kill.returncode == 1 and "nothing was done" in kill.stderr, kill.stderr
        assert psutil.pid_exists(core_pid)
    finally:
        serve.send_signal(signal.SIGCONT)
    wait_until(lambda: platform.cli("status", check=False).returncode == 0, 30, what="all ok")


@pytest.mark.skipif(
    sys.platform == "win32", reason="platformdirs reads the user folders from Windows itself"
)
def test_no_options_at_all_after_run_servers(tmp_path: Path) -> None:
    """As after ./run_servers.sh: the default home, TOY_PLATFORM_LOG_DIR=./logs, and then
    `toy-platform status`, `logs` and `doctor` typed without a single option."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOY_PLATFORM_")}
    for name, sub in (
        ("HOME", "home"),
        ("XDG_DATA_HOME", "home/.local/share"),
        ("XDG_CONFIG_HOME", "home/.config"),
        ("XDG_STATE_HOME", "home/.local/state"),
    ):
        env[name] = str(tmp_path / sub)
    # Ports other than the defaults, so this never meets another platform on this machine.
    ports = dict(zip(("auth", "core", "middleware"), free_ports(3), strict=True))
    serve_args = ["--no-web", "--no-dashboard", "--job-delay", "0.1"]
    serve_args += [f"--{name}-port={port}" for name, port in ports.items()]
    serve_env = {**env, "TOY_PLATFORM_LOG_DIR": str(tmp_path / "checkout" / "logs")}
    serve_env["TOY_PLATFORM_ADMIN_PASSWORD"] = "first-admin-pass"
    out = tmp_path / "serve.out"
    with out.open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "toy_platform", "serve", *serve_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=serve_env,
        )
    try:
        wait_until(lambda: "Ready." in out.read_text(), 90, what="serve to be ready")
        status = toy_platform("status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        for name, port in ports.items():
            line = lines_of(status.stdout)[name]
            assert line.split()[1] == "OK" and f":{port}" in line, status.stdout
        logs = toy_platform("logs", "--service", "core", env=env)
        assert logs.returncode == 0 and "no logs yet" not in logs.stderr, logs.stderr
        assert "service_started" in logs.stdout
        doctor = toy_platform("doctor", env=env)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    finally:
        serve.terminate()
        serve.wait(30)
    # Stopped: its logs are still found (where else would one look for what happened?).
    after = toy_platform("logs", "--service", "supervisor", env=env)
    assert "supervisor_stopped" in after.stdout, after.stdout + after.stderr


def test_status_and_doctor_when_serve_is_killed(tmp_path: Path) -> None:
    """kill -9 of serve: its children exit (or, until they notice, run without it)."""
    platform = Platform(tmp_path, job_delay=0.1).serve()
    record = json.loads((tmp_path / "data" / "supervisor.json").read_text())
    serve = platform.processes.pop("serve")
    try:
        serve.kill()
        serve.wait(10)

        def gone() -> dict[str, Any] | None:
            status = json.loads(platform.cli("status", "--json", check=False).stdout)
            return status if status["supervisor"]["state"] == "gone" else None

        status = wait_until(gone, 20, 0.5, what="status to see serve gone")
        assert status["ok"] is False
        text = platform.cli("status", check=False)
        assert text.returncode == 1
        assert "the supervisor (`toy-platform serve`) is not running" in text.stdout
        assert f"pid {serve.pid} is not running" in text.stdout
        assert "Nothing restarts a component" in text.stdout
        doctor = platform.cli("doctor", check=False)
        assert doctor.returncode == 1 and doctor.stdout.startswith("supervisor "), doctor.stdout
        assert "went without stopping its services" in doctor.stdout
        assert "keeps restarting" not in doctor.stdout  # no advice that relies on serve
        assert "serve` restarts it" not in doctor.stdout
    finally:
        for name in record["children"]:
            try:
                serve_record.verify_child(record, name).kill()
            except (serve_record.NotThatProcess, psutil.Error):
                pass
