"""The data snapshot of a working paper: everything the text needs, suppressed, as JSON-able data.

`build_snapshot(settings)` reads the live data once: the dataset (filtered as the settings say),
the instrument's analysis plan run through `reports.analysis` and its small-cell suppression,
methodology counts (also suppressed), approved quotes and the labels of the plan. The result
holds no hidden number, no answer but the approved quotes' text, and no ORM object, so
`survey.reporting.content` can rebuild the same paper from a history row at any later time
without touching the submissions.

One module past 600 lines because it is the one place where a paper's data are read: the
coordinator's path (dataset, filters, analysis, methodology) and the advocate's path (the
protected cube) must give the same JSON shape, and every hidden number is removed here, before
the snapshot is stored.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from flask import current_app, has_request_context
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from reports.analysis import (
    AnalysisPlan,
    Indicator,
    apply_to_estimates,
    run_plan,
    suppress_small_cells,
    suppressed_view,
)
from reports.languages import PAPER_LANGUAGES
from survey.collection.models import Refusal, Submission
from survey.dashboards import cube_store
from survey.datasets.dataset import Dataset, load_dataset
from survey.extensions import db
from survey.instruments import services as instruments
from survey.instruments.analysis_plan import build_plan, sector_labels
from survey.instruments.models import Instrument
from survey.instruments.spec import InstrumentSpec
from survey.reporting.models import ApprovedQuote
from survey.reporting.sentences import GROUPS
from survey.reporting.settings import ReportSettings
from survey.users.models import Role

SNAPSHOT_VERSION = 1
# This module writes the methodology plan: its source is part of a kept analysis's key.
_SOURCE_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
LANGUAGES = PAPER_LANGUAGES
DEFAULT_FORM_ID = "birge_needs_assessment"
DEFAULT_QUOTE_QUESTIONS = ("message_to_states",)
# Columns of the tidy table the paper reads; the rest (effective n, dnk/pnta) stays behind.
TABLE_COLUMNS = (
    "indicator",
    "kind",
    "chapter",
    "group_var",
    "group",
    "category",
    "estimate",
    "ci_low",
    "ci_high",
    "n",
    "count",
    "indicative",
    "points",
    "suppressed",
)
METHOD_CHAPTER = "_method"
# Answer filters of the settings → the respondent column they select on.
ANSWER_FILTERS = {"generations": "generation", "sexes": "sex", "age_bands": "age_band"}


class ReportDataError(ValueError):
    """The data cannot make this paper (no such round, no matching submissions, …)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def quote_questions() -> tuple[str, ...]:
    """The free-text questions whose approved answers may be quoted (REPORT_QUOTE_QUESTIONS)."""
    return tuple(current_app.config.get("REPORT_QUOTE_QUESTIONS", DEFAULT_QUOTE_QUESTIONS))


def suppression_k() -> int:
    """The smallest count a published output may show (SUPPRESSION_K, DOMAIN §6)."""
    return int(current_app.config.get("SUPPRESSION_K", 5))


def find_instrument(form_id: str = "") -> Instrument:
    """The instrument a paper reports on: the one named, else the default, else the first."""
    if form_id:
        instrument = instruments.find_instrument(form_id)
        if instrument is None or not instrument.versions:
            raise ReportDataError(_l("There is no questionnaire “%(form_id)s”.", form_id=form_id))
        return instrument
    found = instruments.find_instrument(DEFAULT_FORM_ID)
    if found is not None and found.versions:
        return found
    for instrument in instruments.list_instruments():
        if instrument.versions:
            return instrument
    raise ReportDataError(_l("No questionnaire has been imported yet."))


