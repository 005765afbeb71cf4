"""The report screens: who may open them, settings and bad input, preview, generation and
history, downloads and regeneration, and the coordinators' quote approvals."""

from __future__ import annotations

import datetime as dt
import re
from io import BytesIO
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, update

from survey.collection.models import Submission
from survey.collection.review import withdraw_submission
from survey.demo import write_demo_data
from survey.extensions import db
from survey.reporting import services
from survey.reporting.models import ApprovedQuote, GeneratedReport
from survey.reporting.settings import settings_from_mapping
from survey.reporting.snapshot import build_snapshot
from survey.users.models import AuditEntry

FORM = {
    "title": "Needs of survivors",
    "submitted_by": "Qazaq Youth for Nuclear Justice",
    "date": "2025-03-03",
    "language": "en",
    "paper_size": "A4",
    "review_statuses": ["approved", "pending"],
    "include_demo": "y",
    "max_quotes": "5",
}
QUESTION = "message_to_states"


@pytest.fixture
def demo_data(app: Any, default_instrument: Any, survey_round: Any) -> list[Submission]:
    """Sixty demo interviews of the default instrument."""
    write_demo_data(default_instrument, survey_round, 60, seed=3)
    return list(db.session.execute(select(Submission).order_by(Submission.id)).scalars())


def audit_actions() -> list[str]:
    """The audit log's actions, oldest first."""
    return list(db.session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars())


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("volunteer", set()),
        ("advocate", {"/reports/", "/reports/history"}),
        ("coordinator", {"/reports/", "/reports/history", "/reports/quotes"}),
        ("admin", {"/reports/", "/reports/history", "/reports/quotes"}),
    ],
)
def test_who_may_open_the_report_screens(client: Any, auth: Any, role: str, allowed: set) -> None:
    auth.login(role)
    for url in ("/reports/", "/reports/history", "/reports/quotes"):
        response = client.get(url)
        assert response.status_code == (200 if url in allowed else 403), (role, url)


