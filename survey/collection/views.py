"""The volunteer's pages: start an interview, fill it, see the receipt, list own submissions."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import FieldList

from survey.clock import utcnow
from survey.collection import lists, services
from survey.collection import review as reviewing
from survey.collection import rounds as survey_rounds
from survey.collection.blueprint import bp
from survey.collection.forms import (
    ATTRIBUTE_PREFIX,
    REVIEW_STATUS_LABELS,
    SubmissionForm,
    enter_defaults,
    fill_defaults,
    form_class,
    list_path,
    question_field,
    repeat_fields,
    resize_repeat,
    show_errors,
    typed_answers,
    upload_field_names,
    uploaded_media,
)
from survey.collection.models import Submission, SubmissionMedia
from survey.collection.page import form_model, page_sections
from survey.errors import render_error
from survey.extensions import csrf, db
from survey.i18n import current_language
from survey.instruments import media as media_files
from survey.instruments import services as instruments
from survey.instruments.rules import Messages, default_values, evaluate_answers
from survey.users.access import any_role, roles_required
from survey.users.models import Role, User
from survey.users.services import record_audit

ENTERING_ROLES = (Role.VOLUNTEER, Role.COORDINATOR)


def rule_messages() -> Messages:
    """Default rule messages in the interface language."""
    return Messages(
        required=_("This question requires an answer."),
        constraint=_("This answer is not allowed."),
        invalid_choice=_("Choose one of the options shown."),
        too_many_entries=_("Too many entries were added."),
    )


@bp.route("/")
@any_role
def home() -> str:
    """Start page: the instruments to interview with and the user's recent work."""
    instruments_list = [
        (i, instruments.latest_version(i)) for i in instruments.list_instruments() if i.versions
    ]
    can_enter = current_user.has_role(*ENTERING_ROLES)
    sent_back_count, sent_back = (
        lists.sent_back_to(current_user._get_current_object()) if can_enter else (0, [])
    )
    return render_template(
        "collection/home.html",
        instruments=instruments_list,
        survey_round=survey_rounds.current_round(),
        can_enter=can_enter,
        sent_back=sent_back,
        sent_back_count=sent_back_count,
        instrument_titles={
            version.id: instruments.spec_for(version).title_in(current_language())
            for _instrument, version in instruments_list
        },
    )


@bp.route("/collect/<form_id>")
@roles_required(*ENTERING_ROLES)
def start(form_id: str) -> Response:
    """Open a new interview with the latest version of an instrument."""
    instrument = instruments.find_instrument(form_id)
    version = instruments.latest_version(instrument) if instrument else None
    if version is None:
        abort(404)
    return redirect(url_for("collection.fill", version_id=version.id))


def _accept_media_posts(spec: Any) -> Any:
    """Let a post of a form with media questions be as large as its files may be.

    Files are kept only up to their limit (media.capped_stream_factory), so a file too large
    gets a message on its question and the answers come back. A post of more than twice the
    allowance is not read at all; its answer (a page, or JSON for offline.js) says so."""
    allowance = media_files.request_allowance(spec)
    if request.method != "POST" or not allowance:
        return None
    request.max_content_length = 2 * allowance
    if (request.content_length or 0) > request.max_content_length:
        message = _(
            "Nothing was saved: the files chosen are together larger than %(size)s MB. Go back "
            "(your browser usually keeps the answers typed) and choose smaller files.",
            size=request.max_content_length // (1024 * 1024),
        )
        if _wants_json():
            return _json_answer(SaveAnswer("invalid", 413, message))
        return render_error(413, message)
    # Werkzeug asks the request for a file stream; this one keeps no more than the allowance.
    request._get_file_stream = media_files.capped_stream_factory(allowance)  # type: ignore[method-assign]
    return None


