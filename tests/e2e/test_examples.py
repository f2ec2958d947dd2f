"""The scripts in examples/ run as the README shows, against the real platform."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.harness import Platform

from toy_platform import cpu

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("examples"), job_delay=0.0)
    try:
        yield running.serve()
    finally:
        running.stop()


def run_example(
    platform: Platform, *args: str, env: dict[str, str] | None = None, encoding: str = "utf-8"
) -> subprocess.CompletedProcess[str]:
    """Run an example; its output is read as ENCODING (the examples write UTF-8 here, where
    the locale is UTF-8: not the locale's own, which differs on Windows)."""
    result = subprocess.run(
        list(args),
        capture_output=True,
        encoding=encoding,
        timeout=120,
        env={**platform.env(), **(env or {})},
        cwd=EXAMPLES.parent,
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def python_example(platform: Platform, script: str, *args: str, password: str = "") -> list[str]:
    """The command line of a Python example, pointed at PLATFORM and logging in as admin."""
    urls = ["--auth-url", platform.auth_url, "--middleware-url", platform.middleware_url]
    # --password=VALUE: a password may begin with '-' (token_urlsafe's, one time in 64),
    # which `--password VALUE` would read as an option
    login = [f"--password={password or platform.admin_password}"]
    return [sys.executable, str(EXAMPLES / script), *urls, *login, *args]


def test_submit_batch_prints_each_jobs_result(platform: Platform) -> None:
    result = run_example(
        platform,
        *python_example(platform, "submit_batch.py", "hello", "ab\U0001f44d\U0001f3fde\u0301"),
    )
    assert "submitted 2 jobs" in result.stdout
    assert re.search(r"example-0\s+succeeded\s+olleh$", result.stdout, re.M), result.stdout
    assert re.search(
        r"example-1\s+succeeded\s+e\u0301\U0001f44d\U0001f3fdba$", result.stdout, re.M
    ), result.stdout


def test_submit_batch_survives_a_console_that_cannot_show_its_results(
    platform: Platform,
) -> None:
    """A cp1252 console or pipe (Windows) cannot encode an emoji: it is written escaped."""
    result = run_example(
        platform,
        *python_example(platform, "submit_batch.py", "ab\U0001f44d"),
        env={"PYTHONIOENCODING": "cp1252"},
        encoding="cp1252",
    )
    assert re.search(r"example-0\s+succeeded\s+\\U0001f44dba$", result.stdout, re.M), result.stdout
    assert "UnicodeEncodeError" not in result.stderr


def test_the_cli_survives_a_console_that_cannot_show_a_job_name(platform: Platform) -> None:
    client = platform.client()
    job = client.wait_for_job(client.submit_job("emoji \U0001f680", "été")["job_id"], timeout=30)
    env = {**platform.env(), "PYTHONIOENCODING": "cp1252"}
    for args in (["logs", "--job-id", job["job_id"]], ["status"], ["doctor"]):
        result = subprocess.run(
            [sys.executable, "-m", "toy_platform", *args, *platform.common_args()],
            capture_output=True,
            encoding="cp1252",
            errors="replace",
            timeout=120,
            env=env,
        )
        assert "Traceback" not in result.stderr and "UnicodeEncodeError" not in result.stderr
        assert result.returncode == 0, (args, result.stdout, result.stderr)


def test_submit_batch_says_why_when_the_password_is_wrong(platform: Platform) -> None:
    result = subprocess.run(
        python_example(platform, "submit_batch.py", "hello", password="not-the-password"),
        capture_output=True,
        encoding="utf-8",
        timeout=60,
        env=platform.env(),
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_load_reports_throughput_and_latency_for_every_job(platform: Platform) -> None:
    result = run_example(
        platform, *python_example(platform, "load.py", "--jobs", "40", "--clients", "4")
    )
    out = result.stdout
    assert "jobs: 40, clients: 4" in out
    assert re.search(r"completed jobs/s: +[\d.]+ +\(40 of 40 in", out), out
    assert re.search(r"submit latency: +p50 \d+ ms, p99 \d+ ms", out), out
    assert re.search(r"submit to result: p50 \d+ ms, p99 \d+ ms", out), out


def test_load_runs_without_tqdm_and_shows_plain_progress(platform: Platform) -> None:
    """tqdm is optional (the examples extra): without it load.py prints plain progress lines."""
    command = python_example(platform, "load.py", "--jobs", "10", "--clients", "2")
    without_tqdm = (
        "import runpy, sys; sys.modules['tqdm'] = None; sys.argv = sys.argv[1:];"
        " runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    result = run_example(platform, command[0], "-c", without_tqdm, *command[1:])
    assert re.search(r"completed jobs/s: +[\d.]+ +\(10 of 10 in", result.stdout), result.stdout
    assert "submitted: 10/10 jobs" in result.stderr, result.stderr
    assert "completed: 10/10 jobs" in result.stderr, result.stderr


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.skipif(
    sys.platform == "win32",
    reason="the walkthrough is a bash script; on Windows `bash` is WSL's, outside this venv",
)
def test_the_curl_walkthrough_runs_from_login_to_platform_status(platform: Platform) -> None:
    result = run_example(
        platform,
        "bash",
        str(EXAMPLES / "curl_walkthrough.sh"),
        env={
            "AUTH": platform.auth_url,
            "API": platform.middleware_url,
            "PASSWORD": platform.admin_password,
            "PYTHON": sys.executable,
        },
    )
    out = result.stdout
    assert "status: succeeded" in out
    assert '"result": "mroftalp ,olleh"' in out
    assert '{"error":"\'data\' is required","code":"invalid_field","field":"data"}' in out, out
    assert '"code":"unauthorized"' in out, out
    assert '"all_ready": true' in out, out


@pytest.mark.parametrize(
    "options", [[], ["--platform-cpu", "off", "--pin-peer"]], ids=["as by default", "swapped"]
)
def test_the_celery_peer_comparison_runs_both_sides_and_prints_their_ratio(
    options: list[str],
) -> None:
    """examples/benchmarks/vs_celery.py, small, so the README's figures can be made again:
    each side as it runs by default, and with the platform on any CPU and the peer pinned."""
    if options and len(cpu.allowed_cpus() or []) < 2:
        pytest.skip("pinning the peer needs an OS that can, and two CPUs")
    script = EXAMPLES / "benchmarks" / "vs_celery.py"
    result = subprocess.run(
        [sys.executable, str(script), "--rounds", "1", "--jobs", "60", "--clients", "4", *options],
        capture_output=True,
        encoding="utf-8",
        timeout=300,
        cwd=EXAMPLES.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for side in ("toy-platform", "Celery peer"):
        line = re.search(rf"round 1 {side} +([\d.]+) jobs/s \((\d+) in", result.stdout)
        assert line and float(line[1]) > 0 and line[2] == "60", result.stdout
    assert re.search(r"ratio [\d.]+$", result.stdout, re.M), result.stdout
    pinned = re.search(r"peer pinned: waitress on CPU (\d+), worker on CPU (\d+)", result.stdout)
    assert bool(pinned) == bool(options), result.stdout
