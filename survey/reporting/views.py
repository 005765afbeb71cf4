"""The advocate's report screens: settings and preview, PDF generation, history, quotes."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from reports.languages import LANGUAGE_NAMES
from reports.render import PAGE_WARNING, WORD_WARNING, stylesheet
from survey.collection.forms import REVIEW_STATUS_LABELS
from survey.collection.models import REVIEW_STATUSES, published_statuses
from survey.collection.rounds import list_rounds
from survey.extensions import db
from survey.i18n import current_language
from survey.instruments import services as instruments
from survey.reporting import services
from survey.reporting.forms import QuoteForm, RegenerateForm, ReportForm, group_choices
from survey.reporting.snapshot import ReportDataError, find_instrument, quote_questions
from survey.users.access import roles_required
from survey.users.models import Role, User

bp = Blueprint("reporting", __name__, url_prefix="/reports")

REPORT_ROLES = (Role.ADVOCATE, Role.COORDINATOR)
# The preview is the paper's own HTML: it may load its stylesheet and figures, nothing else,
# and only this site may frame it (the settings page does, in a sandboxed iframe).
PREVIEW_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'self'"
# A figure opened on its own: its SVG has presentation attributes only; nothing may run or load.
FIGURE_CSP = "default-src 'none'; frame-ancestors 'self'"
# On screen the paper is one long page: give it the width and margins of the printed text.
PREVIEW_CSS = """
@media screen {
  html { background: #e8e8e8; }
  body { max-width: 160mm; margin: 8mm auto; padding: 20mm 22mm; background: #fff; }
  .fn { display: block; margin: 1mm 0 2mm 10mm; font-size: 0.85rem; }
  .fn::before { content: attr(data-mark) " "; }
}
"""


def _user() -> User:
    """The logged-in user as a model object."""
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _choices(language: str) -> dict[str, list[SelectChoice]]:
    """Districts and sexes of the default questionnaire, labelled in the interface language."""
    choices: dict[str, list[SelectChoice]] = {"districts": [], "sexes": []}
    try:
        instrument = find_instrument()
    except ReportDataError:
        return choices
    spec = instruments.spec_for(instrument.versions[-1])
    for setting, question_name in (("districts", spec.intake.district_question), ("sexes", "sex")):
        question = spec.questions_by_name.get(question_name)
        for choice in spec.choices.get(question.choice_list or "", ()) if question else ():
            label = spec.label(choice.labels, language) or choice.name
            choices[setting].append(SelectChoice(choice.name, label))
    return choices


def instrument_titles(language: str) -> dict[str, str]:
    """Each questionnaire's title in the interface language, by form_id."""
    titles = {}
    for instrument in instruments.list_instruments():
        version = instruments.latest_version(instrument)
        if version is not None:
            titles[instrument.form_id] = instruments.spec_for(version).title_in(language)
    return titles


def _public_only() -> bool:
    """Advocates read back only papers cut from their publication, never coordinators'."""
    return not current_user.has_role(Role.COORDINATOR)


def allowed_statuses() -> tuple[str, ...]:
    """Review statuses the user's papers may draw on: all for coordinators, as the dashboards
    allow for advocates (approved, and pending where PUBLISH_PENDING allows)."""
    if current_user.has_role(Role.COORDINATOR):
        return REVIEW_STATUSES
    return published_statuses(bool(current_app.config.get("PUBLISH_PENDING", True)))


def _settings_form() -> ReportForm:
    """The settings form with the choices the data offer, in the interface language."""
    form = ReportForm()
    form.allow_statuses(allowed_statuses())
    language = current_language()
    choices = _choices(language)
    form.set_choices(
        instruments=[
            SelectChoice(form_id, title) for form_id, title in instrument_titles(language).items()
        ],
        rounds=[r.name for r in list_rounds()],
        districts=choices["districts"],
        sexes=choices["sexes"],
        language=language,
    )
    return form


@bp.route("/", methods=["GET", "POST"])
@roles_required(*REPORT_ROLES)
def index() -> Any:
    """Settings, word count and preview; "Generate PDF" stores a report and opens the history."""
    form = _settings_form()
    user = _user()
    result: dict[str, Any] | None = None
    error = ""
    if not form.is_submitted():
        draft = services.load_draft(user)
        if draft is not None:
            form.fill(draft)
        else:
            form.date.data = services.today()
            form.language.data = current_language()
            form.submitted_by.data = current_app.config.get("REPORT_SUBMITTED_BY", "")
    elif form.validate_on_submit() and (settings := form.settings()) is not None:
        try:
            services.check_statuses(settings, allowed_statuses())
            services.save_draft(user, settings)
            if request.form.get("action") == "generate":
                return _generate(settings, user)
            content, snapshot = services.build(settings)
            services.save_preview(
                user,
                content,
                url_for(".preview_stylesheet"),
                lambda number: url_for(".preview_figure", n=number),
            )
            result = {
                "words": content.words,
                "missing": content.missing,
                "problems": snapshot.get("problems", []),
                "respondents": snapshot["data"].get("respondents"),
            }
        except (ReportDataError, services.ReportError) as problem:
            db.session.rollback()
            error = str(problem)
    has_preview = services.preview_file(user, "paper.html") is not None
    status = 422 if (form.errors or error) and form.is_submitted() else 200
    return render_template(
        "reporting/index.html",
        form=form,
        result=result,
        error=error,
        has_preview=has_preview,
        word_warning=WORD_WARNING,
        defaults=form.defaults_for(form.language.data or "en", form.date.data or services.today()),
        language_name=LANGUAGE_NAMES.get(form.language.data or "en", ""),
    ), status


def _generate(settings: Any, user: User) -> Any:
    """Generate, store and audit the PDF; commit; show it in the history."""
    report, rendered = services.generate_report(settings, user, via="web")
    db.session.commit()
    flash(
        _(
            "Report %(id)d generated: %(pages)d pages; you typed %(words)d words in the narrative.",
            id=report.id,
            pages=rendered.pages,
            words=report.word_count,
        ),
        "success",
    )
    if rendered.pages > PAGE_WARNING:
        flash(
            _(
                "The paper runs %(pages)d pages: NGO working papers usually run 4 to %(limit)d. "
                "Most of it is written from the data: leaving out the annex, approving fewer "
                "quotes or narrowing the data shortens it, as does a shorter narrative.",
                pages=rendered.pages,
                limit=PAGE_WARNING,
            ),
            "warning",
        )
    if rendered.missing:
        flash(
            _(
                "Some labels have no translation into the paper's language and are printed in "
                "English: %(missing)s.",
                missing="; ".join(rendered.missing),
            ),
            "warning",
        )
    return redirect(url_for(".history", report=report.id, _anchor=f"report-{report.id}"))


def _private(response: Response, policy: str) -> Response:
    """Headers for the preview's own responses: their CSP, framing by this site only."""
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/preview")
@roles_required(*REPORT_ROLES)
def preview() -> Response:
    """The last previewed paper as HTML (shown in the settings page's sandboxed iframe)."""
    data = services.preview_file(_user(), "paper.html")
    if data is None:
        abort(404)
    return _private(Response(data, mimetype="text/html"), PREVIEW_CSP)


@bp.route("/preview/paper.css")
@roles_required(*REPORT_ROLES)
def preview_stylesheet() -> Response:
    """The paper's stylesheet, with screen rules for reading it in a browser."""
    css = stylesheet() + PREVIEW_CSS
    return _private(Response(css, mimetype="text/css"), PREVIEW_CSP)


@bp.route("/preview/figure")
@roles_required(*REPORT_ROLES)
def preview_figure() -> Response:
    """One figure of the last previewed paper (?n=1 for Figure I)."""
    number = request.args.get("n", type=int)
    data = services.preview_file(_user(), f"figure-{number}.svg") if number else None
    if data is None:
        abort(404)
    return _private(Response(data, mimetype="image/svg+xml"), FIGURE_CSP)


@bp.route("/history")
@roles_required(*REPORT_ROLES)
def history() -> Any:
    """Generated reports: who, when, language, words, settings; download and regenerate."""
    language = current_language()
    return render_template(
        "reporting/history.html",
        reports=services.list_reports(public_only=_public_only()),
        highlight=request.args.get("report", type=int),
        form=RegenerateForm(),
        word_warning=WORD_WARNING,
        titles=instrument_titles(language),
        status_labels=REVIEW_STATUS_LABELS,
        filter_labels=filter_labels(language),
    )


def filter_labels(language: str) -> dict[str, dict[str, str]]:
    """The labels of the codes a paper's settings keep (districts, sexes, generations, age
    groups), by setting, in the interface language: the history prints no raw codes."""
    choices = {
        **_choices(language),
        "generations": group_choices("generation", language),
        "age_bands": group_choices("age_band", language),
    }
    return {
        setting: {c.value: str(c.label) for c in offered} for setting, offered in choices.items()
    }


@bp.route("/download")
@roles_required(*REPORT_ROLES)
def download() -> Any:
    """The filed PDF of a report (?report=ID), audited."""
    report = services.find_report(
        request.args.get("report", type=int) or 0, public_only=_public_only()
    )
    if report is None:
        abort(404)
    try:
        data = services.download(report, _user())
    except services.ReportError as problem:
        flash(str(problem), "error")
        return redirect(url_for(".history"))
    db.session.commit()
    response = send_file(
        BytesIO(data),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=services.download_name(report),
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/regenerate", methods=["POST"])
@roles_required(*REPORT_ROLES)
def regenerate() -> Any:
    """Rebuild a past report from its snapshot and say whether the bytes are identical."""
    form = RegenerateForm()
    if not form.validate_on_submit():
        abort(400)
    report = services.find_report(form.report.data or 0, public_only=_public_only())
    if report is None:
        abort(404)
    try:
        pdf, identical = services.regenerate_and_record(report, _user())
    except services.ReportError as problem:
        flash(str(problem), "error")
        return redirect(url_for(".history"))
    db.session.commit()
    if identical:
        flash(
            _(
                "Report %(id)d was regenerated from its stored snapshot: the PDF is identical to "
                "the one filed, byte for byte (SHA-256 %(sha)s).",
                id=report.id,
                sha=report.pdf_sha256,
            ),
            "success",
        )
    else:
        flash(
            _(
                "Report %(id)d was regenerated from its stored snapshot, but the PDF differs from "
                "the one filed (SHA-256 %(new)s instead of %(old)s): the software or its fonts "
                "have changed since. The filed PDF is kept and still downloads.",
                id=report.id,
                new=services.sha256(pdf),
                old=report.pdf_sha256,
            ),
            "warning",
        )
    return redirect(url_for(".history", report=report.id, _anchor=f"report-{report.id}"))


@bp.route("/quotes", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR)
def quotes() -> Any:
    """Coordinators approve (or revoke) free-text answers for quotation in reports."""
    show = request.args.get("show", "pending")
    if show not in ("pending", "approved", "all"):
        show = "pending"
    if request.method == "POST":
        form = QuoteForm()
        if not form.validate_on_submit():
            abort(400)
        try:
            if form.action.data in ("approve", "translate"):
                translating = form.action.data == "translate"
                services.approve_quote(
                    form.submission_id.data or 0,
                    form.question.data or "",
                    _user(),
                    form.translations(),
                    only_translations=translating,
                )
                if translating:
                    flash(_("The translations are saved for new reports."), "success")
                else:
                    flash(_("The answer is approved for quotation in new reports."), "success")
            elif services.revoke_quote(
                form.submission_id.data or 0, form.question.data or "", _user()
            ):
                flash(
                    _(
                        "The approval is withdrawn: new reports will not quote this answer. "
                        "Reports already generated keep it."
                    ),
                    "success",
                )
            db.session.commit()
        except services.ReportError as problem:
            db.session.rollback()
            flash(str(problem), "error")
        return redirect(url_for(".quotes", show=show))
    candidates = services.quote_candidates(show)
    labels: dict[str, str] = {}
    for candidate in candidates:  # the question's label in the interface language, not its name
        if candidate.question not in labels:
            spec = instruments.spec_for(candidate.submission.instrument_version)
            question = spec.questions_by_name.get(candidate.question)
            labels[candidate.question] = (
                spec.label(question.labels, current_language()) if question else candidate.question
            )
    return render_template(
        "reporting/quotes.html",
        candidates=candidates,
        question_labels=labels,
        districts={c.value: c.label for c in _choices(current_language())["districts"]},
        show=show,
        questions=quote_questions(),
        form=QuoteForm(),
    )
