"""An interview submitted offline: a confirmation that stays in view, and a receipt code issued
on the device at once, which the server keeps when the interview arrives."""

from __future__ import annotations

import re
from typing import Any

import pytest

from survey.collection.privacy import device_receipt_code, normalize_receipt_code
from tests.browser_support import PHONE, LiveServer, new_page
from tests.survey.collection.test_offline_browser import (
    interview,
    open_form_for_offline,
    small_form,  # noqa: F401 - the fixture
    submissions,
    wait_until,
)

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser


def test_offline_submit_shows_a_device_receipt_code_the_server_keeps(
    browser: Any,
    live_server: LiveServer,
    create_user: Any,
    small_form: Any,  # noqa: F811
) -> None:
    create_user("vol", "volunteer")
    page = new_page(browser, live_server.url, "vol")
    open_form_for_offline(page, f"{live_server.url}/collect/v/{small_form.id}")
    instance_id = page.input_value("[name=_instance_id]")
    expect = playwright_api.expect
    page.context.set_offline(True)
    interview(page, "30", "First", "Aigul")
    saved = page.locator("#offline-saved")
    expect(saved).to_be_visible()
    code = page.locator("#offline-receipt-code").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    assert code == device_receipt_code(instance_id)  # the same derivation on both sides
    box = saved.bounding_box()
    assert box is not None and -1 < box["y"] < PHONE["height"] / 2  # in view, not scrolled away
    assert page.evaluate("document.activeElement.id") == "offline-saved"
    page.wait_for_timeout(500)
    box = saved.bounding_box()
    assert box is not None and -1 < box["y"] < PHONE["height"] / 2  # and it stays there
    page.click("#offline-next")
    assert not saved.is_visible()

    # Back on the start page with the server unreachable: the volunteer sees what waits.
    def refuse_posts(route: Any) -> None:
        if route.request.method == "POST":
            route.abort()
        else:
            route.continue_()

    page.route("**/collect/v/**", refuse_posts)
    page.context.set_offline(False)
    page.goto(f"{live_server.url}/")
    expect(page.locator("#home-waiting")).to_have_text(
        "1 interview is waiting on this device to be sent."
    )
    assert submissions() == []
    page.unroute("**/collect/v/**")
    page.reload()
    wait_until(page, lambda: len(submissions()) == 1)
    expect(page.locator("#home-waiting")).to_be_hidden(timeout=15000)
    stored = submissions()
    assert [s.instance_id for s in stored] == [instance_id]
    assert stored[0].receipt_code == code
    assert normalize_receipt_code(code.lower().replace("-", "")) == code
    assert page.js_errors == []  # type: ignore[attr-defined]
