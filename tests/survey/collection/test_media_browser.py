"""A form with a photo, a location and choices from a CSV attachment, filled in a real browser
(issue 9: "a browser test ... for one with a geopoint and an image")."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from survey.collection.models import Submission, SubmissionMedia
from survey.extensions import db
from tests.browser_support import LiveServer, new_page
from tests.factories import xlsform_bytes
from tests.survey.collection.test_media import photo_with_gps

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

SURVEY = [
    ["type", "name", "label", "required"],
    ["select_one_from_file districts.csv", "district", "District", "yes"],
    ["geopoint", "where", "Where is the water point?", ""],
    ["image", "photo", "Photo of the water point", "yes"],
]
DISTRICTS = b"name,label\nnorth,North district\nsouth,South district\n"


@pytest.fixture
def media_form(app: Any, create_user: Any, survey_round: Any) -> Any:
    from survey.instruments.services import import_instrument

    create_user("vol", "volunteer")
    version, _summary = import_instrument(
        xlsform_bytes(SURVEY, settings={"form_id": "points", "version": "1"}),
        "points.xlsx",
        attachments={"districts.csv": DISTRICTS},
        keep=("media",),
    )
    db.session.commit()
    return version


def test_a_photo_a_location_and_a_choice_from_a_file(
    browser: Any, live_server: LiveServer, media_form: Any, tmp_path: Any
) -> None:
    picture = tmp_path / "water point.jpg"
    picture.write_bytes(photo_with_gps())
    page = new_page(browser, live_server.url, "vol")
    page.goto(f"{live_server.url}/collect/v/{media_form.id}")
    page.get_by_label("South district").check()
    page.fill("#where", "43.2567 76.9286")
    page.set_input_files("#photo", str(picture))
    page.click("[data-nav=submit]")
    page.wait_for_url("**/collect/saved/**")
    assert not page.js_errors
    db.session.rollback()
    submission = db.session.execute(select(Submission)).scalar_one()
    stored = db.session.execute(select(SubmissionMedia)).scalar_one()
    assert submission.answers["district"] == "south"
    assert submission.answers["where"] == "43.26 76.93 0 0"  # coarsened: not confirmed at import
    assert submission.answers["photo"] == stored.filename
    assert not Image.open(io.BytesIO(stored.data)).getexif()
