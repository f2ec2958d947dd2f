"""Smoke test: the Streamlit dashboard in headless Chromium, served by `toy-platform serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.harness import Platform

pytestmark = pytest.mark.browser

PASSWORD = "browser-password-1"


def test_login_shows_the_greeting(
    platform: Platform, browser: Any, unique_name: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    platform.add_user(unique_name, PASSWORD)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(platform.dashboard_url)
        page.get_by_label("Username").fill(unique_name)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text(f"Hi {unique_name}", exact=True)).to_be_visible(timeout=30_000)
        expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
        expect(page.get_by_text("Traceback")).to_have_count(0)
        # wait until the script run is over, so the screenshot is not faded
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "dashboard.png"))
    finally:
        page.close()
