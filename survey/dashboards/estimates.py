"""The analysis plan's estimates for a selection, and what each role may see of them.

Disclosure control (DOMAIN.md §6): advocates ("public" outputs) get estimate tables through
`apply_to_estimates`, with k = SUPPRESSION_K; coordinators and admins ("full") see exact counts on
screen. Every export of aggregates is built as a public output, whoever asks for it. Count tables
are hidden in pages/overview.py with `suppress_small_cells` + `suppressed_view`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import gettext as _

from reports.analysis import AnalysisPlan, apply_to_estimates, run_plan
from reports.analysis.plan import UNITS
from reports.analysis.suppression import DEFAULT_MARKER, SUPPRESSED
from reports.charts import Bar
from reports.formatting import (
    DASH,
    format_confidence,
    format_count,
    format_interval,
    format_number,
    format_share,
    is_missing,
)
from survey.dashboards.filters import Selection
from survey.dashboards.page_models import Cell
from survey.datasets.columns import RESPONDENT_PREFIX
from survey.i18n import current_language
from survey.instruments.analysis_plan import Problem, parse_plan
from survey.instruments.spec import InstrumentSpec

FULL = "full"  # coordinators and admins: exact counts on screen


PUBLIC = "public"  # advocates, and every export: suppressed


MARKER = DEFAULT_MARKER


SHARE_KINDS = frozenset({"proportion", "frequency", "multiple", "ranking", "severity"})


@functools.lru_cache(maxsize=32)
def _parsed_plan(spec: InstrumentSpec) -> tuple[AnalysisPlan, tuple[Problem, ...]]:
    plan, problems = parse_plan(spec)
    return plan, tuple(problems)


def plan_of(spec: InstrumentSpec) -> tuple[AnalysisPlan, tuple[str, ...]]:
    """The instrument's analysis plan (parsed once per spec) and the problems found building it,
    worded in the current locale: the cache is shared by visitors of every language."""
    plan, problems = _parsed_plan(spec)
    return plan, tuple(str(problem) for problem in problems)


def _member_column(members: pd.DataFrame, name: str, spec: InstrumentSpec) -> str | None:
    """The roster column standing for a respondent disaggregation (their answer, district)."""
    if name in members.columns:
        return name
    if RESPONDENT_PREFIX + name in members.columns:
        return RESPONDENT_PREFIX + name
    if name == spec.intake.district_question and "_district" in members.columns:
        return "_district"
    return None


def run_estimates(
    selection: Selection,
    plan: AnalysisPlan,
    spec: InstrumentSpec,
    by: tuple[str, ...] | None,
) -> tuple[pd.DataFrame, list[str]]:
    """The plan's tidy table; `by` overrides every indicator's disaggregations (None: the plan's).

    Roster indicators (and those of any other repeat) are disaggregated by the matching column
    of their table (the respondent's answer, or the household's district), so one picker serves
    every unit.
    """
    repeats = selection.repeats
    if not plan.indicators:
        return run_plan(selection.respondents, selection.members, plan, repeats=repeats).table, []
    if by is None:
        result = run_plan(selection.respondents, selection.members, plan, repeats=repeats)
        return result.table, list(result.problems)
    member_by = tuple(
        column
        for column in (_member_column(selection.members, name, spec) for name in by)
        if column is not None
    )
    # Household indicators are rows of the respondents' table: the same disaggregations
    groups = [(("respondent", "household"), by), (("member",), member_by)]
    # Entries of any other repeat (one inside the roster too) carry the same respondent columns.
    for unit in dict.fromkeys(i.unit for i in plan.indicators):
        if unit not in UNITS and unit in repeats:
            entries = repeats[unit]
            override = tuple(
                column
                for column in (_member_column(entries, name, spec) for name in by)
                if column is not None
            )
            groups.append(((unit,), override))
        elif unit not in UNITS:
            groups.append(((unit,), by))  # run_plan says the entries are missing
    tables, problems = [], []
    for units, override in groups:
        indicators = tuple(i for i in plan.indicators if i.unit in units)
        if not indicators:
            continue
        result = run_plan(
            selection.respondents,
            selection.members,
            replace(plan, indicators=indicators),
            by_override=override,
            repeats=repeats,
        )
        tables.append(result.table)
        problems += result.problems
    order = {indicator.id: position for position, indicator in enumerate(plan.indicators)}
    table = pd.concat(tables, ignore_index=True)
    position = table["indicator"].map(order).to_numpy()
    table = table.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)
    return table, problems


def publish(table: pd.DataFrame, role: str, k: int) -> pd.DataFrame:
    """The table as `role` may see it: advocates' through apply_to_estimates, with a flag."""
    if role == PUBLIC and len(table):
        return apply_to_estimates(table, k=k)
    out = table.copy()
    out[SUPPRESSED] = False
    return out


def translate_problem(problem: str) -> str:
    """An analysis problem (English, from reports.analysis) with a translated lead."""
    return _("Not computed: %(problem)s", problem=problem)


def ci_level(language: str) -> str:
    """The confidence level as a percentage in the language ("95 %" in Russian)."""
    return format_confidence(0.95, language)


def ci_heading() -> str:
    # A literal "%" in a message would break %-formatting of translations: pass it in.
    """The heading of confidence-interval columns."""
    return _("%(level)s CI", level=ci_level(current_language()))


def _estimate_text(kind: str, value: Any, language: str) -> str:
    """An estimate as a percentage (shares) or a number (means, medians)."""
    return format_share(value, language) if kind in SHARE_KINDS else format_number(value, language)


@dataclass(frozen=True)
class EstimateRow:
    """One row of a tidy table, original and as published."""

    original: Mapping[str, Any]
    published: Mapping[str, Any]

    @property
    def hidden(self) -> bool:
        """Whether publishing hid this row's estimate."""
        return bool(self.published.get(SUPPRESSED, False))

    def count_cell(self, name: str, language: str) -> Cell:
        """A count: the marker when publishing hid it, a dash when there is none."""
        original, published = self.original.get(name), self.published.get(name)
        if is_missing(original):
            return Cell(DASH, "count")
        if is_missing(published):
            return Cell(MARKER, "count", suppressed=True)
        return Cell(format_count(published, language), "count")

    def estimate_cell(self, kind: str, language: str) -> Cell:
        """The estimate: the marker when hidden, flagged when indicative."""
        if self.hidden:
            return Cell(MARKER, "number", suppressed=True)
        value = self.published.get("estimate")
        indicative = bool(self.original.get("indicative")) and not is_missing(value)
        return Cell(_estimate_text(kind, value, language), "number", indicative=indicative)

    def interval_cell(self, kind: str, language: str) -> Cell:
        """The confidence interval: the marker when hidden."""
        if self.hidden:
            return Cell(MARKER, "interval", suppressed=True)
        return Cell(
            format_interval(
                self.published.get("ci_low"),
                self.published.get("ci_high"),
                language,
                share=kind in SHARE_KINDS,
            ),
            "interval",
        )

    def bar(self, label: str) -> Bar:
        """The row as a chart bar (no value when hidden)."""
        if self.hidden:
            return Bar(label, None)
        estimate = self.published.get("estimate")
        low, high = self.published.get("ci_low"), self.published.get("ci_high")
        return Bar(
            label,
            None if is_missing(estimate) else float(estimate),
            None if is_missing(low) else float(low),
            None if is_missing(high) else float(high),
            "*" if self.original.get("indicative") else "",
        )


def estimate_rows(original: pd.DataFrame, published: pd.DataFrame) -> list[EstimateRow]:
    """The rows of a tidy table, original and published side by side."""
    return [
        EstimateRow(a, b)
        for a, b in zip(original.to_dict("records"), published.to_dict("records"), strict=True)
    ]
