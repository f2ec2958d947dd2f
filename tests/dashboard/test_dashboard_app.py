"""The Streamlit dashboard driven by AppTest against the real platform (`platform` fixture)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from support.harness import Platform, free_ports

from dashboard_streamlit import session
from dashboard_streamlit.settings import ENV_SETTINGS

pytestmark = pytest.mark.e2e

APP = Path(__file__).resolve().parents[2] / "dashboard_streamlit" / "app.py"
PASSWORD = "dashboard-password-1"
TIMEOUT_S = 30


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def app_env(platform: Platform, monkeypatch: pytest.MonkeyPatch, log_dir: Path) -> Iterator[None]:
    with dashboard_env(platform, monkeypatch, log_dir):
        yield


@pytest.fixture
def failing_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """A platform whose core fails every job, with the dashboard pointed at it."""
    failing = Platform(tmp_path / "failing", job_delay=0.1, extra_args=["--failure-rate", "1"])
    try:
        with dashboard_env(failing.serve(), monkeypatch, tmp_path / "logs"):
            yield failing
    finally:
        failing.stop()


@contextmanager
def dashboard_env(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, log_dir: Path
) -> Iterator[None]:
    """The environment the supervisor gives the dashboard; logging restored afterwards."""
    for name in ENV_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOY_PLATFORM_AUTH_URL", platform.auth_url)
    monkeypatch.setenv("TOY_PLATFORM_MIDDLEWARE_URL", platform.middleware_url)
    monkeypatch.setenv("TOY_PLATFORM_LOG_DIR", str(log_dir))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        session._setup.clear()
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture
def user(platform: Platform, unique_name: str) -> str:
    platform.add_user(unique_name, PASSWORD)
    return unique_name


def healthy(at: AppTest) -> AppTest:
    """No exception, and no unexpected error caught by the dashboard's guard."""
    assert not at.exception
    assert not [e.value for e in at.error if session.UNEXPECTED in e.value]
    return at


def new_app() -> AppTest:
    return healthy(AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run())


def click(at: AppTest, label: str) -> AppTest:
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} in {[b.label for b in at.button]}"
    return healthy(matches[0].click().run())


def texts(at: AppTest) -> list[str]:
    """Every piece of text on the page (main area and sidebar)."""
    kinds = (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "error",
        "warning",
        "info",
        "success",
    )
    return [str(e.value) for kind in kinds for e in getattr(at, kind)]


def shows(at: AppTest, text: str) -> bool:
    return any(text in t for t in texts(at))


def login(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="username").set_value(username)
    at.text_input(key="password").set_value(password)
    click(at, "Log in")
    healthy(at)
    return at


def logged_in(username: str) -> AppTest:
    at = login(new_app(), username, PASSWORD)
    assert [s.value for s in at.sidebar.subheader] == [f"Hi {username}"]
    return at


def submit(at: AppTest, job_name: str, data: str) -> AppTest:
    at.text_input(key="job_name").set_value(job_name)
    at.text_area(key="job_data").set_value(data)  # reverse's schema: one Data area
    click(at, "Submit")
    healthy(at)
    return at


def jobs_table(at: AppTest) -> list[dict[str, object]]:
    """The jobs table's rows ([] when the page says there are none)."""
    if not at.main.dataframe:
        assert any(i.value.startswith("No ") for i in at.main.info)
        return []
    # AppTest does not keep a non-selectable dataframe's key: the jobs table comes first
    rows: list[dict[str, object]] = at.main.dataframe[0].value.to_dict("records")
    return rows


