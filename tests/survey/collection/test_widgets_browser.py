"""The ODK widgets in a real browser (issue 9, part 2): time, dateTime, range, geopoint (the
browser's location with its accuracy, and typed), geotrace and rank, filled as a volunteer
would and read back from what the server stored."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.extensions import db
from tests.browser_support import LiveServer, new_page

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

SURVEY = [
    ["type", "name", "label", "required", "relevant", "constraint", "parameters"],
    ["time", "at", "At what time?", "yes", "", "", ""],
    ["dateTime", "when", "When exactly?", "yes", "", "", ""],
    ["range", "score", "Score", "yes", "", ". != 8", "start=0 end=10 step=2"],
    ["text", "why_high", "Why so high?", "", "${score} >= 6", "", ""],
    ["geopoint", "here", "Where are you?", "yes", "", "", ""],
    ["geopoint", "there", "Where is the well?", "", "", "", ""],
    ["geotrace", "path", "The road to the well", "", "", "", ""],
    ["rank order", "order", "Put them in order", "yes", "", "", ""],
    ["text", "why_c", "Why C first?", "", "selected-at(${order}, 0) = 'c'", "", ""],
]  # fmt: skip
CHOICES = [
    ["list_name", "name", "label"],
    ["order", "a", "A"],
    ["order", "b", "B"],
    ["order", "c", "C"],
]
POSITION = {"latitude": 50.412345, "longitude": 80.234567, "accuracy": 12}


@pytest.fixture
def widgets_form(create_user: Any, survey_round: Any, create_instrument: Any) -> Any:
    """The form of the six widgets; precise locations confirmed, so that accuracy is kept."""
    create_user("vol", "volunteer")
    return create_instrument(
        survey=SURVEY,
        choices=CHOICES,
        settings={"form_id": "widgets"},
        keep=("precise_location",),
    )


def stored() -> list[dict[str, Any]]:
    db.session.rollback()
    return [s.answers for s in db.session.execute(select(Submission)).scalars()]


def test_every_widget_filled_in_the_browser_is_stored(
    browser: Any, live_server: LiveServer, widgets_form: Any
) -> None:
    page = new_page(
        browser, live_server.url, "vol", geolocation=POSITION, permissions=["geolocation"]
    )
    page.goto(f"{live_server.url}/collect/v/{widgets_form.id}")
    page.fill("#at", "14:30:15")
    page.fill("#when", "2025-01-10T09:05:00")

    # range: a number input with the parameters as its bounds; its value drives relevance.
    score = page.locator("#score")
    assert [score.get_attribute(a) for a in ("min", "max", "step")] == ["0", "10", "2"]
    why_high = page.locator("[data-question=why_high]")
    page.fill("#score", "4")
    assert not why_high.is_visible()
    page.fill("#score", "8")
    assert why_high.is_visible()
    score.press("Tab")
    assert page.locator("#score-error").inner_text() != ""  # the constraint, checked in the page
    page.fill("#score", "6")
    assert page.locator("#score-error").inner_text() == ""
    page.fill("#why_high", "Good harvest")

    # geopoint: "Use my location" writes the browser's position with its accuracy.
    locate = page.locator("button[data-geolocate=here]")
    assert locate.is_visible()
    locate.click()
    page.wait_for_function("document.getElementById('here').value !== ''")
    assert page.locator("#here").input_value() == "50.412345 80.234567 0.0 12.0"
    assert page.locator("[data-geolocate-status=here]").inner_text() == "± 12 m"
    # ... and a location can be typed instead.
    page.fill("#there", "50.5 80.1")
    page.fill("#path", "50.41 80.23; 50.42 80.25")

    # rank: one drop-down per position; the order drives relevance live.
    why_c = page.locator("[data-question=why_c]")
    for position, code in enumerate(["c", "a", "b"]):
        page.select_option(f"#order-{position}", code)
    assert why_c.is_visible()
    page.fill("#why_c", "It is closest")

    page.click("[data-nav=submit]")
    page.wait_for_url(re.compile(r"/collect/saved/"))
    assert page.js_errors == []
    (answers,) = stored()
    assert {k: v for k, v in answers.items() if k not in ("start", "today")} == {
        "at": "14:30:15",
        "when": "2025-01-10T09:05:00",
        "score": 6,
        "why_high": "Good harvest",
        "here": "50.412345 80.234567 0 12",
        "there": "50.5 80.1 0 0",
        "path": "50.41 80.23 0 0; 50.42 80.25 0 0",
        "order": ["c", "a", "b"],
        "why_c": "It is closest",
    }
    page.context.close()


def test_required_widgets_are_checked_in_the_page(
    browser: Any, live_server: LiveServer, widgets_form: Any
) -> None:
    page = new_page(browser, live_server.url, "vol")
    page.goto(f"{live_server.url}/collect/v/{widgets_form.id}")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.click("[data-nav=submit]")
    for key in ("at", "when", "score", "here", "order"):
        assert page.locator(f"p.error[data-error-for={key}]").inner_text() != "", key
    assert posts == []
    page.fill("#at", "08:00")
    page.fill("#when", "2025-01-10T08:00")
    page.fill("#score", "2")
    page.fill("#here", "50.41 80.23 310 4.5")
    rank_error = page.locator("p.error[data-error-for=order]")
    for position, code in enumerate(["a", "b", "a"]):
        page.select_option(f"#order-{position}", code)
    assert rank_error.inner_text() == "Put every option in order, each one once."
    page.select_option("#order-2", "c")
    assert rank_error.inner_text() == ""
    page.click("[data-nav=submit]")
    page.wait_for_url(re.compile(r"/collect/saved/"))
    assert page.js_errors == []
    (answers,) = stored()
    assert answers["here"] == "50.41 80.23 310 4.5"
    assert answers["order"] == ["a", "b", "c"]
    assert (answers["at"], answers["when"], answers["score"]) == (
        "08:00:00",
        "2025-01-10T08:00:00",
        2,
    )
    page.context.close()


def test_a_refused_location_says_so_in_the_page_language_and_typing_still_works(
    browser: Any, live_server: LiveServer, widgets_form: Any
) -> None:
    page = new_page(browser, live_server.url, "vol")  # location not allowed for this site
    page.goto(f"{live_server.url}/collect/v/{widgets_form.id}?lang=ru")
    page.click("button[data-geolocate=here]")
    status = page.locator("[data-geolocate-status=here]")
    page.wait_for_function("s => !['', '…'].includes(s.textContent)", arg=status.element_handle())
    assert status.inner_text() == page.locator("button[data-geolocate=here]").get_attribute(
        "data-denied"
    )
    assert status.inner_text().startswith("Этот браузер")  # not the browser's English message
    assert page.locator("#here").input_value() == ""
    page.fill("#here", "50.41 80.23")
    assert page.locator("p.error[data-error-for=here]").inner_text() == ""
    assert page.js_errors == []
    page.context.close()
