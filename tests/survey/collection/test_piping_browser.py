"""Answers inside labels update live in a real browser (Debian's headless Chromium), as text."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_support import LiveServer, new_page
from tests.survey.collection.test_piping import NESTED_PIPED

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

SURVEY = [
    ["type", "name", "label", "constraint", "constraint_message"],
    ["text", "who", "Who answers?"],
    ["select_one fruit", "fruit", "Favourite fruit of ${who}"],
    ["integer", "age", "How old is ${who}?", ". < 130", "${who} cannot be ${age}"],
    ["note", "greet", "Hello ${who}: <output value=\"jr:choice-name(${fruit}, '${fruit}')\"/>"],
    ["begin_repeat", "member", "Member"],
    ["text", "member_name", "Member <output value='position(..)'/> of ${who}"],
    ["end_repeat"],
]  # fmt: skip
CHOICES = [
    ["list_name", "name", "label"],
    ["fruit", "apple", "Apple"],
    ["fruit", "pear", "Pear"],
    ["fruit", "own", "The one ${who} grows"],
]


def test_labels_show_answers_as_the_volunteer_types(
    browser: Any, live_server: LiveServer, create_user: Any, survey_round: Any,
    create_instrument: Any,
) -> None:  # fmt: skip
    version = create_instrument(survey=SURVEY, choices=CHOICES, settings={"form_id": "pipe"})
    create_user("vol", "volunteer")
    page = new_page(browser, live_server.url, "vol")
    page.goto(f"{live_server.url}/collect/v/{version.id}")
    label = page.locator("label[for=age]")
    assert label.inner_text().startswith("How old is ?")
    page.locator("#who").press_sequentially("Ann")
    assert label.inner_text().startswith("How old is Ann?")
    page.fill("#who", "<img src=x onerror=window.hacked=1>")
    assert label.inner_text().startswith("How old is <img src=x onerror=window.hacked=1>?")
    assert page.locator("label[for=age] img").count() == 0
    page.fill("#who", "Bo")
    assert page.locator("label[data-choice=own]").inner_text().strip() == "The one Bo grows"
    page.check("input[name=fruit][value=pear]")
    assert page.locator("[data-question=greet]").inner_text().strip() == "Hello Bo: Pear"
    page.fill("#age", "200")
    page.locator("#age").press("Tab")
    assert page.locator("#age-error").inner_text().endswith("Bo cannot be 200")
    page.click("button[value='add:member']")
    page.click("button[value='add:member']")
    members = page.locator("[data-question=member_name] label")
    assert [t.strip() for t in members.all_inner_texts()] == ["Member 1 of Bo", "Member 2 of Bo"]
    assert page.evaluate("window.hacked") is None
    assert page.js_errors == []


def test_nested_group_labels_in_repeat_entries_follow_the_answers(
    browser: Any, live_server: LiveServer, create_user: Any, survey_round: Any,
    create_instrument: Any,
) -> None:  # fmt: skip
    version = create_instrument(survey=NESTED_PIPED, settings={"form_id": "nested_pipe"})
    create_user("vol", "volunteer")
    page = new_page(browser, live_server.url, "vol")
    page.goto(f"{live_server.url}/collect/v/{version.id}")
    page.fill("[name=who]", "Ann")
    assert page.locator("fieldset[data-group=home] > legend").inner_text() == "Home of Ann"
    page.click("button[value='add:member']")
    page.click("button[value='add:member']")
    page.fill("[name=member-1-mname]", "<i>Cy</i>")
    page.fill("[name=member-0-mname]", "Bo")
    health = page.locator(".repeat-entry fieldset[data-group=health] > legend")
    clinic = page.locator(".repeat-entry fieldset[data-group=clinic_group] > legend")
    assert [t.strip() for t in health.all_inner_texts()] == [
        "Health of Bo, member 1",
        "Health of <i>Cy</i>, member 2",
    ]
    assert [t.strip() for t in clinic.all_inner_texts()] == [
        "Clinic of Bo near Ann",
        "Clinic of <i>Cy</i> near Ann",
    ]
    assert page.locator(".repeat-entry legend i").count() == 0
    page.fill("[name=who]", "Dana")
    assert clinic.first.inner_text().strip() == "Clinic of Bo near Dana"
    assert page.js_errors == []
