"""Starts the real platform as processes on free loopback ports with a temporary home."""

from __future__ import annotations

import os
import secrets
import site
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

from toy_platform.client import PlatformClient

SERVICES = ("auth", "core", "middleware")


def free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [s.getsockname()[1] for s in sockets]
    for sock in sockets:
        sock.close()
    return ports


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


def all_gone(pids: list[int], timeout: float = 15) -> None:
    """Wait until none of PIDS runs any more (a zombie awaiting its parent counts as gone)."""

    def gone() -> bool:
        return not any(
            psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
            for p in pids
        )

    wait_until(gone, timeout, what="no process left behind")


@dataclass
class Platform:
    """The platform under test: `toy-platform serve`, or the services run one by one."""

    home: Path
    job_delay: float = 0.2
    web: bool = False
    dashboard: bool = False
    extra_args: list[str] = field(default_factory=list)
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    launcher: Path | None = None
    """An interpreter that serve takes for its own and starts its children with: see
    tests/e2e/test_launcher.py."""

    def __post_init__(self) -> None:
        names = ("auth", "core", "middleware", "web", "dashboard")
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        self.home.mkdir(parents=True, exist_ok=True)

    # -- addresses -----------------------------------------------------------

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def auth_url(self) -> str:
        return self.url("auth")

    @property
    def core_url(self) -> str:
        return self.url("core")

    @property
    def middleware_url(self) -> str:
        return self.url("middleware")

    @property
    def web_url(self) -> str:
        return self.url("web")

    @property
    def dashboard_url(self) -> str:
        return self.url("dashboard")

    def common_args(self) -> list[str]:
        args = ["--home", str(self.home)]
        for name, port in self.ports.items():
            args += [f"--{name}-port", str(port)]
        return args + ["--job-delay", str(self.job_delay), *self.extra_args]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOY_PLATFORM_")}
        env["TOY_PLATFORM_ADMIN_PASSWORD"] = self.admin_password
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def cli(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run `toy-platform ARGS` (with this platform's home and ports) and wait for it."""
        command = [sys.executable, "-m", "toy_platform", *args, *self.common_args()]
        result = subprocess.run(
            command, input=input, capture_output=True, text=True, env=self.env(), timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    # -- running it ----------------------------------------------------------

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = open(self.home / f"{name}.out", "ab")  # noqa: SIM115 - owned by the process
        launcher = self._as_launcher()
        process = subprocess.Popen(
            [launcher.get("argv0", sys.executable), "-m", "toy_platform", *argv]
            + self.common_args(),
            executable=sys.executable,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env() | launcher.get("env", {}) | (env or {}),
        )
        self.processes[name] = process
        return process

    def _as_launcher(self) -> dict[str, Any]:
        """How to run this interpreter so that its sys.executable is self.launcher: the
        launcher's path as argv[0] (CPython takes sys.executable from it on POSIX). Outside
        the venv's directory it finds no pyvenv.cfg, so the venv's packages and this
        checkout go on PYTHONPATH."""
        if self.launcher is None:
            return {}
        paths = [str(Path(__file__).resolve().parents[2]), *site.getsitepackages()]
        return {"argv0": str(self.launcher), "env": {"PYTHONPATH": os.pathsep.join(paths)}}

    def serve(self, timeout: float = 90) -> Platform:
        """Start everything with `toy-platform serve` and wait until it is all up."""
        args = ["serve"] + ([] if self.web else ["--no-web"])
        args += [] if self.dashboard else ["--no-dashboard"]
        self._spawn("serve", args)
        wait_until(lambda: "Ready." in self.output("serve"), timeout, what="serve to be ready")
        return self

    def start_service(
        self, name: str, timeout: float = 30, env: dict[str, str] | None = None
    ) -> None:
        """Run one service alone (for tests that kill and restart services themselves);
        ENV adds to or overrides its environment."""
        self._spawn(name, [name], env)
        wait_until(lambda: answers(f"{self.url(name)}/healthz"), timeout, what=f"{name} up")

    def kill_service(self, name: str) -> None:
        """Hard-kill a service started with start_service."""
        process = self.processes.pop(name)
        process.kill()
        process.wait(10)

    def start_all_services(self) -> Platform:
        for name in SERVICES:
            self.start_service(name)
        return self

    def output(self, name: str) -> str:
        path = self.home / f"{name}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    # -- users and clients ---------------------------------------------------

    def add_user(self, name: str, password: str, admin: bool = False) -> None:
        self.cli(
            "user",
            "add",
            name,
            "--password-stdin",
            *(["--admin"] if admin else []),
            input=password + "\n",
        )

    def client(self, username: str = "admin", password: str | None = None) -> PlatformClient:
        client = PlatformClient(self.auth_url, self.middleware_url)
        client.login(username, password or self.admin_password)
        return client

    def stop_child(self, name: str) -> None:
        """Under serve: stop a child and keep it down (`toy-platform chaos stop`)."""
        self.cli("chaos", "stop", name)
        wait_until(lambda: not answers(f"{self.url(name)}/healthz"), 20, what=f"{name} down")

    def start_child(self, name: str) -> None:
        """Under serve: let a stopped child run again and wait until it answers."""
        self.cli("chaos", "start", name)
        wait_until(lambda: answers(f"{self.url(name)}/healthz"), 60, what=f"{name} up")
