"""The status screen's pieces: probes (never through a proxy), the supervisor's state, figures."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from flask import Flask, jsonify
from support.harness import free_ports, wait_until
from support.serve_fakes import Processes, child, write_record
from werkzeug.serving import make_server

from toy_platform.config import load_settings
from toy_platform.health import probe, probe_all, read_record
from toy_platform.ops import serve_record, statusview
from toy_platform.web import app as web

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")
Serve = Callable[[Flask], str]


@pytest.fixture
def serve_app() -> Iterator[Serve]:
    """Serve a WSGI app on a free loopback port in a thread; give its URL."""
    servers = []

    def start(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()


def service_app(ready: bool = True, metrics: str = "", key: str = "aaa") -> Flask:
    app = Flask("fake")
    app.add_url_rule(
        "/healthz",
        "healthz",
        lambda: jsonify(status="ok", version="9.9", service_key_fingerprint=key),
    )
    app.add_url_rule(
        "/readyz",
        "readyz",
        lambda: (
            jsonify(ready=ready, reason=None if ready else "core: stuck"),
            200 if ready else 503,
        ),
    )
    app.add_url_rule("/metrics", "metrics", lambda: metrics)
    return app


@pytest.fixture
def closed_proxy(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every proxy variable points at a port where nothing listens."""
    proxy = f"http://127.0.0.1:{free_ports(1)[0]}"
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return proxy


def test_probes_and_metrics_never_go_through_a_proxy(serve_app: Serve, closed_proxy: str) -> None:
    url = serve_app(service_app(metrics="toy_platform_queue_size 3\n"))
    status = probe(url)
    assert (status["up"], status["ready"], status["reason"]) == (True, True, None)
    assert probe_all({"core": url})["core"]["up"] is True  # the middleware's /platform_status
    metrics = statusview.fetch_metrics(url)
    assert metrics is not None and metrics["toy_platform_queue_size"] == 3


def test_a_process_without_readyz_is_ready_when_up(serve_app: Serve) -> None:
    app = Flask("old")
    app.add_url_rule("/healthz", "healthz", lambda: jsonify(status="ok"))
    assert probe(serve_app(app))["ready"] is True


def test_not_ready_gives_the_reason(serve_app: Serve) -> None:
    status = probe(serve_app(service_app(ready=False)))
    assert (status["up"], status["ready"], status["reason"]) == (True, False, "core: stuck")


