"""Intake: the one service every channel calls (web form, offline queue, OpenRosa).

`receive_interview` decides everything about an interview that arrives, in one place: refusal
trimming (a refusal keeps only consent, age and district), identifier screening, the survey round,
storing once per instanceID, the audit entry, and a resend or a race of the same instanceID:
- the same answers again → the original receipt, shown only to the volunteer who entered the
  interview (or a coordinator); anyone else is told it was already received;
- different answers → a conflict: nothing is overwritten, the volunteer keeps the answers and can
  send them as a new interview.
Two requests racing with one instanceID are decided exactly like a resend: the loser's insert
fails on the unique instanceID inside a savepoint, and it reads the winner's committed row.

Services flush; the caller commits, then acknowledges (a receipt only after the commit).

One module past 600 lines because it is the one intake service every channel calls (web form,
offline queue, OpenRosa): screening, refusals, the round, the receipt code, the duplicate race,
media and the audit are decided here together, in the order `receive_interview` runs them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, has_app_context
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from survey.clock import utcnow
from survey.collection.lists import readable_answers
from survey.collection.models import (
    Refusal,
    Submission,
    SubmissionMedia,
    SurveyRound,
)
from survey.collection.privacy import (
    DEFAULT_PHONE_REGIONS,
    SCOPE_SEPARATOR,
    device_receipt_code,
    find_identifiers,
    new_receipt_code,
    normalize_receipt_code,
)
from survey.collection.rounds import round_for
from survey.extensions import db
from survey.instruments.media import MEDIA_TYPES, MediaFile
from survey.instruments.models import InstrumentVersion
from survey.instruments.registry import format_point
from survey.instruments.rules import Outcome
from survey.instruments.services import phone_number_questions
from survey.instruments.spec import InstrumentSpec
from survey.users.models import Role, User
from survey.users.services import record_audit


class SubmissionConflict(ValueError):
    """The instanceID is already stored with different answers."""


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


def discarded_answers(
    spec: InstrumentSpec, answers: Mapping[str, Any], language: str
) -> list[tuple[str, str, str]]:
    """The answers a refusal would throw away, as readable rows: everything given after the
    question that ends the interview (consent refused, or an age under the minimum)."""
    reason = refusal_reason(spec, answers)
    if reason is None:
        return []
    trigger = spec.intake.consent_question if reason == "no_consent" else spec.intake.age_question
    order = [item.name for section in spec.sections for item in section.items]
    if trigger not in order:
        return []
    after = set(order[order.index(trigger) + 1 :])
    kept = {
        name: value for name, value in answers.items() if name in after and value not in ("", [])
    }
    return readable_answers(spec, kept, language)


def identifier_in_answer(
    spec: InstrumentSpec, question: str, text: str, regions: Sequence[str] | None = None
) -> str | None:
    """The kind of the first direct identifier screening refuses in a text answer to `question`
    ('iin', 'phone', 'email'): phone numbers pass in the questions that keep them, when the
    admin confirmed 'phone_numbers' at import (instruments.services.phone_number_questions)."""
    phones_kept = "phone_numbers" in spec.identifying_kept and question in phone_number_questions(
        spec
    )
    for hit in find_identifiers(text, phone_regions() if regions is None else regions):
        if not (phones_kept and hit.kind == "phone"):
            return hit.kind
    return None


def identifiers_in_answers(spec: InstrumentSpec, answers: Mapping[str, Any]) -> dict[str, str]:
    """Field key → kind of direct identifier found in its free text ('iin', 'phone', 'email')."""
    found: dict[str, str] = {}
    regions = phone_regions()

    def check(key: str, name: str, value: Any) -> None:
        question = spec.questions_by_name.get(name)
        if question is None or question.type != "text" or not isinstance(value, str):
            return
        kind = identifier_in_answer(spec, name, value, regions)
        if kind is not None:
            found[key] = kind

    def walk(values: Mapping[str, Any], prefix: str) -> None:
        for name, value in values.items():
            if isinstance(value, list) and name in spec.repeats_by_name:
                # Entries of repeats inside repeats too: 'household-0-member-1-note'.
                for index, entry in enumerate(value):
                    if isinstance(entry, Mapping):
                        walk(entry, f"{prefix}{name}-{index}-")
            else:
                check(prefix + name, name, value)

    walk(answers, "")
    return found


# Grid, in degrees, that locations are coarsened to when the admin did not confirm precise
# locations at import: 0.01 degree of latitude is about 1.1 km.
LOCATION_GRID_DEGREES = 0.01
DEVICE_ID_TYPES = frozenset(
    {"deviceid", "subscriberid", "simserial", "phonenumber", "username", "email"}
)
LOCATION_TYPES = frozenset({"geopoint", "geotrace", "geoshape", "start_geopoint"})


def coarsened_location(value: str, grid: float = LOCATION_GRID_DEGREES) -> str:
    """A point, line or shape on a grid, without altitude and accuracy (they narrow it down)."""
    points = []
    for point in value.split(";"):
        parts = point.split()
        if len(parts) < 2:
            continue
        lat, lon = (round(round(float(p) / grid) * grid, 6) for p in parts[:2])
        points.append(format_point((lat, lon)))
    return "; ".join(points)


def answers_on_arrival(
    spec: InstrumentSpec,
    answers: Mapping[str, Any],
    *,
    source: str,
    started_at: dt.datetime | None,
    ended_at: dt.datetime | None,
) -> dict[str, Any]:
    """The answers as stored: metadata the server knows filled in for the web form, identifying
    data the admin did not confirm at import coarsened (locations) or dropped (device ids)."""
    kept = set(spec.identifying_kept)

    def clean(question_values: Mapping[str, Any], top: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in question_values.items():
            question = spec.questions_by_name.get(name)
            if isinstance(value, list) and name in spec.repeats_by_name:
                out[name] = [clean(entry, False) for entry in value]
                continue
            kind = question.type if question is not None else None
            if kind in DEVICE_ID_TYPES and "device_ids" not in kept:
                continue
            if kind == "audit":
                continue
            if kind in LOCATION_TYPES and isinstance(value, str) and "precise_location" not in kept:
                value = coarsened_location(value) or None
            if value is not None:
                out[name] = value
        if top and source == "web":
            for question in spec.iter_questions():
                if question.repeat is not None:
                    continue
                if question.type == "start" and started_at is not None:
                    out[question.name] = started_at.isoformat(timespec="seconds")
                elif question.type == "end" and ended_at is not None:
                    out[question.name] = ended_at.isoformat(timespec="seconds")
                elif question.type == "today" and started_at is not None:
                    out[question.name] = started_at.date().isoformat()
        return out

    return clean(answers, True)


def phone_regions() -> tuple[str, ...]:
    """The regions whose phone numbers screening looks for (SCREENING_PHONE_REGIONS)."""
    configured = current_app.config.get("SCREENING_PHONE_REGIONS") if has_app_context() else None
    return tuple(configured or DEFAULT_PHONE_REGIONS)


def identifier_in_text(text: str) -> str | None:
    """The kind of the first direct identifier in a staff-typed text (reason, comment), if any."""
    hits = find_identifiers(text, phone_regions())
    return hits[0].kind if hits else None


def find_by_instance_id(instance_id: str) -> Submission | None:
    """The stored submission with this instanceID."""
    return db.session.execute(
        select(Submission).where(Submission.instance_id == instance_id)
    ).scalar_one_or_none()


def _code_taken(code: str) -> bool:
    return (
        db.session.execute(select(Submission.id).where(Submission.receipt_code == code)).first()
        is not None
    )


def _first_receipt_code(instance_id: str, device_code: str | None = None) -> str:
    """The code _unused_receipt_code tries first: the device's when derived from this
    instanceID, otherwise a new random one."""
    if device_code and normalize_receipt_code(device_code) == device_receipt_code(instance_id):
        return device_receipt_code(instance_id)
    return new_receipt_code()


def _arrival(instance_id: str, code: str) -> tuple[Submission | None, Refusal | None, bool]:
    """(the submission, the refusal stored with this instanceID, whether `code` is taken), read
    in one round trip; the rows themselves are loaded only when there are any."""
    submission_id = select(Submission.id).where(Submission.instance_id == instance_id)
    refusal_id = select(Refusal.id).where(Refusal.instance_id == instance_id)
    taken = select(Submission.id).where(Submission.receipt_code == code).limit(1)
    found = db.session.execute(
        select(
            submission_id.scalar_subquery(),
            refusal_id.scalar_subquery(),
            taken.exists(),
        )
    ).one()
    submission = db.session.get(Submission, found[0]) if found[0] is not None else None
    refusal = db.session.get(Refusal, found[1]) if found[1] is not None else None
    return submission, refusal, bool(found[2])


def _unused_receipt_code(instance_id: str, device_code: str | None = None) -> str:
    """The device's code when it is the one derived from this instanceID (the respondent already
    holds it), otherwise a new random one.

    A device code another interview holds (two instanceIDs with the same 54-bit digest) is
    kept, scoped as CODE/2, CODE/3…: a new code would never reach the respondent, who has gone,
    and their code would withdraw someone else's answers. Withdrawal by CODE then lists every
    holder for the coordinator to choose from.
    """
    if device_code and normalize_receipt_code(device_code) == device_receipt_code(instance_id):
        code = device_receipt_code(instance_id)
        scoped, holder = code, 1
        while _code_taken(scoped):
            holder += 1
            scoped = f"{code}{SCOPE_SEPARATOR}{holder}"
        return scoped
    while True:
        code = new_receipt_code()
        if not _code_taken(code):
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
    device_code: str | None = None,
) -> SaveResult:
    """Store checked answers once per instanceID; a resend is acknowledged, a change refused.

    The caller has applied the instrument's rules (rules.evaluate_answers) and the identifier
    screening; this function records a refusal instead when consent or age say so.
    """
    digest = answers_digest(version.id, answers)
    code = _first_receipt_code(instance_id, device_code)
    existing, refused, code_taken = _arrival(instance_id, code)
    if existing is not None:
        if existing.answers_sha256 == digest:
            return SaveResult("duplicate", submission=existing)
        raise SubmissionConflict(instance_id)
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
        _insert_once(refusal)
        return SaveResult("refusal", refusal=refusal)
    submission = Submission(
        instance_id=instance_id,
        receipt_code=code if not code_taken else _unused_receipt_code(instance_id, device_code),
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
    _insert_once(submission)
    return SaveResult("saved", submission=submission)


def _insert_once(row: Submission | Refusal) -> None:
    """Insert in a savepoint: when a concurrent request stored the instanceID first, only this
    insert is undone (IntegrityError raised) and the caller's transaction stays usable."""
    savepoint = db.session.begin_nested()
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        savepoint.rollback()
        raise
    savepoint.commit()


