"""Defaults given as expressions, and required and read_only given as expressions, in a real
browser (static/js/form.js): a new repeat entry gets its defaults, a conditional required
question is asked for before anything is sent, a conditional read-only one cannot be typed in."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_support import LiveServer, new_page

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

SURVEY = [
    ["type", "name", "label", "required", "read_only", "calculation", "default"],
    ["integer", "people", "People", "", "", "", ""],
    ["select_one yn", "has_phone", "Has a phone?", "", "", "", ""],
    ["text", "operator", "Operator", "${has_phone} = 'yes'", "", "", ""],
    ["integer", "age", "Age", "", "", "", ""],
    ["text", "agegroup", "Age group", "", "${age} != ''", "", ""],
    ["begin_repeat", "member", "Member", "", "", "", ""],
    ["text", "mname", "Name", "", "", "", "concat('member ', position(..))"],
    ["integer", "share", "Share", "", "", "", "${people} * 10"],
    ["end_repeat", "", "", "", "", "", ""],
]  # fmt: skip
CHOICES = [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]]


@pytest.fixture
def volunteer(create_user: Any, survey_round: Any) -> str:
    create_user("vol", "volunteer")
    return "vol"


def test_defaults_and_conditions_in_the_page(
    browser: Any, live_server: LiveServer, volunteer: str, create_instrument: Any, make_xlsform: Any
) -> None:
    version = create_instrument(make_xlsform(SURVEY, CHOICES, {"form_id": "conditions"}))
    page = new_page(browser, live_server.url, volunteer)
    page.goto(f"{live_server.url}/collect/v/{version.id}")
    page.fill("#people", "3")
    page.check("input[name=has_phone][value=yes]")
    page.click("button[name=_action][value='add:member']")
    page.click("button[name=_action][value='add:member']")
    assert page.input_value("[name='member-0-mname']") == "member 1"
    assert page.input_value("[name='member-1-mname']") == "member 2"
    assert page.input_value("[name='member-1-share']") == "30"

    assert not page.locator("[name=agegroup]").evaluate("el => el.readOnly")
    page.fill("#age", "12")
    page.locator("#age").dispatch_event("input")
    assert page.locator("[name=agegroup]").evaluate("el => el.readOnly")

    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.click("[data-nav=submit]")
    error = page.locator("p.error[data-error-for=operator]")
    playwright_api.expect(error).not_to_be_empty()
    assert posts == []
    page.check("input[name=has_phone][value=no]")
    page.click("[data-nav=submit]")
    page.wait_for_url("**/collect/saved/**")
    assert page.js_errors == []  # type: ignore[attr-defined]
