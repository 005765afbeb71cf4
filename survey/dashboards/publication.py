"""The advocates' publication: one protected cube per instrument, round and data version.

Everything an advocate can read on the dashboards (indicator tables and charts, respondent
counts, the CSV) and `survey indicators --public` are cut from this one cube, built by
`reports.analysis.protect_cube` over a STAR: the overall figures and one one-way table per
disaggregation variable, for the review statuses advocates analyse (never a choice of theirs).
An advocate's view is one filter (one group of one variable) OR one disaggregation, never both:
that is exactly what the cube holds, so no two views can be differenced.

Differencing over time (docs/disclosure-control.md): a new interview changes the counts of its
groups by one, so comparing the figures of two days would single it out. The cube therefore
refreshes only when every group that changed got at least k new interviews; until then the
last published set of interviews is kept (minus withdrawn or no-longer-analysed ones), and it
is remembered in the instance folder so that a restart does not reset it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from flask import current_app

from reports.analysis.plan import TIDY_COLUMNS, UNITS
from reports.analysis.protection import ProtectedCube, population_table, protect_cube
from survey.collection.models import published_statuses
from survey.dashboards import cube_store, estimates
from survey.dashboards.cache import page_cache, version_key
from survey.dashboards.estimates import run_estimates
from survey.dashboards.filters import FILTER_QUESTIONS, Filters, Selection, select_rows
from survey.dashboards.labels import settlement_like
from survey.dashboards.options import STANDARD_DISAGGREGATIONS
from survey.datasets.columns import RESPONDENT_PREFIX
from survey.datasets.dataset import Dataset
from survey.instruments.models import Instrument

UNANSWERED = "missing"  # the group of respondents without a value (as estimators name it)
PUBLICATIONS_FOLDER = "publications"


@dataclass(frozen=True)
class Publication:
    """The advocates' cube and what the server keeps beside it (never published as such)."""

    cube: ProtectedCube
    original: pd.DataFrame  # the unsuppressed star table
    variables: tuple[str, ...]  # the star's disaggregations (respondent columns)
    member_columns: dict[str, str]  # respondent variable → the roster's column for it
    problems: tuple[str, ...]
    waiting: int  # analysed interviews not yet in the publication (differencing rule)
    true_population: pd.DataFrame  # the respondent counts before suppression (server only)
    submissions: tuple[int, ...] = ()  # the published interviews (server only)

    def view(
        self, variable: str | None, value: str | None, by: str | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(original, published) rows of one view: one filter, or one disaggregation, or none."""
        names = {variable or "", self.member_columns.get(variable or "", "")} - {""}
        if variable and value is not None:
            keep = (
                self.original["group_var"].isin(list(names)).to_numpy()
                & (self.original["group"].astype(str) == str(value)).to_numpy()
            )
            original = self.original[keep].assign(group_var="", group="")
            published = self.cube.table[keep].assign(group_var="", group="")
            return original.reset_index(drop=True), published.reset_index(drop=True)
        wanted = {"", by or "", self.member_columns.get(by or "", "")} if by else {""}
        keep = self.original["group_var"].isin(list(wanted)).to_numpy()
        return (
            self.original[keep].reset_index(drop=True),
            self.cube.table[keep].reset_index(drop=True),
        )

    def respondents(self, variable: str | None, value: str | None) -> float | None:
        """The published respondent count of the view (None when hidden)."""
        if not self.submissions:
            return 0.0  # nothing published at all: a zero, which the cube would mark hidden
        population = self.cube.population
        unit = population["unit"] == "respondent"
        if variable and value is not None:
            row = population[
                unit & (population["group_var"] == variable) & (population["group"] == str(value))
            ]
        else:
            row = population[unit & (population["group_var"] == "")]
        if not len(row):
            return 0.0
        value_ = row["respondents"].iloc[0]
        return None if pd.isna(value_) else float(value_)


def star_variables(dataset: Dataset) -> tuple[str, ...]:
    """The disaggregations of the star: the standard ones and the plan's, as the form offers."""
    plan, _problems = estimates.plan_of(dataset.spec)
    wanted = list(STANDARD_DISAGGREGATIONS)
    for indicator in plan.indicators:
        wanted += [name for name in indicator.disaggregations if indicator.unit == "respondent"]
    wanted += list(FILTER_QUESTIONS)
    hidden = settlement_like(dataset.spec)
    return tuple(
        name
        for name in dict.fromkeys(wanted)
        if name in dataset.respondents.columns and name not in hidden
    )


def filter_variable(filters: Filters) -> tuple[str | None, str | None]:
    """The one (variable, value) an advocate's filters select, or (None, None)."""
    if filters.district:
        return "district", filters.district
    for name in FILTER_QUESTIONS:
        value = getattr(filters, name)
        if value:
            return name, value
    return None, None


def public_scope() -> tuple[tuple[str, ...], bool]:
    """The review statuses advocates' publications hold, and whether demo interviews count.

    From the settings: PUBLISH_PENDING (pending interviews beside approved ones) and
    PUBLISH_DEMO (synthetic interviews, for training installations only).
    """
    config = current_app.config
    statuses = published_statuses(bool(config.get("PUBLISH_PENDING", True)))
    return statuses, bool(config.get("PUBLISH_DEMO", False))


def publication(
    instrument: Instrument, dataset: Dataset, round_id: int | None, k: int
) -> Publication:
    """The cached publication of this instrument and round for the current data."""
    statuses, demo = public_scope()
    key = ("publication", version_key(instrument), round_id, statuses, demo, k)
    return page_cache().get(
        key, dataset, lambda: _kept_or_built(instrument, dataset, round_id, k, statuses, demo)
    )


def _kept_or_built(
    instrument: Instrument,
    dataset: Dataset,
    round_id: int | None,
    k: int,
    statuses: tuple[str, ...],
    include_demo: bool,
) -> Publication:
    """The publication from the host's files (cube_store) when this data state has one."""

    def build() -> Publication:
        return _build(instrument, dataset, round_id, k, statuses, include_demo)

    if not dataset.source or not current_app.config.get("PUBLICATION_FILES", True):
        return build()
    path = _state_path(instrument, round_id)

    def key() -> tuple:
        # The last published set of interviews is part of the state: the refresh rule
        # publishes from it, and a build that refreshes it is stored under the new one.
        return (
            version_key(instrument),
            round_id,
            statuses,
            include_demo,
            k,
            dataset.source,
            repr(dataset.filters),
            _state_digest(path),
        )

    scope = f"{int(instrument.id)}-{round_id if round_id is not None else 'all'}"
    return cube_store.stored(scope, key, build)


def _state_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "none"


def _build(
    instrument: Instrument,
    dataset: Dataset,
    round_id: int | None,
    k: int,
    statuses: tuple[str, ...],
    include_demo: bool,
) -> Publication:
    filters = Filters(round_id=round_id, statuses=statuses, include_demo=include_demo)
    selection = select_rows(dataset, filters)
    variables = star_variables(dataset)
    selection, waiting = _apply_refresh_rule(instrument, round_id, selection, variables, k)
    selection = _with_unanswered_group(selection, variables)
    plan, _problems = estimates.plan_of(dataset.spec)
    # The star protects populations of respondents and roster members only: indicators of
    # other repeats (a repeat inside the roster) are not published.
    unpublished = [i for i in plan.indicators if i.unit not in UNITS]
    plan = replace(plan, indicators=tuple(i for i in plan.indicators if i.unit in UNITS))
    if len(selection.respondents):
        table, problems = run_estimates(selection, plan, dataset.spec, variables)
    else:
        table, problems = pd.DataFrame(columns=list(TIDY_COLUMNS)), []
    problems = [
        *problems,
        *(
            f"Indicator '{i.id}': entries of repeat '{i.unit}' are not published."
            for i in unpublished
        ),
    ]
    member_columns = {
        name: column
        for name in variables
        if (column := estimates._member_column(selection.members, name, dataset.spec))
    }
    if "district" in variables and "_district" in selection.members.columns:
        member_columns["district"] = "_district"
    populations = [population_table(selection.respondents, variables, "respondent")]
    if len(selection.members) and any(i.unit == "member" for i in plan.indicators):
        members = population_table(selection.members, list(member_columns.values()), "member")
        populations.append(members)
    units = {indicator.id: indicator.unit for indicator in plan.indicators}
    margins = {
        indicator.id: "district" if indicator.column == "_district" else str(indicator.column)
        for indicator in plan.indicators
        if indicator.kind == "frequency"
        and indicator.unit == "respondent"
        and (indicator.column in variables or indicator.column == "_district")
    }
    cube = protect_cube(
        table, pd.concat(populations, ignore_index=True), units=units, margins=margins, k=k
    )
    table = table[
        ~(table["indicator"].isin(list(margins)) & (table["group_var"] != ""))
    ].reset_index(drop=True)
    population = pd.concat(populations, ignore_index=True)
    published = tuple(int(i) for i in selection.respondents["_submission_id"])
    return Publication(
        cube, table, variables, member_columns, tuple(problems), waiting, population, published
    )


def _with_unanswered_group(selection: Selection, variables: tuple[str, ...]) -> Selection:
    """Missing values of the star's variables as a group of their own (UNANSWERED).

    The groups of a variable must add up to the overall figures, as the attacker assumes;
    a skipped question would otherwise leave a gap that hides nothing.
    """
    respondents = _fill(selection.respondents, variables)
    member_names = [
        name
        for name in selection.members.columns
        if any(name in (v, RESPONDENT_PREFIX + v) for v in variables) or name == "_district"
    ]
    members = _fill(selection.members, member_names)
    return Selection(respondents, members, selection.excluded, selection.demo)


def _fill(frame: pd.DataFrame, names: list[str] | tuple[str, ...]) -> pd.DataFrame:
    missing = [name for name in names if name in frame.columns and frame[name].isna().any()]
    if not missing:
        return frame
    frame = frame.copy()
    for name in missing:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            if UNANSWERED not in column.cat.categories:
                column = column.cat.add_categories([UNANSWERED])
            frame[name] = column.fillna(UNANSWERED)
        else:
            frame[name] = column.astype(object).where(column.notna(), UNANSWERED)
    return frame


# --- the rule against differencing over time ----------------------------------------------------


def _state_path(instrument: Instrument, round_id: int | None) -> Path:
    folder = Path(current_app.instance_path) / PUBLICATIONS_FOLDER
    return folder / f"{int(instrument.id)}-{round_id if round_id is not None else 'all'}.json"


def _apply_refresh_rule(
    instrument: Instrument,
    round_id: int | None,
    selection: Selection,
    variables: tuple[str, ...],
    k: int,
) -> tuple[Selection, int]:
    """The selection to publish: the current one when every changed group grew by ≥ k."""
    path = _state_path(instrument, round_id)
    current = selection.respondents["_submission_id"].to_numpy()
    previous = _read_ids(path)
    if previous is None:
        _write_ids(path, current)
        return selection, 0
    known = np.isin(current, previous)
    new = selection.respondents[~known]
    if len(new) == 0 or refresh_allowed(new, variables, k):
        _write_ids(path, current)
        return selection, 0
    # Keep the last publication (withdrawn or rejected interviews leave it at once)
    respondents = selection.respondents[known]
    members = selection.members
    if len(members):
        members = members[
            np.isin(members["_submission_id"].to_numpy(), respondents["_submission_id"])
        ]
    kept = Selection(respondents, members, selection.excluded, selection.demo)
    return kept, len(new)


def refresh_allowed(new: pd.DataFrame, variables: tuple[str, ...], k: int) -> bool:
    """Whether the new interviews add 0 or at least k to every group of every variable."""
    if 0 < len(new) < k:
        return False
    for name in variables:
        if name not in new.columns:
            continue
        counts = new[name].astype("string").fillna("").value_counts()
        if ((counts > 0) & (counts < k)).any():
            return False
    return True


def _read_ids(path: Path) -> np.ndarray | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return np.asarray(data["submissions"], dtype=np.int64)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_ids(path: Path, ids: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, then moved into place
        "w", encoding="utf-8", dir=path.parent, prefix=".publication-", delete=False
    )
    with handle:
        # json.dumps: the C encoder (json.dump to a file encodes in Python, ten times slower)
        handle.write(json.dumps({"submissions": np.sort(ids).astype(np.int64).tolist()}))
    os.replace(handle.name, path)
