"""Survey rounds (campaigns): every submission joins one. Services flush; the caller commits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from survey.collection.models import SurveyRound
from survey.extensions import db


class RoundError(ValueError):
    """A survey round cannot be created as asked."""


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


def round_for(day: dt.date) -> SurveyRound | None:
    """The round an interview held on this day belongs to (the current one as fallback)."""
    return current_round(day) or current_round()
