"""Asking services how they are: used by /platform_status, `status`, `doctor` and serve."""

from __future__ import annotations

import contextvars
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from toy_platform.config import Settings
from toy_platform.http_errors import DEFAULT_TIMEOUT_S, describe_error
from toy_platform.tracing import outgoing_headers

PROBE_TIMEOUT_S = DEFAULT_TIMEOUT_S
READYZ_GRACE_S = 1.5
RECORD_FILE = "supervisor.json"
"""The record a running `toy-platform serve` keeps in its data dir (see ops/serve_record)."""
SUPERVISOR_FILE = RECORD_FILE
Record = dict[str, Any]


def read_record(data_dir: Path) -> Record | None:
    """The record in DATA_DIR, or None when there is none (or it is not a JSON object)."""
    try:
        record = json.loads((data_dir / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def direct_session() -> requests.Session:
    """A session for calls to the platform's own services: straight to the URL it is given.

    Proxy variables (HTTP_PROXY, ALL_PROXY, ...) and the system proxy (Windows, macOS) are
    for the way out, not for our own services on loopback or the LAN: through a proxy a
    healthy service looks down or slow. (service_http.service_session is the signed kind.)
    """
    session = requests.Session()
    session.trust_env = False
    return session


def probe(
    url: str,
    session: requests.Session | None = None,
    timeout: float = PROBE_TIMEOUT_S,
    health_path: str = "/healthz",
    ready_path: str | None = "/readyz",
    keep: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A component's health: up (answers HEALTH_PATH), ready (READY_PATH), and why not.

    A component without a readiness check (ready_path None, or a process too old to have
    one: it answers 404 there) is ready when it is up. Never through a proxy. The fields
    named in KEEP are copied from the health answer (None when it has none).
    """
    if session is None:
        with direct_session() as own:
            return probe(url, own, timeout, health_path, ready_path, keep)
    status: dict[str, Any] = {
        "up": False,
        "ready": False,
        "reason": None,
        "latency_ms": None,
        "version": None,
        "uptime_s": None,
        "url": url,
        **dict.fromkeys(keep),
    }
    started = time.perf_counter()
    try:
        health = session.get(f"{url}{health_path}", timeout=timeout, headers=outgoing_headers())
        status["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        body = _json_object(health)
        status.update(up=health.ok, version=body.get("version"), uptime_s=body.get("uptime_s"))
        status.update({name: body.get(name) for name in keep})
        if not health.ok:
            status["reason"] = f"{health_path} answered HTTP {health.status_code}"
            return status
        if ready_path is None:
            status["ready"] = True
            return status
        _check_ready(session, status, f"{url}{ready_path}", ready_path, timeout)
    except (requests.RequestException, ValueError) as exc:
        status["reason"] = describe_error(exc, timeout)
    return status


def _check_ready(
    session: requests.Session, status: dict[str, Any], url: str, path: str, timeout: float
) -> None:
    # /readyz may itself wait up to PROBE_TIMEOUT_S on a hung dependency: allow for that.
    ready_timeout = timeout + READYZ_GRACE_S
    try:
        ready = session.get(url, timeout=ready_timeout, headers=outgoing_headers())
    except requests.Timeout:
        status["reason"] = f"{path} gave no answer within {ready_timeout:g} s"
        return
    if ready.status_code == 404:  # an older process without a readiness check
        status["ready"] = True
        return
    status["ready"] = ready.status_code == 200
    if not status["ready"]:
        body = _json_object(ready)
        status["reason"] = body.get("reason") or body.get("error") or f"HTTP {ready.status_code}"


def _json_object(response: requests.Response) -> dict[str, Any]:
    """The response's JSON object, or {} when it answered something else."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def probe_all(urls: dict[str, str], timeout: float = PROBE_TIMEOUT_S) -> dict[str, dict[str, Any]]:
    """Probe several components at once, so one slow component costs 2 s, not 2 s each."""
    with ThreadPoolExecutor(max_workers=max(1, len(urls))) as pool:
        futures = {
            name: pool.submit(contextvars.copy_context().run, probe, url, None, timeout)
            for name, url in urls.items()
        }
        return {name: future.result() for name, future in futures.items()}


def read_supervisor(settings: Settings) -> dict[str, Any] | None:
    """What `toy-platform serve` recorded about its children, if it runs on this machine."""
    return read_record(settings.data_dir)


def add_supervisor_facts(components: dict[str, dict[str, Any]], settings: Settings) -> None:
    """Add restarts and last exit codes from the supervisor's record, where there is one."""
    children = (read_supervisor(settings) or {}).get("children", {})
    for name, component in components.items():
        component.update(supervisor_facts(children.get(name, {})))


def supervisor_facts(child: dict[str, Any]) -> dict[str, Any]:
    """What the supervisor recorded of one child: restarts, last exit code and time."""
    return {key: child.get(key) for key in ("restarts", "last_exit_code", "last_exit_at")}
