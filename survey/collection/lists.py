"""What the volunteer's and the coordinator's pages read back of what intake stored: a
volunteer's own interviews and those sent back, refusal counts, an interview's answers as
text, and the last interview saved (for ${last-saved#name} defaults)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from survey.collection.models import (
    Refusal,
    ReviewStatus,
    Submission,
)
from survey.extensions import db
from survey.instruments import piping
from survey.instruments.models import InstrumentVersion
from survey.instruments.rules import instance_name, text_context
from survey.instruments.spec import InstrumentSpec
from survey.users.models import User


def uses_last_saved(spec: InstrumentSpec) -> bool:
    """Whether a default of the form reads the last saved interview (${last-saved#name})."""
    return any("last-saved#" in (q.default_expression or "") for q in spec.iter_questions())


def last_saved_answers(spec: InstrumentSpec, user: User) -> dict[str, Any]:
    """The answers of the interview this volunteer saved last with this form (any version):
    what ODK Collect reads as the device's last-saved instance. Empty when there is none."""
    if not uses_last_saved(spec):
        return {}
    from survey.instruments.models import Instrument

    answers = db.session.execute(
        select(Submission.answers)
        .join(InstrumentVersion, Submission.instrument_version_id == InstrumentVersion.id)
        .join(Instrument, InstrumentVersion.instrument_id == Instrument.id)
        .where(Instrument.form_id == spec.form_id, Submission.entered_by_id == user.id)
        .order_by(Submission.received_at.desc(), Submission.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return dict(answers or {})


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


def instance_names(submissions: list[Submission]) -> dict[int, str]:
    """Each submission's name from its form's instance_name setting, where the form has one."""
    from survey.instruments.services import spec_for

    names: dict[int, str] = {}
    for submission in submissions:
        spec = spec_for(submission.instrument_version)
        name = instance_name(spec, submission.answers or {}, submission.received_at.date())
        if name:
            names[submission.id] = name
    return names


def sent_back_to(user: User, limit: int = 20) -> tuple[int, list[Submission]]:
    """The user's submissions a coordinator sent back (rejected), oldest first, and how many."""
    condition = (Submission.entered_by_id == user.id) & (
        Submission.review_status == ReviewStatus.REJECTED.value
    )
    total = db.session.execute(select(func.count()).where(condition)).scalar_one()
    rows = db.session.execute(
        select(Submission).where(condition).order_by(Submission.reviewed_at).limit(limit)
    ).scalars()
    return total, list(rows)


def refusal_counts() -> list[tuple[str | None, dt.date, str, int]]:
    """Refusals per district, day and reason."""
    rows = db.session.execute(
        select(Refusal.district, Refusal.day, Refusal.reason, func.count())
        .group_by(Refusal.district, Refusal.day, Refusal.reason)
        .order_by(Refusal.day.desc())
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def readable_answers(
    spec: InstrumentSpec, answers: Mapping[str, Any], language: str
) -> list[tuple[str, str, str]]:
    """(section label, question label, answer text) rows in document order, labels translated."""
    rows: list[tuple[str, str, str]] = []
    today = dt.date.today()

    def filled(text: str, repeat: str | None = None, index: int | None = None) -> str:
        # '${name}' in a label shows the answer, as on the form.
        if not piping.has_pieces(text):
            return text
        context = text_context(spec, answers, language, today, repeat, index)
        return piping.fill(text, context)

    def text(question: Any, value: Any) -> str:
        if question.choice_list:
            codes = value if isinstance(value, list) else [value]
            return ", ".join(
                spec.choice_label(question.choice_list, str(c), language) for c in codes
            )
        return str(value)

    def entries(title: str, repeat: Any, holder: Mapping[str, Any], path: list, head: str) -> None:
        """The rows of a repeat's entries in `holder`; a repeat inside a repeat names its
        entry after the outer one's ('Household 1, Member 2: Age')."""
        for index, entry in enumerate(holder.get(repeat.name) or [], 1):
            where = [*path, (repeat.name, index - 1)]
            context = text_context(spec, answers, language, today, path=where)
            number = f"{head}{piping.fill(spec.label(repeat.labels, language), context)} {index}"
            for item in repeat.entry_items():
                if hasattr(item, "questions"):
                    entries(title, item, entry, where, f"{number}, ")
                elif item.name in entry and item.type != "calculate":
                    shown = spec.label(item.labels, language)
                    label = f"{number}: " + (piping.fill(shown, context) or item.name)
                    rows.append((title, label, text(item, entry[item.name])))

    for section in spec.sections:
        title = spec.label(section.labels, language)
        for item in section.items:
            if hasattr(item, "questions") and item.repeats:
                entries(title, item, answers, [], "")
            elif hasattr(item, "questions"):
                for index, entry in enumerate(answers.get(item.name) or [], 1):
                    for question in item.questions:
                        if question.name in entry and question.type != "calculate":
                            label = f"{filled(spec.label(item.labels, language))} {index}: " + (
                                filled(spec.label(question.labels, language), item.name, index - 1)
                                or question.name
                            )
                            rows.append((title, label, text(question, entry[question.name])))
            elif item.name in answers and item.type not in {"calculate", "note"}:
                label = filled(spec.label(item.labels, language)) or item.name
                rows.append((title, label, text(item, answers[item.name])))
    return rows
