"""The supervisor's decisions, with stand-in children (real processes, not ours)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from support.harness import free_ports

from toy_platform.config import load_settings
from toy_platform.ops import supervisor as supervisor_module
from toy_platform.ops.supervisor import (
    EXIT_CANNOT_LISTEN,
    ChildSpec,
    StartError,
    Supervisor,
    stalled_for,
)

# An HTTP server answering /healthz 200 as one of ours would, with someone else's instance ID.
IMPOSTOR = """
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ok", "instance_id": "someone-else"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


# A stand-in service: /healthz with the instance ID serve gave it, /readyz as told by argv[2].
STUB = """
import http.server, json, os, sys
READYZ = json.loads(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            status, body = 200, {"instance_id": os.environ["TOY_PLATFORM_INSTANCE_ID"]}
        else:
            status, body = (200 if READYZ.get("ready") else 503), READYZ
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


@pytest.mark.parametrize(
    ("readyz", "expected"),
    [
        ({"ready": False, "stalled_s": 10.0, "reason": "worker-0 stuck"}, 10.0),
        ({"ready": False, "stalled_s": 20, "reason": "worker-0 stuck"}, 20.0),
        ({"ready": False, "stalled_s": 9.9, "reason": "stalled, not yet long"}, None),
        ({"ready": False, "stalled_s": None, "reason": "core: connection refused"}, None),
        ({"ready": True, "stalled_s": None, "reason": None}, None),
        ({"ready": False, "stalled_s": True}, None),
        ({"ready": False}, None),
        (None, None),
        ("not json", None),
    ],
)
def test_only_a_child_stalled_twice_the_threshold_is_restarted(
    readyz: object, expected: float | None
) -> None:
    assert stalled_for(readyz, stall_after=5.0) == expected


def _supervisor(
    tmp_path: Path, argv: list[str], port: int, watch_stall: bool = False
) -> Supervisor:
    settings = load_settings(home=tmp_path, core_port=port, stall_after=1.0)
    spec = ChildSpec(
        "core",
        argv,
        f"{settings.core_url}/healthz",
        settings.core_url,
        port=port,
        ready_url=f"{settings.core_url}/readyz",
        watch_stall=watch_stall,
    )
    return Supervisor(settings, [spec], env=dict(os.environ))


def _stub(port: int, readyz: dict[str, object]) -> list[str]:
    return [sys.executable, "-c", STUB, str(port), json.dumps(readyz)]


def test_a_child_stalled_too_long_is_restarted(tmp_path: Path, unused_port: int) -> None:
    readyz = {"ready": False, "stalled_s": 2.5, "reason": "worker-0: 3 jobs waiting, none moved"}
    supervisor = _supervisor(tmp_path, _stub(unused_port, readyz), unused_port, watch_stall=True)
    try:
        assert supervisor.start_all() == []
        child = supervisor.children["core"]
        first = child.process
        supervisor._check(child)  # stalled: killed
        assert first is not None and first.poll() is not None
        assert child.history[-1]["event"] == "stalled"
        supervisor._check(child)  # exited: a restart is due after a back-off
        child.next_start = 0
        supervisor._check(child)  # restarted, counted
        assert child.restarts == 1 and child.process is not first
    finally:
        supervisor.stop()


def test_a_child_waiting_for_a_dependency_is_left_alone(tmp_path: Path, unused_port: int) -> None:
    readyz = {"ready": False, "stalled_s": None, "reason": "core: connection refused"}
    supervisor = _supervisor(tmp_path, _stub(unused_port, readyz), unused_port, watch_stall=True)
    try:
        assert supervisor.start_all() == []
        child = supervisor.children["core"]
        first = child.process
        supervisor._check(child)
        assert child.process is first and first is not None and first.poll() is None
        assert child.state == "running" and child.restarts == 0
        assert child.not_ready == "core: connection refused"
    finally:
        supervisor.stop()


def test_the_reason_a_child_is_not_ready_is_kept_for_the_table(
    tmp_path: Path, unused_port: int
) -> None:
    reason = "the web app is not built: pip install a wheel that includes it"
    supervisor = _supervisor(
        tmp_path, _stub(unused_port, {"ready": False, "reason": reason}), unused_port
    )
    try:
        assert supervisor.start_all() == []
        assert supervisor.children["core"].not_ready == reason
    finally:
        supervisor.stop()


def test_a_child_that_cannot_listen_stops_the_start(tmp_path: Path, unused_port: int) -> None:
    argv = [sys.executable, "-c", f"raise SystemExit({EXIT_CANNOT_LISTEN})"]
    supervisor = _supervisor(tmp_path, argv, unused_port)
    try:
        with pytest.raises(StartError, match=rf"core: port {unused_port} .* already in use"):
            supervisor.start_all()
    finally:
        supervisor.stop()


def test_an_answer_with_another_instance_id_is_not_our_child(
    tmp_path: Path, unused_port: int
) -> None:
    """What serve meets when a stranger shares the port (Windows lets two processes bind it)."""
    supervisor = _supervisor(
        tmp_path, [sys.executable, "-c", IMPOSTOR, str(unused_port)], unused_port
    )
    try:
        with pytest.raises(StartError, match=rf"core: port {unused_port} .* already in use"):
            supervisor.start_all()
    finally:
        supervisor.stop()
    child = supervisor.children["core"]
    assert child.process is not None and child.process.poll() is not None


@pytest.fixture(autouse=True)
def _short_ready_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor_module, "READY_WAIT_S", 0.3)


@pytest.fixture
def unused_port() -> int:
    return free_ports(1)[0]


def test_a_child_that_cannot_be_started_again_does_not_stop_the_watch(
    tmp_path: Path, unused_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The OS refusing a restart (the program gone, no file handles left) is logged and
    tried again on the next beat; the supervisor's loop and its other children go on."""
    readyz = {"ready": True, "stalled_s": None, "reason": None}
    supervisor = _supervisor(tmp_path, _stub(unused_port, readyz), unused_port)
    try:
        assert supervisor.start_all() == []
        child = supervisor.children["core"]
        assert child.process is not None
        child.process.kill()
        child.process.wait()
        child.spec.argv = [str(tmp_path / "no-such-program")]
        supervisor._check_surviving(child)  # exited: a restart is due after a back-off
        child.next_start = 0
        supervisor._check_surviving(child)  # the restart fails: logged, not raised
        assert any(r.__dict__.get("event") == "supervisor_error" for r in caplog.records)
        child.spec.argv = _stub(unused_port, readyz)
        supervisor._check_surviving(child)  # the next beat starts it
        assert child.process is not None and child.process.poll() is None
    finally:
        supervisor.stop()


def test_stop_stops_every_child_and_saves_even_when_asking_one_fails(
    tmp_path: Path, unused_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl+Break that cannot be sent (no console) or any other refusal to ask one child to
    stop must not leave it running, nor keep the record from being saved."""
    readyz = {"ready": True, "stalled_s": None, "reason": None}
    supervisor = _supervisor(tmp_path, _stub(unused_port, readyz), unused_port)
    assert supervisor.start_all() == []
    child = supervisor.children["core"]
    assert child.process is not None

    def refuse(process: object) -> None:
        raise OSError(6, "The handle is invalid")

    monkeypatch.setattr(supervisor_module, "ask_to_stop", refuse)
    supervisor.stop()
    assert child.process.poll() is not None and child.state == "stopped"
    record = json.loads((tmp_path / "data" / "supervisor.json").read_text())
    assert record["children"]["core"]["state"] == "stopped"
