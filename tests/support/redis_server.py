"""A redis-server of the tests' own: a free loopback port, a temporary directory, stopped after."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.harness import free_ports, wait_until


def why_unavailable() -> str | None:
    """None when redis-server can be run here, else why not (the tests are skipped)."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (Debian: apt-get install redis-server)"
    return None


def answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    directory: Path
    port: int = field(default_factory=lambda: free_ports(1)[0])
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start (or start again on the same port and data: what it had is still there)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / "redis.out", "ab")  # noqa: SIM115 - owned by the process
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(self.directory), "--save", "", "--appendonly", "yes"]
        argv += ["--appendfsync", "always", "--protected-mode", "yes"]
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: answers_ping(self.port), 20, what=f"redis-server on {self.port}")
        return self

    def stop(self) -> None:
        """Stop it as an operator would (SIGTERM); its append-only file keeps the data."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        deadline = time.monotonic() + 10
        while answers_ping(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)
