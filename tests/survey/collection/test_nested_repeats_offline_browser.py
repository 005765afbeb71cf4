"""Repeats inside repeats on the page with the network down (issue 9, part 3): the script adds
and removes inner entries at any depth itself, sizes counted inner repeats, fills the defaults
of new inner entries, and "Open in the form" puts a queued interview back in the right entries."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_support import LiveServer, new_page
from tests.survey.collection.test_offline_browser import open_form_for_offline, submissions

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

HEADER = ["type", "name", "label", "relevant", "default", "repeat_count"]
DEEP = [
    HEADER,
    ["text", "village", "Village", "", "", ""],
    ["begin_repeat", "household", "Household", "", "", ""],
    ["text", "head", "Head", "", "", ""],
    ["begin_repeat", "member", "Member", "", "", ""],
    ["integer", "age", "Age", "", "", ""],
    ["text", "tag", "Tag", "", "concat(../../head, '-', position(..))", ""],
    ["text", "school", "School", "../age < 18", "", ""],
    ["integer", "sick", "Illnesses", "", "", ""],
    ["begin_repeat", "illness", "Illness", "", "", "${sick}"],
    ["text", "what", "What", "", "", ""],
    ["text", "since", "Since when", "${what} = 'flu'", "", ""],
    ["end_repeat", "", "", "", "", ""],
    ["end_repeat", "", "", "", "", ""],
    ["end_repeat", "", "", "", "", ""],
]


def entry_numbers(page: Any, list_name: str) -> list[str]:
    """The numbers shown on the entries of one list (its own entries, not those inside)."""
    return page.eval_on_selector_all(
        f"fieldset[data-inner-repeat='{list_name}'] > .repeat-entries > .repeat-entry"
        " > legend .entry-number",
        "els => els.map((e) => e.textContent)",
    )


def test_inner_entries_are_added_removed_and_counted_offline(
    browser: Any, live_server: LiveServer, create_user: Any, create_instrument: Any, survey_round
) -> None:
    create_user("vol", "volunteer")
    version = create_instrument(survey=DEEP)
    page = new_page(browser, live_server.url, "vol")
    open_form_for_offline(page, f"{live_server.url}/collect/v/{version.id}")
    page.context.set_offline(True)
    expect = playwright_api.expect
    expect(page.locator("#offline-banner")).to_be_visible()

    page.fill("[name=village]", "Akkol")
    page.click("button[value='add:household']")
    page.fill("[name=household-0-head]", "Aru")
    for _ in range(3):
        page.click("button[value='add:household-0-member']")
    # Made by the page: no round trip, the head typed above is still there.
    assert page.input_value("[name=household-0-head]") == "Aru"
    # A default given as an expression, evaluated once in the new inner entry.
    assert page.input_value("[name=household-0-member-1-tag]") == "Aru-2"
    assert page.input_value("[name=household-0-member-2-tag]") == "Aru-3"
    page.click("button[value='remove:household-0-member:0']")
    assert page.locator("[name=household-0-member-0-age]").count() == 0
    assert entry_numbers(page, "household-0-member") == ["1", "2"]
    page.fill("[name=household-0-member-1-age]", "40")
    page.fill("[name=household-0-member-2-age]", "9")
    school = page.locator("[data-key=household-0-member-2-school]")
    expect(school).to_be_visible()  # ../age < 18, live in the inner entry
    page.fill("[name=household-0-member-2-school]", "No. 4")

    # A counted repeat three levels down, sized by the page from its own entry's answer.
    page.fill("[name=household-0-member-2-sick]", "3")
    expect(page.locator("[name=household-0-member-2-illness-2-what]")).to_be_visible()
    page.fill("[name=household-0-member-2-sick]", "2")
    expect(page.locator("[name=household-0-member-2-illness-2-what]")).to_have_count(0)
    assert page.locator("[name=household-0-member-1-illness-0-what]").count() == 0
    page.fill("[name=household-0-member-2-illness-0-what]", "flu")
    expect(page.locator("[data-key=household-0-member-2-illness-0-since]")).to_be_visible()
    assert not page.locator("[data-key=household-0-member-2-illness-1-since]").is_visible()
    page.fill("[name=household-0-member-2-illness-0-since]", "May")
    page.fill("[name=household-0-member-2-illness-1-what]", "cough")

    page.click("button[value='add:household']")
    page.fill("[name=household-1-head]", "Dana")
    page.click("button[value='add:household-1-member']")
    assert page.input_value("[name=household-1-member-0-tag]") == "Dana-1"
    page.fill("[name=household-1-member-0-age]", "70")

    page.click("[data-nav=submit]")
    expect(page.locator("#offline-count")).to_have_text("1 interview waiting to be sent")
    assert submissions() == []
    page.context.set_offline(False)
    expect(page.locator("#offline-queue")).to_have_attribute("data-count", "0")
    (saved,) = submissions()
    assert saved.answers["household"] == [
        {
            "head": "Aru",
            "member": [
                {"age": 40, "tag": "Aru-2"},
                {
                    "age": 9,
                    "tag": "Aru-3",
                    "school": "No. 4",
                    "sick": 2,
                    "illness": [{"what": "flu", "since": "May"}, {"what": "cough"}],
                },
            ],
        },
        {"head": "Dana", "member": [{"age": 70, "tag": "Dana-1"}]},
    ]
    assert page.js_errors == []
    page.context.close()


def test_a_queued_interview_is_opened_again_into_its_inner_entries(
    browser: Any, live_server: LiveServer, create_user: Any, create_instrument: Any, survey_round
) -> None:
    create_user("vol", "volunteer")
    version = create_instrument(survey=DEEP)
    page = new_page(browser, live_server.url, "vol")
    open_form_for_offline(page, f"{live_server.url}/collect/v/{version.id}")
    page.context.set_offline(True)
    expect = playwright_api.expect
    page.fill("[name=village]", "Akkol")
    page.click("button[value='add:household']")
    page.click("button[value='add:household']")
    page.click("button[value='remove:household:0']")  # the first household now has index 1
    page.fill("[name=household-1-head]", "Aru")
    page.click("button[value='add:household-1-member']")
    page.click("button[value='add:household-1-member']")
    page.fill("[name=household-1-member-1-age]", "9")
    page.fill("[name=household-1-member-1-school]", "call +7 701 234 5678")
    page.fill("[name=household-1-member-1-sick]", "2")
    page.fill("[name=household-1-member-1-illness-1-what]", "cough")
    page.click("button[value='add:household']")
    page.fill("[name=household-2-head]", "Dana")
    page.click("button[value='add:household-2-member']")
    page.fill("[name=household-2-member-0-age]", "70")
    page.click("[data-nav=submit]")
    expect(page.locator("#offline-count")).to_have_text("1 interview waiting to be sent")

    page.context.set_offline(False)  # sent, refused: a phone number in an inner entry
    problem = page.locator("#offline-problems li")
    expect(problem).to_contain_text("seems to contain a phone number")
    problem.locator("button").click()
    expect(page.locator("#offline-message")).to_contain_text("School: ")
    # Entries are made again in order: household 1 becomes household 0, its members 0 and 1.
    assert page.input_value("[name=household-0-head]") == "Aru"
    assert page.input_value("[name=household-0-member-0-tag]") == "Aru-1"
    assert page.input_value("[name=household-0-member-1-age]") == "9"
    assert page.input_value("[name=household-0-member-1-school]") == "call +7 701 234 5678"
    assert page.input_value("[name=household-0-member-1-illness-1-what]") == "cough"
    assert page.input_value("[name=household-1-head]") == "Dana"
    assert page.input_value("[name=household-1-member-0-age]") == "70"
    assert page.locator("[name=household-1-member-1-age]").count() == 0
    page.fill("[name=household-0-member-1-school]", "No. 4")
    page.click("[data-nav=submit]")
    page.wait_for_url(f"{live_server.url}/collect/saved/**")
    (saved,) = submissions()
    households = saved.answers["household"]
    assert [h["head"] for h in households] == ["Aru", "Dana"]
    assert households[0]["member"][1]["school"] == "No. 4"
    assert households[0]["member"][1]["illness"] == [{}, {"what": "cough"}]
    assert page.js_errors == []
    page.context.close()


COUNTED = [
    HEADER,
    ["begin_repeat", "household", "Household", "", "", ""],
    ["begin_repeat", "pair", "Pair", "", "", "2"],
    ["begin_repeat", "item", "Item", "", "", "2"],
    ["text", "x", "X", "", "concat('i', position(..))", ""],
    ["end_repeat", "", "", "", "", ""],
    ["end_repeat", "", "", "", "", ""],
    ["end_repeat", "", "", "", "", ""],
]


def test_a_new_entry_gets_its_counted_inner_entries_at_every_level(
    browser: Any, live_server: LiveServer, create_user: Any, create_instrument: Any, survey_round
) -> None:
    create_user("vol", "volunteer")
    version = create_instrument(survey=COUNTED)
    page = new_page(browser, live_server.url, "vol")
    page.goto(f"{live_server.url}/collect/v/{version.id}")
    page.click("button[value='add:household']")
    fields = page.eval_on_selector_all(
        "#survey-form input[name$='-x']", "els => els.map((e) => [e.name, e.value])"
    )
    assert fields == [
        [f"household-0-pair-{p}-item-{i}-x", f"i{i + 1}"] for p in (0, 1) for i in (0, 1)
    ]
    assert page.js_errors == []
    page.context.close()