def build_snapshot(settings: ReportSettings) -> dict[str, Any]:
    """The JSON-able snapshot of the data the settings select (see the module notes).

    An advocate's paper is cut from the advocates' protected cube (survey.dashboards.
    publication), as their dashboards are: see _public_snapshot.
    """
    k = suppression_k()
    instrument = find_instrument(settings.instrument)
    versions = list(instrument.versions)
    _check_districts(versions[-1], settings.districts)
    if for_advocate():
        return _public_snapshot(settings, instrument, k)
    try:
        dataset = load_dataset(
            versions,
            rounds=list(settings.rounds) or None,
            review_statuses=settings.review_statuses,
            include_demo=settings.include_demo,
            districts=list(settings.districts) or None,
        )
    except ValueError as error:  # unknown round names
        raise ReportDataError(str(error)) from error
    respondents, members = _filtered(dataset, settings)
    if len(respondents) < k:
        # One message for none and for a few: telling them apart would publish a count 1..k-1
        raise ReportDataError(_too_few_message(dataset, settings, k))
    spec = dataset.spec
    analysis = _analysis(dataset, settings, respondents, members, k)
    plan, method, table = analysis.plan, analysis.method, analysis.table
    snapshot = {
        "version": SNAPSHOT_VERSION,
        "k": k,
        "instrument": {
            "form_id": instrument.form_id,
            "title": instrument.title,
            "versions": [v.version for v in versions],
        },
        "data": _methodology(dataset, respondents, members, settings, instrument, k),
        "weighted": plan.weight is not None or plan.design is not None,
        "design": plan.design is not None,
        "min_age": spec.intake.minimum_age,
        "district_question": spec.intake.district_question,
        "indicators": [_indicator(indicator) for indicator in plan.indicators],
        "sectors": sector_labels(spec),
        "labels": _labels(dataset.specs, _labelled_columns(table, plan, method)),
        "table": analysis.table_json,
        "quotes": _quotes(respondents, settings.max_quotes),
        "problems": analysis.problems,
    }
    # Through JSON and back: the paper is always built from exactly what history stores.
    return json.loads(json.dumps(snapshot, ensure_ascii=False, allow_nan=False))


# --- advocates: the protected cube -------------------------------------------------------------

# A paper's filter → the star variable of the cube it selects on
PUBLIC_FILTERS = {"districts": "district", **ANSWER_FILTERS}


def for_advocate() -> bool:
    """Whether the paper is asked for by someone who sees only the advocates' publication."""
    if not has_request_context() or not current_user or not current_user.is_authenticated:
        return False
    return not current_user.has_role(Role.COORDINATOR)


def _public_snapshot(settings: ReportSettings, instrument: Instrument, k: int) -> dict[str, Any]:
    """An advocate's paper, cut from the same protected cube as the advocates' dashboards.

    Like a dashboard view, a paper is one round and at most one filter (one district, sex,
    generation or age group), over the interviews the publication holds (its review statuses,
    demo data only where the settings publish them): every figure of it, the number of
    respondents covered included, is a figure of the cube, hidden wherever the cube hides it.
    Two papers then differ only by figures the cube publishes and the audit has checked
    together.
    """
    from survey.dashboards.filters import instrument_dataset, round_names
    from survey.dashboards.publication import public_scope, publication

    chosen = [
        (column, code)
        for setting, column in PUBLIC_FILTERS.items()
        for code in getattr(settings, setting)
    ]
    if len(chosen) > 1:
        raise ReportDataError(
            _l(
                "Choose one district, sex, generation or age group at most: papers show the "
                "published figures, one characteristic at a time, so that no respondent can be "
                "singled out by comparing two papers."
            )
        )
    if len(settings.rounds) > 1:
        raise ReportDataError(_l("Choose one survey round: papers cover the rounds one at a time."))
    round_id = _public_round(settings, round_names())
    dataset = instrument_dataset(instrument)
    made = publication(instrument, dataset, round_id, k)
    variable, value = chosen[0] if chosen else (None, None)
    if variable is not None and variable not in made.variables:
        raise ReportDataError(
            _l("This questionnaire has no answers for “%(column)s”.", column=variable)
        )
    covered = made.respondents(variable, value)
    if covered is None or covered < k:
        # One message for none, a few and a count hidden as a complement: any difference would
        # tell them apart
        raise ReportDataError(
            _l(
                "Fewer than %(k)d respondents match these settings, perhaps none, or their "
                "number is not published: a paper would reveal individuals. Widen the filters.",
                k=k,
            )
        )
    table = _public_table(made, variable, value)
    plan, _problems = build_plan(dataset.spec)
    method = AnalysisPlan(
        tuple(
            i for i in _method_plan(dataset.respondents).indicators if i.id == "_method_districts"
        )
    )
    ids = np.asarray(made.submissions, dtype=np.int64)
    respondents = dataset.respondents[
        np.isin(dataset.respondents["_submission_id"].to_numpy(), ids)
    ]
    if variable is not None:
        respondents = respondents[respondents[variable].astype(object) == value]
    received = respondents["_received_at"].dropna()
    members = made.cube.population
    member_total = members[(members["unit"] == "member")]
    member_column = made.member_columns.get(variable or "", "")
    member_row = member_total[
        (member_total["group_var"] == member_column)
        & (member_total["group"] == (str(value) if variable else ""))
    ]
    member_count = member_row["respondents"].iloc[0] if len(member_row) else None
    snapshot = {
        "version": SNAPSHOT_VERSION,
        "k": k,
        # Cut from the advocates' publication: the only papers advocates may read back
        "public": True,
        "instrument": {
            "form_id": instrument.form_id,
            "title": instrument.title,
            "versions": [v.version for v in instrument.versions],
        },
        "data": {
            "respondents": int(covered),
            "members": None if member_count is None else _plain(member_count),
            "period": [
                received.min().date().isoformat() if len(received) else None,
                received.max().date().isoformat() if len(received) else None,
            ],
            "rounds": sorted({str(r) for r in respondents["_round"].dropna().unique()}),
            "demo": bool(respondents["_demo"].fillna(False).astype(bool).any()),
            "review_statuses": list(public_scope()[0]),
            # Counts of other statuses and refusals are not in the publication
            "excluded": None,
            "refusals": None,
            "filters": {name: list(getattr(settings, name)) for name in ANSWER_FILTERS},
            "districts": list(settings.districts),
        },
        "weighted": plan.weight is not None or plan.design is not None,
        "design": plan.design is not None,
        "min_age": dataset.spec.intake.minimum_age,
        "district_question": dataset.spec.intake.district_question,
        "indicators": [
            _indicator(indicator) for indicator in (*plan.indicators, *method.indicators)
        ],
        "sectors": sector_labels(dataset.spec),
        "labels": _labels(dataset.specs, _labelled_columns(table, plan, method)),
        "table": _table_json(table),
        "quotes": _quotes(respondents, settings.max_quotes),
        "problems": list(made.problems),
    }
    return json.loads(json.dumps(snapshot, ensure_ascii=False, allow_nan=False))


