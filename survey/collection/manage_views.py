"""Coordinators' and admins' pages of intake: review, withdrawal by receipt code, survey rounds."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from survey.collection import review as reviewing
from survey.collection import rounds as survey_rounds
from survey.collection import services
from survey.collection.blueprint import bp
from survey.collection.forms import ReviewForm, RoundForm, WithdrawalForm
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


@bp.route("/review")
@roles_required(Role.COORDINATOR)
def review_list() -> str:
    """Submissions to review, by status."""
    status = request.args.get("status", ReviewStatus.PENDING.value)
    return render_template(
        "collection/review_list.html",
        submissions=reviewing.review_queue(status if status != "all" else None),
        status=status,
        statuses=reviewing.REVIEW_STATUSES,
    )


@bp.route("/review/<int:submission_id>", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR)
def review(submission_id: int) -> Any:
    """One submission with its corrections as a diff, and the review decision."""
    submission = db.session.get(Submission, submission_id)
    if submission is None:
        abort(404)
    form = ReviewForm(obj=submission, status=submission.review_status)
    if form.validate_on_submit():
        try:
            reviewing.review_submission(
                submission, form.status.data, form.comment.data or "", current_user
            )
        except reviewing.ReviewError as error:
            db.session.rollback()
            if error.args[0] == "identifier":
                form.comment.errors = [services.identifier_message(error.args[1])]
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
        rows=services.readable_answers(spec, submission.answers, language),
        history=reviewing.correction_history(spec, submission, language),
    ), (422 if form.errors else 200)


@bp.route("/withdrawal", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR)
def withdrawal() -> Any:
    """Find a submission by the respondent's receipt code and delete it for good."""
    form = WithdrawalForm()
    submission = None
    if form.validate_on_submit():
        submission = reviewing.find_by_receipt_code(form.receipt_code.data or "")
        if submission is None:
            form.receipt_code.errors = [
                _("No submission has this receipt code. Check the code with the respondent.")
            ]
        elif form.confirm.data:
            reviewing.withdraw_submission(submission, by=current_user._get_current_object())
            db.session.commit()
            flash(_("The answers were deleted completely."), "success")
            return redirect(url_for("collection.withdrawal"))
    return render_template("collection/withdrawal.html", form=form, submission=submission), (
        422 if form.errors else 200
    )
