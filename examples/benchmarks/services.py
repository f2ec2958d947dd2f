"""Starts toy-platform services one by one (as on several machines) for the benchmarks."""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
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


# -- the servers: a PostgreSQL cluster and a redis-server of the benchmark's own -----------


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def postgres_bin_dir() -> Path:
    candidates = [os.environ.get("PGBIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in filter(None, candidates):
        if Path(directory, "initdb").exists():
            return Path(directory)
    initdb = shutil.which("initdb")
    if initdb is None:
        sys.exit("PostgreSQL is not installed (no initdb): install it, or give --postgres-url")
    return Path(initdb).parent


@dataclass
class PostgresCluster:
    """initdb into a temporary directory, pg_ctl on a free loopback port (as tests/support/
    pg_cluster.py does; as the `postgres` user when run as root: PostgreSQL refuses root).
    DURABLE: PostgreSQL's own fsync and synchronous_commit (otherwise both off: a soak that
    never cuts the machine's power needs no flushes)."""

    bin_dir: Path = field(default_factory=postgres_bin_dir)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="toy-bench-pg-")))
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    port: int = field(default_factory=free_port)
    durable: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://toy:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> None:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if is_root():
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)

    def start(self) -> PostgresCluster:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if is_root():
            shutil.chown(self.root, "postgres")
            shutil.chown(pwfile, "postgres")
        self._run(
            "initdb",
            *("-D", str(self.data_dir), "-U", "toy", f"--pwfile={pwfile}"),
            *("--auth=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C"),
        )
        pwfile.unlink()
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            " -c max_connections=200"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", log, "-w", "start")
        return self

    def processes(self) -> list[psutil.Process]:
        """The postmaster and every process it started (the backends among them)."""
        pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
        return [postmaster, *postmaster.children(recursive=True)]

    def stop(self, keep: bool) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)


def answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisProcess:
    """A redis-server on a free loopback port, its append-only file in DIRECTORY (as
    tests/support/redis_server.py starts one), with DEBUG allowed from loopback."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        """Start (or start again, on the same port and data)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / "redis.out", "ab")  # noqa: SIM115 - owned by the process
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(self.directory), "--save", "", "--appendonly", "yes"]
        argv += ["--appendfsync", "always", "--protected-mode", "yes"]
        argv += ["--enable-debug-command", "local"]
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not answers_ping(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server on {self.port} did not start")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # no shutdown, no save: what is on disk is all there is
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(15)
            self.process = None
