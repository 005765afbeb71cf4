"""Coordinators' and admins' pages of intake: review, withdrawal by receipt code, survey rounds."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from survey.collection import lists, services
from survey.collection import review as reviewing
from survey.collection import rounds as survey_rounds
from survey.collection.blueprint import bp
from survey.collection.forms import (
    REVIEW_STATUS_LABELS,
    QueueFilterForm,
    ReviewForm,
    RoundForm,
    WithdrawalForm,
)
from survey.collection.models import ReviewStatus, Submission
from survey.extensions import db
from survey.i18n import current_language
from survey.instruments import services as instruments
from survey.users.access import roles_required
from survey.users.models import Role


@bp.route("/admin/rounds", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def rounds() -> Any:
    """List survey rounds and add one."""
    form = RoundForm()
    if form.validate_on_submit():
        try:
            survey_rounds.create_round(form.name.data or "", form.starts_on.data, form.ends_on.data)
            db.session.commit()
        except survey_rounds.RoundError as error:
            db.session.rollback()
            form.name.errors = [str(error)]
        else:
            flash(_("Round added."), "success")
            return redirect(url_for("collection.rounds"))
    return render_template("collection/rounds.html", form=form, rounds=survey_rounds.list_rounds())


def _queue_filter_form() -> tuple[QueueFilterForm, reviewing.QueueFilters]:
    """The filter form bound to the query string, and the filters it validly asks for."""
    form = QueueFilterForm(request.args, meta={"csrf": False})
    language = current_language()
    form.status.choices = [
        SelectChoice(status, str(label)) for status, label in REVIEW_STATUS_LABELS.items()
    ] + [SelectChoice("all", _("All statuses"))]
    form.district.choices = [SelectChoice("", _("All districts"))] + [
        SelectChoice(code, label) for code, label in reviewing.district_choices(language)
    ]
    form.volunteer.choices = [SelectChoice("", _("All volunteers"))] + [
        SelectChoice(str(user.id), user.username) for user in reviewing.entering_users()
    ]
    form.round.choices = [SelectChoice("", _("All rounds"))] + [
        SelectChoice(str(r.id), r.name) for r in survey_rounds.list_rounds()
    ]
    if not request.args.get("status"):
        form.status.data = ReviewStatus.PENDING.value
    form.validate()
    valid = lambda field: field.data if not field.errors else None  # noqa: E731
    status = valid(form.status) or ReviewStatus.PENDING.value
    filters = reviewing.QueueFilters(
        status=None if status == "all" else status,
        district=valid(form.district) or None,
        volunteer_id=int(form.volunteer.data) if valid(form.volunteer) else None,
        round_id=int(form.round.data) if valid(form.round) else None,
        received_from=valid(form.received_from),
        received_to=valid(form.received_to),
        demo=valid(form.demo) or "",
        search=valid(form.q) or "",
        newest_first=valid(form.sort) == "newest",
    )
    return form, filters


@bp.route("/review")
@roles_required(Role.COORDINATOR)
def review_list() -> tuple[str, int]:
    """The review queue: filtered, sorted, one page at a time, with counts per status."""
    form, filters = _queue_filter_form()
    page = request.args.get("page", "1")
    queue = reviewing.review_queue(filters, page=int(page) if page.isdigit() else 1)
    arguments = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "collection/review_list.html",
        form=form,
        queue=queue,
        instance_names=lists.instance_names(queue.submissions),
        arguments=arguments,
        status=filters.status or "all",
        status_labels=REVIEW_STATUS_LABELS,
        district_labels=dict(reviewing.district_choices(current_language())),
    ), (422 if form.errors else 200)


def _back_arguments(text: str) -> dict[str, str]:
    """The queue's filters to return to, as posted back by the page (anything odd is dropped)."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    allowed = set(QueueFilterForm.__dict__) | {"page"}
    return {k: v for k, v in value.items() if k in allowed and isinstance(v, str)}


