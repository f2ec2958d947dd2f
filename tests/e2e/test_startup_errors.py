"""Problems met at start (and while running) end in one clear line, never a traceback.

Each case runs the real command as a process with a temporary home and breaks what an
operator could break: users.json, the log directory, the admin password, the web build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from support.harness import Platform, wait_until

import toy_platform

pytestmark = pytest.mark.e2e

BROKEN_JSON = '{"users": {\n  "admin": {"role": "admin",\n}'
USERS_COMMANDS = [["user", "list"], ["user", "add", "carol", "--password-stdin"]]


def _users_file(platform: Platform) -> Path:
    return platform.home / "config" / "users.json"


def _break_users_file(platform: Platform, text: str = BROKEN_JSON) -> Path:
    path = _users_file(platform)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _fails_with_one_line(result: subprocess.CompletedProcess[str], *phrases: str) -> str:
    """The command failed with exit code 1 and one line on stderr holding every phrase."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for phrase in phrases:
        assert phrase in lines[0], (phrase, lines[0])
    return lines[0]


def _serve(platform: Platform, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`serve` that is expected to stop at once (a test that hangs here has found a bug)."""
    return platform.cli("serve", "--no-web", "--no-dashboard", check=False, timeout=timeout)


# -- users.json ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["serve", "--no-web", "--no-dashboard"], ["auth"]])
def test_a_corrupt_users_file_stops_the_start_with_the_place_and_the_fix(
    tmp_path: Path, command: list[str]
) -> None:
    platform = Platform(tmp_path)
    path = _break_users_file(platform)
    result = platform.cli(*command, check=False, timeout=60)
    _fails_with_one_line(result, str(path), "not valid JSON", "line 3, column 1", "move it aside")
    assert path.read_text(encoding="utf-8") == BROKEN_JSON, "left as it was for the operator"
    assert "Ready." not in result.stdout


@pytest.mark.parametrize("command", USERS_COMMANDS)
def test_user_commands_name_a_corrupt_users_file_and_leave_it_alone(
    tmp_path: Path, command: list[str]
) -> None:
    platform = Platform(tmp_path)
    path = _break_users_file(platform)
    result = platform.cli(*command, input="carols-password\n", check=False)
    _fails_with_one_line(result, str(path), "line 3, column 1", "Restore it")
    assert path.read_text(encoding="utf-8") == BROKEN_JSON


def test_a_users_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    platform = Platform(tmp_path)
    path = _users_file(platform)
    path.mkdir(parents=True)  # unreadable as a file, for root too
    result = _serve(platform)
    _fails_with_one_line(result, str(path), "cannot be read")


def test_json_that_is_not_a_users_file_is_named(tmp_path: Path) -> None:
    platform = Platform(tmp_path)
    path = _break_users_file(platform, '["admin"]')
    _fails_with_one_line(_serve(platform), str(path), "is not a users file")


def test_a_login_while_users_json_is_broken_answers_503_and_recovers(tmp_path: Path) -> None:
    platform = Platform(tmp_path)
    try:
        platform.start_service("auth")
        login = f"{platform.auth_url}/login"
        body = {"username": "admin", "password": platform.admin_password}
        assert requests.post(login, json=body, timeout=10).status_code == 200
        good = _users_file(platform).read_bytes()

        _break_users_file(platform)
        refused = requests.post(login, json=body, timeout=10)
        assert refused.status_code == 503
        assert refused.json()["code"] == "users_unavailable"
        assert "users.json" in refused.json()["error"]
        ready = requests.get(f"{platform.auth_url}/readyz", timeout=10)
        assert ready.status_code == 503
        assert "users.json" in ready.json()["reason"]
        assert "line 3, column 1" in ready.json()["reason"]

        _users_file(platform).write_bytes(good)
        assert requests.post(login, json=body, timeout=10).status_code == 200
        assert requests.get(f"{platform.auth_url}/readyz", timeout=10).status_code == 200
    finally:
        platform.stop()
    assert "Traceback" not in platform.output("auth")


@pytest.mark.parametrize("command", [["serve", "--no-web", "--no-dashboard"], USERS_COMMANDS[1]])
def test_a_config_dir_that_is_a_file_is_named_with_the_option_to_change_it(
    tmp_path: Path, command: list[str]
) -> None:
    platform = Platform(tmp_path)
    (platform.home / "config").write_text("not a directory")
    result = platform.cli(*command, input="carols-password\n", check=False, timeout=60)
    _fails_with_one_line(result, str(platform.home / "config"), "--config-dir")


# -- the log directory -----------------------------------------------------------------


@pytest.mark.parametrize("command", [["serve", "--no-web", "--no-dashboard"], ["core"]])
def test_a_log_dir_that_is_a_file_is_named_with_the_option_to_change_it(
    tmp_path: Path, command: list[str]
) -> None:
    platform = Platform(tmp_path / "home")
    log_dir = tmp_path / "logs"
    log_dir.write_text("not a directory")
    result = platform.cli(*command, "--log-dir", str(log_dir), check=False, timeout=60)
    _fails_with_one_line(result, str(log_dir), "not a directory", "--log-dir")


def test_a_log_file_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    platform = Platform(tmp_path)
    (platform.home / "logs" / "supervisor.log").mkdir(parents=True)
    result = _serve(platform)
    _fails_with_one_line(result, str(platform.home / "logs"), "supervisor.log", "--log-dir")


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions, not root"
)
def test_a_read_only_log_dir_is_named(tmp_path: Path) -> None:
    platform = Platform(tmp_path)
    log_dir = platform.home / "logs"
    log_dir.mkdir(parents=True)
    log_dir.chmod(0o500)
    try:
        _fails_with_one_line(_serve(platform), str(log_dir), "--log-dir")
    finally:
        log_dir.chmod(0o700)


# -- the admin password ----------------------------------------------------------------


@pytest.mark.parametrize("command", [["serve", "--no-web", "--no-dashboard"], ["auth"]])
def test_a_short_admin_password_is_refused_before_anything_starts(
    tmp_path: Path, command: list[str]
) -> None:
    platform = Platform(tmp_path, admin_password="short")
    result = platform.cli(*command, check=False, timeout=60)
    _fails_with_one_line(result, "TOY_PLATFORM_ADMIN_PASSWORD", "at least 8")
    assert not _users_file(platform).exists(), "no admin was made"
    assert not (platform.home / "data" / "supervisor.json").exists(), "nothing started"


# -- the last admin --------------------------------------------------------------------


def test_removing_the_last_admin_needs_force(tmp_path: Path) -> None:
    platform = Platform(tmp_path)
    platform.add_user("first", "first-password", admin=True)
    platform.add_user("second", "second-password", admin=True)
    platform.cli("user", "remove", "first")  # another admin is left

    refused = platform.cli("user", "remove", "second", check=False)
    _fails_with_one_line(refused, "'second' is the last admin", "--force")
    assert "second" in platform.cli("user", "list").stdout

    platform.cli("user", "remove", "second", "--force")
    assert "second" not in platform.cli("user", "list").stdout


# -- a package without the web app -----------------------------------------------------


def test_web_without_a_build_is_not_ready_and_says_what_to_install(tmp_path: Path) -> None:
    """The package as a wheel built without Node.js has it: no toy_platform/web_dist."""
    package = Path(toy_platform.__file__).parent
    site = tmp_path / "site"
    shutil.copytree(
        package, site / "toy_platform", ignore=shutil.ignore_patterns("web_dist", "__pycache__")
    )
    platform = Platform(tmp_path / "home")
    env = {**platform.env(), "PYTHONPATH": str(site)}
    command = [sys.executable, "-m", "toy_platform", "web", *platform.common_args()]
    with open(tmp_path / "web.out", "wb") as out:  # cwd: `-m` puts it first on sys.path
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
        )
    try:
        health = f"{platform.web_url}/healthz"
        wait_until(lambda: _answers(health), 30, what="web up")
        assert requests.get(health, timeout=5).json()["built"] is False
        ready = requests.get(f"{platform.web_url}/readyz", timeout=5)
        assert ready.status_code == 503
        reason = ready.json()["reason"]
        assert reason.startswith("the web app is not built")
        assert str(site / "toy_platform" / "web_dist") in reason
        for advice in ("wheel", "Node.js >= 20.19", "pip install .", "npm ci && npm run build"):
            assert advice in reason
        page = requests.get(platform.web_url, timeout=5)
        assert page.status_code == 503
        assert page.json()["code"] == "not_built"
    finally:
        process.terminate()
        process.wait(15)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


# -- optional engines ----------------------------------------------------------------

WITHOUT = (
    "import sys; sys.modules.update(dict.fromkeys(sys.argv.pop(1).split(',')));"
    " from toy_platform.cli import main; main()"
)
"""Runs the CLI as if the packages named in its first argument were not installed."""


@pytest.mark.parametrize(
    ("blocked", "args", "extra"),
    [
        ("celery,kombu", ["serve", "--queue-url", "redis://:s3cret@127.0.0.1:1/0"], "celery"),
        ("redis", ["worker", "--queue-url", "redis://:s3cret@127.0.0.1:1/0"], "celery"),
        (
            "psycopg,psycopg_pool",
            ["serve", "--store-url", "postgresql://u:s3cret@h/db"],
            "postgres",
        ),
    ],
)
def test_an_engine_without_its_extra_stops_at_once_naming_the_extra(
    tmp_path: Path, blocked: str, args: list[str], extra: str
) -> None:
    serve_only = ["--no-web", "--no-dashboard"] if args[0] == "serve" else []
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT, blocked, *args, *serve_only, "--home", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TOY_PLATFORM_SERVICE_KEY": "k" * 32},
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert f"needs the '{extra}' extra" in error, result.stderr
    assert f"pip install 'toy-platform[{extra}]'" in error
    assert "s3cret" not in result.stderr + result.stdout


def test_a_job_module_that_cannot_be_imported_stops_serve_at_once(tmp_path: Path) -> None:
    """A --job-module missing (or broken) would restart-loop core: serve refuses at once."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "toy_platform", "serve", "--no-web", "--no-dashboard"]
        + ["--home", str(tmp_path), "--job-module", "no_such_job_module"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and time.monotonic() - started < 30, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert "--job-module no_such_job_module: cannot be imported" in error, result.stderr
