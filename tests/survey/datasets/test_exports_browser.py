"""In a real browser, on a phone: the export page checks before it downloads, shows the risk
figures and the verdict, and says when an export would be empty (issue 12)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from survey.demo import write_demo_data
from tests.browser_support import LiveServer, new_page

pytestmark = pytest.mark.browser


def test_check_shows_figures_and_an_empty_export_warns(
    browser: Any,
    live_server: LiveServer,
    create_user: Any,
    default_instrument: Any,
    survey_round: Any,
    tmp_path: Any,
) -> None:
    write_demo_data(default_instrument, survey_round, 120, seed=3)
    create_user("coord", "coordinator")
    page = new_page(browser, live_server.url, "coord")
    page.set_default_timeout(60_000)  # the check runs the whole anonymisation
    page.goto(f"{live_server.url}/exports")
    page.check("#include_demo")
    page.click("button[value=check]")
    page.wait_for_selector("#disclosure-figures")
    assert "Verdict" in page.inner_text("#disclosure-figures")
    assert "Global risk" in page.inner_text("#disclosure-figures")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width  # wide tables scroll inside their box
    page.screenshot(
        path=os.environ.get("EXPORT_SCREENSHOT", str(tmp_path / "check.png")), full_page=True
    )
    page.uncheck("#include_demo")  # no real interview: the export would be empty
    page.click("button[value=download]")
    page.wait_for_selector("#export-verdict")
    assert "would be empty" in page.inner_text("#export-verdict")
    assert not page.js_errors
