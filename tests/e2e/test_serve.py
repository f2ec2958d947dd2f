"""`toy-platform serve` in the situations an operator meets: ports taken, serve killed,
two serves on one home, a proxy in the environment."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests
from support.harness import Platform, all_gone, answers, free_ports, wait_until

from toy_platform import cpu
from toy_platform.ops.supervisor import EXIT_CANNOT_LISTEN

pytestmark = pytest.mark.e2e
SERVICES_ONLY = ("serve", "--no-web", "--no-dashboard")


@pytest.fixture
def platforms() -> Iterator[list[Platform]]:
    """Platforms a test starts, stopped at its end even when it fails half way."""
    started: list[Platform] = []
    yield started
    for platform in started:
        platform.stop()


def _serve(platforms: list[Platform], platform: Platform, timeout: float = 90) -> Platform:
    platforms.append(platform)
    return platform.serve(timeout)


def _kill(pids: list[int]) -> None:
    """Kill what a failed test left behind (these processes are this test's own)."""
    for pid in pids:
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass


def _record(platform: Platform) -> dict:
    return json.loads((platform.home / "data" / "supervisor.json").read_text())


def _child_pids(platform: Platform) -> dict[str, int]:
    return {name: c["pid"] for name, c in _record(platform)["children"].items()}


class _Healthz(http.server.BaseHTTPRequestHandler):
    """Answers /healthz 200 as one of ours would (without our instance ID)."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "ok", "service": "middleware"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(params=["plain socket", "http server answering /healthz"])
def stranger(request: pytest.FixtureRequest) -> Iterator[int]:
    """A port held by a process that is not ours (this test process)."""
    if request.param == "plain socket":
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]
        sock.close()
        return
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_port_held_by_a_stranger_stops_serve_at_once(tmp_path: Path, stranger: int) -> None:
    platform = Platform(tmp_path / "home")
    platform.ports["middleware"] = stranger
    result = platform.cli(*SERVICES_ONLY, check=False, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"middleware: port {stranger} on 127.0.0.1 is already in use" in output
    if sys.platform.startswith("linux"):  # elsewhere the OS may not say who holds it
        assert f"by PID {os.getpid()}" in output, output
    assert "Ready" not in output and " up\n" not in output
    assert not answers(f"{platform.auth_url}/healthz")
    assert not answers(f"{platform.core_url}/healthz")


def test_a_service_that_cannot_listen_exits_with_its_own_code(tmp_path: Path) -> None:
    platform = Platform(tmp_path / "home")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        platform.ports["core"] = sock.getsockname()[1]
        result = platform.cli("core", check=False, timeout=60)
    assert result.returncode == EXIT_CANNOT_LISTEN, result.stderr
    assert f"cannot listen on 127.0.0.1:{platform.ports['core']}" in result.stderr


def test_kill_9_of_serve_leaves_no_child_running(tmp_path: Path, platforms: list[Platform]) -> None:
    platform = _serve(platforms, Platform(tmp_path / "home", web=True, dashboard=True))
    pids = list(_child_pids(platform).values())
    assert len(pids) == 5
    platform.processes["serve"].kill()
    platform.processes["serve"].wait(10)
    try:
        all_gone(pids, timeout=10)
    finally:
        _kill(pids)
    log = (platform.home / "logs" / "core.log").read_text()
    events = [json.loads(line).get("event") for line in log.splitlines() if line.strip()]
    assert "supervisor_gone" in events


def test_a_second_serve_on_the_same_home_is_refused(
    tmp_path: Path, platforms: list[Platform]
) -> None:
    platform = _serve(platforms, Platform(tmp_path / "home"))
    first = platform.processes["serve"].pid
    pids = _child_pids(platform)
    second = Platform(platform.home)  # other ports: only the home is shared
    result = second.cli(*SERVICES_ONLY, check=False, timeout=60)
    assert result.returncode != 0
    assert f"already running on this home: PID {first}" in result.stderr, result.stderr
    assert "Ready" not in result.stdout
    assert not answers(f"{second.auth_url}/healthz")
    assert _child_pids(platform) == pids and answers(f"{platform.core_url}/healthz")


def test_the_record_names_serve_and_each_child_and_stays_fresh(
    tmp_path: Path, platforms: list[Platform]
) -> None:
    platform = _serve(platforms, Platform(tmp_path / "home"))
    serve = psutil.Process(platform.processes["serve"].pid)
    record = _record(platform)
    assert (record["pid"], record["create_time"]) == (serve.pid, serve.create_time())
    assert record["settings"]["core_url"] == platform.core_url
    assert record["settings"]["log_dir"] == str(platform.home / "logs")
    for name, child in record["children"].items():
        assert psutil.Process(child["pid"]).create_time() == child["create_time"]
        health = requests.get(f"{platform.url(name)}/healthz", timeout=5).json()
        assert health["instance_id"] == child["instance_id"]
        assert child["instance_id"].startswith(record["instance_id"])
    first = record["updated_at"]
    wait_until(lambda: _record(platform)["updated_at"] != first, 5, what="a fresh record")


def _healthz(platform: Platform, name: str) -> dict:
    health: dict = requests.get(f"{platform.url(name)}/healthz", timeout=5).json()
    return health


def _threads_cpus(pid: int) -> set[tuple[int, ...]]:
    """The CPUs each thread of PID may run on (Linux: each thread has its own)."""
    return {tuple(sorted(os.sched_getaffinity(t.id))) for t in psutil.Process(pid).threads()}


def test_serve_keeps_the_middleware_and_core_each_on_a_cpu_of_its_own(
    tmp_path: Path, platforms: list[Platform]
) -> None:
    """--cpu auto, the default: every thread of each busy service on one CPU, not the same
    one; /healthz and the service's log say which. Auth runs on any."""
    allowed = cpu.allowed_cpus()
    if allowed is not None and len(allowed) < 2:
        pytest.skip("one CPU: nothing to choose")
    platform = _serve(platforms, Platform(tmp_path / "home"))
    health = {name: _healthz(platform, name) for name in ("auth", "core", "middleware")}
    if allowed is None:  # macOS: no way to keep threads on a CPU, and none claimed
        assert [h["cpus"] for h in health.values()] == [None, None, None]
        return
    expected = {"middleware": allowed[-1], "core": allowed[-2]}
    assert health["auth"]["cpus"] == allowed
    for name, one in expected.items():
        assert health[name]["cpus"] == [one]
        log = (platform.home / "logs" / f"{name}.log").read_text()
        placement = [json.loads(line) for line in log.splitlines() if "cpu_placement" in line]
        assert [(p["cpu"], p["level"]) for p in placement] == [(one, "INFO")]
        if sys.platform.startswith("linux"):
            assert _threads_cpus(health[name]["pid"]) == {(one,)}


@pytest.mark.skipif(cpu.affinity_of_this_os() is None, reason="this OS has no way (macOS)")
def test_a_service_run_alone_stays_on_any_cpu_unless_given_one(tmp_path: Path) -> None:
    allowed = cpu.allowed_cpus()
    assert allowed is not None
    platform = Platform(tmp_path / "home")
    try:
        platform.start_service("middleware")
        assert _healthz(platform, "middleware")["cpus"] == allowed
        platform.kill_service("middleware")
        platform.start_service("middleware", env={"TOY_PLATFORM_CPU": str(allowed[0])})
        assert _healthz(platform, "middleware")["cpus"] == [allowed[0]]
    finally:
        platform.stop()


@pytest.mark.skipif(sys.platform == "win32", reason="freezes a child with SIGSTOP")
def test_a_serve_after_a_killed_one_names_it_and_what_it_left(
    tmp_path: Path, platforms: list[Platform]
) -> None:
    platform = _serve(platforms, Platform(tmp_path / "home"))
    old_serve = platform.processes.pop("serve")
    pids = _child_pids(platform)
    # A frozen child cannot notice that serve is gone: it is still there for the next serve.
    os.kill(pids["core"], signal.SIGSTOP)
    old_serve.kill()
    old_serve.wait(10)
    (platform.home / "serve.out").unlink()
    try:
        platform.serve(timeout=60)
        printed = platform.output("serve")
        assert f"The previous serve on this home (PID {old_serve.pid}" in printed, printed
        left = next(line for line in printed.splitlines() if line.startswith("It left running:"))
        assert f"core (PID {pids['core']})" in left, printed
        all_gone(list(pids.values()), timeout=5)
    finally:
        _kill(list(pids.values()))
    client = platform.client()
    job = client.wait_for_job(client.submit_job("after", "ab")["job_id"], timeout=30)
    assert job["status"] == "succeeded"


@dataclass
class _BehindDeadProxy(Platform):
    """Every proxy variable points at a port nobody listens on; NO_PROXY is unset."""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in super().env().items() if k.lower() != "no_proxy"}
        proxy = f"http://127.0.0.1:{free_ports(1)[0]}"
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
            env[name] = proxy
        return env


def test_a_proxy_in_the_environment_is_not_used_for_the_probes(
    tmp_path: Path, platforms: list[Platform]
) -> None:
    # Through the proxy, no probe answers: serve would wait 60 s per child, then restart them.
    platform = _serve(platforms, _BehindDeadProxy(tmp_path / "home"), timeout=40)
    # ... nor for the services' calls to each other.
    client = platform.client()
    job = client.wait_for_job(client.submit_job("proxied", "ab")["job_id"], timeout=30)
    assert job["status"] == "succeeded"
    pids = _child_pids(platform)
    time.sleep(8)
    record = _record(platform)
    assert {n: c["restarts"] for n, c in record["children"].items()} == dict.fromkeys(pids, 0)
    assert _child_pids(platform) == pids
    assert all(c["state"] == "running" for c in record["children"].values())
