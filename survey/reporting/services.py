"""Report operations: generate, store, regenerate, preview, drafts, quote approvals.

Services take explicit arguments and only flush; the view or command commits. Rendering is
left to `reports.render`; the numbers come from `snapshot`, the words from `content`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from reports.languages import PAPER_LANGUAGES
from survey.clock import utcnow
from survey.collection.models import Submission
from survey.collection.services import identifier_in_text
from survey.extensions import db
from survey.reporting import kept, sentences
from survey.reporting.content import ReportContent, build_paper
from survey.reporting.models import ApprovedQuote, GeneratedReport
from survey.reporting.settings import ReportSettings, SettingsError, settings_from_mapping
from survey.reporting.snapshot import build_snapshot, quote_questions
from survey.users.models import User
from survey.users.services import record_audit

REPORTS_FOLDER = "reports"
QUOTES_SHOWN = 200


class ReportError(ValueError):
    """A report that cannot be produced or served, with a message for the user."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Rendered:
    """A paper built and rendered: its PDF, snapshot, pages, typed words and the labels that
    fell back to English; `kept` when the PDF was a kept paper's (survey/reporting/kept.py)."""

    pdf: bytes
    snapshot: dict[str, Any]
    pages: int
    words: int
    missing: tuple[str, ...]
    kept: bool = False


def sha256(data: bytes) -> str:
    """The hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def render_pdf(content: ReportContent) -> bytes:
    """The paper as PDF/UA (WeasyPrint is imported on first use: it takes a second)."""
    from reports.render import render_pdf as render

    return render(content.paper)


def render_with_pages(content: ReportContent) -> tuple[bytes, int]:
    """The paper as PDF/UA and its number of pages."""
    from reports.render import render_paper

    return render_paper(content.paper)


def reports_folder() -> Path:
    """instance/reports/, where generated PDFs, drafts and previews are kept."""
    folder = Path(current_app.instance_path) / REPORTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pdf_path(report: GeneratedReport) -> Path:
    """Where a generated report's PDF is stored."""
    return reports_folder() / f"{report.id}.pdf"


def _write(path: Path, data: bytes) -> None:
    """Write a file whole or not at all (a half-written PDF must never be served)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- generating and regenerating -------------------------------------------------------------


def live_snapshot(settings: ReportSettings) -> dict[str, Any]:
    """The snapshot of the live data for these settings, as history files it."""
    # The default meeting is chosen now and filed with the paper: MEETINGS grows over the years,
    # and a filed paper must regenerate byte for byte from what was stored.
    return {
        **build_snapshot(settings),
        "meeting": sentences.meeting_defaults(settings.language, settings.date),
    }


def build(settings: ReportSettings) -> tuple[ReportContent, dict[str, Any]]:
    """Snapshot the live data for these settings and write the paper (no PDF yet)."""
    snapshot = live_snapshot(settings)
    return build_paper(settings, snapshot), snapshot


def check_statuses(settings: ReportSettings, allowed: tuple[str, ...]) -> None:
    """Refuse settings drawing on review statuses this user's papers may not use."""
    refused = [status for status in settings.review_statuses if status not in allowed]
    if refused:
        if "pending" in allowed:
            raise ReportError(
                _l(
                    "Papers for advocates use approved interviews and those pending review "
                    "only; “%(status)s” cannot be chosen.",
                    status=refused[0],
                )
            )
        raise ReportError(
            _l(
                "Papers for advocates use approved interviews only; “%(status)s” cannot be chosen.",
                status=refused[0],
            )
        )


def audit_details(settings: ReportSettings, **extra: Any) -> dict[str, Any]:
    """What the audit log keeps of a report: its settings without the narrative, never data."""
    return {
        "symbol": settings.symbol or "draft",
        "title": settings.title,
        "language": settings.language,
        "paper_size": settings.paper_size,
        "include_annex": settings.include_annex,
        **settings.filters_summary(),
        **extra,
    }


