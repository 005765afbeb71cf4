"""The ODK question types on the web form (issue 9, part 2): drawn, typed, checked, stored."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.extensions import db

SURVEY = [
    ["type", "name", "label", "parameters", "appearance"],
    ["start", "start", "", "", ""],
    ["end", "end", "", "", ""],
    ["today", "today", "", "", ""],
    ["deviceid", "deviceid", "", "", ""],
    ["time", "at", "At what time?", "", ""],
    ["dateTime", "when", "When exactly?", "", ""],
    ["range", "score", "Score", "start=0 end=10 step=2", ""],
    ["geopoint", "where", "Where?", "", ""],
    ["geotrace", "path", "Path", "", ""],
    ["barcode", "code", "Code", "", ""],
    ["rank", "order", "Order", "", ""],
    ["text", "phone", "Phone digits", "", "numbers"],
    ["int", "count", "Count", "", "thousands-sep"],
]
CHOICES = [
    ["list_name", "name", "label"],
    ["order", "a", "A"],
    ["order", "b", "B"],
    ["order", "c", "C"],
]
SURVEY[11][0] = "rank order"


@pytest.fixture
def version(create_instrument, survey_round):
    return create_instrument(survey=SURVEY, choices=CHOICES, settings={"form_id": "widgets"})


def post(client, version, data):
    payload = {"_instance_id": f"uuid:{uuid.uuid4()}", "_started_at": "2025-01-10T10:00:00+00:00"}
    payload.update(data)
    return client.post(f"/collect/v/{version.id}", data=payload)


VALID = {
    "at": "14:30",
    "when": "2025-01-10T14:30",
    "score": "4",
    "where": "50.41234 80.23456 210 4.5",
    "path": "50.41 80.23; 50.42 80.25",
    "code": "ABC-123",
    "order": ["c", "a", "b"],
    "phone": "123",
    "count": "1200",
}


def test_widgets_are_drawn_for_each_type(client, version, auth) -> None:
    auth.login("volunteer")
    page = client.get(f"/collect/v/{version.id}").text
    assert 'name="at" id="at" value="" type="time"' in page
    assert 'type="datetime-local"' in page
    assert 'type="number" inputmode="decimal" class="short" min="0" max="10" step="2"' in page
    assert 'data-geopoint="1"' in page and "Use my location" in page
    assert page.count('<select name="order"') == 3
    assert 'name="start"' not in page and 'name="deviceid"' not in page
    assert "geolocation.js" in page


def test_typed_answers_are_checked_and_stored(client, version, auth) -> None:
    auth.login("volunteer")
    response = post(client, version, VALID)
    assert response.status_code == 302, response.text[-2000:]
    answers = db.session.execute(select(Submission)).scalar_one().answers
    assert answers == {
        "at": "14:30:00",
        "when": "2025-01-10T14:30:00",
        "score": 4,
        "where": "50.41 80.23 0 0",  # coarsened: precise locations were not confirmed
        "path": "50.41 80.23 0 0; 50.42 80.25 0 0",
        "code": "ABC-123",
        "order": ["c", "a", "b"],
        "phone": "123",
        "count": 1200,
        "start": "2025-01-10T10:00:00+00:00",
        "today": "2025-01-10",
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("at", "25:00", "Enter a time"),
        ("where", "95 80", "Enter a location"),
        ("where", "1_0 2", "Enter a location"),
        ("score", "5", "Choose a number from 0 to 10, in steps of 2"),
        ("score", "12", "Choose a number from 0 to 10"),
        ("path", "50 80", "Enter points"),
        ("order", ["a", "a", "b"], "Put every option in order"),
        ("when", "yesterday", "Enter a date and time"),
    ],
)
def test_mistyped_answers_are_refused(client, version, auth, field, value, message) -> None:
    auth.login("volunteer")
    response = post(client, version, {**VALID, field: value})
    assert response.status_code == 422
    assert message in response.text


def test_instance_name_is_shown_in_lists_of_submissions(
    client, create_instrument, survey_round, auth
) -> None:
    version = create_instrument(
        survey=SURVEY,
        choices=CHOICES,
        settings={"form_id": "named", "instance_name": "concat(${code}, ' / ', ${score})"},
    )
    auth.login("volunteer")
    assert post(client, version, VALID).status_code == 302
    assert "ABC-123 / 4" in client.get("/submissions").text
    auth.logout()
    auth.login("coordinator")
    assert "ABC-123 / 4" in client.get("/review?status=all").text
