"""Real processes that look like (or unlike) ours, and supervisor.json records about them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil

from support.harness import wait_until

SLEEP = "import time; time.sleep(120)"


class Processes:
    """Starts sleeping Python processes whose command line says what we want; stops them all."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def ours(self, command: str) -> subprocess.Popen[bytes]:
        """A process whose command line reads `python -c ... -m toy_platform COMMAND`."""
        return self.start("-m", "toy_platform", command)

    def unrelated(self) -> subprocess.Popen[bytes]:
        """A process that is not one of ours (a plain sleep)."""
        return self.start()

    def exited(self) -> int:
        """The pid of a process that has come and gone."""
        process = self.start()
        process.kill()
        process.wait()
        return process.pid

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-c", SLEEP, *args])
        self.started.append(process)
        # Until the new program has started, the OS shows no (or the parent's) command line.
        wait_until(lambda: SLEEP in psutil.Process(process.pid).cmdline(), 10, 0.01)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait()


def create_time(process: subprocess.Popen[bytes] | int) -> float:
    pid = process if isinstance(process, int) else process.pid
    return psutil.Process(pid).create_time()


def iso(seconds_ago: float = 0.0) -> str:
    moment = datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)
    return moment.isoformat(timespec="seconds")


def child(process: subprocess.Popen[bytes], url: str = "", **extra: Any) -> dict[str, Any]:
    """A child's entry as serve records it (create_time from the real process)."""
    entry: dict[str, Any] = {
        "pid": process.pid,
        "create_time": create_time(process),
        "state": "running",
        "url": url,
        "started_at": iso(),
        "restarts": 0,
        "last_exit_code": None,
        "last_exit_at": None,
        "history": [],
    }
    return {**entry, **extra}


def write_record(
    data_dir: Path,
    serve: subprocess.Popen[bytes] | int,
    children: dict[str, dict[str, Any]] | None = None,
    updated_ago: float = 0.0,
    settings: dict[str, Any] | None = None,
) -> Path:
    """supervisor.json as a serve with pid SERVE would write it."""
    pid = serve if isinstance(serve, int) else serve.pid
    record: dict[str, Any] = {
        "pid": pid,
        "updated_at": iso(updated_ago),
        "children": children or {},
    }
    if not isinstance(serve, int):
        record["create_time"] = create_time(serve)
    if settings is not None:
        record["settings"] = settings
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "supervisor.json"
    path.write_text(json.dumps(record))
    return path