def generate_report(
    settings: ReportSettings, user: User | None, *, via: str = "web"
) -> tuple[GeneratedReport, Rendered]:
    """Build, render, store and audit a report (flushes; the caller commits)."""
    rendered = render_settings(settings)
    pdf, snapshot = rendered.pdf, rendered.snapshot
    report = GeneratedReport(
        created_at=utcnow(),
        created_by_id=user.id if user is not None else None,
        settings=settings.to_json(),
        snapshot=snapshot,
        pdf_sha256=sha256(pdf),
        language=settings.language,
        word_count=rendered.words,
        public=bool(snapshot.get("public")),
    )
    db.session.add(report)
    db.session.flush()
    _write(pdf_path(report), pdf)
    record_audit(
        "report_generated",
        user=user,
        target=f"report {report.id}",
        details=audit_details(settings, via=via, words=rendered.words, sha256=report.pdf_sha256),
    )
    return report, rendered


def render_settings(settings: ReportSettings) -> Rendered:
    """The live data's snapshot for these settings and its paper, rendered, or read from the
    kept paper of the same settings and snapshot (survey/reporting/kept.py)."""
    snapshot = live_snapshot(settings)
    digest = kept.paper_digest(settings.to_json(), snapshot) if kept.enabled() else None
    found = kept.find(digest) if digest is not None else None
    if found is not None:
        return Rendered(found.pdf, snapshot, found.pages, found.words, found.missing, kept=True)
    content = build_paper(settings, snapshot)
    pdf, pages = render_with_pages(content)
    if digest is not None:
        kept.keep(digest, kept.KeptPaper(pdf, pages, content.words, content.missing))
    return Rendered(pdf, snapshot, pages, content.words, content.missing)


def settings_of(report: GeneratedReport) -> ReportSettings:
    """The settings a past report was made with."""
    try:
        return ReportSettings.from_json(report.settings)
    except SettingsError as error:  # a history row written by an older, laxer version
        raise ReportError(_l("The settings of this report can no longer be read.")) from error


def regenerate(report: GeneratedReport) -> tuple[bytes, bool]:
    """The report rebuilt from its stored settings and snapshot; True when byte-identical."""
    settings = settings_of(report)
    pdf = render_pdf(build_paper(settings, report.snapshot))
    return pdf, sha256(pdf) == report.pdf_sha256


def regenerate_and_record(report: GeneratedReport, by: User | None) -> tuple[bytes, bool]:
    """Regenerate a filed report (see regenerate) and audit whether it came out identical."""
    pdf, identical = regenerate(report)
    record_audit(
        "report_regenerated",
        user=by,
        target=f"report {report.id}",
        details={"identical": identical, "sha256": sha256(pdf)},
    )
    return pdf, identical


def download(report: GeneratedReport, by: User | None) -> bytes:
    """The filed PDF (see stored_pdf), its download audited. Flushes only."""
    data = stored_pdf(report)
    record_audit("report_downloaded", user=by, target=f"report {report.id}")
    return data


def stored_pdf(report: GeneratedReport) -> bytes:
    """The filed PDF; rebuilt from the snapshot (and kept) if the file is gone or altered."""
    path = pdf_path(report)
    if path.is_file():
        data = path.read_bytes()
        if sha256(data) == report.pdf_sha256:
            return data
    pdf, identical = regenerate(report)
    if not identical:
        raise ReportError(
            _l(
                "The stored PDF of report %(id)d is missing or altered, and regenerating it does "
                "not give the same file (the software has changed since). Generate a new report.",
                id=report.id,
            )
        )
    _write(path, pdf)
    return pdf


def is_public(report: GeneratedReport) -> bool:
    """Whether the paper was cut from the advocates' publication (coordinators' papers are not:
    they may combine filters and statuses, and two of them could be differenced)."""
    return bool(report.public)