def is_duplicate_race(error: IntegrityError) -> bool:
    """Whether an IntegrityError came from a concurrent insert of the same instanceID.

    Such an insert also holds the same receipt code when a device gave it (derived from the
    instanceID), and the database may report either clash first (SQLite reports the code).
    Another interview that drew the same code is decided again too: it is then given another.
    """
    message = str(error.orig)
    return "instance_id" in message or "receipt_code" in message


# -- receiving an interview, from any channel -----------------------------------------------


@dataclass(frozen=True)
class Interview:
    """An interview as a channel received it, checked by the instrument's rules, not yet stored."""

    version: InstrumentVersion
    spec: InstrumentSpec
    outcome: Outcome  # rules.evaluate_answers: the answers to store and the problems found
    instance_id: str
    language: str
    entered_by: User
    source: str  # "web" (the web form and its offline queue) or "openrosa"
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    # The code a device gave the respondent while offline (privacy.device_receipt_code).
    device_receipt_code: str | None = None
    # Files answering media questions, cleaned (media.clean_upload), by their answer's name.
    media: Mapping[str, MediaFile] = field(default_factory=dict)


@dataclass(frozen=True)
class Acknowledgement:
    """What the channel tells the volunteer, once the caller has committed.

    status: 'saved', 'duplicate' (already stored with the same answers), 'refusal', 'invalid'
    (errors by field key), 'conflict' (stored with other answers) or 'no_round'.
    receipt_code: only for the volunteer who entered the interview (or a coordinator): it is the
    respondent's key to withdrawal.
    """

    status: str
    errors: Mapping[str, list[str]] = field(default_factory=dict)
    submission: Submission | None = None
    receipt_code: str | None = None
    notice: str | None = None  # something the volunteer should know about a saved interview

    @property
    def stored(self) -> bool:
        """Whether the interview (or its refusal) is in the database once the caller commits."""
        return self.status in {"saved", "duplicate", "refusal"}


