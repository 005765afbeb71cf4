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
from tests.survey.collection.test_offline_browser import QUEUE_AND_KEY

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

SURVEY = [
    ["type", "name", "label", "required"],
    ["select_one_from_file districts.csv", "district", "District", "yes"],
    ["geopoint", "where", "Where is the water point?", ""],
    ["image", "photo", "Photo of the water point", "yes"],
]
DISTRICTS = b"name,label\nnorth,North district\nsouth,South district\n"


def import_points(survey: list[list[str]], form_id: str) -> Any:
    """The form imported with its districts file, photos kept, for the volunteer 'vol'."""
    from survey.instruments.services import import_instrument

    version, _summary = import_instrument(
        xlsform_bytes(survey, settings={"form_id": form_id, "version": "1"}),
        f"{form_id}.xlsx",
        attachments={"districts.csv": DISTRICTS},
        keep=("media",),
    )
    db.session.commit()
    return version


@pytest.fixture
def media_form(app: Any, create_user: Any, survey_round: Any) -> Any:
    create_user("vol", "volunteer")
    return import_points(SURVEY, "points")


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


NOTED = [*SURVEY, ["text", "note", "Anything to add?", ""]]

# The queued entries' files: how many per entry, each sealed file's size, and whether the
# user's key opens it to the bytes chosen (given as base64).
SEALED_FILES = (
    """async ([key, expected]) => {"""
    + QUEUE_AND_KEY
    + """
  const want = Uint8Array.from(atob(expected), (c) => c.charCodeAt(0));
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const out = [];
  for (const entry of entries) {
    for (const sealed of entry.files) {
      const plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv,
        additionalData: new TextEncoder().encode(entry.user) }, aes, sealed.data));
      out.push({ stored: sealed.data.byteLength, plainText: same(new Uint8Array(sealed.data)
        .slice(0, want.length), want), opened: same(plain, want) });
    }
  }
  return out;
}"""
)


@pytest.fixture
def noted_media_form(app: Any, create_user: Any, survey_round: Any) -> Any:
    create_user("vol", "volunteer")
    return import_points(NOTED, "noted_points")


def test_photos_wait_offline_sealed_and_are_sent_with_their_interview(
    browser: Any, live_server: LiveServer, noted_media_form: Any, tmp_path: Any
) -> None:
    import base64
    import json

    from tests.survey.collection.test_offline_browser import open_form_for_offline

    expect = playwright_api.expect
    original = photo_with_gps()
    picture = tmp_path / "water point.jpg"
    picture.write_bytes(original)
    page = new_page(browser, live_server.url, "vol", accept_downloads=True)
    form_url = f"{live_server.url}/collect/v/{noted_media_form.id}"
    open_form_for_offline(page, form_url)
    key = json.loads(page.evaluate("sessionStorage.getItem('birge-offline-key')"))["key"]

    def interview(district: str, note: str) -> str:
        instance_id = page.input_value("[name=_instance_id]")
        page.get_by_label(district).check()
        page.set_input_files("#photo", str(picture))
        page.fill("#note", note)
        page.click("[data-nav=submit]")
        return instance_id

    page.context.set_offline(True)
    first = interview("South district", "Near the school")
    expect(page.locator("#offline-count")).to_have_text("1 interview waiting to be sent")
    assert page.evaluate("document.querySelector('#photo').files.length") == 0  # a blank form
    second = interview("North district", "Call me on +7 (701) 123-45-67")
    expect(page.locator("#offline-count")).to_have_text("2 interviews waiting to be sent")

    # The photo waits as sealed bytes, which only this user's key opens.
    sealed = page.evaluate(SEALED_FILES, [key, base64.b64encode(original).decode()])
    assert sealed == [{"stored": len(original) + 16, "plainText": False, "opened": True}] * 2
    with page.expect_download() as download:
        page.click("#offline-export")  # the last resort carries the photos too
    exported = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert [item["files"] for item in exported["interviews"]] == [
        [
            {
                "field": "photo",
                "filename": "water point.jpg",
                "type": "image/jpeg",
                "base64": base64.b64encode(original).decode(),
            }
        ]
    ] * 2
    assert db.session.execute(select(Submission)).first() is None

    page.context.set_offline(False)  # the first is saved; the second is refused, and kept
    problem = page.locator("#offline-problems li")
    expect(problem).to_contain_text("seems to contain a phone number")
    db.session.rollback()
    saved = db.session.execute(select(Submission)).scalar_one()
    assert (saved.instance_id, saved.answers["district"]) == (first, "south")
    media = db.session.execute(select(SubmissionMedia)).scalar_one()
    assert saved.answers["photo"] == media.filename
    assert not Image.open(io.BytesIO(media.data)).getexif()

    problem.locator("button").click()  # opened to fix: the photo is chosen again
    expect(page.locator("#offline-message")).to_contain_text("Anything to add?: This answer")
    assert page.evaluate("document.querySelector('#photo').files[0].name") == "water point.jpg"
    assert page.input_value("[name=_instance_id]") == second
    page.fill("#note", "Nothing to add")
    page.click("[data-nav=submit]")
    page.wait_for_url("**/collect/saved/**")
    db.session.rollback()
    rows = db.session.execute(select(Submission).order_by(Submission.id)).scalars().all()
    assert [(s.instance_id, s.answers["note"]) for s in rows] == [
        (first, "Near the school"),
        (second, "Nothing to add"),
    ]
    assert (
        db.session.execute(select(SubmissionMedia)).scalars().all()[1].submission_id == rows[1].id
    )
    assert page.js_errors == []
    page.context.close()


def test_files_too_large_to_send_are_refused_with_the_answers_kept_on_screen(
    app: Any, browser: Any, live_server: LiveServer, noted_media_form: Any, tmp_path: Any
) -> None:
    app.config["MEDIA_MAX_IMAGE_BYTES"] = 50_000  # a post may then carry about 1.1 MB
    picture = tmp_path / "huge.jpg"
    picture.write_bytes(photo_with_gps() + bytes(2_500_000))
    page = new_page(browser, live_server.url, "vol")
    page.goto(f"{live_server.url}/collect/v/{noted_media_form.id}")
    page.get_by_label("South district").check()
    page.fill("#note", "Typed before the photo")
    page.set_input_files("#photo", str(picture))
    page.click("[data-nav=submit]")
    playwright_api.expect(page.locator("#offline-message")).to_contain_text(
        "Nothing was saved: the files chosen are together larger than 2 MB"
    )
    assert page.url.endswith(f"/collect/v/{noted_media_form.id}")  # the same page, not an error
    assert page.get_by_label("South district").is_checked()
    assert page.input_value("#note") == "Typed before the photo"
    assert page.locator("#offline-count").inner_text() == ""  # not queued as if offline
    db.session.rollback()
    assert db.session.execute(select(Submission)).first() is None
    assert page.js_errors == []
    page.context.close()
