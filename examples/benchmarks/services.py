"""Starts toy-platform services one by one (as on several machines) for the benchmarks."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Services:
    """Auth, core and middlewares in a temporary home, on free loopback ports, all with the
    same store URL (given in the environment, so no password is on a command line)."""

    def __init__(self, store_url: str = "sqlite", *extra: str) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="toy-bench-"))
        self.password = secrets.token_urlsafe(12)
        self.ports = {"auth": free_port(), "core": free_port(), "middleware": free_port()}
        self.extra = list(extra)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TOY_PLATFORM_")}
        self.env.update(TOY_PLATFORM_ADMIN_PASSWORD=self.password, TOY_PLATFORM_STORE_URL=store_url)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.commands: dict[int, tuple[str, list[str]]] = {}  # pid: what started it
        self.middleware_urls: list[str] = []
        self.middleware_pids: list[int] = []

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def _args(self) -> list[str]:
        ports = [a for name, port in self.ports.items() for a in (f"--{name}-port", str(port))]
        return ["--home", str(self.home), *ports, *self.extra]

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self._spawn(name, [name, *self._args(), *args])

    def start_worker(
        self, hostname: str, middleware_url: str, *args: str
    ) -> subprocess.Popen[bytes]:
        """A `toy-platform worker` named HOSTNAME in this home (where it finds the service key),
        reporting to MIDDLEWARE_URL; the queue URL and the like go in ARGS (a worker takes
        fewer options than the services: none of `extra`)."""
        argv = ["worker", "--home", str(self.home), "--hostname", hostname]
        return self._spawn("worker", [*argv, "--middleware-url", middleware_url, *args])

    def restart(self, process: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        """Start PROCESS's command again (once it has stopped or was killed): the same service,
        port, home and arguments."""
        name, argv = self.commands[process.pid]
        return self._spawn(name, argv)

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.home / f"{name}-{len(self.processes)}.out", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "toy_platform", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        self.processes.append(process)
        self.commands[process.pid] = (name, argv)
        return process

    def start_middleware(self, *args: str) -> str:
        """Another middleware on a free port (the first on the platform's middleware port);
        its callbacks come to it (unless --callback-url is in ARGS)."""
        port = self.ports["middleware"] if not self.middleware_urls else free_port()
        url = f"http://127.0.0.1:{port}"
        process = self.start("middleware", "--middleware-port", str(port), *args)
        wait_for(f"{url}/healthz")
        self.middleware_urls.append(url)
        self.middleware_pids.append(process.pid)
        return url

    def stop(self, keep: bool = False) -> None:
        """Stop every process started; remove the home unless KEEP (its logs, to look at)."""
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if not keep:
            shutil.rmtree(self.home, ignore_errors=True)


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:g} s")


def service_processes(pid: int) -> dict[int, str]:
    """The processes of `toy-platform serve` (PID) and its children, by service: serve, auth,
    middleware, core (a job sandbox counts as other)."""
    serve = psutil.Process(pid)
    named = {}
    for process in [serve, *serve.children(recursive=True)]:
        try:
            argv = process.cmdline()
        except psutil.NoSuchProcess:
            continue
        named[process.pid] = next(
            (name for name in ("auth", "middleware", "core", "serve") if name in argv), "other"
        )
    return named
