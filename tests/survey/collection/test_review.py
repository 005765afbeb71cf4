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
    return create_instrument(
        survey=SURVEY,
        choices=CHOICES,
        settings={
            "consent_question": "consent",
            "age_question": "age",
            "district_question": "district",
        },
    )


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
    assert "Member age (Member 1)" in page.text  # the repeat's label, not its name
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
    unticked = client.post("/withdrawal", data={"receipt_code": code, "action": "delete"})
    assert unticked.status_code == 422 and "Tick the box above Delete" in unticked.text
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


def many_submissions(version, round_, user, n: int, **columns) -> list[int]:
    """n submissions inserted directly, one minute apart, oldest first."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = []
    for index in range(n):
        rows.append(
            {
                "instance_id": f"uuid:{uuid.uuid4()}",
                "receipt_code": f"T{index:03d}-{uuid.uuid4().hex[:4].upper()}",
                "instrument_version_id": version.id,
                "round_id": round_.id,
                "entered_by_id": user.id,
                "answers": {"district": "semey"},
                "answers_sha256": "0" * 64,
                "language": "en",
                "source": "web",
                "district": columns.get("district", "semey"),
                "received_at": start + dt.timedelta(minutes=index),
                "review_status": columns.get("status", "pending"),
                "is_demo": columns.get("is_demo", False),
            }
        )
    db.session.execute(Submission.__table__.insert(), rows)
    db.session.commit()
    return list(db.session.execute(select(Submission.id).order_by(Submission.id)).scalars())


def test_review_queue_pages_oldest_pending_first_with_counts(
    client, auth, version, survey_round
) -> None:
    coordinator = auth.login("coordinator")
    many_submissions(version, survey_round, coordinator, 120)
    many_submissions(version, survey_round, coordinator, 7, status="approved")
    first = client.get("/review")
    assert first.status_code == 200
    codes = re.findall(r'class="code">(T\d{3}-\w{4})<', first.text)
    assert len(codes) == 50 and codes[0].startswith("T000") and codes[-1].startswith("T049")
    assert 'Pending <span class="count">(120)</span>' in first.text
    assert 'Approved <span class="count">(7)</span>' in first.text
    assert "page 1 of 3" in first.text
    last = client.get("/review?page=3")
    assert len(re.findall(r'class="code">T\d{3}-', last.text)) == 20
    newest = client.get("/review?sort=newest")
    assert re.findall(r'class="code">(T\d{3})-', newest.text)[0] == "T119"
    everything = client.get("/review?status=all")
    assert "127 submissions" in everything.text


def test_review_queue_filters_and_search(client, auth, create_user, version, survey_round) -> None:
    coordinator = auth.login("coordinator")
    other = create_user("aidos", "volunteer")
    many_submissions(version, survey_round, coordinator, 5)
    many_submissions(version, survey_round, other, 3, district="urzhar")
    many_submissions(version, survey_round, coordinator, 4, is_demo=True)
    assert "3 submissions" in client.get("/review?district=urzhar").text
    assert "Urzhar" in client.get("/review?district=urzhar").text  # a label, not the code
    assert "3 submissions" in client.get(f"/review?volunteer={other.id}").text
    assert "8 submissions" in client.get("/review?demo=real").text
    assert "4 submissions" in client.get("/review?demo=demo").text
    assert "0 submissions" in client.get("/review?received_from=2026-02-01").text
    assert "12 submissions" in client.get(f"/review?round={survey_round.id}").text
    one = db.session.execute(select(Submission).limit(1)).scalar_one()
    by_code = client.get(f"/review?q={one.receipt_code.lower()}")
    assert "1 submission" in by_code.text and one.receipt_code in by_code.text
    by_instance = client.get(f"/review?q={one.instance_id.removeprefix('uuid:')}")
    assert "1 submission" in by_instance.text
    bad = client.get("/review?received_from=yesterday&district=atlantis")
    assert bad.status_code == 422 and "12 submissions" in bad.text  # odd filters are ignored


def test_bulk_approve_asks_first_and_keeps_comments(client, auth, version, survey_round) -> None:
    coordinator = auth.login("coordinator")
    ids = many_submissions(version, survey_round, coordinator, 3)
    page = client.get("/review")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    db.session.get(Submission, ids[0]).review_comment = "checked by phone"
    db.session.commit()
    ask = client.post(
        "/review/approve",
        data={
            "csrf_token": token,
            "ids": [str(i) for i in ids[:2]],
            "back": '{"status": "pending"}',
        },
    )
    assert ask.status_code == 200 and "Approve 2 submissions?" in ask.text
    assert (
        db.session.execute(
            select(func.count()).where(Submission.review_status == "approved")
        ).scalar_one()
        == 0
    )
    done = client.post(
        "/review/approve",
        data={"csrf_token": token, "ids": [str(i) for i in ids[:2]], "confirm": "1", "back": "{}"},
    )
    assert done.status_code == 302
    db.session.expire_all()
    assert [db.session.get(Submission, i).review_status for i in ids] == [
        "approved",
        "approved",
        "pending",
    ]
    assert db.session.get(Submission, ids[0]).review_comment == "checked by phone"
    nothing = client.post("/review/approve", data={"csrf_token": token, "back": "[1]"})
    assert nothing.status_code == 302


def test_review_comment_is_prefilled_and_holding_needs_a_reason(client, auth, version) -> None:
    auth.login("coordinator")
    submission = enter(client, version)
    url = f"/review/{submission.id}"
    held = client.post(url, data={"status": "on_hold", "comment": ""})
    assert held.status_code == 422 and "Say why the submission is held." in held.text
    client.post(url, data={"status": "on_hold", "comment": "call the volunteer"})
    reopened = client.get(url)
    assert "call the volunteer</textarea>" in reopened.text
    assert '<option selected value="on_hold">' in reopened.text


def test_home_shows_what_was_sent_back(client, auth, version) -> None:
    volunteer = auth.login("volunteer")
    submission = enter(client, version)
    assert "Nothing is waiting for you." in client.get("/").text
    auth.logout()
    auth.login("coordinator")
    client.post(f"/review/{submission.id}", data={"status": "rejected", "comment": "age?"})
    auth.logout()
    auth.login("volunteer", volunteer.username)
    home = client.get("/").text
    assert "1 interview was sent back to you to correct." in home
    assert f"{submission.receipt_code}</span>" in home and ": age?" in home
    assert f"/submissions/{submission.id}/correct" in home


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