def identifier_message(kind: str) -> str:
    """The request to remove a direct identifier, in the current language."""
    return {
        "iin": _(
            "This answer seems to contain an ID number (IIN). Remove it: answers must not "
            "identify anyone."
        ),
        "phone": _(
            "This answer seems to contain a phone number. Remove it: answers must not identify "
            "anyone."
        ),
        "email": _(
            "This answer seems to contain an e-mail address. Remove it: answers must not "
            "identify anyone."
        ),
    }[kind]


def intake_questions(spec: InstrumentSpec) -> tuple[str, str, str]:
    """The questions a refusal keeps: consent, age, district."""
    return spec.intake.consent_question, spec.intake.age_question, spec.intake.district_question


def screened(spec: InstrumentSpec, outcome: Outcome) -> tuple[str | None, dict[str, list[str]]]:
    """(refusal reason, problems by field key): a refusal needs nothing else fixed."""
    errors = {key: list(texts) for key, texts in outcome.errors.items()}
    reason = refusal_reason(spec, outcome.answers)
    if reason is not None and not (set(errors) & set(intake_questions(spec))):
        return reason, {}  # a refusal stores nothing, so nothing else needs fixing
    for key, kind in identifiers_in_answers(spec, outcome.answers).items():
        errors.setdefault(key, []).append(identifier_message(kind))
    return reason, errors


