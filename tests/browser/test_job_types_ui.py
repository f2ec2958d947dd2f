"""Job types in both UIs, in headless Chromium, against a platform serving the test types
(`--job-module support.e2e_types`, tests/support/e2e_types.py) with two workers, so a long
job does not hold up the others.

For the React web app and the Streamlit dashboard alike: the picker lists the types and
shows the form its input schema asks for; data the schema refuses is caught before a job
is stored, right data runs and its JSON result is shown formatted; a long job shows a
progress bar and Cancel stops it. In the React app, a flaky job's timeline shows the try
that failed before the one that succeeded.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from support.harness import Platform

from toy_platform.client import PlatformClient

pytestmark = pytest.mark.browser

TESTS_DIR = Path(__file__).resolve().parents[1]
PASSWORD = "job types in a browser"
WORDS_RESULT = json.dumps({"words": 3}, indent=2)


class TypesPlatform(Platform):
    """The platform with the tests folder on PYTHONPATH, so `support.e2e_types` imports.

    PYTHONSAFEPATH: `python -m toy_platform` runs the installed toy_platform (the one
    with the built web app), not one the current directory happens to hold."""

    def env(self) -> dict[str, str]:
        path = os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))
        return {**super().env(), "PYTHONPATH": path, "PYTHONSAFEPATH": "1"}


@pytest.fixture(scope="module")
def types_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TypesPlatform]:
    served = TypesPlatform(
        tmp_path_factory.mktemp("browser-types"),
        job_delay=0.0,
        web=True,
        dashboard=True,
        extra_args=["--workers", "2", "--job-module", "support.e2e_types"],
    )
    try:
        yield served.serve()
    finally:
        served.stop()


@pytest.fixture
def user(types_platform: TypesPlatform, unique_name: str) -> str:
    types_platform.add_user(unique_name, PASSWORD)
    return unique_name


def user_client(platform: TypesPlatform, user: str) -> PlatformClient:
    return platform.client(user, PASSWORD)


@contextmanager
def browser_page(browser: Any, artifacts_dir: Path, name: str) -> Iterator[Any]:
    """A fresh page; a screenshot of it in the artifacts dir if the block fails."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        yield page
    except BaseException:
        page.screenshot(path=str(artifacts_dir / f"{name}-failure.png"), full_page=True)
        raise
    finally:
        context.close()


# -- the React web app -------------------------------------------------------------------


def react_login(page: Any, platform: TypesPlatform, user: str) -> None:
    from playwright.sync_api import expect

    response = requests.get(f"{platform.web_url}/healthz", timeout=5)
    if response.status_code == 503:
        pytest.fail("The web app is not built: run `npm ci && npm run build` in frontend_react/")
    page.goto(f"{platform.web_url}/login")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=f"Hi {user}", exact=True)).to_be_visible()


def react_pick(page: Any, title: str) -> None:
    from playwright.sync_api import expect

    form = page.get_by_role("form", name="Submit a job")
    radio = form.get_by_role("radio", name=re.compile(f"^{re.escape(title)} "))
    radio.check()
    expect(radio).to_be_checked()


def react_row(page: Any, job_name: str) -> Any:
    return page.locator("tr", has=page.get_by_role("link", name=job_name, exact=True))


