"""In a real browser: the preview shows in its sandboxed frame without breaking the page's
rules, and "Generate PDF" shows a busy state until the history opens."""

from __future__ import annotations

from typing import Any

import pytest

from survey.demo import write_demo_data
from tests.browser_support import LiveServer, new_page

pytestmark = pytest.mark.browser


def test_preview_then_generate_with_a_busy_button(
    browser: Any,
    live_server: LiveServer,
    create_user: Any,
    default_instrument: Any,
    survey_round: Any,
) -> None:
    write_demo_data(default_instrument, survey_round, 40, seed=2)
    create_user("adv", "advocate")
    page = new_page(browser, live_server.url, "adv")  # phone-sized, as volunteers use it
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(f"{live_server.url}/reports/")
    page.fill("#title", "Needs of survivors")
    page.fill("#submitted_by", "Coalition")
    page.check("#include_demo")
    page.click("button[value=preview]")
    page.wait_for_selector("iframe[title='Preview of the working paper']", timeout=60_000)
    frame = page.frame_locator("iframe[title='Preview of the working paper']")
    frame.locator("h1.title").wait_for()
    assert frame.locator("h1.title").inner_text() == "Needs of survivors"
    assert frame.locator("figure img").count() >= 5
    assert frame.locator("figure img").first.evaluate("image => image.naturalWidth") > 0
    live_server.network.delay = 1.5  # the server takes a while: the busy state must show
    # Click, then read the page's state at once: the busy state is what shows meanwhile.
    state = page.evaluate(
        """() => {
            const button = document.querySelector("button[value=generate]");
            button.click();
            const form = button.form;
            return {
                text: button.textContent,
                disabled: button.disabled,
                busy: form.getAttribute("aria-busy"),
                kept: form.querySelector("input[type=hidden][name=action]")?.value,
                status: form.querySelector("[data-busy-status]").textContent,
            };
        }"""
    )
    assert state == {
        "text": "Generating…",
        "disabled": True,
        "busy": "true",
        "kept": "generate",
        "status": "Generating…",
    }
    page.wait_for_url("**/reports/history?report=1*", timeout=60_000)
    assert "Report 1 generated" in page.inner_text("main")
    assert not blocked, blocked
    assert not page.js_errors  # type: ignore[attr-defined]
