"""The volunteer's form in a real browser (Debian's headless Chromium): live rules, steps,
repeats, in-page checks, double submits, server errors, small screens and accessibility."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.extensions import db
from tests.browser_support import PHONE, LiveServer, new_page

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

RECEIPT = re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$")

SURVEY = [
    ["type", "name", "label", "required", "relevant", "constraint", "constraint_message",
     "choice_filter"],
    ["begin_group", "intro", "Introduction"],
    ["select_one yes_no", "consent", "Do you agree to take part?", "yes"],
    ["integer", "age", "Age in years", "yes", "${consent} = 'yes'", ". >= 18",
     "The respondent must be 18 or older."],
    ["text", "comment", "Anything to add?", "", "${consent} = 'yes'"],
    ["end_group"],
    ["begin_group", "details", "Details"],
    ["select_multiple fruit or_other", "fruits", "Which fruits do you eat?"],
    ["select_one region", "region", "Region", "yes"],
    ["select_one district", "district", "District", "", "", "", "", "region=${region}"],
    ["begin_repeat", "member", "Household member"],
    ["text", "member_name", "First name of the member"],
    ["integer", "member_age", "Age of the member"],
    ["end_repeat"],
    ["end_group"],
]  # fmt: skip
CHOICES = [
    ["list_name", "name", "label", "region"],
    ["yes_no", "yes", "Yes", ""],
    ["yes_no", "no", "No", ""],
    ["fruit", "apple", "Apple", ""],
    ["fruit", "pear", "Pear", ""],
    ["region", "north", "North", ""],
    ["region", "south", "South", ""],
    ["district", "n1", "North One", "north"],
    ["district", "n2", "North Two", "north"],
    ["district", "s1", "South One", "south"],
]


@pytest.fixture
def volunteer(create_user: Any, survey_round: Any) -> str:
    """A volunteer account (with a round open today); returns the username."""
    create_user("vol", "volunteer")
    return "vol"


@pytest.fixture
def small_form(create_instrument: Any, make_xlsform: Any) -> Any:
    """The small instrument of these tests, imported."""
    return create_instrument(
        make_xlsform(SURVEY, CHOICES, {"consent_question": "consent", "age_question": "age"})
    )


def submissions() -> list[Submission]:
    db.session.rollback()
    return list(db.session.execute(select(Submission)).scalars())


def fill_first_section(page: Any, age: str = "30") -> None:
    page.check("input[name=consent][value=yes]")
    page.fill("#age", age)
    page.fill("#comment", "Nothing")


def test_live_rules_repeats_checks_and_submit(
    browser: Any, live_server: LiveServer, volunteer: str, small_form: Any
) -> None:
    page = new_page(browser, live_server.url, volunteer)
    page.goto(f"{live_server.url}/collect/v/{small_form.id}")
    status = page.locator("#progress-status")
    assert status.inner_text() == "Section 1 of 2: Introduction"
    assert page.locator("[data-nav=next]").is_visible()
    assert not page.locator("[data-nav=submit]").is_visible()
    assert not page.locator("#section-details").is_visible()

    # Skip logic, live.
    age, comment = page.locator("[data-question=age]"), page.locator("[data-question=comment]")
    assert not age.is_visible()
    assert not comment.is_visible()
    page.check("input[name=consent][value=yes]")
    assert age.is_visible()
    assert comment.is_visible()
    page.check("input[name=consent][value=no]")
    assert not age.is_visible()
    assert not comment.is_visible()
    page.check("input[name=consent][value=yes]")

    # A constraint shown next to the field, then cleared when fixed.
    error = page.locator("#age-error")
    page.fill("#age", "12")
    page.locator("#age").press("Tab")
    assert error.inner_text().endswith("The respondent must be 18 or older.")
    assert page.locator("#age").get_attribute("aria-invalid") == "true"
    page.click("[data-nav=next]")  # refused: the section has a problem
    assert status.inner_text().startswith("Section 1 of 2")
    assert page.evaluate("document.activeElement.id") == "age"
    page.fill("#age", "30")
    assert error.inner_text() == ""
    assert page.locator("#age").get_attribute("aria-invalid") is None
    page.fill("#comment", "Nothing")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.locator("#age").press("Enter")  # moves on to the next field, does not submit
    assert page.evaluate("document.activeElement.id") == "comment"
    page.locator("#comment").press("Enter")
    assert page.evaluate("document.activeElement.dataset.nav") == "next"
    assert posts == []

    page.click("[data-nav=next]")
    assert status.inner_text() == "Section 2 of 2: Details"
    assert page.evaluate("document.activeElement.id") == "heading-details"
    assert page.locator("[data-nav=submit]").is_visible()
    assert not page.locator("[data-nav=next]").is_visible()
    assert page.locator("[data-nav=back]").is_visible()

    # or_other: the text box appears with "other".
    other = page.locator("[data-question=fruits_other]")
    page.check("input[name=fruits][value=apple]")
    assert not other.is_visible()
    page.check("input[name=fruits][value=other]")
    assert other.is_visible()
    page.fill("[data-question=fruits_other] input", "Kiwi")

    # The choice filter: only the districts of the chosen region.
    district = page.locator("[data-question=district] [data-choice]")
    assert district.evaluate_all("els => els.filter(e => !e.hidden).length") == 0
    page.check("input[name=region][value=north]")
    visible = "els => els.filter(e => !e.hidden).map(e => e.dataset.choice)"
    assert district.evaluate_all(visible) == ["n1", "n2"]
    page.check("input[name=district][value=n2]")
    page.check("input[name=region][value=south]")
    assert district.evaluate_all(visible) == ["s1"]
    assert not page.locator("input[name=district][value=n2]").is_checked()
    page.check("input[name=district][value=s1]")

    # Repeats: add two, remove the first; numbers follow, names keep their gap.
    page.click("button.add-entry")
    assert page.evaluate("document.activeElement.name") == "member-0-member_name"
    page.fill("[name=member-0-member_name]", "Aigul")
    page.click("button.add-entry")
    assert page.evaluate("document.activeElement.name") == "member-1-member_name"
    page.fill("[name=member-1-member_name]", "Bolat")
    page.fill("[name=member-1-member_age]", "41")
    entries = page.locator(".repeat-entry")
    assert entries.count() == 2
    page.click("button[value='remove:member:0']")
    assert entries.count() == 1
    assert entries.first.locator("legend .entry-number").inner_text() == "1"

    page.click("[data-nav=submit]")
    page.wait_for_url(re.compile(r"/collect/saved/"))
    assert RECEIPT.match(page.locator("#receipt-code").inner_text().strip())
    assert page.js_errors == []

    saved = submissions()
    assert len(saved) == 1
    answers = saved[0].answers
    assert answers["consent"] == "yes"
    assert answers["age"] == 30
    assert answers["comment"] == "Nothing"
    assert answers["fruits"] == ["apple", "other"]
    assert answers["fruits_other"] == "Kiwi"
    assert (answers["region"], answers["district"]) == ("south", "s1")
    assert answers["member"] == [{"member_name": "Bolat", "member_age": 41}]
    page.context.close()


def test_double_click_on_submit_stores_once(
    browser: Any, live_server: LiveServer, volunteer: str, small_form: Any
) -> None:
    page = new_page(browser, live_server.url, volunteer)
    page.goto(f"{live_server.url}/collect/v/{small_form.id}")
    fill_first_section(page)
    page.click("[data-nav=next]")
    page.check("input[name=region][value=north]")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    live_server.network.delay = 1.0
    # Clicks from inside the page: Playwright's own clicks wait for the navigation they start.
    state = page.locator("[data-nav=submit]").evaluate(
        """button => {
            button.click();
            button.click();  // a double click
            setTimeout(() => button.click(), 300);  // and an impatient one: saving is slow
            return [button.disabled, button.textContent];
        }"""
    )
    assert state == [True, "Saving…"]
    page.wait_for_url(re.compile(r"/collect/saved/"))
    assert len(posts) == 1
    assert len(submissions()) == 1
    page.context.close()


def test_server_errors_shown_next_to_the_field_with_answers_kept(
    browser: Any, live_server: LiveServer, volunteer: str, small_form: Any
) -> None:
    # Without JavaScript the page is one long form and the server does the checking.
    page = new_page(browser, live_server.url, volunteer, java_script_enabled=False)
    page.goto(f"{live_server.url}/collect/v/{small_form.id}")
    assert page.locator("#section-details").is_visible()
    fill_first_section(page)
    page.check("input[name=fruits][value=pear]")
    page.click("[data-nav=submit]")
    assert page.locator("#region-error").inner_text().endswith("This question requires an answer.")
    assert page.locator("[data-question=region]").get_attribute("aria-invalid") == "true"
    assert page.locator(".form-message").is_visible()
    assert page.locator("input[name=consent][value=yes]").is_checked()
    assert page.locator("#age").input_value() == "30"
    assert page.locator("#comment").input_value() == "Nothing"
    assert page.locator("input[name=fruits][value=pear]").is_checked()
    assert submissions() == []
    page.context.close()

    # With JavaScript, a server error opens its section and focuses the field.
    page = new_page(browser, live_server.url, volunteer)
    page.goto(f"{live_server.url}/collect/v/{small_form.id}")
    fill_first_section(page)
    with page.expect_navigation():
        page.evaluate("document.getElementById('survey-form').submit()")  # skips the page's checks
    assert page.locator("#progress-status").inner_text() == "Section 2 of 2: Details"
    assert page.locator("#region-error").is_visible()
    assert page.evaluate("document.activeElement.name") == "region"
    page.check("input[name=region][value=north]")
    assert not page.locator("#region-error").is_visible()
    assert page.js_errors == []
    page.context.close()


def reveal_everything(page: Any) -> None:
    """Answer consent and age, add a household member, then show every section at once."""
    page.click("[data-section-link=consent_section] a")
    page.check("input[name=consent][value=yes]")
    page.fill("#age", "64")
    page.click("[data-section-link=household] a")
    page.fill("#household_size", "3")
    page.click("button.add-entry")
    page.evaluate(
        "document.querySelectorAll('section.form-section').forEach(s => s.hidden = false)"
    )


def test_default_form_fits_a_phone_and_passes_axe_in_every_language(
    browser: Any, live_server: LiveServer, volunteer: str, default_instrument: Any
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = new_page(browser, live_server.url, volunteer)
    axe = Axe()
    for language in ("kk", "ru", "en"):
        page.goto(f"{live_server.url}/collect/v/{default_instrument.id}?lang={language}")
        assert page.evaluate("document.documentElement.lang") == language
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        reveal_everything(page)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        violations = axe.run(page).response["violations"]
        serious = [
            f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}"
            for v in violations
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], f"{language}: {serious}"
    assert page.js_errors == []
    page.context.close()