def find_report(report_id: int, *, public_only: bool = False) -> GeneratedReport | None:
    """A generated report by id (None for a coordinator's paper when public_only)."""
    report = db.session.get(GeneratedReport, report_id)
    if report is None or (public_only and not is_public(report)):
        return None
    return report


def list_reports(limit: int = 100, *, public_only: bool = False) -> list[GeneratedReport]:
    """Generated reports, newest first (only advocates' papers when public_only)."""
    query = select(GeneratedReport).order_by(
        GeneratedReport.created_at.desc(), GeneratedReport.id.desc()
    )
    if public_only:
        query = query.where(GeneratedReport.public.is_(True))
    return list(db.session.execute(query.limit(limit)).scalars())


def download_name(report: GeneratedReport) -> str:
    """A file name from the symbol (or "draft"), the language and the id."""
    symbol = str(report.settings.get("symbol") or "draft")
    stem = re.sub(r"[^A-Za-z0-9]+", "-", symbol).strip("-").lower() or "report"
    return f"{stem}-{report.language}-{report.id}.pdf"


# --- drafts and previews (per user, in the instance folder) -----------------------------------


def _user_folder(kind: str, user: User) -> Path:
    """instance/reports/<kind>/<user id>/."""
    folder = reports_folder() / kind / str(int(user.id))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_draft(user: User, settings: ReportSettings) -> None:
    """Remember a user's last valid settings, so the form opens with them next time."""
    data = json.dumps(settings.to_json(), ensure_ascii=False).encode("utf-8")
    _write(_user_folder("drafts", user) / "settings.json", data)


def load_draft(user: User) -> ReportSettings | None:
    """A user's last settings, if any (None when unreadable: the form starts afresh)."""
    path = reports_folder() / "drafts" / str(int(user.id)) / "settings.json"
    if not path.is_file():
        return None
    try:
        return settings_from_mapping(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, SettingsError):
        return None


_STYLE = re.compile(r"<style>.*?</style>\s*", re.S)


def save_preview(
    user: User, content: ReportContent, stylesheet_url: str, figure_url: Callable[[int], str]
) -> None:
    """Store the paper's HTML and figures for this user's preview route.

    The renderer's private URLs (stylesheet, figures) become the app's routes, and the inline
    page-size rule is dropped: the preview's CSP allows only its own stylesheet.
    """
    from reports.render import render_html
    from reports.render.pdf import BASE_URL, build_context

    _context, assets = build_context(content.paper)
    html = _STYLE.sub("", render_html(content.paper), count=1)
    html = html.replace(f'"{BASE_URL}paper.css"', f'"{stylesheet_url}"')
    folder = _user_folder("previews", user)
    for old in folder.glob("*"):
        old.unlink()
    for name, data in assets.items():
        number = int(re.sub(r"\D", "", name))
        html = html.replace(f'"{BASE_URL}{name}"', f'"{figure_url(number)}"')
        _write(folder / f"figure-{number}.svg", data)
    _write(folder / "paper.html", html.encode("utf-8"))


def preview_file(user: User, name: str) -> bytes | None:
    """A stored preview file of this user ("paper.html" or a figure), if any."""
    if not re.fullmatch(r"paper\.html|figure-\d{1,4}\.svg", name):
        return None
    path = reports_folder() / "previews" / str(int(user.id)) / name
    return path.read_bytes() if path.is_file() else None


# --- quotes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteCandidate:
    """A free-text answer that may be quoted, and whether it is approved."""

    submission: Submission
    question: str
    text: str
    approval: ApprovedQuote | None


