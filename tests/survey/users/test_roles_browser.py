"""In a real browser: a volunteer enters an interview and finds it in their list; an advocate
logging in afterwards cannot open it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.extensions import db
from tests.browser_support import LiveServer, new_page

pytestmark = pytest.mark.browser

SURVEY = [
    ["type", "name", "label", "required"],
    ["begin_group", "intro", "Introduction", ""],
    ["select_one yes_no", "consent", "Do you agree to take part?", "yes"],
    ["integer", "age", "Age in years", "yes"],
    ["end_group", "", "", ""],
]
CHOICES = [["list_name", "name", "label"], ["yes_no", "yes", "Yes"], ["yes_no", "no", "No"]]


def test_volunteer_enters_and_advocate_cannot_open(
    browser: Any,
    live_server: LiveServer,
    create_user: Any,
    create_instrument: Any,
    make_xlsform: Any,
    survey_round: Any,
) -> None:
    version = create_instrument(
        make_xlsform(SURVEY, CHOICES, {"consent_question": "consent", "age_question": "age"})
    )
    create_user("vol", "volunteer")
    create_user("adv", "advocate")
    page = new_page(browser, live_server.url, "vol")
    page.goto(f"{live_server.url}/collect/v/{version.id}")
    page.check("input[name=consent][value=yes]")
    page.fill("input[name=age]", "64")
    page.click("[data-nav=submit]")
    page.wait_for_url("**/collect/saved/**")
    code = page.inner_text("#receipt-code").strip()
    page.goto(f"{live_server.url}/submissions")
    assert code in page.inner_text("main")
    submission = db.session.execute(select(Submission)).scalar_one()
    page.context.close()

    advocate = new_page(browser, live_server.url, "adv")
    response = advocate.goto(f"{live_server.url}/submissions/{submission.id}")
    assert response is not None and response.status == 403
    assert "You do not have permission" in advocate.inner_text("main")
    # The page's text, not its source: a random CSRF token may hold "64".
    assert "64" not in advocate.inner_text("body")
    listing = advocate.goto(f"{live_server.url}/submissions")
    assert listing is not None and listing.status == 403
    advocate.context.close()