def test_a_web_app_that_is_not_built_is_not_ready(serve_app: Serve, tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    url = serve_app(web.create_app(settings, dist=tmp_path / "no-build"))
    status = statusview._probe_one("web", url)
    assert status["state"] == "not_ready" and status["up"] is True
    assert "not built" in status["reason"].lower()
    line = click.unstyle(statusview.component_line("web", status))
    assert line.split()[1:3] == ["NOT", "READY"] and "not built" in line.lower()


def test_a_built_web_app_is_ready(serve_app: Serve, tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "index.html").write_text("<html></html>")
    url = serve_app(web.create_app(load_settings(home=tmp_path), dist=tmp_path / "dist"))
    assert statusview._probe_one("web", url)["state"] == "ok"


METRICS = """\
toy_platform_queue_size 4
toy_platform_jobs_running 1
toy_platform_workers_alive 2
toy_platform_callback_senders_alive 0
toy_platform_callbacks_parked 3
toy_platform_callbacks_pending 5
toy_platform_callbacks_waiting_retry 0
# TYPE toy_platform_thread_restarts counter
toy_platform_thread_restarts_total{thread="worker-0"} 2
toy_platform_thread_restarts_total{thread="sender-0"} 1
"""


def test_workers_and_callback_senders_are_counted_apart() -> None:
    queue = statusview.queue_figures(statusview.parse_metrics(METRICS))
    assert queue["workers_alive"] == 2 and queue["callback_senders_alive"] == 0
    assert queue["callbacks_parked"] == 3 and queue["thread_restarts"] == 3
    text = click.unstyle("\n".join(statusview.figure_lines(queue, statusview.job_figures(None))))
    assert "2 workers alive, 0 callback senders alive, restarted 3 times" in text
    assert "3 parked (cannot be delivered)" in text


def test_an_older_core_without_the_new_figures() -> None:
    queue = statusview.queue_figures(statusview.parse_metrics("toy_platform_queue_size 0\n"))
    assert queue["callback_senders_alive"] is None and queue["thread_restarts"] == 0
    assert statusview.queue_figures(None)["thread_restarts"] is None


# -- the supervisor -----------------------------------------------------------------


def test_serve_running_frozen_and_gone(tmp_path: Path, processes: Processes) -> None:
    serve = processes.ours("serve")
    write_record(tmp_path, serve)
    record = read_record(tmp_path)
    assert record is not None and serve_record.serve_state(record).state == "running"
    write_record(tmp_path, serve, updated_ago=20)
    state = serve_record.serve_state(read_record(tmp_path) or {})
    assert state.state == "frozen" and state.alive and not state.running
    reason = f"pid {serve.pid} is alive but has not updated its record for 2[01] s"
    assert re.search(reason, str(state.reason)), state.reason
    write_record(tmp_path, processes.exited())
    gone = serve_record.serve_state(read_record(tmp_path) or {})
    assert gone.state == "gone" and "is not running" in str(gone.reason)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP")
def test_a_stopped_serve_is_said_to_be_stopped(tmp_path: Path, processes: Processes) -> None:
    serve = processes.ours("serve")
    write_record(tmp_path, serve, updated_ago=10)
    os.kill(serve.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: serve_record.psutil.Process(serve.pid).status() == "stopped", 10)
        state = serve_record.serve_state(read_record(tmp_path) or {})
        assert "stopped (Ctrl+Z or SIGSTOP)" in str(state.reason)
    finally:
        os.kill(serve.pid, signal.SIGCONT)


def test_a_pid_reused_by_another_program_is_not_serve(tmp_path: Path, processes: Processes) -> None:
    write_record(tmp_path, processes.unrelated())
    state = serve_record.serve_state(read_record(tmp_path) or {})
    assert state.state == "gone" and "is now another program" in str(state.reason)


def nothing_runs(tmp_path: Path) -> Any:
    ports = free_ports(3)
    return load_settings(
        home=tmp_path, auth_port=ports[0], core_port=ports[1], middleware_port=ports[2]
    )


def test_status_when_serve_is_frozen(tmp_path: Path, processes: Processes) -> None:
    settings = nothing_runs(tmp_path)
    held = child(processes.ours("core"), state="held")
    write_record(settings.data_dir, processes.ours("serve"), {"core": held}, updated_ago=30)
    status = statusview.gather(settings)
    assert status["ok"] is False
    assert status["supervisor"]["state"] == "frozen" and status["supervisor"]["running"] is False
    text = click.unstyle("\n".join(statusview.render(status)))
    assert "the supervisor (`toy-platform serve`) is not running: its record is stale" in text
    assert re.search("has not updated its record for 3[01] s", text), text
    assert "Nothing restarts a component" in text
    assert "chaos start" not in text  # a frozen serve would not act on it


def test_status_when_serve_is_gone(tmp_path: Path, processes: Processes) -> None:
    settings = nothing_runs(tmp_path)
    write_record(settings.data_dir, processes.exited(), updated_ago=300)
    status = statusview.gather(settings)
    assert status["supervisor"]["state"] == "gone"
    text = click.unstyle("\n".join(statusview.render(status)))
    assert "is not running: its record is stale" in text and "is not running)" in text


def test_status_while_serve_runs_shows_what_it_knows(tmp_path: Path, processes: Processes) -> None:
    settings = nothing_runs(tmp_path)
    held = child(processes.ours("core"), state="held", restarts=2)
    write_record(settings.data_dir, processes.ours("serve"), {"core": held})
    status = statusview.gather(settings)
    assert status["supervisor"] == {
        "running": True,
        "pid": status["supervisor"]["pid"],
        "updated_at": status["supervisor"]["updated_at"],
        "state": "running",
        "reason": None,
        "orphans": [],
    }
    core = click.unstyle(statusview.component_line("core", status["components"]["core"]))
    assert "chaos start core" in core and "restarted 2 times" in core


def test_status_when_serve_is_gone_and_its_services_still_run(
    tmp_path: Path, processes: Processes
) -> None:
    """Its children answer where the record says, not on the default ports."""
    settings = nothing_runs(tmp_path)
    core = processes.ours("core")
    write_record(settings.data_dir, processes.exited(), {"core": child(core)})
    status = statusview.gather(settings)
    assert status["supervisor"]["state"] == "gone"
    assert status["supervisor"]["orphans"] == ["core"] and status["ok"] is False
    text = click.unstyle("\n".join(statusview.render(status)))
    assert "Its services still run without it: core." in text


def test_services_with_different_keys_are_not_ready(serve_app: Serve, tmp_path: Path) -> None:
    """No call between them was refused yet (all /readyz say ready), but none would pass."""
    urls = {
        name: serve_app(service_app(key="bbb" if name == "core" else "aaa"))
        for name in ("auth", "core", "middleware")
    }
    settings = load_settings(home=tmp_path, **{f"{n}_url": u for n, u in urls.items()})
    status = statusview.gather(settings)
    assert status["ok"] is False
    core = status["components"]["core"]
    assert (core["state"], core["ready"]) == ("not_ready", False)
    assert "another service key (fingerprint bbb) than auth aaa, middleware aaa" in core["reason"]
    assert status["components"]["auth"]["state"] == "ok"
    text = click.unstyle(statusview.component_line("core", core))
    assert "NOT READY" in text and "refused (401)" in text


def test_services_with_the_same_key_are_fine(serve_app: Serve, tmp_path: Path) -> None:
    urls = {name: serve_app(service_app()) for name in ("auth", "core", "middleware")}
    settings = load_settings(home=tmp_path, **{f"{n}_url": u for n, u in urls.items()})
    status = statusview.gather(settings)
    assert status["ok"] is True
    assert status["components"]["core"]["service_key_fingerprint"] == "aaa"
