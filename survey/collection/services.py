"""Store submissions and refusals. Services flush; the view or CLI commits."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from survey.collection.models import Refusal, Submission, SubmissionVersion, SurveyRound
from survey.collection.privacy import find_identifiers, new_receipt_code
from survey.extensions import db
from survey.instruments.models import InstrumentVersion
from survey.instruments.spec import InstrumentSpec
from survey.users.models import User, utcnow


class SubmissionConflict(ValueError):
    """The instanceID is already stored with different answers."""


class RoundError(ValueError):
    """A survey round cannot be created as asked."""


@dataclass(frozen=True)
class SaveResult:
    """What happened to a submission: 'saved', 'duplicate' (already stored) or 'refusal'."""

    outcome: str
    submission: Submission | None = None
    refusal: Refusal | None = None


def valid_instance_id(text: str | None) -> str | None:
    """The canonical 'uuid:…' form of an instanceID, or None when it is not a UUID."""
    if not text:
        return None
    raw = text.strip().removeprefix("uuid:")
    try:
        return f"uuid:{uuid.UUID(raw)}"
    except ValueError:
        return None


def answers_digest(version_id: int, answers: Mapping[str, Any]) -> str:
    """A stable fingerprint of the answers, to recognise a resent submission."""
    canonical = json.dumps(
        {"v": version_id, "a": answers}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def refusal_reason(spec: InstrumentSpec, answers: Mapping[str, Any]) -> str | None:
    """'no_consent' or 'under_age' when the interview must store nothing; else None."""
    rules = spec.intake
    if rules.consent_question in spec.questions_by_name:
        consent = answers.get(rules.consent_question)
        if consent is not None and consent != rules.consent_value:
            return "no_consent"
    age = answers.get(rules.age_question)
    if isinstance(age, int | float) and age < rules.minimum_age:
        return "under_age"
    return None


def identifiers_in_answers(spec: InstrumentSpec, answers: Mapping[str, Any]) -> dict[str, str]:
    """Field key → kind of direct identifier found in its free text ('iin', 'phone', 'email')."""
    found: dict[str, str] = {}

    def check(key: str, name: str, value: Any) -> None:
        question = spec.questions_by_name.get(name)
        if question is None or question.type != "text" or not isinstance(value, str):
            return
        hits = find_identifiers(value)
        if hits:
            found[key] = hits[0].kind

    for name, value in answers.items():
        if isinstance(value, list) and name in spec.repeats_by_name:
            for index, entry in enumerate(value):
                for child, child_value in entry.items():
                    check(f"{name}-{index}-{child}", child, child_value)
        else:
            check(name, name, value)
    return found


def current_round(today: dt.date | None = None) -> SurveyRound | None:
    """The round new interviews join: the latest one open today, else the latest started."""
    today = today or dt.date.today()
    rounds = db.session.execute(
        select(SurveyRound).order_by(SurveyRound.starts_on.desc(), SurveyRound.id.desc())
    ).scalars()
    fallback = None
    for survey_round in rounds:
        if survey_round.starts_on <= today and (
            survey_round.ends_on is None or today <= survey_round.ends_on
        ):
            return survey_round
        if fallback is None and survey_round.starts_on <= today:
            fallback = survey_round
    return fallback


def create_round(name: str, starts_on: dt.date, ends_on: dt.date | None = None) -> SurveyRound:
    """Add a survey round; names are unique and dates in order."""
    name = name.strip()
    if not name or len(name) > 100:
        raise RoundError("A round needs a name of 1 to 100 characters.")
    if ends_on is not None and ends_on < starts_on:
        raise RoundError("The round cannot end before it starts.")
    if db.session.execute(select(SurveyRound).where(SurveyRound.name == name)).first():
        raise RoundError(f"A round named {name!r} already exists.")
    survey_round = SurveyRound(name=name, starts_on=starts_on, ends_on=ends_on)
    db.session.add(survey_round)
    db.session.flush()
    return survey_round


def list_rounds() -> list[SurveyRound]:
    """All rounds, newest first."""
    return list(
        db.session.execute(select(SurveyRound).order_by(SurveyRound.starts_on.desc())).scalars()
    )


def find_by_instance_id(instance_id: str) -> Submission | None:
    """The stored submission with this instanceID."""
    return db.session.execute(
        select(Submission).where(Submission.instance_id == instance_id)
    ).scalar_one_or_none()


def _unused_receipt_code() -> str:
    while True:
        code = new_receipt_code()
        taken = db.session.execute(
            select(Submission.id).where(Submission.receipt_code == code)
        ).first()
        if taken is None:
            return code


def save_submission(
    *,
    version: InstrumentVersion,
    spec: InstrumentSpec,
    answers: Mapping[str, Any],
    instance_id: str,
    survey_round: SurveyRound,
    language: str,
    entered_by: User | None,
    started_at: dt.datetime | None = None,
    ended_at: dt.datetime | None = None,
    source: str = "web",
    is_demo: bool = False,
) -> SaveResult:
    """Store checked answers once per instanceID; a resend is acknowledged, a change refused.

    The caller has applied the instrument's rules (rules.evaluate_answers) and the identifier
    screening; this function records a refusal instead when consent or age say so.
    """
    digest = answers_digest(version.id, answers)
    existing = find_by_instance_id(instance_id)
    if existing is not None:
        if existing.answers_sha256 == digest:
            return SaveResult("duplicate", submission=existing)
        raise SubmissionConflict(instance_id)
    refused = db.session.execute(
        select(Refusal).where(Refusal.instance_id == instance_id)
    ).scalar_one_or_none()
    reason = refusal_reason(spec, answers)
    district = answers.get(spec.intake.district_question)
    district = str(district) if district is not None else None
    if refused is not None:
        if reason is not None:
            return SaveResult("refusal", refusal=refused)
        raise SubmissionConflict(instance_id)
    if reason is not None:
        refusal = Refusal(
            instance_id=instance_id,
            instrument_id=version.instrument_id,
            round_id=survey_round.id,
            district=district,
            day=(started_at or utcnow()).date(),
            reason=reason,
        )
        db.session.add(refusal)
        db.session.flush()
        return SaveResult("refusal", refusal=refusal)
    submission = Submission(
        instance_id=instance_id,
        receipt_code=_unused_receipt_code(),
        instrument_version_id=version.id,
        round_id=survey_round.id,
        entered_by_id=entered_by.id if entered_by is not None else None,
        answers=dict(answers),
        answers_sha256=digest,
        language=language,
        source=source,
        district=district,
        started_at=started_at,
        ended_at=ended_at or utcnow(),
        is_demo=is_demo,
    )
    db.session.add(submission)
    db.session.flush()
    return SaveResult("saved", submission=submission)


def is_duplicate_race(error: IntegrityError) -> bool:
    """Whether an IntegrityError came from a concurrent insert of the same instanceID."""
    return "instance_id" in str(error.orig)


def submissions_of(user: User, limit: int = 200) -> list[Submission]:
    """The user's own submissions, newest first."""
    return list(
        db.session.execute(
            select(Submission)
            .where(Submission.entered_by_id == user.id)
            .order_by(Submission.received_at.desc())
            .limit(limit)
        ).scalars()
    )


