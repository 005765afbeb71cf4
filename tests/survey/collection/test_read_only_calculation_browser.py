"""A read-only question with a calculation (issue 9): the server stores its calculation
(rules.py), so the page computes and shows it too, and what depends on it agrees."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_support import LiveServer, new_page
from tests.survey.collection.test_offline_browser import submissions

pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

SURVEY = [
    ["type", "name", "label", "required", "read_only", "calculation", "relevant"],
    ["integer", "age", "Age", "", "", "", ""],
    ["text", "group", "Age group", "", "${age} != ''", "if(${age} < 18, 'child', 'adult')", ""],
    ["text", "school", "School", "yes", "", "", "${group} = 'child'"],
    ["select_one yn", "minor", "Minor?", "", "yes", "if(${age} < 18, 'yes', 'no')", ""],
    ["text", "code", "Code", "", "yes", "once(uuid())", ""],
]  # fmt: skip
CHOICES = [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]]


def test_the_page_shows_a_read_only_calculation_and_what_depends_on_it(
    browser: Any, live_server: LiveServer, create_user: Any, create_instrument: Any,
    survey_round: Any,
) -> None:  # fmt: skip
    create_user("vol", "volunteer")
    version = create_instrument(survey=SURVEY, choices=CHOICES)
    page = new_page(browser, live_server.url, "vol")
    page.goto(f"{live_server.url}/collect/v/{version.id}")
    school = page.locator("[data-question=school]")
    assert page.input_value("[name=group]") == "" and not school.is_visible()
    code = page.input_value("[name=code]")
    assert len(code) == 36  # once(): computed once, then kept while the page changes
    page.fill("[name=age]", "9")
    assert page.input_value("[name=group]") == "child"
    assert page.locator("input[type=radio][name=minor][value=yes]").is_checked()
    assert school.is_visible()  # required by the server too: asked for, not hidden
    page.click("[data-nav=submit]")
    assert page.locator("[data-question=school].has-error, [data-error-for=school]").count()
    assert submissions() == []
    page.fill("[name=age]", "40")
    assert page.input_value("[name=group]") == "adult" and not school.is_visible()
    assert page.locator("input[type=radio][name=minor][value=no]").is_checked()
    assert page.input_value("[name=code]") == code
    page.click("[data-nav=submit]")
    page.wait_for_url(f"{live_server.url}/collect/saved/**")
    assert [s.answers for s in submissions()] == [
        {"age": 40, "group": "adult", "minor": "no", "code": code}
    ]
    assert page.js_errors == []
    page.context.close()
