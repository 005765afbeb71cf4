"""Walkthrough findings on the volunteer's form, in a real browser: a refusal that would discard
answers is confirmed first (with and without JavaScript), and the language chosen on the login
page follows the account and the device."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from survey.collection.models import Refusal, Submission
from survey.extensions import db
from tests.browser_support import PHONE, LiveServer, new_page, open_menu
from tests.factories import PASSWORD

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

SURVEY = [
    ["type", "name", "label", "required", "relevant"],
    ["begin_group", "intro", "Introduction"],
    ["select_one yes_no", "consent", "Do you agree to take part?", "yes"],
    ["integer", "age", "Age in years", "yes", "${consent} = 'yes'"],
    ["text", "comment", "Anything to add?", "", "${consent} = 'yes'"],
    ["end_group"],
    ["begin_group", "details", "Details"],
    ["select_multiple fruit", "fruits", "Which fruits do you eat?"],
    ["end_group"],
]  # fmt: skip
CHOICES = [
    ["list_name", "name", "label"],
    ["yes_no", "yes", "Yes"],
    ["yes_no", "no", "No"],
    ["fruit", "apple", "Apple"],
    ["fruit", "pear", "Pear"],
]


@pytest.fixture
def volunteer(create_user: Any, survey_round: Any) -> str:
    create_user("vol", "volunteer")
    return "vol"


@pytest.fixture
def small_form(create_instrument: Any, make_xlsform: Any) -> Any:
    return create_instrument(
        make_xlsform(SURVEY, CHOICES, {"consent_question": "consent", "age_question": "age"})
    )


def counts() -> tuple[int, int]:
    db.session.rollback()
    count = lambda model: db.session.execute(select(func.count()).select_from(model)).scalar_one()  # noqa: E731
    return count(Submission), count(Refusal)


def test_consent_changed_to_no_at_the_end_asks_before_discarding(
    browser: Any, live_server: LiveServer, volunteer: str, small_form: Any
) -> None:
    page = new_page(browser, live_server.url, volunteer)
    page.goto(f"{live_server.url}/collect/v/{small_form.id}")
    page.check("input[name=consent][value=yes]")
    page.fill("#age", "71")
    page.fill("#comment", "Water is bad")
    page.click("[data-nav=next]")
    page.check("input[name=fruits][value=apple]")
    page.click("[data-nav=back]")
    page.check("input[name=consent][value=no]")  # one tap that would end the interview
    page.click("[data-nav=next]")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.click("[data-nav=submit]")
    panel = page.locator("#discard-confirm")
    assert panel.is_visible()
    assert posts == [] and counts() == (0, 0)
    lost = page.locator("#discard-list").inner_text()
    assert "Age in years: 71" in lost and "Anything to add?: Water is bad" in lost
    assert "Which fruits do you eat?: Apple" in lost
    assert "3 answers" in page.locator("#discard-text").inner_text()
    assert page.evaluate("document.activeElement.id") == "discard-title"
    box = panel.bounding_box()
    assert box is not None and 0 <= box["y"] < PHONE["height"]  # in view

    page.click("#discard-no")  # keep: back to the answer that ends it
    assert not panel.is_visible()
    assert page.evaluate("document.activeElement.name") == "consent"
    assert counts() == (0, 0)

    page.click("[data-nav=next]")
    page.click("[data-nav=submit]")
    page.click("#discard-yes")
    page.wait_for_url("**/collect/refusal/**")
    assert counts() == (0, 1)
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_without_javascript_the_server_asks_before_discarding(
    browser: Any, live_server: LiveServer, volunteer: str, small_form: Any
) -> None:
    page = new_page(browser, live_server.url, volunteer, java_script_enabled=False)
    page.goto(f"{live_server.url}/collect/v/{small_form.id}")
    page.check("input[name=consent][value=yes]")
    page.fill("#age", "15")  # under age, after everything else was answered
    page.fill("#comment", "Water is bad")
    page.check("input[name=fruits][value=pear]")
    page.click("[data-nav=submit]")
    assert page.locator("#discard-confirm").is_visible()
    assert "Which fruits do you eat?: Pear" in page.locator("#discard-list").inner_text()
    assert page.input_value("#age") == "15" and page.input_value("#comment") == "Water is bad"
    assert counts() == (0, 0)
    page.click("#discard-yes")
    page.wait_for_url("**/collect/refusal/**")
    assert counts() == (0, 1)


def test_language_chosen_on_the_login_page_sticks_to_account_and_device(
    browser: Any, live_server: LiveServer, volunteer: str
) -> None:
    context = browser.new_context(viewport=PHONE, locale="ru-RU")
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    assert page.get_attribute("html", "lang") == "ru"  # the phone's language at first
    page.click("a.lang[lang=kk]")
    page.wait_for_url("**/login?lang=kk")
    assert page.get_attribute("html", "lang") == "kk"
    page.fill("#username", volunteer)
    page.fill("#password", PASSWORD)
    page.click("form.narrow button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_attribute("html", "lang") == "kk"
    open_menu(page)
    page.click("form[data-offline-logout] button")
    page.wait_for_url("**/login")
    assert page.get_attribute("html", "lang") == "kk"  # the device remembers
    context.close()

    # Another phone, set to Russian: the account remembers.
    other = browser.new_context(viewport=PHONE, locale="ru-RU")
    page = other.new_page()
    page.goto(f"{live_server.url}/login")
    page.fill("#username", volunteer)
    page.fill("#password", PASSWORD)
    page.click("form.narrow button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_attribute("html", "lang") == "kk"
    page.click("a.lang[lang=en]")  # chosen after login: the account follows
    page.wait_for_url(f"{live_server.url}/?lang=en")
    open_menu(page)
    page.click("form[data-offline-logout] button")
    page.wait_for_url("**/login")
    page.fill("#username", volunteer)
    page.fill("#password", PASSWORD)
    page.click("form.narrow button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_attribute("html", "lang") == "en"
    other.close()


def test_correction_without_a_reason_goes_to_the_reason(
    browser: Any, live_server: LiveServer, volunteer: str, small_form: Any
) -> None:
    page = new_page(browser, live_server.url, volunteer)
    page.goto(f"{live_server.url}/collect/v/{small_form.id}")
    page.check("input[name=consent][value=yes]")
    page.fill("#age", "71")
    page.click("[data-nav=next]")
    page.click("[data-nav=submit]")
    page.wait_for_url("**/collect/saved/**")
    db.session.rollback()
    submission = db.session.execute(select(Submission)).scalar_one()
    page.goto(f"{live_server.url}/submissions/{submission.id}/correct")
    page.fill("#age", "72")
    page.click("[data-nav=next]")
    page.click("[data-nav=submit]")
    page.wait_for_load_state()
    assert page.evaluate("document.activeElement.id") == "reason"
    assert page.get_attribute("#reason", "aria-invalid") == "true"
    assert "Say why the answers are corrected." in page.inner_text("#form-message")
    box = page.locator("#reason").bounding_box()
    assert box is not None and 0 <= box["y"] < PHONE["height"]


def test_household_size_and_roster_disagreeing_is_pointed_out(
    browser: Any, live_server: LiveServer, volunteer: str, default_instrument: Any
) -> None:
    page = new_page(browser, live_server.url, volunteer)
    page.goto(f"{live_server.url}/collect/v/{default_instrument.id}")
    today = page.input_value("#interview_date")
    assert len(today) == 10  # prefilled
    page.click("[data-section-link=consent_section] a")
    page.check("input[name=consent][value=yes]")
    page.fill("#age", "64")
    page.click("[data-section-link=household] a")
    warning = page.locator("[data-question=roster_check]")
    page.fill("#household_size", "3")
    page.click("button.add-entry")
    assert warning.is_visible()  # 3 people, but only the respondent and one member
    page.click("button.add-entry")
    assert not warning.is_visible()
    page.fill("#household_size", "4")
    page.locator("#household_size").press("Tab")
    assert warning.is_visible()