def may_see_receipt(submission: Submission, user: User) -> bool:
    """The receipt code is for the volunteer who entered the interview, and coordinators."""
    return submission.entered_by_id == user.id or user.has_role(Role.COORDINATOR)


def round_bounds(
    survey_round: SurveyRound, today: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """The first and last day an interview of this round can have been held."""
    today = today or utcnow().date()
    end = survey_round.ends_on or today
    return survey_round.starts_on, min(end, max(today, survey_round.starts_on))


def date_outside_round(
    spec: InstrumentSpec, answers: Mapping[str, Any], survey_round: SurveyRound
) -> str | None:
    """A message when the interview date lies outside its round (a 1990 date in 2026)."""
    value = answers.get(spec.intake.date_question)
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.date):
        return None
    first, last = round_bounds(survey_round)
    if first <= value <= last:
        return None
    return round_dates_message(survey_round)


def round_dates_message(survey_round: SurveyRound) -> str:
    """What the volunteer is told about an interview date outside its round."""
    first, last = round_bounds(survey_round)
    return _(
        "The interview date must lie within the survey round %(round)s: %(first)s to %(last)s.",
        round=survey_round.name,
        first=format_date(first, "dd.MM.yyyy"),
        last=format_date(last, "dd.MM.yyyy"),
    )