def test_react_picks_a_type_checks_its_data_and_shows_its_json_result(
    types_platform: TypesPlatform, browser: Any, user: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(browser, artifacts_dir, "react-types-submit") as page:
        submits: list[str] = []
        page.on(
            "request",
            lambda request: submits.append(request.url) if "/job_submit" in request.url else None,
        )
        react_login(page, types_platform, user)
        form = page.get_by_role("form", name="Submit a job")
        picker = form.get_by_role("group", name="Job type")
        expect(
            picker.get_by_role("radio", name=re.compile(r"^Count words e2e_words"))
        ).to_be_visible()
        expect(
            picker.get_by_role("radio", name=re.compile(r"^Wait, then answer e2e_wait"))
        ).to_be_visible()
        expect(picker).to_contain_text("Times out after 10 s · no retries")

        react_pick(page, "Count words")
        text = form.get_by_role("textbox", name=re.compile(r"^text"))
        expect(text).to_be_visible()

        # Nothing typed: the schema's check refuses it on the field, and nothing is sent.
        form.get_by_label("Job name").fill("count in a browser")
        form.get_by_role("button", name="Submit job").click()
        expect(form.get_by_text("Fill this in")).to_be_visible()
        expect(text).to_be_focused()
        assert submits == []
        assert user_client(types_platform, user).list_jobs()["total"] == 0

        # Right data: submitted, run, and the JSON result shown as JSON.
        text.fill("one two three")
        expect(form.get_by_text("Fill this in")).to_have_count(0)
        form.get_by_role("button", name="Submit job").click()
        expect(form.get_by_role("status")).to_have_text("Submitted “count in a browser”")
        assert len(submits) == 1
        row = react_row(page, "count in a browser")
        expect(row.get_by_text("e2e_words", exact=True)).to_be_visible()
        expect(row.get_by_text("Succeeded")).to_be_visible(timeout=30_000)
        result = row.locator("pre[data-format=json]")
        expect(result).to_contain_text('"words": 3')
        assert result.text_content() == WORDS_RESULT

        # ... and on the job's own page.
        row.get_by_role("link", name="count in a browser").click()
        box = page.locator("pre.result-box[data-format=json]")
        expect(box).to_contain_text('"words": 3')
        assert box.text_content() == WORDS_RESULT
        page.screenshot(path=str(artifacts_dir / "react-types-result.png"), full_page=True)


def test_react_shows_a_long_jobs_progress_and_cancels_it(
    types_platform: TypesPlatform, browser: Any, user: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(browser, artifacts_dir, "react-types-cancel") as page:
        react_login(page, types_platform, user)
        react_pick(page, "Wait, then answer")
        form = page.get_by_role("form", name="Submit a job")
        form.get_by_label("Job name").fill("wait long")
        form.get_by_role("spinbutton", name=re.compile(r"^seconds")).fill("30")
        form.get_by_role("button", name="Submit job").click()
        expect(form.get_by_role("status")).to_have_text("Submitted “wait long”")

        row = react_row(page, "wait long")
        bar = row.get_by_role("progressbar", name="Progress of wait long")
        expect(bar).to_be_visible(timeout=30_000)
        expect(bar).to_have_attribute("aria-valuetext", re.compile(r"^\d+%: waiting$"))
        expect(row.get_by_text("Running")).to_be_visible()
        page.screenshot(path=str(artifacts_dir / "react-types-progress.png"), full_page=True)

        cancel = row.get_by_role("button", name="Cancel wait long")
        cancel.click()
        # Until it has stopped the button says Cancelling… and cannot be pressed again.
        enabled = row.get_by_role("button", name="Cancel wait long", disabled=False)
        expect(enabled).to_have_count(0)
        expect(row.locator("[data-status]")).to_have_text("Cancelled", timeout=5_000)
        expect(row).to_contain_text("cancelled while it ran")
        expect(cancel).to_have_count(0)
        expect(bar).to_have_count(0)
        job = user_client(types_platform, user).list_jobs()["jobs"][0]
        assert job["status"] == "cancelled" and job["result"]["stopped_after_s"] < 30, job


def test_react_timeline_shows_a_failed_try_then_success(
    types_platform: TypesPlatform, browser: Any, user: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    # Submitted through the API: the web app's form has no data field for a type that
    # takes any JSON (see test_react_form_takes_data_for_a_type_that_accepts_any_json).
    job = user_client(types_platform, user).submit_job("flaky once", 1, job_type="e2e_flaky")
    with browser_page(browser, artifacts_dir, "react-types-timeline") as page:
        react_login(page, types_platform, user)
        react_row(page, "flaky once").get_by_role("link", name="flaky once").click()
        expect(page).to_have_url(re.compile(f"/jobs/{job['job_id']}$"))
        expect(page.locator(".card-header [data-status]")).to_have_text("Succeeded", timeout=30_000)
        expect(page.locator("pre.result-box")).to_contain_text('"attempt": 2')

        timeline = page.get_by_role("region", name="Timeline")
        failed = timeline.get_by_role("listitem").filter(has_text="Attempt failed (retrying)")
        expect(failed).to_have_count(1)
        expect(failed).to_contain_text("try 1 of 3: RuntimeError: try 1 fails on purpose")
        labels = timeline.locator(".timeline-head strong").all_text_contents()
        assert labels[-1] == "Succeeded", labels
        assert labels.index("Attempt failed (retrying)") < labels.index("Succeeded"), labels
        page.screenshot(path=str(artifacts_dir / "react-types-timeline.png"), full_page=True)


def test_react_form_takes_json_for_a_type_that_accepts_any_json(
    types_platform: TypesPlatform, browser: Any, user: str, artifacts_dir: Path
) -> None:
    """A type whose input_schema is the default (any JSON value) had no field at all: it
    was always sent data null. It is asked for as JSON text, parsed before it is sent."""
    from playwright.sync_api import expect

    with browser_page(browser, artifacts_dir, "react-types-any-json") as page:
        react_login(page, types_platform, user)
        react_pick(page, "Fail, then succeed")
        form = page.get_by_role("form", name="Submit a job")
        form.get_by_label("Job name").fill("any json")
        form.get_by_label("Data (JSON)").fill("{oops")
        form.get_by_role("button", name="Submit").click()
        expect(form.get_by_text("Not JSON", exact=False)).to_be_visible()
        form.get_by_label("Data (JSON)").fill("0")
        form.get_by_role("button", name="Submit").click()
        expect(page.get_by_text("Submitted “any json”")).to_be_visible()
    client = types_platform.client(user, PASSWORD)
    (job,) = [j for j in client.list_jobs()["jobs"] if j["job_name"] == "any json"]
    assert client.wait_for_job(job["job_id"], timeout=30)["result"] == {"attempt": 1}


# -- the Streamlit dashboard -------------------------------------------------------------


def dashboard_login(page: Any, platform: TypesPlatform, user: str) -> None:
    from playwright.sync_api import expect

    page.goto(platform.dashboard_url)
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text(f"Hi {user}", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Submit a job")).to_be_visible()


def dashboard_pick(page: Any, label: str) -> None:
    from playwright.sync_api import expect

    picker = page.get_by_role("combobox", name="Job type")
    picker.click()
    page.get_by_role("option", name=label, exact=True).click()
    expect(picker).to_have_value(label)


def dashboard_submit(page: Any, job_name: str) -> None:
    page.get_by_role("textbox", name="Job name").fill(job_name)
    page.get_by_role("button", name="Submit").click()


def cell(table: Any, text: str) -> Any:
    """The cells of a Streamlit dataframe that hold TEXT. The grid draws on a canvas; the
    cells are in a table it keeps for screen readers (hidden, so not found by role)."""
    return table.locator("[role=gridcell]").filter(has_text=re.compile(f"^{re.escape(text)}$"))


def dashboard_detail(page: Any, job_name: str, status: str, timeout: float = 15_000) -> Any:
    """The job detail, once it shows JOB_NAME with STATUS (the new job is the one shown)."""
    from playwright.sync_api import expect

    head = page.get_by_test_id("stMarkdownContainer").filter(
        has=page.locator("strong", has_text=job_name)
    )
    # .last: while Streamlit redraws, the old copy may linger for a moment
    expect(head.locator("code").last).to_have_text(status, timeout=timeout)
    return head


def test_dashboard_picks_a_type_checks_its_data_and_shows_its_json_result(
    types_platform: TypesPlatform, browser: Any, user: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(browser, artifacts_dir, "dashboard-types-submit") as page:
        dashboard_login(page, types_platform, user)
        page.get_by_role("combobox", name="Job type").click()
        options = page.get_by_role("option")
        expect(options.filter(has_text="Count words (e2e_words)")).to_have_count(1)
        expect(options.filter(has_text="Wait, then answer (e2e_wait)")).to_have_count(1)
        page.keyboard.press("Escape")
        dashboard_pick(page, "Count words (e2e_words)")
        text = page.get_by_role("textbox", name="text", exact=True)
        expect(text).to_be_visible()

        # Nothing typed: the schema's check refuses it, with its path; no job is stored.
        dashboard_submit(page, "count in the dashboard")
        error = page.get_by_test_id("stAlertContentError")
        expect(error).to_contain_text("does not match the input schema of 'e2e_words' at $.text")
        assert user_client(types_platform, user).list_jobs()["total"] == 0

        text.fill("one two three")
        dashboard_submit(page, "count in the dashboard")
        dashboard_detail(page, "count in the dashboard", "succeeded", timeout=30_000)
        # .last: a rerun of the page keeps the old copy of the result for a moment
        code = page.get_by_test_id("stCode").locator("code.language-json").last
        expect(code).to_contain_text('"words": 3')
        assert code.text_content() == WORDS_RESULT
        jobs = page.get_by_test_id("stDataFrame").first
        expect(cell(jobs, '{"words": 3}')).to_have_count(1)
        code.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "dashboard-types-result.png"))


def test_dashboard_shows_a_long_jobs_progress_and_cancels_it(
    types_platform: TypesPlatform, browser: Any, user: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(browser, artifacts_dir, "dashboard-types-cancel") as page:
        dashboard_login(page, types_platform, user)
        dashboard_pick(page, "Wait, then answer (e2e_wait)")
        seconds = page.get_by_role("spinbutton", name="seconds (optional)")
        seconds.fill("30")
        seconds.press("Tab")
        dashboard_submit(page, "wait long")
        dashboard_detail(page, "wait long", "running", timeout=30_000)
        bar = page.get_by_test_id("stProgress")
        expect(bar).to_be_visible()
        expect(bar).to_contain_text("waiting")
        bar.scroll_into_view_if_needed()  # Streamlit scrolls its own container, not the page
        page.screenshot(path=str(artifacts_dir / "dashboard-types-progress.png"))

        page.get_by_role("button", name="Cancel").click()
        expect(page.get_by_role("button", name="Cancel", exact=True)).to_have_count(0)
        dashboard_detail(page, "wait long", "cancelled", timeout=5_000)
        expect(page.get_by_role("button", name=re.compile("Cancel"))).to_have_count(0)
        expect(bar).to_have_count(0)
        job = user_client(types_platform, user).list_jobs()["jobs"][0]
        assert job["status"] == "cancelled" and job["result"]["stopped_after_s"] < 30, job


def test_dashboard_timeline_shows_a_failed_try_then_success(
    types_platform: TypesPlatform, browser: Any, user: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(browser, artifacts_dir, "dashboard-types-timeline") as page:
        dashboard_login(page, types_platform, user)
        dashboard_pick(page, "Fail, then succeed (e2e_flaky)")
        page.get_by_role("textbox", name="Data (JSON)").fill("1")
        dashboard_submit(page, "flaky once")
        dashboard_detail(page, "flaky once", "succeeded", timeout=30_000)
        column = page.get_by_test_id("stColumn").filter(
            has=page.get_by_text("Timeline", exact=True)
        )
        timeline = column.get_by_test_id("stDataFrame")
        expect(cell(timeline, "Succeeded")).to_have_count(1)
        expect(cell(timeline, "Try failed (will be tried again)")).to_have_count(1)
        cells = timeline.locator("[role=gridcell]").all_text_contents()
        assert cells.index("Try failed (will be tried again)") < cells.index("Succeeded"), cells
        timeline.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "dashboard-types-timeline.png"))