def test_anonymous_visitors_are_sent_to_log_in(client: Any) -> None:
    for url in ("/reports/", "/reports/preview", "/reports/download?report=1"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_settings_page_offers_the_data_and_a_busy_state(
    client: Any, auth: Any, demo_data: list
) -> None:
    auth.login("advocate")
    page = client.get("/reports/").text
    assert 'value="semey_city"' in page and 'value="g1"' in page and 'value="18_39"' in page
    assert 'data-busy-label="Generating…"' in page
    assert "js/reporting.js" in page and "<script>" not in page
    # Dated today: the meeting after the last one listed (see the test on held meetings)
    assert 'placeholder="Meeting of States Parties to the Treaty' in page
    russian = client.get("/reports/?lang=ru").text
    assert "Рабочий документ для Совещания государств-участников" in russian
    # A new paper is written in the interface language; the placeholders follow it.
    assert 'placeholder="Совещание государств — участников' in russian
    kazakh = client.get("/reports/history?lang=kk").text
    assert "Жасалған есептер" in kazakh
    assert re.search(r'name="review_statuses"[^>]*value="approved"[^>]*checked', page) or (
        'checked id="review_statuses-0"' in page
    )


def test_bad_settings_are_refused_with_clear_messages(client: Any, auth: Any) -> None:
    auth.login("advocate")
    data = {**FORM, "symbol": "TPNW//MSP/23", "title": "", "action": "preview"}
    response = client.post("/reports/", data=data)
    assert response.status_code == 422
    assert "like TPNW/MSP/2025/NGO/23, or leave it empty for a draft" in response.text
    assert "This field is required." in response.text
    assert db.session.execute(select(func.count(GeneratedReport.id))).scalar() == 0


def test_a_filter_with_no_data_says_so(client: Any, auth: Any, demo_data: list) -> None:
    auth.login("advocate")
    present = {s.district for s in demo_data}
    empty = next(
        code for code in ("akkuly_district", "may_district", "abroad") if code not in present
    )
    response = client.post("/reports/", data={**FORM, "districts": [empty], "action": "preview"})
    assert response.status_code == 422
    assert "Fewer than 5 respondents match these settings, perhaps none" in response.text
    # Advocates' papers hold the published interviews, demo data included (as their
    # dashboards); coordinators choose, and are told when demo data are left out
    auth.logout()
    auth.login("coordinator")
    response = client.post(
        "/reports/", data={**{k: v for k, v in FORM.items() if k != "include_demo"}}
    )
    assert response.status_code == 422
    assert "Demo data are left out" in response.text


def _error_of(page: str) -> str:
    """The error message shown above the settings form."""
    found = re.search(r'class="error-message" role="alert"><p>(.*?)</p>', page, re.S)
    assert found is not None, page
    return " ".join(found.group(1).split())


def test_no_match_and_a_few_matches_get_the_same_message(
    client: Any, auth: Any, demo_data: list
) -> None:
    # Before: "No submissions match" for 0 and "Fewer than 5 respondents match" for 1-4 told
    # an advocate whether a district had any interview at all.
    auth.login("advocate")
    counts: dict[str, int] = {}
    for submission in demo_data:
        counts[submission.district] = counts.get(submission.district, 0) + 1
    few = next(code for code, n in counts.items() if 1 <= n < 5)
    none = next(
        code for code in ("akkuly_district", "may_district", "abroad") if code not in counts
    )
    messages = []
    for district in (few, none):
        response = client.post(
            "/reports/", data={**FORM, "districts": [district], "action": "preview"}
        )
        assert response.status_code == 422
        messages.append(_error_of(response.text))
    assert messages[0] == messages[1]
    assert "perhaps none" in messages[0]


def test_advocates_cannot_build_a_paper_on_rejected_or_held_interviews(
    client: Any, auth: Any, demo_data: list
) -> None:
    auth.login("advocate")
    page = client.get("/reports/").text
    assert 'value="rejected"' not in page and 'value="on_hold"' not in page
    for status in ("rejected", "on_hold"):
        for action in ("preview", "generate"):
            response = client.post(
                "/reports/", data={**FORM, "review_statuses": [status], "action": action}
            )
            assert response.status_code == 422
    assert db.session.execute(select(func.count(GeneratedReport.id))).scalar() == 0
    assert client.get("/reports/preview").status_code == 404
    # The service refuses them too, whatever form posted them
    settings = settings_from_mapping(
        {"title": "T", "submitted_by": "S", "review_statuses": ["rejected"]}
    )
    with pytest.raises(services.ReportError, match="approved interviews"):
        services.check_statuses(settings, ("approved", "pending"))


def test_coordinators_may_still_choose_every_status(client: Any, auth: Any) -> None:
    auth.login("coordinator")
    page = client.get("/reports/").text
    assert 'value="rejected"' in page and 'value="on_hold"' in page


@pytest.mark.sqlite_only
@pytest.mark.app_config({"PUBLISH_PENDING": False})
def test_pending_interviews_only_where_the_settings_allow(
    client: Any, auth: Any, demo_data: list
) -> None:
    auth.login("advocate")
    assert 'value="pending"' not in client.get("/reports/").text
    response = client.post(
        "/reports/", data={**FORM, "review_statuses": ["pending"], "action": "preview"}
    )
    assert response.status_code == 422
    db.session.execute(update(Submission).values(review_status="approved"))
    db.session.commit()
    response = client.post(
        "/reports/", data={**FORM, "review_statuses": ["approved"], "action": "preview"}
    )
    assert response.status_code == 200, response.text


@pytest.mark.sqlite_only
def test_preview_counts_words_and_lists_labels_missing_in_the_language(
    client: Any, auth: Any, demo_data: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = services.build_snapshot

    def without_kazakh(settings: Any) -> dict:
        snapshot = real(settings)
        for indicator in snapshot["indicators"]:
            if indicator["id"] == "unmet_need":
                del indicator["labels"]["kk"]
        return snapshot

    monkeypatch.setattr(services, "build_snapshot", without_kazakh)
    auth.login("advocate")
    response = client.post("/reports/", data={**FORM, "language": "kk", "action": "preview"})
    assert response.status_code == 200, response.text
    page = response.text
    assert re.search(r"\d+ words in the narrative", page)
    assert "the paper prints them in English" in page
    assert "indicator “unmet_need”" in page
    assert 'sandbox="allow-same-origin"' in page and 'src="/reports/preview"' in page
    preview = client.get("/reports/preview")
    assert preview.headers["Content-Type"].startswith("text/html")
    assert preview.headers["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'self'"
    )
    assert preview.headers["X-Frame-Options"] == "SAMEORIGIN"
    html = preview.text
    assert "Unmet need for health care in the last 3 months" in html  # English, visibly
    assert "Денсаулық" in html and 'lang="kk"' in html
    assert "<style>" not in html and "birge-report:" not in html
    assert 'href="/reports/preview/paper.css"' in html
    figure = re.search(r'src="(/reports/preview/figure\?n=\d+)"', html)
    assert figure is not None
    svg = client.get(figure.group(1))
    assert svg.headers["Content-Type"].startswith("image/svg+xml") and b"<svg" in svg.data
    # The chart styles nothing inline, so opened on its own it may not use styles either.
    assert svg.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'self'"
    assert b" style=" not in svg.data and b"<style" not in svg.data
    css = client.get("/reports/preview/paper.css")
    assert css.headers["Content-Type"].startswith("text/css") and "@page" in css.text
    assert client.get("/reports/preview/figure?n=999").status_code == 404


def test_markdown_scripts_images_and_javascript_links_never_reach_the_preview(
    client: Any, auth: Any, demo_data: list
) -> None:
    auth.login("advocate")
    evil = (
        "Our **coalition** met survivors.\n\n<script>alert(1)</script>\n\n"
        "![x](http://evil.example/x.png)\n\n[click](javascript:alert(2)) "
        '<img src="http://evil.example/y.png" onerror="alert(3)">'
    )
    response = client.post("/reports/", data={**FORM, "introduction": evil, "action": "preview"})
    assert response.status_code == 200
    html = client.get("/reports/preview").text
    assert "<strong>coalition</strong>" in html
    for forbidden in ("<script", "alert(", "javascript:", "evil.example", "onerror"):
        assert forbidden not in html


def test_a_long_narrative_is_warned_about(client: Any, auth: Any, demo_data: list) -> None:
    auth.login("advocate")
    long_text = "\n\n".join(" ".join(["survivors"] * 100) for _ in range(26))
    response = client.post("/reports/", data={**FORM, "background": long_text, "action": "preview"})
    assert response.status_code == 200
    assert "more than 2500 words" in response.text


def test_generate_download_and_regenerate_identically(
    client: Any, auth: Any, demo_data: list
) -> None:
    user = auth.login("advocate")
    response = client.post(
        "/reports/",
        data={**FORM, "symbol": "TPNW/MSP/2025/NGO/23", "action": "generate"},
    )
    assert response.status_code == 302, response.text
    report = db.session.execute(select(GeneratedReport)).scalar_one()
    assert response.headers["Location"].endswith(
        f"/reports/history?report={report.id}#report-{report.id}"
    )
    assert report.created_by_id == user.id and report.language == "en"
    history = client.get(response.headers["Location"]).text
    assert f"Report {report.id} generated" in history
    assert "TPNW/MSP/2025/NGO/23" in history and "advocate" in history
    download = client.get(f"/reports/download?report={report.id}")
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/pdf"
    pages = len(PdfReader(BytesIO(download.data)).pages)
    # The length as printed, and the usual length only as a warning when it is exceeded
    assert f"{pages} pages; you typed 0 words in the narrative" in history
    assert ("NGO working papers usually run 4 to 10" in history) == (pages > 10)
    assert download.data.startswith(b"%PDF") and services.sha256(download.data) == report.pdf_sha256
    services.pdf_path(report).unlink()  # a lost file is rebuilt from the snapshot
    again = client.get(f"/reports/download?report={report.id}")
    assert again.data == download.data
    regenerated = client.post("/reports/regenerate", data={"report": report.id})
    assert regenerated.status_code == 302
    page = client.get(regenerated.headers["Location"]).text
    assert "identical to the one filed, byte for byte" in page
    assert report.pdf_sha256 in page
    actions = audit_actions()
    assert actions.count("report_generated") == 1
    assert actions.count("report_downloaded") == 2
    assert actions.count("report_regenerated") == 1
    details = db.session.execute(
        select(AuditEntry.details).where(AuditEntry.action == "report_generated")
    ).scalar_one()
    assert details["via"] == "web" and details["symbol"] == "TPNW/MSP/2025/NGO/23"
    assert "introduction" not in details
    assert client.get("/reports/download?report=999").status_code == 404


def quoted(demo_data: list) -> Submission:
    """A demo interview with an answer to the quotable question."""
    return next(s for s in demo_data if (s.answers.get(QUESTION) or "").strip())


def test_coordinators_approve_and_revoke_quotes(client: Any, auth: Any, demo_data: list) -> None:
    submission = quoted(demo_data)
    auth.login("coordinator")
    page = client.get("/reports/quotes?show=pending").text
    assert submission.answers[QUESTION] in page
    response = client.post(
        "/reports/quotes?show=pending",
        data={"submission_id": submission.id, "question": QUESTION, "action": "approve"},
    )
    assert response.status_code == 302
    approval = db.session.execute(select(ApprovedQuote)).scalar_one()
    assert approval.submission_id == submission.id and approval.approved_by_id is not None
    assert "approved for quotation" in client.get(response.headers["Location"]).text
    assert submission.answers[QUESTION] in client.get("/reports/quotes?show=approved").text
    client.post(
        "/reports/quotes",
        data={"submission_id": submission.id, "question": QUESTION, "action": "revoke"},
    )
    assert db.session.execute(select(func.count(ApprovedQuote.id))).scalar() == 0
    assert audit_actions()[-2:] == ["quote_approved", "quote_revoked"]


@pytest.mark.sqlite_only
def test_translations_are_typed_next_to_the_original_and_reach_the_paper(
    client: Any, auth: Any, demo_data: list
) -> None:
    submission = quoted(demo_data)
    spoken = submission.answers.get("interview_language")
    spoken = spoken if spoken in ("kk", "ru", "en") else submission.language
    other = "en" if spoken != "en" else "ru"
    auth.login("coordinator")
    page = client.get("/reports/quotes?show=pending").text
    row = page.split(submission.answers[QUESTION], 1)[1].split("</tr>", 1)[0]
    assert f'name="translation_{other}"' in row and f'name="translation_{spoken}"' not in row
    ours = {"en": "We have no doctor here.", "ru": "У нас здесь нет врача."}[other]
    data = {"submission_id": submission.id, "question": QUESTION, "action": "approve"}
    client.post("/reports/quotes", data={**data, f"translation_{other}": ours})
    assert ours in client.get("/reports/quotes?show=approved").text  # shown for correcting
    client.post(
        "/reports/quotes", data={**data, "action": "translate", f"translation_{other}": ours + "!"}
    )
    assert audit_actions()[-2:] == ["quote_approved", "quote_translated"]
    settings = settings_from_mapping({**FORM, "include_demo": True, "language": other})
    quotes = build_snapshot(settings)["quotes"]
    assert quotes[0]["translations"] == {other: ours + "!"}
    paper = services.build_paper(settings, build_snapshot(settings))
    texts = [b.text for c in paper.paper.chapters for b in c.blocks if hasattr(b, "attribution")]
    assert texts == [submission.answers[QUESTION], ours + "!"]  # the original, then ours


def test_an_answer_holding_an_identifier_cannot_be_quoted(
    client: Any, auth: Any, demo_data: list
) -> None:
    # Stored before the screening learnt obfuscations: a phone number written with the letter O.
    submission = quoted(demo_data)
    submission.answers = {**submission.answers, QUESTION: "call me on 8 7O1 234 56 78"}
    db.session.commit()
    auth.login("coordinator")
    response = client.post(
        "/reports/quotes",
        data={"submission_id": submission.id, "question": QUESTION, "action": "approve"},
        follow_redirects=True,
    )
    assert "cannot be quoted" in response.text
    assert db.session.execute(select(func.count(ApprovedQuote.id))).scalar() == 0


def test_only_quotable_existing_answers_can_be_approved(
    client: Any, auth: Any, demo_data: list
) -> None:
    auth.login("coordinator")
    submission = demo_data[0]
    for data in (
        {"submission_id": submission.id, "question": "age", "action": "approve"},
        {"submission_id": 999_999, "question": QUESTION, "action": "approve"},
    ):
        response = client.post("/reports/quotes", data=data, follow_redirects=True)
        assert response.status_code == 200
        assert "cannot be quoted" in response.text or "no such answer" in response.text
    assert db.session.execute(select(func.count(ApprovedQuote.id))).scalar() == 0
    assert client.post("/reports/quotes", data={}).status_code == 400


@pytest.mark.sqlite_only
def test_a_withdrawn_interview_loses_its_approval_and_its_quote(
    app: Any, demo_data: list, create_user: Any
) -> None:
    coordinator = create_user("coordinator", "coordinator")
    first, second = [s for s in demo_data if (s.answers.get(QUESTION) or "").strip()][:2]
    second.answers = {
        **second.answers,
        QUESTION: "Не одобрено: этого текста в докладе быть не должно.",
    }
    services.approve_quote(first.id, QUESTION, coordinator)
    db.session.commit()
    settings = settings_from_mapping({**FORM, "include_demo": True})
    quotes = [q["text"] for q in build_snapshot(settings)["quotes"]]
    assert quotes == [" ".join(first.answers[QUESTION].split())]
    withdraw_submission(first)
    db.session.commit()
    assert db.session.execute(select(func.count(ApprovedQuote.id))).scalar() == 0
    assert build_snapshot(settings)["quotes"] == []


def test_the_meeting_offered_is_never_one_already_held(client: Any, auth: Any) -> None:
    auth.login("advocate")
    page = client.get("/reports/").text  # the paper's date: today
    assert services.today() > dt.date(2025, 3, 7)
    assert "3–7 March 2025" not in page and "TPNW/MSP/2025/1." not in page
    assert "No upcoming meeting with a published agenda is known" in page
    page = client.post("/reports/", data={**FORM, "action": "preview"}).text  # 3 March 2025
    assert 'placeholder="New York, 3–7 March 2025"' in page


@pytest.mark.sqlite_only
def test_advocates_read_back_only_papers_cut_from_their_publication(
    client: Any, auth: Any, demo_data: list
) -> None:
    # A coordinator's paper may cross filters and statuses: differenced with the advocates'
    # figures it could give small counts away, so advocates never see it
    auth.login("coordinator")
    crossed = {**FORM, "districts": ["semey_city"], "sexes": ["female"], "action": "generate"}
    assert client.post("/reports/", data=crossed).status_code == 302
    coordinators = db.session.execute(select(GeneratedReport)).scalar_one()
    auth.logout()
    auth.login("advocate")
    assert client.post("/reports/", data={**FORM, "action": "generate"}).status_code == 302
    advocates = db.session.execute(
        select(GeneratedReport).where(GeneratedReport.id != coordinators.id)
    ).scalar_one()
    assert (advocates.public, coordinators.public) == (True, False)
    history = client.get("/reports/history").text
    assert f"report-{advocates.id}" in history and f"report-{coordinators.id}" not in history
    assert client.get(f"/reports/download?report={coordinators.id}").status_code == 404
    assert client.post("/reports/regenerate", data={"report": coordinators.id}).status_code == 404
    assert client.get(f"/reports/download?report={advocates.id}").status_code == 200
    auth.logout()
    auth.login("coordinator")
    history = client.get("/reports/history").text
    assert f"report-{advocates.id}" in history and f"report-{coordinators.id}" in history


def test_saving_translations_never_brings_back_a_revoked_quote(
    client: Any, auth: Any, demo_data: list
) -> None:
    submission = quoted(demo_data)
    auth.login("coordinator")
    data = {"submission_id": submission.id, "question": QUESTION}
    client.post("/reports/quotes", data={**data, "action": "approve"})
    client.post("/reports/quotes", data={**data, "action": "revoke"})
    # A second coordinator's page, opened before the revocation, saves its translations
    response = client.post(
        "/reports/quotes",
        data={**data, "action": "translate", "translation_ru": "Перевод."},
        follow_redirects=True,
    )
    assert "no longer approved for quotation" in response.text
    assert db.session.execute(select(func.count(ApprovedQuote.id))).scalar() == 0
    assert audit_actions()[-2:] == ["quote_approved", "quote_revoked"]
