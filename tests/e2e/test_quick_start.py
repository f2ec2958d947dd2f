"""The README's first command: ./run_servers.sh sets up what is missing and starts everything."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.harness import Platform, all_gone, answers, wait_until

from toy_platform.client import PlatformClient

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform == "win32", reason="run_servers.sh is a bash script"),
]
REPO = Path(__file__).resolve().parents[2]


def test_run_servers_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    platform = Platform(tmp_path / "home", job_delay=0.0, web=True, dashboard=True)
    platform.admin_password = ""  # a first start: the password is generated and printed
    log_dir = tmp_path / "logs"
    output = tmp_path / "run_servers.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            ["bash", str(REPO / "run_servers.sh"), *platform.common_args()],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**platform.env(), "TOY_PLATFORM_LOG_DIR": str(log_dir)},
            cwd=tmp_path,  # the script finds the checkout by itself
        )
    try:
        wait_until(lambda: "Ready." in output.read_text(errors="replace"), 180, what="Ready.")
        printed = output.read_text(errors="replace")
        for name in ("auth", "core", "middleware", "web", "dashboard"):
            assert re.search(rf"{platform.url(name)}\s+up$", printed, re.M), printed
        password = re.search(r"^admin password: (\S+)$", printed, re.M)
        assert password, printed

        client = PlatformClient(platform.auth_url, platform.middleware_url)
        client.login("admin", password.group(1))
        job = client.wait_for_job(client.submit_job("quick start", "olleh")["job_id"], timeout=30)
        assert (job["status"], job["result"]) == ("succeeded", "hello")
        assert (log_dir / "middleware.log").exists() and (log_dir / "core.log").exists()
        children = json.loads((platform.home / "data" / "supervisor.json").read_text())
        pids = [child["pid"] for child in children["children"].values()]
        assert len(pids) == 5

        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:  # a failed check: stop serve so it stops its children
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    all_gone(pids)
    assert not any(answers(f"{platform.url(name)}/healthz") for name in platform.ports)
