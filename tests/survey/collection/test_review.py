"""Review, corrections with history, withdrawal of consent, and the audit trail they leave."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import func, select

from survey.collection.models import Submission, SubmissionVersion
from survey.extensions import db
from survey.users.models import AuditEntry

SURVEY = [
    ["type", "name", "label", "required", "constraint"],
    ["select_one district", "district", "District", "yes", ""],
    ["select_one yn", "consent", "Consent", "yes", ""],
    ["integer", "age", "Age", "yes", ". <= 120"],
    ["text", "message", "Message", "", ""],
    ["begin_repeat", "member", "Member", "", ""],
    ["integer", "member_age", "Member age", "", ""],
    ["end_repeat", "", "", "", ""],
]
CHOICES = [
    ["list_name", "name", "label"],
    ["yn", "yes", "Yes"],
    ["yn", "no", "No"],
    ["district", "semey", "Semey"],
    ["district", "urzhar", "Urzhar"],
]
ANSWERS = {
    "district": "semey",
    "consent": "yes",
    "age": "70",
    "message": "first",
    "member-0-_entry": "1",
    "member-0-member_age": "40",
}


@pytest.fixture
def version(create_instrument, survey_round):
    return create_instrument(survey=SURVEY, choices=CHOICES)


def enter(client, version, **changes) -> Submission:
    data = {**ANSWERS, **changes, "_instance_id": f"uuid:{uuid.uuid4()}"}
    response = client.post(f"/collect/v/{version.id}", data=data)
    assert response.status_code == 302, response.text
    return db.session.execute(
        select(Submission).where(Submission.instance_id == data["_instance_id"])
    ).scalar_one()


def audit_actions() -> list[str]:
    return list(db.session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars())


def test_correction_keeps_history_and_shows_diff(client, auth, version) -> None:
    auth.login("volunteer")
    submission = enter(client, version)
    form = client.get(f"/submissions/{submission.id}/correct")
    assert form.status_code == 200
    assert 'value="70"' in form.text and "first" in form.text
    assert 'name="member-0-member_age"' in form.text
    no_reason = client.post(f"/submissions/{submission.id}/correct", data={**ANSWERS, "age": "71"})
    assert no_reason.status_code == 422 and "Say why the answers are corrected." in no_reason.text
    assert 'value="71"' in no_reason.text
    ok = client.post(
        f"/submissions/{submission.id}/correct",
        data={**ANSWERS, "age": "71", "member-0-member_age": "41", "_reason": "typo"},
    )
    assert ok.status_code == 302
    db.session.expire_all()
    assert submission.answers["age"] == 71
    old = db.session.execute(select(SubmissionVersion)).scalar_one()
    assert old.answers["age"] == 70 and old.reason == "typo"
    assert old.changed_fields == ["age", "member-0-member_age"]
    auth.logout()
    auth.login("coordinator")
    page = client.get(f"/review/{submission.id}")
    assert "<del>70</del>" in page.text and "<ins>71</ins>" in page.text
    assert "typo" in page.text
    entry = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "submission_corrected")
    ).scalar_one()
    assert entry.details == {"fields": ["age", "member-0-member_age"]}
    assert "71" not in repr(entry.details) and "first" not in repr(entry.details)


def test_volunteer_window_and_rejection_round_trip(client, auth, version) -> None:
    volunteer = auth.login("volunteer")
    submission = enter(client, version)
    submission.received_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=49)
    db.session.commit()
    late = client.get(f"/submissions/{submission.id}/correct")
    assert late.status_code == 302
    auth.logout()
    auth.login("coordinator")
    missing_comment = client.post(f"/review/{submission.id}", data={"status": "rejected"})
    assert missing_comment.status_code == 422
    rejected = client.post(
        f"/review/{submission.id}", data={"status": "rejected", "comment": "Age looks wrong"}
    )
    assert rejected.status_code == 302
    auth.logout()
    auth.login("volunteer", volunteer.username)
    listing = client.get("/submissions")
    assert (
        "Age looks wrong" in listing.text
        and f"/submissions/{submission.id}/correct" in listing.text
    )
    fixed = client.post(
        f"/submissions/{submission.id}/correct",
        data={**ANSWERS, "age": "72", "_reason": "asked again"},
    )
    assert fixed.status_code == 302
    db.session.expire_all()
    assert submission.review_status == "pending"
    assert audit_actions()[-4:] == [
        "submission_reviewed",
        "logout",
        "login",
        "submission_corrected",
    ]


def test_corrections_cannot_become_refusals_or_hold_identifiers(client, auth, version) -> None:
    auth.login("volunteer")
    submission = enter(client, version)
    refusal = client.post(
        f"/submissions/{submission.id}/correct", data={**ANSWERS, "consent": "no", "_reason": "x"}
    )
    assert refusal.status_code == 422 and "use withdrawal" in refusal.text
    phone = client.post(
        f"/submissions/{submission.id}/correct",
        data={**ANSWERS, "message": "+7 701 123 45 67", "_reason": "x"},
    )
    assert phone.status_code == 422
    db.session.expire_all()
    assert submission.answers["message"] == "first"


def test_others_cannot_correct(client, auth, version) -> None:
    auth.login("volunteer", "owner")
    submission = enter(client, version)
    auth.logout()
    auth.login("volunteer", "intruder")
    assert client.get(f"/submissions/{submission.id}/correct").status_code == 404
    assert (
        client.post(
            f"/submissions/{submission.id}/correct", data={**ANSWERS, "_reason": "x"}
        ).status_code
        == 404
    )
    auth.logout()
    auth.login("advocate")
    assert client.get(f"/submissions/{submission.id}/correct").status_code == 403
    assert client.get(f"/review/{submission.id}").status_code == 403


def test_withdrawal_deletes_everything(client, auth, version) -> None:
    auth.login("volunteer")
    submission = enter(client, version)
    client.post(
        f"/submissions/{submission.id}/correct", data={**ANSWERS, "age": "71", "_reason": "typo"}
    )
    code, submission_id = submission.receipt_code, submission.id
    auth.logout()
    auth.login("coordinator")
    unknown = client.post("/withdrawal", data={"receipt_code": "AAAA-AAAA"})
    assert unknown.status_code == 422 and "No submission has this receipt code" in unknown.text
    found = client.post("/withdrawal", data={"receipt_code": code.lower().replace("-", " ")})
    assert found.status_code == 200 and "Submission found" in found.text
    # Metadata only, never the answers (the CSRF token is random text and may contain "71").
    assert not re.search(r"\b71\b", re.sub(r'value="[^"]*"', "", found.text))
    assert db.session.execute(select(func.count()).select_from(Submission)).scalar() == 1
    deleted = client.post("/withdrawal", data={"receipt_code": code, "confirm": "y"})
    assert deleted.status_code == 302
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(Submission)).scalar() == 0
    assert db.session.execute(select(func.count()).select_from(SubmissionVersion)).scalar() == 0
    entry = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "submission_withdrawn")
    ).scalar_one()
    assert entry.details["submission"] == submission_id
    assert code not in repr((entry.target, entry.details))


def test_review_list_filters(client, auth, version) -> None:
    auth.login("coordinator")
    submission = enter(client, version)
    assert submission.receipt_code in client.get("/review").text
    assert submission.receipt_code not in client.get("/review?status=approved").text
    assert submission.receipt_code in client.get("/review?status=all").text
    assert client.get("/review/99999").status_code == 404


def test_reasons_and_comments_are_screened_for_identifiers(client, auth, version) -> None:
    auth.login("volunteer")
    submission = enter(client, version)
    for reason in ("called her on 8 7O1 234 56 78", "ИИН 8501 0130 0124", "a.b (at) mail.kz"):
        refused = client.post(
            f"/submissions/{submission.id}/correct",
            data={**ANSWERS, "age": "71", "_reason": reason},
        )
        assert refused.status_code == 422, reason
        assert "identify anyone" in refused.text
    auth.logout()
    auth.login("coordinator")
    comment = client.post(
        f"/review/{submission.id}", data={"status": "rejected", "comment": "call 7012345678"}
    )
    assert comment.status_code == 422 and "phone number" in comment.text
    db.session.expire_all()
    assert submission.answers["age"] == 70 and submission.review_comment is None
    assert db.session.execute(select(func.count()).select_from(SubmissionVersion)).scalar() == 0


def test_a_volunteer_cannot_view_a_submission_after_48_hours(client, auth, version) -> None:
    auth.login("volunteer")
    submission = enter(client, version)
    assert client.get(f"/submissions/{submission.id}").status_code == 200
    submission.received_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=49)
    db.session.commit()
    assert client.get(f"/submissions/{submission.id}").status_code == 404
    auth.logout()
    auth.login("coordinator")
    assert client.get(f"/submissions/{submission.id}").status_code == 200
