"""Defaults given as expressions offline (ODK evaluates them when each new interview is created):
after a queued interview empties the fields, and on a copy of the form from the offline cache,
the page evaluates them again (${last-saved#q} reading the interview queued last); a read-only
question's default cannot be typed back in."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from tests.browser_support import LiveServer, new_page
from tests.survey.collection.test_offline_browser import (
    open_form_for_offline,
    submissions,
    wait_until,
)

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

SURVEY = [
    ["type", "name", "label", "default", "read_only", "required"],
    ["text", "t", "T", "", "", "yes"],
    ["date", "seen", "Seen on", "today()", "yes", ""],
    ["integer", "people", "People", "1 + 2", "", ""],
    ["text", "code", "Code", "uuid()", "yes", ""],
    ["text", "place", "Place", "Almaty", "", ""],
    ["text", "village", "Village", "${last-saved#village}", "", ""],
]  # fmt: skip
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_each_offline_interview_gets_the_forms_defaults_again(
    browser: Any, live_server: LiveServer, create_user: Any, create_instrument: Any,
    survey_round: Any,
) -> None:  # fmt: skip
    create_user("vol", "volunteer")
    version = create_instrument(survey=SURVEY)
    page = new_page(browser, live_server.url, "vol")
    open_form_for_offline(page, f"{live_server.url}/collect/v/{version.id}")
    cached_code = page.input_value("[name=code]")
    page.context.set_offline(True)
    # Served from the offline cache: a new interview, not the one the page was cached with.
    page.reload()
    assert page.evaluate("document.documentElement.dataset.offlineCopy") == "1"
    first_code = page.input_value("[name=code]")
    assert UUID.match(first_code) and first_code != cached_code
    today = page.evaluate("new Date().toLocaleDateString('sv')")  # the device's day, ISO
    for text, village in (("one", ""), ("two", "Akkol")):
        assert page.input_value("[name=people]") == "3"
        assert page.input_value("[name=place]") == "Almaty"
        assert page.input_value("[name=code]")
        # The interview queued before is the last saved one.
        assert page.input_value("[name=village]") == village
        if text == "one":
            page.fill("[name=village]", "Akkol")
        page.fill("[name=t]", text)
        page.click("[data-nav=submit]")
        wait_until(page, lambda: page.input_value("[name=t]") == "")
    page.context.set_offline(False)
    wait_until(page, lambda: len(submissions()) == 2, timeout=30)
    saved = [s.answers for s in submissions()]
    assert [a["t"] for a in saved] == ["one", "two"]
    assert all(a["people"] == 3 and a["place"] == "Almaty" for a in saved)
    assert all(a["village"] == "Akkol" for a in saved)
    assert all(a["seen"] == dt.date.fromisoformat(today).isoformat() for a in saved), saved
    codes = [a["code"] for a in saved]
    assert codes[0] == first_code and UUID.match(codes[1]) and codes[1] != codes[0]
    assert page.js_errors == []
    page.context.close()
