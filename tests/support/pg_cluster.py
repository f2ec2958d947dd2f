"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary directory and
pg_ctl on a free loopback port, as the `postgres` system user when the tests run as root
(PostgreSQL refuses to run as root)."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from support.harness import free_ports

USER = "toy"


def find_bin_dir() -> Path | None:
    """The directory of initdb and pg_ctl: $PGBIN (Windows runners), Debian's versioned one,
    or on the PATH."""
    candidates = [os.environ.get("PGBIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in filter(None, candidates):
        if Path(directory, "initdb").exists() or Path(directory, "initdb.exe").exists():
            return Path(directory)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def why_unavailable() -> str | None:
    """None when a cluster can be run here, else why not (the reason a test is skipped)."""
    if find_bin_dir() is None:
        return (
            "PostgreSQL is not installed (initdb not found): ./run_tests.sh installs Debian's"
            " postgresql when run as root, or: sudo apt-get install postgresql"
        )
    if _is_root() and not _postgres_user_exists():
        return "running as root, and there is no 'postgres' user to run PostgreSQL as"
    return None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _postgres_user_exists() -> bool:
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


@dataclass
class Cluster:
    """One running cluster; `url(db)` gives a connection URL with the password in it."""

    bin_dir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="toy-pg-")))
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    port: int = field(default_factory=lambda: free_ports(1)[0])
    durable: bool = False  # True: PostgreSQL's own defaults (fsync, synchronous commits)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if _is_root():
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> Cluster:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if _is_root():
            shutil.chown(self.root, "postgres")
            shutil.chown(pwfile, "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            USER,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        pwfile.unlink()
        self.pg_ctl_start()
        return self

    def pg_ctl_start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            " -c max_connections=200"
        )
        if not self.durable:  # the tests need no durability across a power cut, only speed
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def pg_ctl_stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", check=False)

    def stop(self) -> None:
        self.pg_ctl_stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """A new, empty database; its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