def _parse_started(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _apply_action(
    form: SubmissionForm, action: str, spec: Any = None
) -> tuple[str, Any, int] | None:
    """Add or remove a repeat entry without JavaScript ('add:member', 'remove:member:2';
    inside an entry of an outer repeat 'add:household-0-member'); return the repeat's field
    name, the entry and its index when one was added."""
    match = re.fullmatch(r"(add|remove):([\w.\-]+)(?::(\d+))?", action)
    if not match:
        return None
    field = question_field(form, match.group(2))
    if field is None and spec is not None:
        field = next((f for _r, f in repeat_fields(form, spec) if f.name == match.group(2)), None)
    if field is None or not hasattr(field, "entries"):
        return None
    if match.group(1) == "add":
        if len(field.entries) < (field.max_entries or 60):
            entry = field.append_entry()
            return match.group(2), entry, len(field.entries) - 1
    elif match.group(3) is not None:
        index = int(match.group(3))
        if 0 <= index < len(field.entries):
            field.entries.pop(index)
            # Re-number what follows so the next post reads the entries in order.
            for position, entry in enumerate(field.entries):
                _rename_entry(entry, f"{field.name}-{position}")
            field.last_index = len(field.entries) - 1
    return None


def _rename_entry(entry: Any, prefix: str) -> None:
    entry.name = entry.id = prefix
    for sub in entry.form:
        short = sub.name.rsplit("-", 1)[-1]
        sub.name = sub.id = f"{prefix}-{short}"
        if isinstance(sub, FieldList):  # a repeat inside the entry: its entries follow
            sub.name = sub.id = f"{prefix}-{sub.short_name}"
            for position, inner in enumerate(sub.entries):
                _rename_entry(inner, f"{sub.name}-{position}")


@bp.route("/collect/v/<int:version_id>", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token, so an expired one keeps the answers on screen
@roles_required(*ENTERING_ROLES)
def fill(version_id: int) -> Any:
    """Show the interview form; on submit check, then store once and show the receipt.

    A post asking for JSON (offline.js) gets a SaveAnswer as JSON instead of a page or redirect.
    """
    version = instruments.get_version(version_id)
    if version is None:
        abort(404)
    spec = instruments.spec_for(version)
    if (refused := _accept_media_posts(spec)) is not None:
        return refused
    language = current_language()
    form = form_class(spec, language)()
    status = 200
    form_message = None
    discard: list[tuple[str, str, str]] = []
    known: dict[str, Any] = {}  # the answers texts show ('${name}') on a page without script
    last_saved = lists.last_saved_answers(spec, current_user._get_current_object())
    if request.method == "GET":
        # Defaults given as expressions are evaluated once, when the interview is created.
        fill_defaults(form, default_values(spec, {}, today=utcnow().date(), last_saved=last_saved))
        form.instance_id.data = f"uuid:{uuid.uuid4()}"
        form.started_at.data = utcnow().isoformat(timespec="seconds")
        date_field = question_field(form, spec.intake.date_question)
        if date_field is not None and date_field.data is None:
            date_field.data = (
                utcnow().date().isoformat()
            )  # an interview is entered the day it is held
    else:
        outcome, action, csrf_ok, typed = _read_post(form, spec, language, last_saved or {})
        known = outcome.answers
        instance_id = services.valid_instance_id(form.instance_id.data)
        if not csrf_ok:
            if _wants_json():
                return _json_answer(SaveAnswer("expired", 400, _expired_message()))
            form_message, status = _expired_message(), 400
        elif action:
            added = _apply_action(form, action, spec)
            # A new entry gets its defaults, as ODK's odk-new-repeat; the entry of a repeat
            # inside a repeat ('household-0-member') reads its outer entries' answers.
            found = list_path(form, spec, added[0]) if added is not None else None
            if added is not None and found is not None:
                repeat, outer = found
                values = default_values(
                    spec,
                    known,
                    today=utcnow().date(),
                    last_saved=last_saved,
                    path=[*outer, (repeat.name, added[2])],
                )
                fill_defaults(added[1].form, values)
        elif instance_id is None:
            abort(400)
        elif (
            not _discard_confirmed()
            and services.refusal_reason(spec, outcome.answers)
            and (discard := services.discarded_answers(spec, typed, language))
        ):
            # One tap must not lose an interview: say what would be lost and ask first.
            message = _discard_message(len(discard))
            if _wants_json():
                return _json_answer(SaveAnswer("confirm_discard", 409, message))
            form_message, status = message, 409
        else:
            answer = _try_save(version, spec, outcome, instance_id, form, language)
            if _wants_json():
                return _json_answer(answer)
            if answer.location:
                return redirect(answer.location)
            form_message, status = answer.message, answer.http_status
    return (
        render_template(
            "collection/form.html",
            form=form,
            spec=spec,
            version=version,
            sections=page_sections(spec, form, language, date_bounds=_date_bounds(), answers=known),
            model=form_model(spec, language, rule_messages(), last_saved=last_saved),
            form_message=form_message,
            survey_round=survey_rounds.current_round(),
            discard=discard,
        ),
        status,
    )


def _with_stored_media(
    spec: Any, stored: dict[str, Any], corrected: dict[str, Any]
) -> dict[str, Any]:
    """The corrected answers with the media answers as stored: the files stay as they came.

    A repeat entry keeps the file name its own hidden input posted, and only when that is a
    file this submission stored for the question: entries move when one is removed, so a
    file is never carried over by position."""
    out = dict(corrected)
    stored_names: dict[str, set[str]] = {}
    # Files of repeat entries at any depth (repeats inside repeats too), by question.
    for file_name, key in services.media_answers(spec, stored).items():
        question = spec.questions_by_name.get(key)
        if question is not None and question.repeat is not None:
            stored_names.setdefault(key, set()).add(file_name)
    for name, value in stored.items():
        question = spec.questions_by_name.get(name)
        if question is not None and question.type in media_files.MEDIA_TYPES:
            out[name] = value

    def kept(entries: list[Any]) -> list[Any]:
        cleaned = []
        for entry in entries:
            entry = dict(entry)
            for key, value in entry.items():
                question = spec.questions_by_name.get(key)
                if key in spec.repeats_by_name and isinstance(value, list):
                    entry[key] = kept(value)
                elif question is not None and question.type in media_files.MEDIA_TYPES:
                    entry[key] = value if value in stored_names.get(key, set()) else None
            cleaned.append(entry)
        return cleaned

    for name in spec.repeats_by_name:
        if isinstance(out.get(name), list):
            out[name] = kept(out[name])
    return out


def _date_bounds(survey_round: Any = None) -> tuple[str, str, str] | None:
    """The interview date's first and last allowed day (ISO) and the message when outside."""
    survey_round = survey_round or survey_rounds.current_round()
    if survey_round is None:
        return None
    first, last = services.round_bounds(survey_round)
    return first.isoformat(), last.isoformat(), services.round_dates_message(survey_round)


def _wants_json() -> bool:
    """Whether the post asks for a JSON answer (offline.js sending an interview it queued)."""
    return request.accept_mimetypes.best == "application/json"


@dataclass(frozen=True)
class SaveAnswer:
    """What became of a submit: 'saved', 'duplicate', 'refusal', 'invalid', 'conflict', 'expired'.

    The page redirects to `location` or shows `message`; offline.js reads it as JSON.
    """

    status: str
    http_status: int = 201
    message: str | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    receipt_code: str | None = None
    location: str | None = None


def _json_answer(answer: SaveAnswer) -> tuple[Response, int]:
    return jsonify(
        status=answer.status,
        receipt_code=answer.receipt_code,
        errors=answer.errors,
        message=answer.message,
        location=answer.location,
    ), answer.http_status


def _read_post(
    form: SubmissionForm,
    spec: Any,
    language: str,
    last_saved: dict[str, Any] | None = None,
) -> tuple[Any, str, bool, dict]:
    """Check the CSRF token, parse the fields and apply the rules; nothing is stored here.

    Also returns the answers as typed, before the rules drop what is not relevant: what a
    refusal would discard is shown from these. With `last_saved` (a new interview), the entries
    a repeat_count adds get their defaults, as the page's script gives them."""
    form.validate()  # runs the CSRF check; question rules are applied below
    csrf_field = getattr(form, "csrf_token", None)
    csrf_ok = csrf_field is None or not csrf_field.errors
    answers, type_errors = typed_answers(form, spec)
    outcome = evaluate_answers(
        spec, answers, language=language, type_errors=type_errors, messages=rule_messages()
    )
    counted = {f.name: f for r, f in repeat_fields(form, spec) if r.repeat_count}
    added = False
    for name, count in outcome.repeat_counts.items():
        field = counted.get(name)
        if field is None:
            continue
        before = len(field.entries)
        resize_repeat(form, name, count, spec)
        # The new entries get their defaults, read in their outer entries when inside one.
        found = list_path(form, spec, name) if last_saved is not None else None
        if found is not None and last_saved is not None:
            repeat, outer = found
            added |= _fill_entry_defaults(
                field, spec, outcome.answers, [*outer, (repeat.name, 0)], before, last_saved
            )
    if added:  # the defaults are answers now: read and check them with the rest
        answers, type_errors = typed_answers(form, spec)
        outcome = evaluate_answers(
            spec, answers, language=language, type_errors=type_errors, messages=rule_messages()
        )
    return outcome, request.form.get("_action", ""), csrf_ok, answers


def _fill_entry_defaults(
    field: Any,
    spec: Any,
    known: dict[str, Any],
    path: list[tuple[str, int]],
    start: int,
    last_saved: dict[str, Any],
) -> bool:
    """Give the entries of a repeat list from `start` on their defaults (ODK's odk-new-repeat);
    `path` is the list's place, its last pair naming the repeat. Whether any default was put in."""
    filled = False
    outer, repeat = path[:-1], path[-1][0]
    for index in range(start, len(field.entries)):
        values = default_values(
            spec,
            known,
            today=utcnow().date(),
            last_saved=last_saved,
            path=[*outer, (repeat, index)],
        )
        enter_defaults(field.entries[index].form, values)
        filled |= bool(values)
    return filled


def _discard_confirmed() -> bool:
    """Whether the volunteer confirmed that the answers after a refusal are to be discarded."""
    return "1" in request.form.getlist("_discard")


def _discard_message(count: int) -> str:
    return ngettext(
        "With this answer the interview ends: %(count)s answer given after it will be discarded "
        "and only a refusal counted. Check the answer, or confirm below.",
        "With this answer the interview ends: %(count)s answers given after it will be discarded "
        "and only a refusal counted. Check the answer, or confirm below.",
        count,
        count=count,
    )


def _expired_message() -> str:
    return _("This page expired. Your answers are still here: press Submit again to save them.")


def _problems_message(errors: dict[str, list[str]]) -> str:
    count = sum(len(v) for v in errors.values())
    return _("Please check %(n)d answer(s) marked below. Nothing is lost.", n=count)


def _try_save(
    version: Any, spec: Any, outcome: Any, instance_id: str, form: SubmissionForm, language: str
) -> SaveAnswer:
    """Hand the interview to intake, commit, then say what became of it; answers stay on screen."""
    acknowledgement = services.receive_interview(
        services.Interview(
            version=version,
            spec=spec,
            outcome=outcome,
            instance_id=instance_id,
            language=language,
            entered_by=current_user._get_current_object(),
            source="web",
            started_at=_parse_started(form.started_at.data),
            device_receipt_code=(request.form.get("_receipt_code") or "")[:20] or None,
            media=uploaded_media(form, spec),
        )
    )
    if acknowledgement.stored:
        db.session.commit()  # before the volunteer is told it is saved
    else:
        db.session.rollback()
    return _answer(acknowledgement, spec, instance_id, form)


def _answer(
    acknowledgement: services.Acknowledgement, spec: Any, instance_id: str, form: SubmissionForm
) -> SaveAnswer:
    """The page's (or offline.js's) answer to an acknowledgement."""
    status = acknowledgement.status
    if status == "invalid":
        errors = {key: list(texts) for key, texts in acknowledgement.errors.items()}
        show_errors(form, spec, errors)
        return SaveAnswer("invalid", 422, _problems_message(errors), errors)
    if status == "no_round":
        message = _("No survey round is open. Ask an administrator to add one.")
        return SaveAnswer("conflict", 409, message)
    if status == "conflict":
        # Nothing was overwritten; a new identifier lets the volunteer keep these answers as
        # a new interview, if that is what they are (offline.js does the same).
        form.instance_id.data = f"uuid:{uuid.uuid4()}"
        message = _(
            "An interview with this identifier was already saved with different answers. "
            "Nothing was overwritten. To keep these answers as a new interview, check them and "
            "press Submit again."
        )
        return SaveAnswer("conflict", 409, message)
    if status == "refusal":
        return SaveAnswer(
            "refusal", location=url_for("collection.refusal_recorded", form_id=spec.form_id)
        )
    if acknowledgement.receipt_code is None:
        # Already received from another account: its receipt code is not for this volunteer.
        message = _(
            "This interview was already received from another account. Nothing more is needed."
        )
        flash(message, "info")
        return SaveAnswer(
            "duplicate", 200, message, location=url_for("collection.home"), receipt_code=None
        )
    if acknowledgement.notice:
        # Flashed too: a device sending its queue in the background shows it on the next page.
        flash(acknowledgement.notice, "warning")
    return SaveAnswer(
        status,  # "saved" or "duplicate"
        message=acknowledgement.notice,
        receipt_code=acknowledgement.receipt_code,
        location=url_for("collection.saved", instance_id=instance_id),
    )


@bp.route("/collect/saved/<instance_id>")
@roles_required(*ENTERING_ROLES)
def saved(instance_id: str) -> str:
    """The confirmation with the receipt code; only for the person who entered it."""
    submission = services.find_by_instance_id(instance_id)
    if submission is None or not _may_view(submission, current_user):
        abort(404)
    return render_template("collection/saved.html", submission=submission)


@bp.route("/collect/refusal/<form_id>")
@roles_required(*ENTERING_ROLES)
def refusal_recorded(form_id: str) -> str:
    """The interview ended at consent or age: nothing but a count was stored."""
    return render_template("collection/refusal.html", form_id=form_id)


def _may_view(submission: Submission, user: User) -> bool:
    """Coordinators always; volunteers their own while they may still correct it (48 hours,
    or while it is sent back): afterwards the answers are no longer theirs to read."""
    if user.has_role(Role.COORDINATOR):
        return True
    return submission.entered_by_id == user.id and reviewing.may_correct(submission, user)


@bp.route("/submissions")
@roles_required(*ENTERING_ROLES)
def my_submissions() -> str:
    """The volunteer's own submissions, newest first."""
    user = current_user._get_current_object()
    submissions = lists.submissions_of(user)
    return render_template(
        "collection/submissions.html",
        submissions=submissions,
        correctable={s.id for s in submissions if reviewing.may_correct(s, user)},
        instance_names=lists.instance_names(submissions),
        status_labels=REVIEW_STATUS_LABELS,
        district_labels=dict(reviewing.district_choices(current_language())),
    )


@bp.route("/submissions/<int:submission_id>")
@roles_required(*ENTERING_ROLES)
def show_submission(submission_id: int) -> str:
    """One submission, shown with the instrument version it was entered with."""
    submission = db.session.get(Submission, submission_id)
    if submission is None or not _may_view(submission, current_user):
        abort(404)
    spec = instruments.spec_for(submission.instrument_version)
    return render_template(
        "collection/submission.html",
        submission=submission,
        spec=spec,
        rows=lists.readable_answers(spec, submission.answers, current_language()),
        can_correct=reviewing.may_correct(submission, current_user._get_current_object()),
        media=db.session.execute(
            select(SubmissionMedia.question, SubmissionMedia.filename, SubmissionMedia.size)
            .where(SubmissionMedia.submission_id == submission.id)
            .order_by(SubmissionMedia.id)
        ).all(),
    )


@bp.route("/submissions/<int:submission_id>/media/<filename>")
@roles_required(*ENTERING_ROLES)
def submission_media(submission_id: int, filename: str) -> Response:
    """A photo or file of a submission, for those who may see the submission; audited."""
    submission = db.session.get(Submission, submission_id)
    if submission is None or not _may_view(submission, current_user):
        abort(404)
    item = db.session.execute(
        select(SubmissionMedia).where(
            SubmissionMedia.submission_id == submission.id, SubmissionMedia.filename == filename
        )
    ).scalar_one_or_none()
    if item is None:
        abort(404)
    record_audit(
        "submission_media_viewed",
        user=current_user._get_current_object(),
        target=f"submission {submission.id}",
        details={"file": item.filename},
    )
    db.session.commit()
    response = Response(item.data, content_type=item.content_type)
    # Identifying data: never cached, never rendered as a page of this site.
    response.headers["Content-Disposition"] = "attachment"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def _prefill(spec: Any, answers: dict[str, Any]) -> dict[str, Any]:
    """Stored answers as WTForms data, keyed by field attribute names."""
    data: dict[str, Any] = {}
    for name, value in answers.items():
        if name in spec.repeats_by_name and isinstance(value, list):
            # Entries (and the entries of repeats inside them) as objects WTForms reads.
            data[ATTRIBUTE_PREFIX + name] = [
                SimpleNamespace(**_prefill(spec, entry)) for entry in value
            ]
        else:
            data[ATTRIBUTE_PREFIX + name] = value
    return data


@bp.route("/submissions/<int:submission_id>/correct", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token, so an expired one keeps the answers on screen
@roles_required(*ENTERING_ROLES)
def correct(submission_id: int) -> Any:
    """Correct a submission with its own instrument version; the old answers are kept."""
    submission = db.session.get(Submission, submission_id)
    user = current_user._get_current_object()
    if submission is None or not (
        user.has_role(Role.COORDINATOR) or submission.entered_by_id == user.id
    ):
        abort(404)
    if not reviewing.may_correct(submission, user):
        flash(_("This submission can no longer be corrected. Ask a coordinator."), "warning")
        return redirect(url_for("collection.my_submissions"))
    spec = instruments.spec_for(submission.instrument_version)
    if (refused := _accept_media_posts(spec)) is not None:
        return refused
    language = current_language()
    form_type = form_class(spec, language)
    status, form_message, reason_error = 200, None, None
    reason = (request.form.get("_reason") or "").strip()
    known: dict[str, Any] = submission.answers or {}
    if request.method == "GET":
        form = form_type(formdata=None, data=_prefill(spec, submission.answers))
    else:
        form = form_type()
        outcome, action, csrf_ok, _typed = _read_post(form, spec, language)
        known = outcome.answers
        if not csrf_ok:
            form_message, status = _expired_message(), 400
        elif action:
            _apply_action(form, action, spec)
        else:
            errors = reviewing.correction_problems(spec, outcome)
            for field_name in upload_field_names(form, spec):
                # A correction changes answers, not the photos and files kept with them.
                errors.setdefault(field_name, []).append(
                    _("A file cannot be replaced in a correction.")
                )
            if not reason:
                reason_error = _("Say why the answers are corrected.")
            elif kind := services.identifier_in_text(reason):
                reason_error = services.identifier_message(kind)
            if errors or reason_error:
                show_errors(form, spec, errors)
                form_message = _problems_message(errors) if errors else reason_error
                status = 422
            else:
                answers = _with_stored_media(spec, submission.answers, outcome.answers)
                version = reviewing.correct_submission(submission, answers, reason, user)
                db.session.commit()
                flash(_("Correction saved.") if version else _("Nothing was changed."), "success")
                return redirect(url_for("collection.show_submission", submission_id=submission.id))
    return (
        render_template(
            "collection/form.html",
            form=form,
            spec=spec,
            version=submission.instrument_version,
            sections=page_sections(
                spec,
                form,
                language,
                date_bounds=_date_bounds(submission.survey_round),
                answers=known,
            ),
            model=form_model(spec, language, rule_messages()),
            form_message=form_message,
            survey_round=submission.survey_round,
            correcting=submission,
            reason=reason,
            reason_error=reason_error,
        ),
        status,
    )
