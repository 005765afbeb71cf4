"""After intake: coordinators' review, corrections that keep every earlier version, withdrawal by
receipt code. Services flush; the view or CLI commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from survey.clock import utcnow
from survey.collection.models import REVIEW_STATUSES, ReviewStatus, Submission, SubmissionVersion
from survey.collection.services import (
    answers_digest,
    identifier_in_text,
    identifier_message,
    identifiers_in_answers,
    refusal_reason,
)
from survey.extensions import db
from survey.instruments.rules import Outcome
from survey.instruments.spec import InstrumentSpec
from survey.users.models import User
from survey.users.services import record_audit

CORRECTION_WINDOW = dt.timedelta(hours=48)


class ReviewError(ValueError):
    """A review, correction or withdrawal that cannot be done as asked."""


def _flat(answers: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Answers with repeat entries flattened to field keys ('member-0-member_age'; inside a
    repeat in a repeat 'household-0-member-1-age')."""
    flat: dict[str, Any] = {}
    for name, value in answers.items():
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            for index, entry in enumerate(value):
                flat.update(_flat(entry, f"{prefix}{name}-{index}-"))
        else:
            flat[prefix + name] = value
    return flat


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Field keys whose value differs between two sets of answers."""
    old, new = _flat(before), _flat(after)
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def may_correct(submission: Submission, user: User, now: dt.datetime | None = None) -> bool:
    """Coordinators always; volunteers their own, for 48 hours or while it is rejected."""
    if user.has_role("coordinator"):
        return True
    if submission.entered_by_id != user.id:
        return False
    received = submission.received_at
    if received.tzinfo is None:
        received = received.replace(tzinfo=dt.UTC)
    return submission.review_status == ReviewStatus.REJECTED or (now or utcnow()) - received < (
        CORRECTION_WINDOW
    )


def correct_submission(
    submission: Submission, answers: Mapping[str, Any], reason: str, user: User
) -> SubmissionVersion | None:
    """Replace the answers, keeping the earlier ones as a version (who, when, what, why), and
    audit it; None when nothing changed. Flushes only."""
    reason = reason.strip()
    if not reason:
        raise ReviewError("reason")
    if kind := identifier_in_text(reason):
        raise ReviewError("identifier", kind)
    fields = changed_fields(submission.answers, answers)
    if not fields:
        return None
    version = SubmissionVersion(
        submission=submission,
        number=len(submission.versions) + 1,
        answers=submission.answers,
        changed_fields=fields,
        reason=reason[:2000],
        changed_by_id=user.id,
    )
    db.session.add(version)
    submission.answers = dict(answers)
    submission.answers_sha256 = answers_digest(submission.instrument_version_id, answers)
    submission.updated_at = utcnow()
    if submission.review_status == ReviewStatus.REJECTED:
        submission.review_status = ReviewStatus.PENDING.value
    db.session.flush()
    record_audit(
        "submission_corrected",
        user=user,
        target=f"submission {submission.id}",
        details={"fields": version.changed_fields},
    )
    return version


def review_submission(submission: Submission, status: str, comment: str, reviewer: User) -> None:
    """Mark a submission approved, on hold or rejected (holding or rejecting needs a reason),
    audited."""
    if status not in REVIEW_STATUSES:
        raise ReviewError("status")
    comment = comment.strip()
    if status in (ReviewStatus.REJECTED, ReviewStatus.ON_HOLD) and not comment:
        raise ReviewError("comment")
    if kind := identifier_in_text(comment):
        raise ReviewError("identifier", kind)
    submission.review_status = status
    submission.review_comment = comment[:2000] or None
    submission.reviewed_by_id = reviewer.id
    submission.reviewed_at = utcnow()
    db.session.flush()
    record_audit(
        "submission_reviewed",
        user=reviewer,
        target=f"submission {submission.id}",
        details={"status": submission.review_status},
    )


@dataclass(frozen=True)
class QueueFilters:
    """What the coordinator narrowed the review queue to (every field optional)."""

    status: str | None = ReviewStatus.PENDING.value  # None: every status
    district: str | None = None
    volunteer_id: int | None = None
    round_id: int | None = None
    received_from: dt.date | None = None
    received_to: dt.date | None = None
    demo: str = ""  # "" both, "real" or "demo" only
    search: str = ""  # a receipt code or an instanceID
    newest_first: bool = False


@dataclass(frozen=True)
class QueuePage:
    """One page of the review queue, with the counts per status under the same filters."""

    submissions: list[Submission]
    total: int
    page: int
    pages: int
    per_page: int
    counts: dict[str, int] = field(default_factory=dict)


QUEUE_PAGE_SIZE = 50


def _queue_conditions(filters: QueueFilters) -> list[Any]:
    """The WHERE clauses of the filters, status aside."""
    from survey.collection.privacy import normalize_receipt_code

    conditions: list[Any] = []
    if filters.district:
        conditions.append(Submission.district == filters.district)
    if filters.volunteer_id is not None:
        conditions.append(Submission.entered_by_id == filters.volunteer_id)
    if filters.round_id is not None:
        conditions.append(Submission.round_id == filters.round_id)
    if filters.received_from is not None:
        start = dt.datetime.combine(filters.received_from, dt.time(), tzinfo=dt.UTC)
        conditions.append(Submission.received_at >= start)
    if filters.received_to is not None:
        end = dt.datetime.combine(filters.received_to + dt.timedelta(days=1), dt.time(), dt.UTC)
        conditions.append(Submission.received_at < end)
    if filters.demo in ("real", "demo"):
        conditions.append(Submission.is_demo.is_(filters.demo == "demo"))
    text = filters.search.strip()
    if text:
        instance = text if text.startswith("uuid:") else f"uuid:{text}"
        conditions.append(
            or_(
                holding_code(normalize_receipt_code(text)),
                Submission.instance_id.in_({text, instance}),
            )
        )
    return conditions


def holding_code(code: str) -> Any:
    """The WHERE clause for the submissions a normalized receipt code names: that one when it is
    scoped (CODE/2), otherwise every interview whose respondent holds it (CODE, CODE/2…)."""
    from survey.collection.privacy import SCOPE_SEPARATOR

    if SCOPE_SEPARATOR in code:
        return Submission.receipt_code == code
    return or_(
        Submission.receipt_code == code,
        Submission.receipt_code.startswith(code + SCOPE_SEPARATOR, autoescape=True),
    )


def review_queue(
    filters: QueueFilters, page: int = 1, per_page: int = QUEUE_PAGE_SIZE
) -> QueuePage:
    """A page of submissions to review, oldest first unless asked otherwise (the oldest pending
    interview is the one a volunteer has waited longest on), and the counts per status."""
    conditions = _queue_conditions(filters)
    counts = {status: 0 for status in REVIEW_STATUSES}
    for status, number in db.session.execute(
        select(Submission.review_status, func.count())
        .where(*conditions)
        .group_by(Submission.review_status)
    ):
        counts[status] = number
    if filters.status in REVIEW_STATUSES:
        conditions.append(Submission.review_status == filters.status)
        total = counts[filters.status]
    else:
        total = sum(counts.values())
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    order = (
        (Submission.received_at.desc(), Submission.id.desc())
        if filters.newest_first
        else (Submission.received_at.asc(), Submission.id.asc())
    )
    rows = db.session.execute(
        select(Submission)
        .options(joinedload(Submission.entered_by))
        .where(*conditions)
        .order_by(*order)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).scalars()
    return QueuePage(list(rows), total, page, pages, per_page, counts)


def approve_many(ids: list[int], reviewer: User) -> int:
    """Approve the submissions with these ids that are not approved yet (comments kept);
    returns how many changed. Each is audited. Flushes only."""
    submissions = db.session.execute(
        select(Submission).where(
            Submission.id.in_(ids), Submission.review_status != ReviewStatus.APPROVED.value
        )
    ).scalars()
    changed = 0
    for submission in submissions:
        review_submission(
            submission, ReviewStatus.APPROVED.value, submission.review_comment or "", reviewer
        )
        changed += 1
    return changed


def submissions_holding(code: str) -> list[Submission]:
    """Every submission whose respondent holds this receipt code: one, or several when devices
    issued the same code (kept scoped as CODE/2…, see services._unused_receipt_code). A scoped
    code, as the review queue shows it, names its one submission."""
    from survey.collection.privacy import normalize_receipt_code

    held = normalize_receipt_code(code)
    if not held:
        return []
    return list(
        db.session.execute(
            select(Submission).where(holding_code(held)).order_by(Submission.id)
        ).scalars()
    )


def withdraw_submission(submission: Submission, by: User | None = None) -> dict[str, Any]:
    """Delete a submission and all its earlier versions, audited with what the audit may keep
    (never the answers or the receipt code); returns that trace."""
    trace = {
        "submission": submission.id,
        "instrument": submission.instrument_version.instrument.form_id,
        "round": submission.survey_round.name,
    }
    db.session.delete(submission)
    db.session.flush()
    record_audit("submission_withdrawn", user=by, details=trace)
    return trace


def correction_problems(spec: InstrumentSpec, outcome: Outcome) -> dict[str, list[str]]:
    """What stops a correction: the rules' problems, identifiers in free text, and answers that
    would make the interview a refusal (withdrawal is the way to remove answers)."""
    errors = {key: list(texts) for key, texts in outcome.errors.items()}
    for key, kind in identifiers_in_answers(spec, outcome.answers).items():
        errors.setdefault(key, []).append(identifier_message(kind))
    if refusal_reason(spec, outcome.answers):
        errors.setdefault(spec.intake.consent_question, []).append(
            _("To remove a respondent's answers, use withdrawal with the receipt code.")
        )
    return errors


def correction_history(
    spec: InstrumentSpec, submission: Submission, language: str
) -> list[dict[str, Any]]:
    """Each correction, newest first: who, when, why, and before → after per changed field."""
    states = [v.answers for v in submission.versions] + [submission.answers]
    history = []
    for index, version in enumerate(submission.versions):
        before, after = _flat(states[index]), _flat(states[index + 1])
        changes = []
        for key in version.changed_fields:
            name = key.rsplit("-", 1)[-1]
            question = spec.questions_by_name.get(name)
            label = spec.label(question.labels, language) if question else name
            if key != name:  # inside a repeat: name the entry by the repeat's label
                repeat_name, index = key.split("-")[0], int(key.split("-")[1]) + 1
                repeat = spec.repeats_by_name.get(repeat_name)
                entry = spec.label(repeat.labels, language) if repeat else repeat_name
                label = f"{label} ({entry} {index})"
            changes.append(
                (
                    label,
                    _answer_text(spec, question, before.get(key), language),
                    _answer_text(spec, question, after.get(key), language),
                )
            )
        history.append({"version": version, "changes": changes})
    return list(reversed(history))


def _answer_text(spec: InstrumentSpec, question: Any, value: Any, language: str) -> str:
    if value is None:
        return "—"
    if question is not None and question.choice_list:
        codes = value if isinstance(value, list) else [value]
        return ", ".join(spec.choice_label(question.choice_list, str(c), language) for c in codes)
    return str(value)


def entering_users() -> list[User]:
    """Accounts that can enter interviews, for the queue's volunteer filter."""
    return list(
        db.session.execute(
            select(User).where(User.role.in_(("volunteer", "coordinator"))).order_by(User.username)
        ).scalars()
    )


def district_choices(language: str) -> list[tuple[str, str]]:
    """(code, label) of the districts in the instruments' district lists, in a language."""
    from survey.instruments import services as instruments

    found: dict[str, str] = {}
    for instrument in instruments.list_instruments():
        version = instruments.latest_version(instrument)
        if version is None:
            continue
        spec = instruments.spec_for(version)
        question = spec.questions_by_name.get(spec.intake.district_question)
        if question is None or not question.choice_list:
            continue
        for choice in spec.choices.get(question.choice_list, ()):
            found.setdefault(
                choice.name, spec.choice_label(question.choice_list, choice.name, language)
            )
    return sorted(found.items(), key=lambda item: item[1])
