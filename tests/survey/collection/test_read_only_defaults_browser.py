"""A read-only choice question whose default is an expression keeps that default when the
interview is sent (issue 9): a disabled input is not posted, so the page posts a hidden copy of
the choices shown, with and without script."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.extensions import db
from tests.browser_support import LiveServer, new_page

pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

SURVEY = [
    ["type", "name", "label", "read_only", "appearance", "default"],
    ["select_one yn", "fee", "Is a fee charged?", "yes", "", "if(true(), 'yes', 'no')"],
    ["select_multiple tool", "tools", "Tools", "yes", "", "concat('saw', ' ', 'axe')"],
    ["select_one yn", "paid", "Paid?", "yes", "minimal", "if(true(), 'no', 'yes')"],
    ["integer", "age", "Age", "", "", ""],
    ["select_one yn", "adult", "Adult?", "${age} != ''", "", "if(true(), 'yes', 'no')"],
]  # fmt: skip
CHOICES = [
    ["list_name", "name", "label"],
    ["yn", "yes", "Yes"],
    ["yn", "no", "No"],
    ["tool", "saw", "Saw"],
    ["tool", "axe", "Axe"],
    ["tool", "rope", "Rope"],
]


@pytest.fixture
def volunteer(create_user: Any, survey_round: Any) -> str:
    create_user("vol", "volunteer")
    return "vol"


def saved_answers() -> dict[str, Any]:
    db.session.rollback()
    (submission,) = db.session.execute(select(Submission)).scalars()
    return submission.answers


@pytest.mark.parametrize("script", [True, False], ids=["script", "no-script"])
def test_read_only_choices_keep_their_default(
    browser: Any,
    live_server: LiveServer,
    volunteer: str,
    create_instrument: Any,
    make_xlsform: Any,
    script: bool,
) -> None:
    version = create_instrument(make_xlsform(SURVEY, CHOICES, {"form_id": "ro_defaults"}))
    page = new_page(browser, live_server.url, volunteer, java_script_enabled=script)
    page.goto(f"{live_server.url}/collect/v/{version.id}")
    assert page.locator("input[type=radio][name=fee][value=yes]").is_checked()
    assert page.locator("input[type=radio][name=fee][value=yes]").is_disabled()
    assert page.locator("select[name=paid]").is_disabled()
    page.fill("#age", "40")
    if script:
        page.locator("#age").dispatch_event("input")
        assert page.locator("input[type=radio][name=adult][value=yes]").is_disabled()
    page.click("[data-nav=submit]")
    page.wait_for_url("**/collect/saved/**")
    answers = saved_answers()
    assert answers["fee"] == "yes"
    assert answers["tools"] == ["saw", "axe"]
    assert answers["paid"] == "no"
    assert answers["adult"] == "yes"
    if script:
        assert page.js_errors == []  # type: ignore[attr-defined]