def refusal_counts() -> list[tuple[str | None, dt.date, str, int]]:
    """Refusals per district, day and reason."""
    rows = db.session.execute(
        select(Refusal.district, Refusal.day, Refusal.reason, func.count())
        .group_by(Refusal.district, Refusal.day, Refusal.reason)
        .order_by(Refusal.day.desc())
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def round_for(day: dt.date) -> SurveyRound | None:
    """The round an interview held on this day belongs to (the current one as fallback)."""
    return current_round(day) or current_round()


def readable_answers(
    spec: InstrumentSpec, answers: Mapping[str, Any], language: str
) -> list[tuple[str, str, str]]:
    """(section label, question label, answer text) rows in document order, labels translated."""
    rows: list[tuple[str, str, str]] = []

    def text(question: Any, value: Any) -> str:
        if question.choice_list:
            codes = value if isinstance(value, list) else [value]
            return ", ".join(
                spec.choice_label(question.choice_list, str(c), language) for c in codes
            )
        return str(value)

    for section in spec.sections:
        title = spec.label(section.labels, language)
        for item in section.items:
            if hasattr(item, "questions"):
                for index, entry in enumerate(answers.get(item.name) or [], 1):
                    for question in item.questions:
                        if question.name in entry and question.type != "calculate":
                            label = f"{spec.label(item.labels, language)} {index}: " + (
                                spec.label(question.labels, language) or question.name
                            )
                            rows.append((title, label, text(question, entry[question.name])))
            elif item.name in answers and item.type not in {"calculate", "note"}:
                label = spec.label(item.labels, language) or item.name
                rows.append((title, label, text(item, answers[item.name])))
    return rows


REVIEW_STATUSES = ("pending", "approved", "on_hold", "rejected")
CORRECTION_WINDOW = dt.timedelta(hours=48)


class ReviewError(ValueError):
    """A review, correction or withdrawal that cannot be done as asked."""


def _flat(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Answers with repeat entries flattened to field keys ('member-0-member_age')."""
    flat: dict[str, Any] = {}
    for name, value in answers.items():
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            for index, entry in enumerate(value):
                for child, child_value in entry.items():
                    flat[f"{name}-{index}-{child}"] = child_value
        else:
            flat[name] = value
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
    return submission.review_status == "rejected" or (now or utcnow()) - received < (
        CORRECTION_WINDOW
    )


def correct_submission(
    submission: Submission, answers: Mapping[str, Any], reason: str, user: User
) -> SubmissionVersion | None:
    """Replace the answers, keeping the earlier ones as a version (who, when, what, why)."""
    reason = reason.strip()
    if not reason:
        raise ReviewError("reason")
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
    if submission.review_status == "rejected":
        submission.review_status = "pending"
    db.session.flush()
    return version


def review_submission(submission: Submission, status: str, comment: str, reviewer: User) -> None:
    """Mark a submission approved, on hold or rejected (a rejection needs a comment)."""
    if status not in REVIEW_STATUSES:
        raise ReviewError("status")
    comment = comment.strip()
    if status == "rejected" and not comment:
        raise ReviewError("comment")
    submission.review_status = status
    submission.review_comment = comment[:2000] or None
    submission.reviewed_by_id = reviewer.id
    submission.reviewed_at = utcnow()
    db.session.flush()


def review_queue(status: str | None = None, limit: int = 200) -> list[Submission]:
    """Submissions to review, oldest pending first; optionally one status only."""
    query = select(Submission).order_by(Submission.received_at.desc()).limit(limit)
    if status in REVIEW_STATUSES:
        query = query.where(Submission.review_status == status)
    return list(db.session.execute(query).scalars())


def find_by_receipt_code(code: str) -> Submission | None:
    """The submission a respondent's receipt code belongs to."""
    from survey.collection.privacy import normalize_receipt_code

    return db.session.execute(
        select(Submission).where(Submission.receipt_code == normalize_receipt_code(code))
    ).scalar_one_or_none()


def withdraw_submission(submission: Submission) -> dict[str, Any]:
    """Delete a submission and all its earlier versions; return what the audit may keep."""
    trace = {
        "submission": submission.id,
        "instrument": submission.instrument_version.instrument.form_id,
        "round": submission.survey_round.name,
    }
    db.session.delete(submission)
    db.session.flush()
    return trace


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
            if key != name:
                label = f"{label} ({key.split('-')[0]} {int(key.split('-')[1]) + 1})"
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
