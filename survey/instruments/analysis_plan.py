"""The instrument's analysis plan: its 'analysis' and 'severity' sheets as a reports.analysis plan.

Checked at import (every problem names the sheet, row and column) so a plan that names a question
that does not exist never reaches a dashboard or a report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from reports.analysis.conditions import condition_columns, parse_condition_text
from reports.analysis.design import SurveyDesign
from reports.analysis.errors import AnalysisError
from reports.analysis.plan import (
    UNITS,
    AnalysisPlan,
    Indicator,
    automatic_plan,
    indicator_from_mapping,
)
from survey.instruments.languages import language_code
from survey.instruments.places import workbook_place
from survey.instruments.registry import describe
from survey.instruments.spec import InstrumentSpec

PLAN_FIELDS = {
    "id": "id",
    "type": "kind",
    "numerator": "numerator",
    "member_numerator": "member_numerator",
    "denominator": "denominator",
    "answered": "answered",
    "column": "column",
    "columns": "columns",
    "codes": "codes",
    "points": "points",
    "unit": "unit",
    "disaggregations": "disaggregations",
    "weight": "weight",
    "theme": "theme",
    "chapter": "chapter",
}
CONDITION_FIELDS = ("numerator", "denominator", "member_numerator")

# A problem is worded when shown, in the language of whoever reads it: plans are parsed once per
# questionnaire and cached, and visitors read them in different languages.
Problem = LazyString


def _place(sheet: str, row: int | str | None = None, column: str | None = None) -> Problem:
    return LazyString(workbook_place, sheet, row, column)


def _joined(place: Problem, text: str) -> str:
    return f"{place}: {text}"


def _at(place: Problem, error: Exception) -> Problem:
    """A problem from reports.analysis (its words are English) at a place of the workbook."""
    return LazyString(_joined, place, str(error))


def _known_columns(spec: InstrumentSpec, sectors: set[str]) -> set[str]:
    names: set[str] = set()
    for question in spec.iter_questions():
        names.add(question.name)
        if question.type == "select_multiple":
            names |= {
                f"{question.name}/{c.name}"
                for c in spec.choices.get(question.choice_list or "", ())
            }
    names |= {f"severity_{sector}" for sector in sectors} | {"severity_overall"}
    return names


def _labels(row: Mapping[str, str]) -> dict[str, str]:
    return {
        language_code(key.split("::", 1)[1]): value
        for key, value in row.items()
        if key.startswith("label::") and value
    }


def severity_rules(
    spec: InstrumentSpec,
) -> tuple[dict[str, list[tuple[int, Any]]], list[Problem]]:
    """{sector: [(score, condition)]} from the severity sheet, and the problems found."""
    rules: dict[str, list[tuple[int, Any]]] = {}
    problems: list[str] = []
    for row in spec.severity_rows:
        place = row.get("_row", "?")
        where = _place("severity", place)
        sector, score_text, text = row.get("sector"), row.get("score", ""), row.get("condition")
        if not sector or not text:
            problems.append(
                _l("%(where)s: 'sector', 'score' and 'condition' are all needed.", where=where)
            )
            continue
        try:
            score = int(score_text)
            if not 1 <= score <= 5:
                raise ValueError
        except ValueError:
            problems.append(
                _l(
                    "%(where)s: use a whole number from 1 to 5.",
                    where=_place("severity", place, "score"),
                )
            )
            continue
        try:
            rules.setdefault(sector, []).append((score, parse_condition_text(text)))
        except AnalysisError as error:
            problems.append(_at(_place("severity", place, "condition"), error))
    return rules, problems


def sector_labels(spec: InstrumentSpec) -> dict[str, dict[str, str]]:
    """Labels of the severity sectors per language."""
    out: dict[str, dict[str, str]] = {}
    for row in spec.severity_rows:
        if row.get("sector"):
            out.setdefault(row["sector"], {}).update(_labels(row))
    return out


def design_of(spec: InstrumentSpec) -> tuple[SurveyDesign | None, list[str]]:
    """The sampling design of the settings sheet, and what is wrong with it (in the locale)."""
    design, problems = _design(spec)
    return design, [str(problem) for problem in problems]


def _design(spec: InstrumentSpec) -> tuple[SurveyDesign | None, list[Problem]]:
    design = spec.design
    problems: list[Problem] = []
    for name in ("weight", "strata", "cluster"):
        question = getattr(design, name)
        if question and question not in spec.questions_by_name:
            problems.append(
                _l(
                    "%(where)s: '%(name)s' is not a question of this form.",
                    where=_place("settings", column=f"analysis_{name}"),
                    name=question,
                )
            )
        elif question and spec.questions_by_name[question].repeat:
            problems.append(
                _l(
                    "%(where)s: '%(name)s' is inside a repeat; the design belongs to the "
                    "respondent's household.",
                    where=_place("settings", column=f"analysis_{name}"),
                    name=question,
                )
            )
    if (design.strata or design.cluster) and not design.weight:
        problems.append(
            _l(
                "%(where)s: analysis_strata and analysis_cluster need analysis_weight.",
                where=_place("settings"),
            )
        )
    if problems or not design.weight:
        return None, problems
    return SurveyDesign(design.weight, design.strata, design.cluster), problems


def build_plan(spec: InstrumentSpec) -> tuple[AnalysisPlan, list[str]]:
    """The plan of an instrument (automatic per-question tables when it has none), with problems
    worded in the current locale."""
    plan, problems = parse_plan(spec)
    return plan, [str(problem) for problem in problems]


def parse_plan(spec: InstrumentSpec) -> tuple[AnalysisPlan, list[Problem]]:
    """The plan of an instrument with its problems as lazy strings, worded each time they are
    shown (for a plan cached across requests in several languages)."""
    rules, problems = severity_rules(spec)
    design, design_problems = _design(spec)
    problems += design_problems
    if not spec.analysis_rows:
        plan = automatic_plan(describe(spec))
        return AnalysisPlan(plan.indicators, plan.severity_rules, design=design), problems
    known = _known_columns(spec, set(rules))
    units = {*UNITS, *(repeat.name for repeat in spec.iter_repeats())}
    indicators: list[Indicator] = []
    for row in spec.analysis_rows:
        place = row.get("_row", "?")
        where = _place("analysis", place)
        data: dict[str, Any] = {"labels": _labels(row)}
        for column, name in PLAN_FIELDS.items():
            if row.get(column):
                data[name] = row[column]
        for name in CONDITION_FIELDS:
            if isinstance(data.get(name), str):
                try:
                    data[name] = parse_condition_text(data[name])
                except AnalysisError as error:
                    problems.append(_at(_place("analysis", place, name), error))
                    data[name] = None
        try:
            indicator = indicator_from_mapping(data)
        except (AnalysisError, TypeError, ValueError) as error:
            problems.append(_at(where, error))
            continue
        if indicator.unit not in units:
            problems.append(
                _l(
                    "%(where)s: indicator '%(id)s' has unit '%(unit)s': use respondent, member, "
                    "household or the name of a repeat of this form.",
                    where=_place("analysis", place, "unit"),
                    id=indicator.id,
                    unit=indicator.unit,
                )
            )
            continue
        for name in sorted(_read_columns(indicator) - known):
            problems.append(
                _l(
                    "%(where)s: indicator '%(id)s' uses '%(name)s', which is not a question of "
                    "this form.",
                    where=where,
                    id=indicator.id,
                    name=name,
                )
            )
        if indicator.unit not in UNITS:
            # A repeat's table holds its own questions (and the respondent's context) only.
            for name in sorted(
                (_read_columns(indicator) & known) - _asked_in(spec, indicator.unit)
            ):
                problems.append(
                    _l(
                        "%(where)s: indicator '%(id)s' counts entries of '%(unit)s' but uses "
                        "'%(name)s', which is not a question of that repeat.",
                        where=where,
                        id=indicator.id,
                        unit=indicator.unit,
                        name=name,
                    )
                )
        if indicator.kind == "severity" and indicator.column not in {*rules, "overall"}:
            problems.append(
                _l(
                    "%(where)s: no severity rules for sector '%(sector)s'.",
                    where=_place("analysis", place, "column"),
                    sector=indicator.column,
                )
            )
        indicators.append(indicator)
    try:
        plan = AnalysisPlan(tuple(indicators), rules, design=design)
    except AnalysisError as error:
        problems.append(_at(_place("analysis"), error))
        plan = AnalysisPlan((), rules, design=design)
    return plan, problems


def _asked_in(spec: InstrumentSpec, repeat: str) -> set[str]:
    """Columns of a repeat's table: its questions (not those of repeats inside it)."""
    names: set[str] = set()
    for question in spec.iter_questions():
        if question.repeat == repeat:
            names.add(question.name)
            if question.type == "select_multiple":
                names |= {
                    f"{question.name}/{c.name}"
                    for c in spec.choices.get(question.choice_list or "", ())
                }
    return names


def _read_columns(indicator: Indicator) -> set[str]:
    names = set(indicator.data_columns()) | set(indicator.disaggregations)
    if indicator.member_numerator is not None:
        names |= condition_columns(indicator.member_numerator)
    if indicator.weight:
        names.add(indicator.weight)
    return {n for n in names if not n.startswith("_")}