@bp.route("/review/approve", methods=["POST"])
@roles_required(Role.COORDINATOR)
def approve_selected() -> Any:
    """Approve the ticked submissions, after a confirmation page that says how many."""
    ids = sorted({int(i) for i in request.form.getlist("ids") if i.isdigit()})
    back_arguments = _back_arguments(request.form.get("back", ""))
    back = url_for("collection.review_list", **back_arguments)
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    if not ids:
        flash(_("Tick the submissions to approve first."), "warning")
        return redirect(back)
    if request.form.get("confirm") != "1":
        return render_template(
            "collection/review_confirm.html",
            ids=ids,
            back=back,
            back_arguments=json.dumps(back_arguments),
        )
    changed = reviewing.approve_many(ids, current_user._get_current_object())
    db.session.commit()
    flash(
        ngettext("%(num)d submission approved.", "%(num)d submissions approved.", changed),
        "success",
    )
    return redirect(back)


@bp.route("/review/<int:submission_id>", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR)
def review(submission_id: int) -> Any:
    """One submission with its corrections as a diff, and the review decision."""
    submission = db.session.get(Submission, submission_id)
    if submission is None:
        abort(404)
    # Re-opened, the form shows the earlier decision and comment, so saving again keeps them.
    form = ReviewForm(status=submission.review_status, comment=submission.review_comment)
    if form.validate_on_submit():
        try:
            reviewing.review_submission(
                submission, form.status.data, form.comment.data or "", current_user
            )
        except reviewing.ReviewError as error:
            db.session.rollback()
            if error.args[0] == "identifier":
                form.comment.errors = [services.identifier_message(error.args[1])]
            elif form.status.data == ReviewStatus.ON_HOLD:
                form.comment.errors = [_("Say why the submission is held.")]
            else:
                form.comment.errors = [_("Say what the volunteer should fix.")]
        else:
            db.session.commit()
            flash(_("Review saved."), "success")
            return redirect(url_for("collection.review_list"))
    spec = instruments.spec_for(submission.instrument_version)
    language = current_language()
    return render_template(
        "collection/review.html",
        submission=submission,
        spec=spec,
        form=form,
        rows=lists.readable_answers(spec, submission.answers, language),
        history=reviewing.correction_history(spec, submission, language),
    ), (422 if form.errors else 200)


@bp.route("/withdrawal", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR)
def withdrawal() -> Any:
    """Find a submission by the respondent's receipt code and delete it for good."""
    form = WithdrawalForm()
    submission = None
    holders: list[Any] = []
    if form.validate_on_submit():
        holders = reviewing.submissions_holding(form.receipt_code.data or "")
        chosen = request.form.get("submission", "")
        if len(holders) == 1:
            submission = holders[0]
        else:
            submission = next((s for s in holders if str(s.id) == chosen), None)
        if not holders:
            form.receipt_code.errors = [
                _("No submission has this receipt code. Check the code with the respondent.")
            ]
        elif submission is None and (form.confirm.data or request.form.get("action")):
            form.confirm.errors = [
                _(
                    "Nothing was deleted. Choose the respondent's interview by its district and "
                    "date, then confirm."
                )
            ]
        elif submission is not None and form.confirm.data:
            reviewing.withdraw_submission(submission, by=current_user._get_current_object())
            db.session.commit()
            flash(_("The answers were deleted completely."), "success")
            return redirect(url_for("collection.withdrawal"))
        elif request.form.get("action") == "delete":
            form.confirm.errors = [
                _("Nothing was deleted. Tick the box above Delete to confirm, then press Delete.")
            ]
    language = current_language()
    title = (
        instruments.spec_for(submission.instrument_version).title_in(language)
        if submission is not None
        else None
    )
    return render_template(
        "collection/withdrawal.html",
        form=form,
        submission=submission,
        holders=holders if len(holders) > 1 else [],
        title=title,
        district_labels=dict(reviewing.district_choices(language)),
    ), (422 if form.errors else 200)
