"""The dashboard's wording of failures and of the platform status (no platform needed)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard_streamlit import session
from dashboard_streamlit.settings import environment, settings_from
from dashboard_streamlit.status_view import component_rows, component_state, not_ready
from toy_platform.client import PlatformError, PlatformStatus

AUTH = "http://127.0.0.1:6300"


def test_login_errors_are_worded_for_people() -> None:
    assert session.login_error(PlatformError("x", "invalid_credentials", 401), AUTH) == (
        "Wrong username or password"
    )
    throttled = PlatformError("x", "too_many_attempts", 429, retry_after=42)
    assert session.login_error(throttled, AUTH) == ("Too many failed attempts — try again in 42 s")
    down = PlatformError("x", "unreachable", service="auth")
    assert session.login_error(down, AUTH) == f"The auth service at {AUTH} is not answering"


def test_settings_come_from_the_environment_with_defaults() -> None:
    env = environment(
        {
            "TOY_PLATFORM_AUTH_URL": "http://a:1/",
            "TOY_PLATFORM_AUTH_PORT": "9",
            "TOY_PLATFORM_LOG_DIR": "/tmp/x",
            "UNRELATED": "y",
        }
    )
    settings = settings_from(env)
    assert settings.auth_url == "http://a:1"
    assert settings.middleware_url == "http://127.0.0.1:6302"
    assert settings.log_dir == Path("/tmp/x")  # C:\tmp\x's form on Windows
    assert settings_from(()).auth_url == "http://127.0.0.1:6300"


def test_component_states_and_reasons() -> None:
    status: PlatformStatus = {
        "components": {
            "auth": {"up": True, "ready": True},
            "middleware": {"up": True, "ready": False, "reason": "cannot reach core"},
            "core": {"up": False, "ready": False, "reason": "connection refused"},
        }
    }
    assert [component_state(c) for c in status["components"].values()] == ["ready", "up", "down"]
    assert [r["state"] for r in component_rows(status)] == ["ready", "up", "down"]
    assert not_ready(status) == [
        "middleware is up but not ready: cannot reach core",
        "core is down: connection refused",
    ]


def test_guard_turns_a_dashboard_bug_into_one_line() -> None:
    def script() -> None:
        from dashboard_streamlit import session

        with session.guard():
            raise KeyError("boom")

    at = AppTest.from_function(script).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"{session.UNEXPECTED} (KeyError); the details are in dashboard.log."
    ]


def test_user_text_is_escaped_for_markdown() -> None:
    assert session.md("plain name-1") == "plain name-1"
    assert session.md("![x](http://e/i.png) :red[y]") == (
        "\\!\\[x\\]\\(http\\://e/i.png\\) \\:red\\[y\\]"
    )


def test_the_status_page_lists_the_job_types_and_who_offers_them() -> None:
    from dashboard_streamlit.app_pages.status import job_type_lines

    types = [
        {"name": "reverse", "available": True, "reason": None, "offered_by": ["core"]},
        {
            "name": "wordcount",
            "available": False,
            "reason": "no Celery worker online offers it",
            "offered_by": [],
        },
    ]
    assert job_type_lines(types) == [
        "- **reverse** — offered by core",
        "- **wordcount** — :orange[not offered: no Celery worker online offers it]",
    ]
    assert job_type_lines(None) == ["The job types cannot be read now."]
