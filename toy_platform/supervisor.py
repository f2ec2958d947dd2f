"""`toy-platform serve`: runs each service as its own process, watches and restarts them."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from toy_platform.config import Settings
from toy_platform.health import SUPERVISOR_FILE
from toy_platform.security import write_private

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
UNRESPONSIVE_AFTER_S = 30.0
HEALTH_INTERVAL_S = 2.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0
STOP_GRACE_S = 5.0


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    health_url: str
    url: str


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    last_exit_code: int | None = None
    last_exit_at: str | None = None
    last_healthy: float = 0.0
    next_start: float = 0.0
    failures_in_row: int = 0
    state: str = "starting"
    history: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {
            "pid": self.process.pid if self.process else None,
            "state": self.state,
            "url": self.spec.url,
            "started_at": _iso(self.started_at) if self.started_at else None,
            "restarts": self.restarts,
            "last_exit_code": self.last_exit_code,
            "last_exit_at": self.last_exit_at,
            "history": self.history[-20:],
        }


def _iso(ts: float | None = None) -> str:
    moment = datetime.fromtimestamp(ts or time.time(), timezone.utc)
    return moment.isoformat(timespec="seconds")


def service_argv(name: str) -> list[str]:
    return [sys.executable, "-m", "toy_platform", name]


class Supervisor:
    """Starts the children, restarts any that die or stop answering, stops them all."""

    def __init__(self, settings: Settings, specs: list[ChildSpec], env: dict[str, str]) -> None:
        self.settings = settings
        self.children = {spec.name: Child(spec) for spec in specs}
        self.env = env
        self.stopping = threading.Event()
        self.state_file = settings.data_dir / SUPERVISOR_FILE
        self.http = requests.Session()

    # -- lifecycle -----------------------------------------------------------

    def start_all(self, on_ready: Callable[[Child], None] | None = None) -> list[str]:
        """Start every child in order; return the names that did not come up in time."""
        failed = []
        for child in self.children.values():
            self.held_file(child.spec.name).unlink(missing_ok=True)
            self._spawn(child)
            if self._wait_healthy(child):
                child.state = "running"
                if on_ready:
                    on_ready(child)
            else:
                failed.append(child.spec.name)
        self._save()
        return failed

    def run(self) -> None:
        """Watch the children until stop() is called."""
        while not self.stopping.wait(HEALTH_INTERVAL_S / 2):
            for child in self.children.values():
                self._check(child)
            self._save()

    def stop(self) -> None:
        self.stopping.set()
        for child in self.children.values():
            child.state = "stopping"
            if child.process and child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for child in self.children.values():
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            child.state = "stopped"
        self._save()
        logger.info("all services stopped", extra={"event": "supervisor_stopped"})

    # -- watching ------------------------------------------------------------

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.spec.argv, env=self.env)
        child.started_at = time.time()
        child.last_healthy = time.monotonic()
        child.state = "starting"
        logger.info(
            "started %s (pid %d)",
            child.spec.name,
            child.process.pid,
            extra={
                "event": "child_started",
                "child": child.spec.name,
                "pid": child.process.pid,
                "restarts": child.restarts,
            },
        )

    def _wait_healthy(self, child: Child) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and not self.stopping.is_set():
            if child.process and child.process.poll() is not None:
                return False
            if self._healthy(child):
                child.last_healthy = time.monotonic()
                return True
            time.sleep(0.1)
        return False

    def _healthy(self, child: Child) -> bool:
        try:
            return self.http.get(child.spec.health_url, timeout=HEALTH_INTERVAL_S).ok
        except requests.RequestException:
            return False

    def held_file(self, name: str) -> Path:
        return hold_file(self.settings.data_dir, name)

    def _check(self, child: Child) -> None:
        if self.held_file(child.spec.name).exists():
            self._hold(child)
            return
        now = time.monotonic()
        process = child.process
        if process is None or process.poll() is not None:
            if child.state == "held":
                child.next_start = now
            elif process is not None and child.state != "waiting":
                self._exited(child, process.returncode)
            if now >= child.next_start and not self.stopping.is_set():
                child.restarts += 1
                self._spawn(child)
            return
        if self._healthy(child):
            if child.state != "running":
                logger.info(
                    "%s is answering",
                    child.spec.name,
                    extra={"event": "child_healthy", "child": child.spec.name},
                )
            child.state, child.last_healthy = "running", now
            if now - child.started_at > STABLE_AFTER_S:
                child.failures_in_row = 0
        elif now - child.last_healthy > UNRESPONSIVE_AFTER_S:
            logger.error(
                "%s has not answered /healthz for %.0f s: restarting it",
                child.spec.name,
                now - child.last_healthy,
                extra={"event": "child_unresponsive", "child": child.spec.name},
            )
            child.history.append({"at": _iso(), "event": "unresponsive"})
            process.kill()
            process.wait()
        elif child.state == "running":
            child.state = "not answering"

    def _hold(self, child: Child) -> None:
        """Keep a child stopped while `toy-platform chaos stop` holds it."""
        if child.state == "held":
            return
        if child.process and child.process.poll() is None:
            child.process.terminate()
            try:
                child.process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        child.state = "held"
        child.last_exit_code = child.process.returncode if child.process else None
        child.last_exit_at = _iso()
        child.history.append({"at": child.last_exit_at, "event": "held"})
        logger.warning(
            "%s stopped on request; it stays down until `toy-platform chaos start %s`",
            child.spec.name,
            child.spec.name,
            extra={"event": "child_held", "child": child.spec.name},
        )

    def _exited(self, child: Child, code: int | None) -> None:
        child.last_exit_code = code
        child.last_exit_at = _iso()
        child.failures_in_row += 1
        delay = min(MAX_BACKOFF_S, 2 ** (child.failures_in_row - 1))
        child.next_start = time.monotonic() + delay
        child.state = "waiting"
        child.history.append({"at": child.last_exit_at, "event": "exited", "exit_code": code})
        logger.error(
            "%s exited with code %s; restarting in %d s",
            child.spec.name,
            code,
            delay,
            extra={
                "event": "child_exited",
                "child": child.spec.name,
                "exit_code": code,
                "restart_in_s": delay,
                "restarts": child.restarts,
            },
        )

    def _save(self) -> None:
        record = {
            "pid": os.getpid(),
            "updated_at": _iso(),
            "settings": _settings_record(self.settings),
            "children": {name: child.record() for name, child in self.children.items()},
        }
        try:
            write_private(self.state_file, json.dumps(record, indent=2).encode())
        except OSError as exc:
            logger.warning("cannot write %s: %s", self.state_file, exc)


def _settings_record(settings: Settings) -> dict[str, Any]:
    """Where this serve's services answer and its files are, for status, logs and doctor."""
    names = ("host", "auth_port", "core_port", "middleware_port", "web_port", "dashboard_port")
    record: dict[str, Any] = {name: getattr(settings, name) for name in names}
    for name in ("auth_url", "core_url", "middleware_url", "web_url", "dashboard_url"):
        record[name] = getattr(settings, name)
    for name in ("log_dir", "data_dir", "config_dir"):
        record[name] = str(getattr(settings, name))
    return record


def hold_file(data_dir: Path, name: str) -> Path:
    """While this file exists, the supervisor keeps child NAME stopped."""
    return data_dir / "hold" / name
