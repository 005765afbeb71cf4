"""The review queue in a real browser at 10,000 submissions: paging, filters, search and bulk
approval with a confirmation, on a phone."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from survey.collection.models import Submission
from survey.extensions import db
from tests.browser_support import PHONE, LiveServer, new_page

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

SURVEY = [["type", "name", "label"], ["select_one district", "district", "District"]]
CHOICES = [
    ["list_name", "name", "label"],
    ["district", "semey", "Semey"],
    ["district", "urzhar", "Urzhar"],
]


@pytest.fixture
def ten_thousand(create_instrument: Any, create_user: Any, survey_round: Any) -> Any:
    """10,000 submissions, every tenth from Urzhar, a minute apart; returns the coordinator."""
    version = create_instrument(
        survey=SURVEY, choices=CHOICES, settings={"district_question": "district"}
    )
    coordinator = create_user("coord", "coordinator")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = [
        {
            "instance_id": f"uuid:{uuid.uuid4()}",
            "receipt_code": f"{index:04d}-TEST",
            "instrument_version_id": version.id,
            "round_id": survey_round.id,
            "entered_by_id": coordinator.id,
            "answers": {},
            "answers_sha256": "0" * 64,
            "language": "en",
            "source": "web",
            "district": "urzhar" if index % 10 == 0 else "semey",
            "received_at": start + dt.timedelta(minutes=index),
            "review_status": "pending",
            "is_demo": False,
        }
        for index in range(10_000)
    ]
    db.session.execute(Submission.__table__.insert(), rows)
    db.session.commit()
    return coordinator


def test_review_queue_at_10k_pages_filters_and_approves(
    browser: Any, live_server: LiveServer, ten_thousand: Any
) -> None:
    page = new_page(browser, live_server.url, "coord")
    page.goto(f"{live_server.url}/review")
    codes = page.locator("td.code")
    assert codes.count() == 50
    assert codes.first.inner_text() == "0000-TEST"  # oldest pending first
    assert "page 1 of 200" in page.locator("#queue-summary").inner_text()
    assert "(10000)" in page.locator("nav.tabs a[aria-current=page]").inner_text()
    page.click("a[rel=next]")
    assert page.locator("td.code").first.inner_text() == "0050-TEST"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.click("details.filters summary")
    page.select_option("#district", "urzhar")
    page.click("#queue-filters button[type=submit]")
    assert "1000 submissions" in page.locator("#queue-summary").inner_text()
    assert page.locator("td.code").first.inner_text() == "0000-TEST"
    assert "Urzhar" in page.locator("tbody tr").first.inner_text()

    page.click("details.filters summary") if not page.locator("#q").is_visible() else None
    page.fill("#q", "1234-test")
    page.select_option("#district", "")
    page.click("#queue-filters button[type=submit]")
    assert page.locator("td.code").all_inner_texts() == ["1234-TEST"]

    page.goto(f"{live_server.url}/review")
    page.check("#bulk-approve tbody tr:nth-child(1) input[type=checkbox]")
    page.check("#bulk-approve tbody tr:nth-child(2) input[type=checkbox]")
    page.click("#bulk-approve button[type=submit]")
    assert "Approve 2 submissions?" in page.inner_text("main")
    db.session.rollback()
    approved = select(func.count()).where(Submission.review_status == "approved")
    assert db.session.execute(approved).scalar_one() == 0
    page.click("#confirm-approve")
    page.wait_for_url("**/review**")
    assert "2 submissions approved." in page.inner_text("main")
    db.session.rollback()
    assert db.session.execute(approved).scalar_one() == 2
    assert page.locator("td.code").first.inner_text() == "0002-TEST"
    assert page.js_errors == []  # type: ignore[attr-defined]
