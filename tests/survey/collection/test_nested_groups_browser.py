"""Nested groups in a real browser: a group shows while any of its items does, inside repeat
entries added by the script too (issue 9, part 3)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.extensions import db
from tests.browser_support import LiveServer, new_page
from tests.survey.instruments.test_structure import NESTED

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser


def test_nested_groups_follow_their_relevant_and_entries_get_theirs(
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
    dwelling = page.locator("fieldset[data-group=dwelling]")
    water = page.locator("fieldset[data-group=water]")
    assert dwelling.is_visible()
    assert not water.is_visible()  # ${rooms} > 0 with rooms unanswered
    page.fill("[name=rooms]", "3")
    assert water.is_visible()
    page.fill("[name=village]", "none")
    assert not dwelling.is_visible() and not water.is_visible()
    page.fill("[name=village]", "Akkol")
    assert dwelling.is_visible() and water.is_visible()
    page.fill("[name=kind]", "well")

    page.click("button.add-entry")
    health = page.locator(".repeat-entry fieldset[data-group=health]")
    assert health.count() == 1 and health.is_visible()
    page.fill("[name=member-0-mname]", "Aru")
    page.fill("[name=member-0-age]", "34")
    page.fill("[name=member-0-health_kind]", "polyclinic")
    page.fill("[name=rooms]", "1")
    assert not health.is_visible()
    page.fill("[name=rooms]", "3")
    assert health.is_visible()

    page.click("[data-nav=submit]")
    page.wait_for_url(re.compile(r"/collect/saved/"))
    assert page.js_errors == []
    db.session.rollback()
    (saved,) = db.session.execute(select(Submission)).scalars()
    assert saved.answers == {
        "village": "Akkol",
        "rooms": 3,
        "kind": "well",
        "member": [{"mname": "Aru", "age": 34, "health_kind": "polyclinic"}],
    }
    page.context.close()
