"""The dashboards' filters and the data in view: one dataset per instrument, narrowed in pandas.

Every page starts from one `load_dataset` call per instrument (all versions, every review status,
demo data included) and narrows it with `select_rows`, so changing a filter never reloads the
database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import select

from survey.collection.models import ANALYSED_STATUSES, REVIEW_STATUSES, SurveyRound
from survey.datasets.dataset import Dataset, load_dataset
from survey.extensions import db
from survey.instruments.models import Instrument
from survey.instruments.services import list_instruments

FILTER_QUESTIONS = ("sex", "age_band", "generation")


class DashboardError(ValueError):
    """A problem the person looking at the dashboard can act on (message already translated)."""


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters, validated (codes as stored; None = no filter)."""

    round_id: int | None = None
    version: str | None = None
    district: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    sex: str | None = None
    age_band: str | None = None
    generation: str | None = None
    statuses: tuple[str, ...] = ANALYSED_STATUSES
    include_demo: bool = True

    @property
    def by_respondent(self) -> bool:
        """Whether a filter on respondents' answers is set (refusals cannot follow it)."""
        return any(getattr(self, name) for name in FILTER_QUESTIONS)


def dashboard_instruments() -> list[Instrument]:
    """Instruments that have at least one version."""
    return [instrument for instrument in list_instruments() if instrument.versions]


def choose_instrument(form_id: str | None) -> Instrument | None:
    """The instrument asked for, else the first one; None when no instrument exists.

    Raises DashboardError for a form_id that is not known.
    """
    known = dashboard_instruments()
    if not known:
        return None
    if not form_id:
        return known[0]
    found = next((i for i in known if i.form_id == form_id), None)
    if found is None:
        raise DashboardError(_("Unknown questionnaire: choose one from the list."))
    return found


def round_names() -> dict[int, str]:
    """Survey round id → name."""
    return dict(db.session.execute(select(SurveyRound.id, SurveyRound.name)).all())


def instrument_dataset(instrument: Instrument) -> Dataset:
    """All submissions of an instrument (every version and status, demo data included).

    One dataset per instrument serves every filter: changing a filter narrows it in pandas
    instead of building a new one from the database.
    """
    return load_dataset(
        list(instrument.versions), review_statuses=REVIEW_STATUSES, include_demo=True
    )


@dataclass(frozen=True)
class Selection:
    """The respondents and roster rows a page analyses, and what the filters left out.

    repeats: every repeat's table of the dataset, unfiltered (run_plan keeps the entries of
    `respondents`), for indicators whose unit is another repeat than the roster.
    """

    respondents: pd.DataFrame
    members: pd.DataFrame
    excluded: Mapping[str, int]
    demo: int
    repeats: Mapping[str, pd.DataFrame] = field(default_factory=dict)


def _equals(series: pd.Series, value: str) -> np.ndarray:
    """Rows whose value (as text) is `value`, NaN-safe and fast for categoricals."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = [str(c) for c in series.cat.categories]
        if value not in categories:
            return np.zeros(len(series), dtype=bool)
        return series.cat.codes.to_numpy() == categories.index(value)
    return series.astype("string").eq(value).fillna(False).to_numpy(dtype=bool)


def select_rows(dataset: Dataset, filters: Filters) -> Selection:
    """Narrow the dataset to the filters; counts of what review status and demo left out."""
    frame = dataset.respondents
    scope = np.ones(len(frame), dtype=bool)
    if filters.round_id is not None:
        scope &= _equals(frame["_round"], round_names().get(filters.round_id, ""))
    if filters.version:
        scope &= _equals(frame["_version"], filters.version)
    if filters.district:
        scope &= _equals(frame["_district"], filters.district)
    if filters.since is not None:
        start = pd.Timestamp(filters.since, tz="UTC")
        scope &= (frame["_received_at"] >= start).to_numpy(dtype=bool)
    if filters.until is not None:
        end = pd.Timestamp(filters.until + dt.timedelta(days=1), tz="UTC")
        scope &= (frame["_received_at"] < end).to_numpy(dtype=bool)
    for name in FILTER_QUESTIONS:
        value = getattr(filters, name)
        if value:
            scope &= _equals(frame[name], value) if name in frame.columns else False
    status = frame["_review_status"].astype(object).isin(filters.statuses).to_numpy(dtype=bool)
    demo = frame["_demo"].to_numpy(dtype=bool)
    kept = scope & status & (filters.include_demo | ~demo)
    excluded: dict[str, int] = {}
    left_out = scope & ~status
    if left_out.any():
        counts = frame.loc[left_out, "_review_status"].astype(object).value_counts()
        excluded = {str(k): int(v) for k, v in counts.items() if v}
    if not filters.include_demo and (scope & status & demo).any():
        excluded["demo"] = int((scope & status & demo).sum())
    members = dataset.members
    if kept.all():
        respondents = frame
    else:
        respondents = frame[kept]
        if len(members):
            ids = respondents["_submission_id"].to_numpy()
            members = members[np.isin(members["_submission_id"].to_numpy(), ids)]
    return Selection(respondents, members, excluded, int((kept & demo).sum()), dataset.repeats)
