"""A repeat inside a repeat in a real browser: the script adds outer and inner entries, and the
rules of inner entries (relevant from '../age') run on the page (offline:
test_nested_repeats_offline_browser.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.extensions import db
from tests.browser_support import LiveServer, new_page
from tests.survey.collection.test_nested_repeats import NESTED

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser


def test_inner_entries_are_added_and_follow_their_rules_in_the_browser(
    browser: Any,
    live_server: LiveServer,
    create_user: Any,
    survey_round: Any,
    create_instrument: Any,
) -> None:
    create_user("vol", "volunteer")
    version = create_instrument(survey=NESTED)
    page = new_page(browser, live_server.url, "vol")
    page.goto(f"{live_server.url}/collect/v/{version.id}")
    page.fill("[name=village]", "Akkol")
    page.click("button[value='add:household']")  # by the script, from the entry template
    page.fill("[name=household-0-head]", "Aru")
    # Inner entries are made by the page too: no request, what was typed stays.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.method))
    page.click("button[value='add:household-0-member']")
    page.wait_for_selector("[name=household-0-member-0-age]")
    assert page.input_value("[name=household-0-head]") == "Aru"
    page.click("button[value='add:household-0-member']")
    page.wait_for_selector("[name=household-0-member-1-age]")
    school = page.locator("[data-key=household-0-member-1-school]")
    assert "POST" not in requests
    page.fill("[name=household-0-member-0-age]", "40")
    page.fill("[name=household-0-member-1-age]", "30")
    assert not school.is_visible()
    page.fill("[name=household-0-member-1-age]", "9")
    assert school.is_visible()  # ../age < 18, read in its own entry
    page.fill("[name=household-0-member-1-school]", "No. 4")

    page.click("[data-nav=submit]")
    page.wait_for_url(re.compile(r"/collect/saved/"))
    assert page.js_errors == []
    db.session.rollback()
    (saved,) = db.session.execute(select(Submission)).scalars()
    assert saved.answers["household"] == [
        {
            "head": "Aru",
            "member": [
                {"age": 40, "number": 1, "head_of": "Aru"},
                {"age": 9, "number": 2, "school": "No. 4", "head_of": "Aru"},
            ],
            "members": 2,
            "oldest": 40,
        }
    ]
    page.context.close()
