"""What the offline form needs from the server: /sw.js, /collect/token, and the form's JSON answers
to interviews sent from the queue (survey/static/js/offline.js)."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import func, select

from survey.collection.models import Refusal, Submission
from survey.extensions import db
from tests.factories import PASSWORD

SURVEY = [
    ["type", "name", "label", "required", "relevant"],
    ["select_one yn", "consent", "Consent", "yes"],
    ["integer", "age", "Age", "yes", "${consent} = 'yes'"],
    ["text", "message", "Message"],
]
CHOICES = [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]]
JSON = {"Accept": "application/json"}


@pytest.fixture
def version(create_instrument, survey_round):
    return create_instrument(
        survey=SURVEY,
        choices=CHOICES,
        settings={"form_id": "mini", "consent_question": "consent", "age_question": "age"},
    )


@pytest.fixture
def volunteer(auth):
    return auth.login("volunteer")


def send(client, version, instance_id: str | None = None, headers=JSON, **answers):
    data = {
        "_instance_id": instance_id or f"uuid:{uuid.uuid4()}",
        "_started_at": dt.datetime.now(dt.UTC).isoformat(),
        "consent": "yes",
        "age": "67",
        "message": "We need doctors",
        **answers,
    }
    return client.post(f"/collect/v/{version.id}", data=data, headers=headers)


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_service_worker_is_served_from_the_root(client) -> None:
    response = client.get("/sw.js")  # public: the login page is in its scope too
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "birge-" in response.text
    assert "addEventListener('fetch'" in response.text
    again = client.get("/sw.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_token_needs_a_login_and_is_fresh_json(client, auth) -> None:
    anonymous = client.get("/collect/token")
    assert anonymous.status_code == 302
    assert "/login" in anonymous.headers["Location"]
    for role in ("volunteer", "advocate"):
        auth.login(role)
        response = client.get("/collect/token")
        assert response.status_code == 200
        assert response.is_json
        assert re.fullmatch(r"[\w.\-]{20,}", response.json["csrf_token"])
        assert response.headers["Cache-Control"] == "no-store"
        auth.logout()


def test_saved_then_duplicate(client, version, volunteer) -> None:
    instance_id = f"uuid:{uuid.uuid4()}"
    first = send(client, version, instance_id)
    assert first.status_code == 201
    submission = db.session.execute(select(Submission)).scalar_one()
    assert first.json == {
        "status": "saved",
        "receipt_code": submission.receipt_code,
        "errors": {},
        "message": None,
        "location": f"/collect/saved/{instance_id}",
    }
    again = send(client, version, instance_id)
    assert again.status_code == 201
    assert again.json["status"] == "duplicate"
    assert again.json["receipt_code"] == submission.receipt_code
    assert count(Submission) == 1


def test_invalid_keeps_nothing_and_names_the_fields(client, version, volunteer) -> None:
    response = send(client, version, age="", message="Call +7 (701) 123-45-67")
    assert response.status_code == 422
    answer = response.json
    assert answer["status"] == "invalid"
    assert answer["receipt_code"] is None
    assert answer["errors"]["age"] == ["This question requires an answer."]
    assert "phone number" in answer["errors"]["message"][0]
    assert answer["message"] == "Please check 2 answer(s) marked below. Nothing is lost."
    assert count(Submission) == 0


def test_conflict_when_the_instance_id_was_saved_with_other_answers(
    client, version, volunteer
) -> None:
    instance_id = f"uuid:{uuid.uuid4()}"
    send(client, version, instance_id)
    response = send(client, version, instance_id, age="68")
    assert response.status_code == 409
    assert response.json["status"] == "conflict"
    assert "already saved with different answers" in response.json["message"]
    assert db.session.execute(select(Submission.answers)).scalar_one()["age"] == 67


def test_refusal(client, version, volunteer) -> None:
    unconfirmed = send(client, version, consent="no", age="")
    assert unconfirmed.status_code == 409 and unconfirmed.json["status"] == "confirm_discard"
    assert (count(Submission), count(Refusal)) == (0, 0)
    response = send(client, version, consent="no", age="", _discard="1")
    assert response.status_code == 201
    assert response.json["status"] == "refusal"
    assert response.json["location"] == "/collect/refusal/mini"
    assert (count(Submission), count(Refusal)) == (0, 1)


def test_no_open_round_is_a_conflict(client, create_instrument, auth) -> None:
    version = create_instrument(
        survey=SURVEY,
        choices=CHOICES,
        settings={"form_id": "mini", "consent_question": "consent", "age_question": "age"},
    )
    auth.login("volunteer")
    response = send(client, version)
    assert response.status_code == 409
    assert response.json["status"] == "conflict"
    assert "No survey round is open" in response.json["message"]


def test_html_answers_are_unchanged(client, version, volunteer) -> None:
    html = {"Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8"}
    saved = send(client, version, headers=html)
    assert saved.status_code == 302
    assert "/collect/saved/" in saved.headers["Location"]
    invalid = send(client, version, headers=html, age="")
    assert invalid.status_code == 422
    assert invalid.mimetype == "text/html"


def test_logged_out_is_sent_to_the_login_page(client, version) -> None:
    response = send(client, version)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.app_config({"WTF_CSRF_ENABLED": True})
def test_expired_token_then_a_fresh_one(client, version, create_user) -> None:
    create_user("vol", "volunteer")
    page = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"username": "vol", "password": PASSWORD, "csrf_token": token})
    expired = send(client, version, csrf_token="forged")
    assert expired.status_code == 400
    assert expired.json["status"] == "expired"
    assert "press Submit again" in expired.json["message"]
    fresh = client.get("/collect/token").json["csrf_token"]
    saved = send(client, version, csrf_token=fresh)
    assert saved.status_code == 201
    assert saved.json["status"] == "saved"
    assert count(Submission) == 1
