"""The React web app in headless Chromium against the real platform.

Signs in (wrong password first), submits a job and watches it succeed, checks
another user's jobs stay hidden, watches the status light turn red while the
core is stopped and green again after, and logs out.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def _require_built(web_url: str) -> None:
    response = requests.get(f"{web_url}/healthz", timeout=5)
    if response.status_code == 503:
        pytest.fail(
            "The web app is not built: run `npm ci && npm run build` in frontend_react/ first"
        )
    response.raise_for_status()


def test_react_app_end_to_end(
    platform: Any, browser: Any, unique_name: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    _require_built(platform.web_url)
    user, other = unique_name, f"{unique_name}other"
    platform.add_user(user, PASSWORD)
    platform.add_user(other, PASSWORD)
    hidden = platform.client(other, PASSWORD).submit_job("not-yours-to-see", "secret data")
    assert hidden

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page_errors: list[str] = []
    console_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on(
        "console",
        lambda message: console_errors.append(message.text) if message.type == "error" else None,
    )
    expect.set_options(timeout=15_000)
    try:
        # Any page without a session lands on the login page.
        page.goto(f"{platform.web_url}/status")
        expect(page).to_have_url(re.compile(r"/login$"))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

        # A wrong password: a clear message, still on the login page.
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill("not the password")
        page.get_by_label("Password").press("Enter")
        expect(page.get_by_role("alert")).to_have_text("Invalid username or password")
        page.screenshot(path=str(artifacts_dir / "react-login.png"), full_page=True)

        # The right one: back where they wanted to go, then the dashboard greets them.
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/status$"))
        expect(page.get_by_role("heading", name="Platform status")).to_be_visible()
        page.get_by_role("link", name="Jobs", exact=True).click()
        expect(page.get_by_role("heading", name=f"Hi {user}", exact=True)).to_be_visible()
        expect(page.get_by_text("No jobs yet — submit one above")).to_be_visible()

        # A reload keeps the session (sessionStorage).
        page.reload()
        expect(page.get_by_role("heading", name=f"Hi {user}", exact=True)).to_be_visible()

        # Submit a job; it shows up at once, then succeeds with the reversed data.
        page.get_by_label("Job name").fill("reverse me")
        page.get_by_label("Data").fill("hello browser")
        page.get_by_role("button", name="Submit job").click()
        expect(page.get_by_label("Job name")).to_have_value("")
        row = page.locator("tr", has=page.get_by_role("link", name="reverse me"))
        expect(row).to_have_count(1)
        expect(row.get_by_text("Succeeded")).to_be_visible()
        expect(row.get_by_text("resworb olleh")).to_be_visible()
        expect(page.get_by_text("1–1 of 1")).to_be_visible()

        # Another user's job is never shown.
        expect(page.get_by_text("not-yours-to-see")).to_have_count(0)

        # The detail view has the job's timeline.
        row.get_by_role("link", name="reverse me").click()
        expect(page).to_have_url(re.compile(r"/jobs/[^/]+$"))
        expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
        expect(page.get_by_text("resworb olleh")).to_be_visible()
        page.get_by_role("link", name="← All jobs").click()
        expect(page.get_by_role("heading", name=f"Hi {user}", exact=True)).to_be_visible()

        indicator = page.get_by_role("link", name=re.compile(r"^Platform status:"))
        expect(indicator).to_have_text("All systems operational")
        page.screenshot(path=str(artifacts_dir / "react-dashboard.png"), full_page=True)

        # Stop the core: the header's light turns red and names it.
        platform.stop_child("core")
        try:
            expect(indicator).to_have_text(re.compile(r"core is (down|not ready)"), timeout=20_000)
            expect(indicator).to_have_class(re.compile(r"status-bad"))
        finally:
            platform.start_child("core")
        expect(indicator).to_have_text("All systems operational", timeout=30_000)

        # Logout returns to the login page and forgets the token.
        page.get_by_role("button", name="Logout").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.evaluate("() => window.sessionStorage.length") == 0
        page.goto(platform.web_url)
        expect(page).to_have_url(re.compile(r"/login$"))
    finally:
        context.close()

    assert page_errors == []
    # Failed requests are logged by the browser itself (the wrong password's 401,
    # /platform_status while the core was down); anything else is a bug.
    unexpected = [m for m in console_errors if "Failed to load resource" not in m]
    assert unexpected == []