def _public_round(settings: ReportSettings, names: Mapping[int, str]) -> int | None:
    """The round id of the paper: the one chosen, else the current one (None: no rounds)."""
    from survey.collection.rounds import current_round

    if settings.rounds:
        found = [i for i, name in names.items() if name == settings.rounds[0]]
        if not found:
            raise ReportDataError(
                _l("There is no survey round “%(name)s”.", name=settings.rounds[0])
            )
        return found[0]
    current = current_round()
    return current.id if current is not None else None


def _public_table(made: Any, variable: str | None, value: str | None) -> pd.DataFrame:
    """The cube's rows of one view as the paper's table, with the districts' counts."""
    if variable is not None:
        _original, table = made.view(variable, value, None)
    else:
        table = made.cube.table
    table = table.assign(chapter=table["chapter"].fillna("") if "chapter" in table else "")
    if variable is None:
        # The respondents per district, as the cube publishes them (hidden ones blank)
        population = made.cube.population
        districts = population[
            (population["unit"] == "respondent") & (population["group_var"] == "district")
        ]
        total = float(made.respondents(None, None) or 0)
        counts = districts["respondents"].astype(float)
        rows = pd.DataFrame(
            {
                "indicator": "_method_districts",
                "kind": "frequency",
                "chapter": METHOD_CHAPTER,
                "group_var": "",
                "group": "",
                "category": districts["group"].astype(str).to_numpy(),
                "estimate": (counts / total).round(3).to_numpy() if total else np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "n": total,
                "count": counts.to_numpy(),
                "indicative": False,
                "points": np.nan,
                "suppressed": districts["hidden"].astype(bool).to_numpy(),
            }
        )
        table = pd.concat([table, rows[rows["count"].fillna(1) > 0]], ignore_index=True)
    for name in TABLE_COLUMNS:
        if name not in table.columns:
            table[name] = np.nan
    return table.assign(
        suppressed=table["suppressed"].fillna(True).astype(bool),
        indicative=table["indicative"].fillna(False).astype(bool),
    )


# --- selecting the data ------------------------------------------------------------------------


def _check_districts(version: Any, districts: Sequence[str]) -> None:
    """Refuse district codes the questionnaire does not know."""
    if not districts:
        return
    spec = instruments.spec_for(version)
    question = spec.questions_by_name.get(spec.intake.district_question)
    known = (
        {c.name for c in spec.choices.get(question.choice_list or "", ())} if question else set()
    )
    unknown = [code for code in districts if code not in known]
    if unknown:
        raise ReportDataError(_l("There is no district “%(code)s”.", code=unknown[0]))