def wait_for_status(
    at: AppTest, job_name: str, status: str, timeout: float = 20
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        rows = [r for r in jobs_table(at) if r["job_name"] == job_name]
        if rows and rows[0]["status"] == status:
            return rows[0]
        assert time.monotonic() < deadline, f"{job_name} not {status}: {rows}"
        time.sleep(0.2)
        healthy(at.run())


@pytest.mark.usefixtures("app_env")
def test_wrong_password_shows_the_error(user: str) -> None:
    at = login(new_app(), user, "not-the-password")
    assert [e.value for e in at.error] == ["Wrong username or password"]
    assert not at.sidebar.subheader
    assert at.text_input(key="username").value == user


@pytest.mark.usefixtures("app_env")
def test_login_greets_the_user_and_logs_without_secrets(user: str, log_dir: Path) -> None:
    at = logged_in(user)
    assert [t.value for t in at.title] == ["Jobs"]
    assert "client" in at.session_state
    assert not at.query_params
    records = [json.loads(line) for line in (log_dir / "dashboard.log").read_text().splitlines()]
    assert any(r.get("event") == "login_ok" and r.get("username") == user for r in records)
    assert all(r["service"] == "dashboard" for r in records)
    log_text = (log_dir / "dashboard.log").read_text()
    token = at.session_state["client"].token
    assert PASSWORD not in log_text and token not in log_text


@pytest.mark.usefixtures("app_env")
def test_empty_login_form_is_refused_before_calling_auth() -> None:
    at = click(new_app(), "Log in")
    healthy(at)
    assert [e.value for e in at.error] == ["Enter both a username and a password."]


@pytest.mark.usefixtures("app_env")
def test_submitted_job_appears_at_once_and_succeeds_reversed(user: str) -> None:
    at = submit(logged_in(user), "greeting", "hello")
    assert any("submitted" in s.value for s in at.success)
    rows = jobs_table(at)
    assert rows and rows[0]["job_name"] == "greeting"
    assert rows[0]["status"] in ("queued", "running", "succeeded")

    done = wait_for_status(at, "greeting", "succeeded")
    assert done["result"] == "olleh"
    # the new job is selected in the detail view, with its event timeline
    assert at.selectbox(key="selected_job").value == done["job_id"]
    events = at.main.dataframe[1].value
    assert list(events["status"])[0] == "submitted"
    assert "succeeded" in list(events["status"])
    assert [c.value for c in at.code] == ["olleh"]


@pytest.mark.usefixtures("app_env")
def test_newest_job_first_and_status_filter(user: str) -> None:
    at = submit(logged_in(user), "first", "ab")
    at = submit(at, "second", "cd")
    wait_for_status(at, "first", "succeeded")
    wait_for_status(at, "second", "succeeded")
    assert [r["job_name"] for r in jobs_table(at)] == ["second", "first"]
    at.segmented_control(key="status_filter").set_value("failed").run()
    healthy(at)
    assert jobs_table(at) == []
    # the server's own checks come back as errors too, naming the field
    at = submit(at, "big", "x" * (1024 * 1024 + 1))
    assert [e.value for e in at.error] == [
        "Could not submit the job: 'data' is larger than the limit of 1048576 bytes"
    ]
    assert jobs_table(at) == []
    at.segmented_control(key="status_filter").set_value("succeeded").run()
    assert [r["job_name"] for r in jobs_table(at)] == ["second", "first"]


@pytest.mark.usefixtures("app_env")
def test_job_form_validation(user: str) -> None:
    at = submit(logged_in(user), "", "")
    assert [e.value for e in at.error] == [
        "Enter a job name.",
        "The data does not match the input schema of 'reverse' at $: '' should be non-empty",
    ]
    at = submit(at, "x" * 201, "data")
    assert [e.value for e in at.error] == ["The job name is 201 characters; at most 200."]
    assert jobs_table(at) == []
    # the server's own checks come back as errors too, naming the field
    at = submit(at, "big", "x" * (1024 * 1024 + 1))
    assert [e.value for e in at.error] == [
        "Could not submit the job: 'data' is larger than the limit of 1048576 bytes"
    ]
    assert jobs_table(at) == []


@pytest.mark.usefixtures("app_env")
def test_logout_returns_to_the_login_form(user: str) -> None:
    at = logged_in(user)
    at.button(key="logout").click().run()
    healthy(at)
    assert [t.value for t in at.title] == ["toy-platform"]
    assert at.text_input(key="username").value == ""
    assert "client" not in at.session_state
    assert not at.sidebar.subheader


@pytest.mark.usefixtures("app_env")
def test_rejected_token_returns_to_login_with_a_message(user: str) -> None:
    at = logged_in(user)
    at.session_state["client"].token = "not-a-valid-token"
    at.run()
    healthy(at)
    assert [w.value for w in at.warning] == [session.SESSION_EXPIRED]
    assert [t.value for t in at.title] == ["toy-platform"]
    assert "client" not in at.session_state


@pytest.mark.usefixtures("app_env")
def test_status_page_shows_every_component(user: str) -> None:
    at = logged_in(user).switch_page("app_pages/status.py").run()
    healthy(at)
    assert [t.value for t in at.title] == ["Platform status"]
    table = at.main.dataframe[0].value
    assert dict(zip(table["component"], table["state"], strict=True)) == {
        "auth": "ready",
        "middleware": "ready",
        "core": "ready",
    }


@pytest.mark.usefixtures("app_env")
def test_stopped_core_shows_as_down(platform: Platform, user: str) -> None:
    at = logged_in(user)
    platform.stop_child("core")
    try:
        at.switch_page("app_pages/status.py").run()
        healthy(at)
        table = at.main.dataframe[0].value
        states = dict(zip(table["component"], table["state"], strict=True))
        assert states["core"] == "down"
        assert states["auth"] == "ready"
        core_reason = table[table["component"] == "core"]["reason"].iloc[0]
        assert core_reason
        assert any("core is down" in e.value for e in at.error)
        # the jobs page still works: a job waits for the core instead of failing
        assert "core: down" in at.sidebar.markdown[0].value
        at.switch_page("app_pages/jobs.py").run()
        assert any("The core is down" in w.value for w in at.warning)
        at = submit(at, "patient", "abc")
        assert jobs_table(at)[0]["status"] == "queued"
    finally:
        platform.start_child("core")
    wait_for_status(at, "patient", "succeeded", timeout=40)


def test_a_failed_job_shows_its_error_and_retry_runs_it_again(
    failing_platform: Platform, unique_name: str
) -> None:
    failing_platform.add_user(unique_name, PASSWORD)
    at = submit(logged_in(unique_name), "doomed", "abc")
    failed = wait_for_status(at, "doomed", "failed")
    assert "simulated failure" in str(failed["result"])  # the "Result / error" column
    assert failed["attempt"] == 1
    assert any("simulated failure" in e.value for e in at.main.error)
    assert any("attempt 1" in c.value for c in at.main.caption)

    click(at, "Retry")
    assert any("Job doomed queued again." in s.value for s in at.success)
    assert any("attempt 2" in c.value for c in at.main.caption)
    assert wait_for_status(at, "doomed", "failed")["attempt"] == 2
    events = list(at.main.dataframe[1].value["status"])
    assert "retry_requested" in events
    assert events.count("failed") == 2


@pytest.mark.usefixtures("app_env")
def test_unreachable_auth_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"http://127.0.0.1:{free_ports(1)[0]}"
    monkeypatch.setenv("TOY_PLATFORM_AUTH_URL", dead)
    at = login(new_app(), "anyone", "whatever")
    assert [e.value for e in at.error] == [f"The auth service at {dead} is not answering"]


@pytest.mark.usefixtures("app_env")
def test_unreachable_middleware_is_reported(user: str, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"http://127.0.0.1:{free_ports(1)[0]}"
    monkeypatch.setenv("TOY_PLATFORM_MIDDLEWARE_URL", dead)
    at = logged_in(user)
    message = f"The middleware at {dead} is not answering"
    assert message in [e.value for e in at.error]
    assert shows(at, message)
    at.switch_page("app_pages/status.py").run()
    healthy(at)
    assert message in [e.value for e in at.main.error]