def receive_interview(interview: Interview) -> Acknowledgement:
    """Check, trim, store and audit one interview; a resend or a race is decided here. Flushes."""
    spec, user = interview.spec, interview.entered_by
    reason, errors = screened(spec, interview.outcome)
    if errors:
        return Acknowledgement("invalid", errors=errors)
    survey_round = round_for((interview.started_at or utcnow()).date())
    if survey_round is None:
        return Acknowledgement("no_round")
    if reason is None and (
        problem := date_outside_round(spec, interview.outcome.answers, survey_round)
    ):
        return Acknowledgement("invalid", errors={spec.intake.date_question: [problem]})
    answers = answers_on_arrival(
        spec,
        interview.outcome.answers,
        source=interview.source,
        started_at=interview.started_at,
        ended_at=interview.ended_at,
    )
    if reason is not None:
        answers = {k: answers[k] for k in intake_questions(spec) if answers.get(k) is not None}
    missing = [
        question
        for name, question in media_answers(spec, answers).items()
        if name not in interview.media
    ]
    if missing:
        return Acknowledgement(
            "invalid",
            errors={
                question: [_("The file did not arrive with the interview: choose it again.")]
                for question in missing
            },
        )
    arguments = {
        "version": interview.version,
        "spec": spec,
        "answers": answers,
        "instance_id": interview.instance_id,
        "survey_round": survey_round,
        "language": interview.language,
        "entered_by": user,
        "started_at": interview.started_at,
        "ended_at": interview.ended_at,
        "source": interview.source,
        "device_code": interview.device_receipt_code,
    }
    try:
        try:
            result = save_submission(**arguments)
        except IntegrityError as error:
            if not is_duplicate_race(error):
                raise
            # A concurrent request stored this instanceID (or took this code) first and
            # committed: decide again, as for a resend, against its row.
            result = save_submission(**arguments)
    except SubmissionConflict:
        return Acknowledgement("conflict")
    if result.outcome == "refusal":
        return Acknowledgement("refusal")
    submission = result.submission
    assert submission is not None
    if result.outcome == "saved":
        _store_media(spec, submission, interview.media)
        record_audit(
            "submission_created",
            user=user,
            target=f"submission {submission.id}",
            details={
                "instrument": spec.form_id,
                "version": interview.version.version,
                "source": interview.source,
            },
        )
    notice = None
    if result.outcome == "saved" and SCOPE_SEPARATOR in submission.receipt_code:
        record_audit(
            "receipt_code_shared",
            user=user,
            target=f"submission {submission.id}",
            details={"holders": int(submission.receipt_code.rsplit(SCOPE_SEPARATOR, 1)[1])},
        )
        notice = shared_code_message(submission.held_code)
    visible = may_see_receipt(submission, user)
    return Acknowledgement(
        result.outcome,
        submission=submission,
        receipt_code=submission.held_code if visible else None,
        notice=notice if visible else None,
    )


def media_answers(spec: InstrumentSpec, answers: Mapping[str, Any]) -> dict[str, str]:
    """File name → question of every media answer stored (repeat entries included)."""
    found: dict[str, str] = {}
    for name, value in answers.items():
        if name in spec.repeats_by_name and isinstance(value, list):
            for entry in value:
                found.update(media_answers(spec, entry))
            continue
        question = spec.questions_by_name.get(name)
        if question is not None and question.type in MEDIA_TYPES and isinstance(value, str):
            found[value] = name
    return found


def missing_media(
    spec: InstrumentSpec, answers: Mapping[str, Any], media: Mapping[str, MediaFile]
) -> list[str]:
    """Media answers whose file did not come with the interview."""
    return sorted(name for name in media_answers(spec, answers) if name not in media)


def _store_media(
    spec: InstrumentSpec, submission: Submission, media: Mapping[str, MediaFile]
) -> None:
    """Keep the files the stored answers name (only those: the rules may have dropped some)."""
    for filename, question in media_answers(spec, submission.answers).items():
        item = media.get(filename)
        if item is None:
            continue
        db.session.add(
            SubmissionMedia(
                submission_id=submission.id,
                question=question,
                filename=filename,
                content_type=item.content_type,
                size=len(item.data),
                sha256=item.sha256,
                data=item.data,
            )
        )
    db.session.flush()


def shared_code_message(code: str) -> str:
    """What the volunteer is told when the respondent's device code was already held."""
    return _(
        "The receipt code %(code)s given on the device is also held by another interview. "
        "The interview is saved and the respondent's code still works: if they withdraw, the "
        "coordinator will ask for their district and interview date to find their answers.",
        code=code,
    )