def _filtered(dataset: Dataset, settings: ReportSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Respondents matching the answer filters (generation, sex, age band), and their members."""
    respondents = dataset.respondents
    mask = np.ones(len(respondents), dtype=bool)
    for setting, column in ANSWER_FILTERS.items():
        codes = getattr(settings, setting)
        if not codes:
            continue
        if column not in respondents.columns:
            raise ReportDataError(
                _l("This questionnaire has no answers for “%(column)s”.", column=column)
            )
        known = _codes_of(respondents[column]) | _known_codes(dataset.specs, column)
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise ReportDataError(
                _l("“%(code)s” is not an answer to “%(column)s”.", code=unknown[0], column=column)
            )
        mask &= respondents[column].astype(object).isin(codes).to_numpy()
    if not mask.all():
        respondents = respondents[mask]
    members = dataset.members
    if "_submission_id" in members.columns and len(members):
        kept = members["_submission_id"].isin(respondents["_submission_id"]).to_numpy()
        if not kept.all():
            members = members[kept]
    return respondents, members


def _codes_of(series: pd.Series) -> set[str]:
    """Every code a column can hold (its categories), or those present."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return {str(c) for c in series.cat.categories}
    return {str(v) for v in series.dropna().unique()}


def _known_codes(specs: Iterable[InstrumentSpec], column: str) -> set[str]:
    """Codes a column may hold though no data show them: its choices, or the paper's groups."""
    codes = set(GROUPS.get(column, {}))
    for spec in specs:
        question = spec.questions_by_name.get(column)
        if question is not None and question.choice_list:
            codes |= {choice.name for choice in spec.choices.get(question.choice_list, ())}
    return codes


def _too_few_message(dataset: Dataset, settings: ReportSettings, k: int) -> Any:
    """Why no paper can be made: fewer than k respondents match (none or a few, unsaid).

    The hint about demo data depends only on whether demo interviews match, never on how
    many real ones do. Interviews of other review statuses are not mentioned: whether a held
    or rejected interview exists in a district is itself a small count.
    """
    demo = dataset.excluded.get("demo", 0)
    if demo and not settings.include_demo:
        return _l(
            "Fewer than %(k)d respondents match these settings, perhaps none: a paper would "
            "reveal individuals. Demo data are left out: tick “Include demo data” to report on "
            "them.",
            k=k,
        )
    return _l(
        "Fewer than %(k)d respondents match these settings, perhaps none: a paper would "
        "reveal individuals. Widen the filters.",
        k=k,
    )


# --- analysis --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Analysis:
    """The plan run on one dataset with one set of answer filters, suppressed."""

    dataset: Dataset  # kept so that its id cannot be reused while the entry lives
    plan: AnalysisPlan
    method: AnalysisPlan
    table: pd.DataFrame
    table_json: dict[str, Any]
    problems: list[str]


ANALYSES_KEPT = 4


def _analysis(
    dataset: Dataset,
    settings: ReportSettings,
    respondents: pd.DataFrame,
    members: pd.DataFrame,
    k: int,
) -> _Analysis:
    """Run (or reuse) the analysis plan and suppression for these data.

    load_dataset returns the very same Dataset object as long as no submission changed, so
    the plan's results can be kept with it: "Preview" then "Generate PDF" analyses once.
    """
    key = (id(dataset), tuple(getattr(settings, name) for name in ANSWER_FILTERS), k)
    kept: OrderedDict[tuple, _Analysis] = current_app.extensions.setdefault(
        "birge_report_analyses", OrderedDict()
    )
    found = kept.get(key)
    if found is not None and found.dataset is dataset:
        kept.move_to_end(key)
        return found

    def build() -> tuple[AnalysisPlan, AnalysisPlan, pd.DataFrame, dict[str, Any], list[str]]:
        plan, problems = build_plan(dataset.spec)
        method = _method_plan(respondents)
        result = run_plan(respondents, members, _combined(plan, method), repeats=dataset.repeats)
        # Not rounded here: the paper prints whole percentages from the exact share (rounding
        # twice would turn 27.46 % into 28 %); the snapshot itself never leaves the server
        table = apply_to_estimates(result.table, k=k)
        return plan, method, table, _table_json(table), [*problems, *result.problems]

    if dataset.source and current_app.config.get("REPORT_KEPT_PAPERS", True):
        parts = cube_store.stored("paper-analysis", lambda: _analysis_key(dataset, key), build)
    else:
        parts = build()
    analysis = _Analysis(dataset, *parts)
    kept[key] = analysis
    while len(kept) > ANALYSES_KEPT:
        kept.popitem(last=False)
    return analysis


def _analysis_key(dataset: Dataset, key: tuple) -> tuple:
    """What a paper's analysis is a function of, for the host's kept copy (cube_store: the code
    of reports/analysis, datasets and instruments is part of its digest already).

    The snapshot parts the dataset was read from change with every submission, correction,
    review or withdrawal; the filters, the answer filters and k select the rows and the
    suppression; the specs and this module write the plan.
    """
    specs = hashlib.sha256(repr(dataset.specs).encode("utf-8")).hexdigest()
    return (dataset.source, repr(dataset.filters), key[1:], specs, _SOURCE_DIGEST)


def _method_plan(respondents: pd.DataFrame) -> AnalysisPlan:
    """Counts for the methodology (district, generation by district, interview language)."""
    indicators = [
        Indicator(
            "_method_districts",
            labels={},
            kind="frequency",
            column="_district",
            chapter=METHOD_CHAPTER,
        )
    ]
    if "generation" in respondents.columns:
        indicators.append(
            Indicator(
                "_method_generation",
                labels={},
                kind="frequency",
                column="generation",
                disaggregations=("_district",),
                chapter=METHOD_CHAPTER,
            )
        )
    language = "interview_language" if "interview_language" in respondents.columns else "_language"
    indicators.append(
        Indicator(
            "_method_language", labels={}, kind="frequency", column=language, chapter=METHOD_CHAPTER
        )
    )
    return AnalysisPlan(tuple(indicators))


def _combined(plan: AnalysisPlan, method: AnalysisPlan) -> AnalysisPlan:
    """The instrument's plan with the methodology's counts, run and suppressed together."""
    return AnalysisPlan(
        plan.indicators + method.indicators,
        plan.severity_rules,
        weight=plan.weight,
        design=plan.design,
    )


def published_counts(counts: Mapping[str, int], k: int, total: str | None = None) -> dict:
    """Counts as they may be published: hidden ones (1..k-1 and their complements) as None.

    With `total`, that key is the sum of the others and is published too, so a single hidden
    count gets a complement (suppress_small_cells decides which).
    """
    if not counts:
        return {}
    frame = pd.DataFrame({"count": [int(v) for v in counts.values()]}, index=list(counts))
    if total is not None:
        frame.loc[total] = int(frame["count"].sum())
    view = suppressed_view(
        suppress_small_cells(frame, k=k, count_columns=["count"], col_total=total), k=k
    )
    return {
        str(key): (int(value) if not isinstance(value, str) else None)
        for key, value in view["count"].items()
    }


def _methodology(
    dataset: Dataset,
    respondents: pd.DataFrame,
    members: pd.DataFrame,
    settings: ReportSettings,
    instrument: Instrument,
    k: int,
) -> dict[str, Any]:
    """Period, rounds, counts of respondents, members, exclusions and refusals (suppressed)."""
    received = respondents["_received_at"].dropna()
    rounds = sorted({str(r) for r in respondents["_round"].dropna().unique()})
    demo = bool(respondents["_demo"].fillna(False).astype(bool).any())
    excluded = sum(n for status, n in dataset.excluded.items() if status != "demo")
    counts = published_counts({"respondents": len(respondents), "members": len(members)}, k)
    answer_filtered = any(getattr(settings, name) for name in ANSWER_FILTERS)
    return {
        "respondents": counts.get("respondents"),
        "members": counts.get("members"),
        "period": [
            received.min().date().isoformat() if len(received) else None,
            received.max().date().isoformat() if len(received) else None,
        ],
        "rounds": rounds,
        "demo": demo,
        "review_statuses": list(settings.review_statuses),
        "excluded": published_counts({"excluded": excluded}, k)["excluded"] if excluded else 0,
        # Refusals carry no answers: they cannot follow a generation, sex or age filter.
        "refusals": None if answer_filtered else _refusals(instrument, settings, dataset, k),
        "filters": {name: list(getattr(settings, name)) for name in ANSWER_FILTERS},
        "districts": list(settings.districts),
    }


def _refusals(
    instrument: Instrument, settings: ReportSettings, dataset: Dataset, k: int
) -> dict[str, int | None]:
    """Refusals by reason and in total, for the instrument, rounds and districts chosen."""
    query = (
        select(Refusal.reason, func.count())
        .where(Refusal.instrument_id == instrument.id)
        .group_by(Refusal.reason)
        .order_by(Refusal.reason)
    )
    if dataset.filters.round_ids is not None:
        query = query.where(Refusal.round_id.in_(dataset.filters.round_ids))
    if settings.districts:
        query = query.where(Refusal.district.in_(settings.districts))
    counts = {str(reason): int(n) for reason, n in db.session.execute(query).all()}
    if not counts:
        return {"total": 0}
    return published_counts(counts, k, total="total")


def _indicator(indicator: Indicator) -> dict[str, Any]:
    """What the paper needs to know of a plan indicator."""
    return {
        "id": indicator.id,
        "kind": indicator.kind,
        "unit": indicator.unit,
        "chapter": indicator.chapter or "",
        "theme": indicator.theme or "",
        "column": indicator.column or "",
        "columns": list(indicator.columns),
        "labels": {language: text for language, text in indicator.labels.items() if text},
    }


def _labelled_columns(table: pd.DataFrame, plan: AnalysisPlan, method: AnalysisPlan) -> set[str]:
    """Columns whose codes appear in the paper: groups, and categories of frequencies/rankings."""
    names = {str(v) for v in table["group_var"].unique() if v}
    for indicator in (*plan.indicators, *method.indicators):
        if indicator.kind in ("frequency", "multiple") and indicator.column:
            names.add(indicator.column)
        names.update(indicator.columns)
    return names


def _labels(specs: Iterable[InstrumentSpec], columns: set[str]) -> dict[str, dict[str, Any]]:
    """Choice labels per language, only as written in the instrument (no fallback here).

    The paper falls back to English itself and lists what is missing, so a label that the
    XLSForm lacks must stay missing in the snapshot.
    """
    out: dict[str, dict[str, Any]] = {language: {} for language in LANGUAGES}
    for spec in specs:  # oldest first: the newest version's labels win
        for question in spec.iter_questions():
            if not question.choice_list:
                continue
            targets = [question.name] if question.name in columns else []
            if question.name == spec.intake.district_question and "_district" in columns:
                targets.append("_district")  # the metadata column holds the same codes
            for choice in spec.choices.get(question.choice_list, ()) if targets else ():
                for language in LANGUAGES:
                    text = choice.labels.get(language)
                    for name in targets if text else ():
                        out[language].setdefault(name, {})[choice.name] = text
    return out


def _table_json(table: pd.DataFrame) -> dict[str, Any]:
    """The suppressed tidy table as columns and rows of plain values (hidden cells → None)."""
    frame = table[list(TABLE_COLUMNS)]
    hidden_n = TABLE_COLUMNS.index("n")
    hidden = frame["suppressed"].astype(bool).to_numpy()
    rows = []
    for record, suppressed in zip(frame.itertuples(index=False, name=None), hidden, strict=True):
        row = [_plain(value) for value in record]
        if suppressed:  # no n beside a hidden estimate
            row[hidden_n] = None
        rows.append(row)
    return {"columns": list(TABLE_COLUMNS), "rows": rows}


def _plain(value: Any) -> Any:
    """A JSON value: NaN → None, NumPy scalars → Python ones."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _quotes(respondents: pd.DataFrame, limit: int) -> list[dict[str, Any]]:
    """The approved answers of the respondents in the paper, oldest approval first.

    Only approvals that still exist count: withdrawing a submission deletes its approvals (ON
    DELETE CASCADE), so a withdrawn respondent is never quoted in a new paper.
    """
    if limit <= 0:
        return []
    ids = set(respondents["_submission_id"].astype(int).tolist())
    rows = db.session.execute(
        select(
            ApprovedQuote.submission_id,
            ApprovedQuote.question,
            Submission.answers,
            ApprovedQuote.translations,
        )
        .join(Submission, Submission.id == ApprovedQuote.submission_id)
        .where(ApprovedQuote.question.in_(quote_questions()))
        .order_by(ApprovedQuote.approved_at, ApprovedQuote.id)
    ).all()
    generations = (
        dict(zip(respondents["_submission_id"].astype(int), respondents["generation"], strict=True))
        if "generation" in respondents.columns
        else {}
    )
    quotes = []
    for submission_id, question, answers, translations in rows:
        text = answers.get(question) if isinstance(answers, dict) else None
        if submission_id not in ids or not isinstance(text, str) or not text.strip():
            continue
        generation = generations.get(submission_id)
        language = answers.get("interview_language")
        quotes.append(
            {
                "text": " ".join(text.split()),
                "language": language if language in LANGUAGES else None,
                "generation": str(generation) if isinstance(generation, str) else None,
                "translations": {
                    code: str(text)
                    for code, text in sorted((translations or {}).items())
                    if code in LANGUAGES and text
                },
            }
        )
        if len(quotes) >= limit:
            break
    return quotes