def quote_candidates(show: str = "all", limit: int = QUOTES_SHOWN) -> list[QuoteCandidate]:
    """Answers to the quotable questions, newest first; `show` is all, pending or approved."""
    approvals = {
        (a.submission_id, a.question): a
        for a in db.session.execute(select(ApprovedQuote)).scalars()
    }
    out: list[QuoteCandidate] = []
    for question in quote_questions():
        answer = Submission.answers[question].as_string()
        query = (
            select(Submission, answer)
            # A rejected interview's words are not offered for publication.
            .where(answer.is_not(None), answer != "", Submission.review_status != "rejected")
            .order_by(Submission.received_at.desc(), Submission.id.desc())
            .limit(limit)
        )
        if show == "approved":
            ids = [sid for sid, q in approvals if q == question]
            query = query.where(Submission.id.in_(ids))
        for submission, text in db.session.execute(query).all():
            approval = approvals.get((submission.id, question))
            if show == "pending" and approval is not None:
                continue
            if isinstance(text, str) and text.strip():
                out.append(QuoteCandidate(submission, question, text.strip(), approval))
    out.sort(key=lambda c: (c.submission.received_at, c.submission.id), reverse=True)
    return out[:limit]


def _quotable(submission_id: int, question: str) -> Submission:
    """The submission whose answer to a quotable question exists, or ReportError."""
    if question not in quote_questions():
        raise ReportError(_l("Answers to “%(question)s” cannot be quoted.", question=question))
    submission = db.session.get(Submission, submission_id)
    text = submission.answers.get(question) if submission is not None else None
    if not isinstance(text, str) or not text.strip() or submission.review_status == "rejected":
        raise ReportError(_l("There is no such answer to approve."))
    return submission


def approve_quote(
    submission_id: int,
    question: str,
    user: User,
    translations: Mapping[str, str] | None = None,
    *,
    only_translations: bool = False,
) -> ApprovedQuote:
    """Approve an answer for publication (again: no change), with the coordinator's
    translations (paper language → text; None keeps those saved); audited, flushed.

    only_translations: change the translations of an approval that exists, never approve
    (a page opened before another coordinator revoked the quote must not bring it back).
    """
    submission = _quotable(submission_id, question)
    cleaned = {
        language: " ".join(text.split())
        for language, text in (translations or {}).items()
        if language in PAPER_LANGUAGES and isinstance(text, str) and text.strip()
    }
    texts = [submission.answers[question], *cleaned.values()]
    if any(identifier_in_text(text) for text in texts):
        # Stored before today's screening, perhaps: an identifier is never published.
        raise ReportError(
            _l(
                "This answer seems to contain an ID number, phone number or e-mail address: it "
                "cannot be quoted. Correct the submission first."
            )
        )
    existing = db.session.execute(
        select(ApprovedQuote).where(
            ApprovedQuote.submission_id == submission.id, ApprovedQuote.question == question
        )
    ).scalar_one_or_none()
    if existing is not None:
        if translations is not None and dict(existing.translations or {}) != cleaned:
            existing.translations = cleaned
            db.session.flush()
            record_audit(
                "quote_translated",
                user=user,
                target=f"submission {submission.id}",
                details={"question": question, "languages": sorted(cleaned)},
            )
        return existing
    if only_translations:
        raise ReportError(
            _l(
                "This answer is no longer approved for quotation, so its translations were not "
                "saved. Approve it again first if it should be quoted."
            )
        )
    approval = ApprovedQuote(
        submission_id=submission.id,
        question=question,
        approved_by_id=user.id,
        approved_at=utcnow(),
        translations=cleaned,
    )
    db.session.add(approval)
    db.session.flush()
    record_audit(
        "quote_approved",
        user=user,
        target=f"submission {submission.id}",
        details={"question": question},
    )
    return approval


def revoke_quote(submission_id: int, question: str, user: User) -> bool:
    """Withdraw an approval; True if there was one. Papers already filed keep their text."""
    approval = db.session.execute(
        select(ApprovedQuote).where(
            ApprovedQuote.submission_id == submission_id, ApprovedQuote.question == question
        )
    ).scalar_one_or_none()
    if approval is None:
        return False
    db.session.delete(approval)
    db.session.flush()
    record_audit(
        "quote_revoked",
        user=user,
        target=f"submission {submission_id}",
        details={"question": question},
    )
    return True


def today() -> dt.date:
    """Today's date (the default date of a new paper)."""
    return utcnow().date()
