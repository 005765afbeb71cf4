"""What the filter form offers for an instrument (rounds, districts, answers, disaggregations,
indicators, questions), labelled in the page language and cached with the pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from reports.analysis import AnalysisPlan
from reports.instrument import QuestionDescription
from survey.collection.models import SurveyRound
from survey.collection.rounds import current_round
from survey.dashboards import estimates
from survey.dashboards.cache import page_cache, version_key
from survey.dashboards.filters import FILTER_QUESTIONS, dashboard_instruments, round_names
from survey.dashboards.labels import SPECIAL, Labels, settlement_like
from survey.datasets.dataset import Dataset
from survey.datasets.labels import derived_label
from survey.instruments.models import Instrument

STANDARD_DISAGGREGATIONS = (
    "sex",
    "age_band",
    "generation",
    "zone_self_reported",
    "district",
    "urban_rural",
    "wg_disability",
    "certificate_status",
)


@dataclass(frozen=True)
class FilterOptions:
    """Choices for the filter form: (value, label) pairs in the page language."""

    instruments: tuple[tuple[str, str], ...]
    versions: tuple[tuple[str, str], ...]
    rounds: tuple[tuple[str, str], ...]
    default_round: str
    districts: tuple[tuple[str, str], ...]
    answers: Mapping[str, tuple[tuple[str, str], ...]]
    disaggregations: tuple[tuple[str, str], ...]
    indicators: tuple[tuple[str, str], ...]
    questions: tuple[tuple[str, str], ...]
    default_indicator: str = ""


def analysable(dataset: Dataset) -> list[QuestionDescription]:
    """Questions the frequencies page may show: choices and numbers, never text or settlements."""
    hidden = settlement_like(dataset.spec)
    return [
        d
        for d in dataset.descriptions
        if d.measure in {"categorical", "multiple", "numeric"} and d.name not in hidden
    ]


def filter_options(instrument: Instrument, dataset: Dataset, language: str) -> FilterOptions:
    """Everything the filter form offers for this instrument, labelled in `language` (cached)."""
    rounds = round_names()
    current = current_round()
    key = (
        "options",
        version_key(instrument),
        language,
        tuple(sorted(rounds.items())),
        current.id if current is not None else None,
    )
    return page_cache().get(
        key, dataset, lambda: _filter_options(instrument, dataset, language, rounds, current)
    )


def _filter_options(
    instrument: Instrument,
    dataset: Dataset,
    language: str,
    rounds: Mapping[int, str],
    current: SurveyRound | None,
) -> FilterOptions:
    """Build the filter options (see filter_options)."""
    labels = Labels(dataset, language)
    spec = dataset.spec
    district_question = spec.questions_by_name.get(spec.intake.district_question)
    districts: list[tuple[str, str]] = []
    if district_question is not None:
        districts = [
            (choice.name, labels.text(choice.labels, choice.name))
            for choice in spec.choices.get(district_question.choice_list or "", ())
        ]
    seen = {code for code, _label in districts}
    if "_district" in dataset.respondents.columns:
        for code in dataset.respondents["_district"].dropna().unique():
            if str(code) not in seen:
                districts.append((str(code), labels.value("_district", code)))
                seen.add(str(code))
    answers: dict[str, tuple[tuple[str, str], ...]] = {}
    for name in FILTER_QUESTIONS:
        if name in dataset.respondents.columns:
            answers[name] = tuple(
                (str(code), labels.value(name, code)) for code in _codes(dataset, name)
            )
    plan, _problems = estimates.plan_of(spec)
    wanted = list(STANDARD_DISAGGREGATIONS)
    for indicator in plan.indicators:
        wanted += [n for n in indicator.disaggregations if indicator.unit == "respondent"]
    hidden = settlement_like(spec)
    disaggregations = tuple(
        (name, labels.column(name))
        for name in dict.fromkeys(wanted)
        if name in dataset.respondents.columns and name not in hidden
    )
    indicators = tuple(
        (indicator.id, labels.text(indicator.labels, indicator.id))
        for indicator in plan.indicators
        if indicator.kind != "ranking"
    )
    questions = tuple(
        (d.name, labels.text(d.labels, derived_label(d.name))) for d in analysable(dataset)
    )
    return FilterOptions(
        instruments=tuple((i.form_id, i.title) for i in dashboard_instruments()),
        versions=tuple((v.version, v.version) for v in reversed(instrument.versions)),
        rounds=tuple((str(i), name) for i, name in sorted(rounds.items(), reverse=True)),
        default_round=str(current.id) if current is not None else "all",
        districts=tuple(districts),
        answers=answers,
        disaggregations=disaggregations,
        indicators=indicators,
        questions=questions,
        default_indicator=default_indicator(plan),
    )


def default_indicator(plan: AnalysisPlan) -> str:
    """The indicator charted when none is chosen: the plan's first proportion."""
    shown = [i for i in plan.indicators if i.kind != "ranking"]
    first = next((i for i in shown if i.kind == "proportion"), shown[0] if shown else None)
    return first.id if first is not None else ""


def _codes(dataset: Dataset, column: str) -> list[str]:
    """Codes of a categorical column: its categories, else the values seen, dnk/pnta last."""
    series = dataset.respondents[column]
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = [str(c) for c in series.cat.categories]
    else:
        codes = sorted({str(v) for v in series.dropna().unique()})
    return [c for c in codes if c not in SPECIAL] + [c for c in codes if c in SPECIAL]
