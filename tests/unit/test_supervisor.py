"""The supervisor's decisions, with stand-in children (real processes, not ours)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from harness import free_ports

from toy_platform.config import load_settings
from toy_platform.supervisor import (
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


def _supervisor(tmp_path: Path, argv: list[str], port: int) -> Supervisor:
    settings = load_settings(home=tmp_path, core_port=port)
    spec = ChildSpec(
        "core",
        argv,
        f"{settings.core_url}/healthz",
        settings.core_url,
        port=port,
    )
    return Supervisor(settings, [spec], env={})


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


@pytest.fixture
def unused_port() -> int:
    return free_ports(1)[0]
