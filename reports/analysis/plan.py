"""The analysis plan: indicators as plain data, run against the data into one tidy table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from reports.analysis.conditions import (
    Condition,
    condition_columns,
    evaluate_condition,
    evaluate_known,
    has_column,
    parse_condition_text,
    shared_leaves,
    validate_condition,
)
from reports.analysis.design import SurveyDesign
from reports.analysis.errors import AnalysisError
from reports.analysis.estimators import (
    FREQUENCY_COLUMNS,
    ProportionSpec,
    SeverityRules,
    frequencies,
    mean,
    median,
    multiple_frequencies,
    proportion,
    rank_points,
    ranking,
    severity,
    severity_summary,
    validate_severity_rules,
)
from reports.instrument import QuestionDescription

KINDS = ("proportion", "mean", "median", "ranking", "points", "severity", "frequency", "multiple")
UNITS = ("respondent", "member", "household")  # any other unit names a repeat of the instrument
HOUSEHOLD_KEY = "_submission_id"  # the column joining roster rows to their respondent
_HOUSEHOLD = "_household_meets"

TIDY_COLUMNS = (
    "indicator",
    "kind",
    "label_en",
    "theme",
    "chapter",
    *FREQUENCY_COLUMNS,
    "points",
)
_TEXT = ("indicator", "kind", "label_en", "theme", "chapter", "group_var", "group", "category")
_INTEGER = ("n", "dnk", "pnta", "missing")


@dataclass(frozen=True)
class Indicator:
    """One indicator of the plan.

    kind: proportion (numerator / denominator conditions, answered question), mean or median
    (column, optional denominator condition), ranking (columns ranked 1st.., points; share
    naming each code), points (the same columns: mean rank points per code), severity
    (column = sector name or "overall"; % in need and % acute), frequency (single choice:
    column, codes) or multiple (select_multiple: column = question, codes).
    unit: "respondent", "member" (household roster rows), "household" (a proportion of
    households: the respondent meets `numerator` or any roster member `member_numerator`) or
    the name of another repeat (one row per entry of that repeat, a repeat inside the roster
    too), read from run_plan's `repeats`.
    """

    id: str
    labels: Mapping[str, str]
    kind: str
    numerator: Condition | None = None
    denominator: Condition | None = None
    answered: str | None = None
    column: str | None = None
    columns: tuple[str, ...] = ()
    unit: str = "respondent"
    disaggregations: tuple[str, ...] = ()
    weight: str | None = None
    theme: str | None = None
    chapter: str | None = None
    codes: tuple[str, ...] = ()
    points: tuple[float, ...] = (3, 2, 1)
    member_numerator: Condition | None = None

    def __post_init__(self) -> None:
        """Refuse plans that cannot mean anything, whatever the data."""
        if not isinstance(self.id, str) or not self.id:
            raise AnalysisError("Every indicator needs an id.")
        if self.kind not in KINDS:
            raise AnalysisError(f"Indicator '{self.id}': unknown kind '{self.kind}'.")
        if not isinstance(self.unit, str) or not self.unit:
            raise AnalysisError(
                f"Indicator '{self.id}': unit must be respondent, member, household or a repeat."
            )
        for name in ("columns", "disaggregations", "codes", "points"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise AnalysisError(f"Indicator '{self.id}': '{name}' must be a list, not text.")
            object.__setattr__(self, name, tuple(value))
        try:
            for condition in (self.numerator, self.denominator, self.member_numerator):
                if condition is not None:
                    validate_condition(condition)
        except AnalysisError as error:
            raise AnalysisError(f"Indicator '{self.id}': {error}") from error
        needs = {
            "proportion": self.numerator is not None,
            "mean": self.column is not None,
            "median": self.column is not None,
            "frequency": self.column is not None,
            "multiple": self.column is not None,
            "ranking": bool(self.columns),
            "points": bool(self.columns),
            "severity": True,
        }
        if not needs[self.kind]:
            what = {"proportion": "a numerator", "ranking": "ranked columns"}.get(
                self.kind, "a column"
            )
            raise AnalysisError(f"Indicator '{self.id}': a {self.kind} needs {what}.")
        if self.unit == "household" and (
            self.kind != "proportion" or self.member_numerator is None
        ):
            raise AnalysisError(
                f"Indicator '{self.id}': the unit 'household' is for proportions with a "
                "numerator for the respondent and a member_numerator for the roster."
            )

    @property
    def label_en(self) -> str:
        """The English label, else the id."""
        return str(self.labels.get("en") or self.id)

    def data_columns(self) -> set[str]:
        """Every column the indicator reads, disaggregations and weight apart."""
        names: set[str] = set(self.columns)
        for condition in (self.numerator, self.denominator):
            if condition is not None:
                names |= condition_columns(condition)
        names |= {name for name in (self.answered, self.column) if name is not None}
        if self.kind == "severity":
            names.discard(self.column or "")
        return names


@dataclass(frozen=True)
class AnalysisPlan:
    """Indicators, severity rules {sector: [(score, condition), ...]}, a default weight and
    the sampling design (design-based intervals when given; its weight then applies)."""

    indicators: tuple[Indicator, ...] = ()
    severity_rules: SeverityRules = field(default_factory=dict)
    weight: str | None = None
    design: SurveyDesign | None = None

    def __post_init__(self) -> None:
        """Indicator ids are unique; severity indicators need rules."""
        object.__setattr__(self, "indicators", tuple(self.indicators))
        ids = [indicator.id for indicator in self.indicators]
        duplicates = sorted({name for name in ids if ids.count(name) > 1})
        if duplicates:
            raise AnalysisError(f"Indicator id '{duplicates[0]}' is used twice.")
        if any(indicator.kind == "severity" for indicator in self.indicators):
            validate_severity_rules(self.severity_rules)


@dataclass(frozen=True)
class PlanResult:
    """The tidy table of every indicator that could be computed, and what went wrong."""

    table: pd.DataFrame
    problems: list[str]


def run_plan(
    respondents: pd.DataFrame,
    members: pd.DataFrame | None,
    plan: AnalysisPlan,
    *,
    by_override: Sequence[str] | None = None,
    confidence: float = 0.95,
    household_key: str = HOUSEHOLD_KEY,
    repeats: Mapping[str, pd.DataFrame] | None = None,
) -> PlanResult:
    """Compute every indicator into one tidy table (TIDY_COLUMNS), collecting problems.

    An indicator that cannot be computed (a column the data lack, bad weights) is left out and
    its problem, naming the indicator, is listed; a missing disaggregation column only drops
    that disaggregation. by_override replaces every indicator's disaggregations. With a design,
    roster rows take their household's weight, stratum and cluster (household_key joins them);
    without a cluster column the household is the cluster. repeats: every repeat's table by
    name (one row per entry, household_key on each), read by indicators whose unit names a
    repeat; only the entries of the given respondents are analysed, with their design.
    """
    # Indicators read the same answers again and again (a question's answered, dnk and pnta
    # masks, then its numerator): each leaf is evaluated once for the whole plan.
    with shared_leaves():
        return _run_plan(
            respondents,
            members,
            plan,
            by_override=by_override,
            confidence=confidence,
            household_key=household_key,
            repeats=repeats or {},
        )


def _run_plan(
    respondents: pd.DataFrame,
    members: pd.DataFrame | None,
    plan: AnalysisPlan,
    *,
    by_override: Sequence[str] | None,
    confidence: float,
    household_key: str,
    repeats: Mapping[str, pd.DataFrame],
) -> PlanResult:
    """run_plan's work, inside its shared_leaves block."""
    frames: dict[str, pd.DataFrame | None] = {
        "respondent": respondents,
        "member": members,
        "household": respondents,
    }
    designs: dict[str, SurveyDesign | None] = {unit: plan.design for unit in UNITS}
    scores: dict[str, pd.DataFrame] = {}
    parts: list[dict[str, np.ndarray]] = []
    problems: list[str] = []
    member_design_problem: str | None = None
    if plan.design is not None and members is not None:
        try:
            frames["member"], designs["member"] = _member_design(
                respondents, members, plan.design, household_key
            )
        except AnalysisError as error:
            member_design_problem = str(error)
    for indicator in plan.indicators:
        try:
            if indicator.unit not in frames:
                frames[indicator.unit], designs[indicator.unit] = _repeat_frame(
                    respondents, repeats, indicator.unit, plan.design, household_key
                )
            frame = frames[indicator.unit]
            if frame is None:
                raise AnalysisError("It needs household member data and none were given.")
            if indicator.unit == "member" and member_design_problem:
                raise AnalysisError(member_design_problem)
            missing = sorted(
                name for name in indicator.data_columns() if not has_column(frame, name)
            )
            if missing:
                raise AnalysisError(f"Column '{missing[0]}' is not in the data.")
            wanted = indicator.disaggregations if by_override is None else tuple(by_override)
            by = [name for name in wanted if name in frame.columns]
            problems += [
                f"Indicator '{indicator.id}': disaggregation '{name}' is not in the data; left out."
                for name in wanted
                if name not in frame.columns
            ]
            weight = indicator.weight or plan.weight
            design = designs[indicator.unit]
            if indicator.kind == "severity":
                if indicator.unit not in scores:
                    scores[indicator.unit] = severity(frame, plan.severity_rules)
                frame = scores[indicator.unit]
            if indicator.unit == "household":
                frame = _household_frame(
                    frame,
                    members,
                    indicator,
                    [*by, *([weight] if weight else [])],
                    design,
                    household_key,
                )
                indicator = replace(
                    indicator,
                    numerator={"column": _HOUSEHOLD, "in": ["yes"]},
                    denominator=None,
                    answered=_HOUSEHOLD,
                )
            table = _estimate(frame, indicator, by, weight, confidence, design)
            parts.append(_tidy(indicator, table))
        except AnalysisError as error:
            message = str(error)
            problems.append(f"Indicator '{indicator.id}': {message[0].lower()}{message[1:]}")
    return PlanResult(_assemble(parts), problems)


def _repeat_frame(
    respondents: pd.DataFrame,
    repeats: Mapping[str, pd.DataFrame],
    unit: str,
    design: SurveyDesign | None,
    key: str,
) -> tuple[pd.DataFrame, SurveyDesign | None]:
    """The entries of a repeat (any level) whose respondent is analysed, with the household's
    design columns beside each as roster rows get them."""
    if unit not in repeats:
        raise AnalysisError(f"It needs the entries of repeat '{unit}' and none were given.")
    entries = repeats[unit]
    for frame, what in ((respondents, "respondent"), (entries, f"'{unit}'")):
        if key not in frame.columns:
            raise AnalysisError(f"The {what} data have no column '{key}' to join households.")
    # The caller's respondents are the selection (filters, review status): their entries only.
    entries = entries[np.isin(entries[key].to_numpy(), respondents[key].to_numpy())]
    if design is None:
        return entries, None
    return _member_design(respondents, entries, design, key, f"'{unit}'")


def _member_design(
    respondents: pd.DataFrame,
    members: pd.DataFrame,
    design: SurveyDesign,
    key: str,
    what: str = "household member",
) -> tuple[pd.DataFrame, SurveyDesign]:
    """Roster rows (or a repeat's entries) with their household's design columns, and the
    design to use on them."""
    for frame, data in ((respondents, "respondent"), (members, what)):
        if key not in frame.columns:
            raise AnalysisError(f"The {data} data have no column '{key}' to join households.")
    position = pd.Index(respondents[key]).get_indexer(members[key])
    if (position < 0).any():
        raise AnalysisError("Some household members have no respondent in the data.")
    columns = {
        name: respondents[name].to_numpy()[position]
        for name in design.columns()
        if name in respondents.columns and name != key
    }
    cluster = design.cluster or key
    return members.assign(**columns), replace(design, cluster=cluster)


def _household_frame(
    respondents: pd.DataFrame,
    members: pd.DataFrame | None,
    indicator: Indicator,
    keep: Sequence[str],
    design: SurveyDesign | None,
    key: str,
) -> pd.DataFrame:
    """One row per household: whether the respondent or any member meets the condition.

    Three-valued: yes as soon as someone is known to meet it, no when everyone's answers say
    no, unknown (left out of the denominator) otherwise. Rows outside the denominator are
    unknown too.
    """
    if members is None:
        raise AnalysisError("It needs household member data and none were given.")
    holds, known = evaluate_known(respondents, indicator.numerator or {})
    member_holds, member_known = evaluate_known(members, indicator.member_numerator or {})
    if key not in respondents.columns or key not in members.columns:
        raise AnalysisError(f"Column '{key}' is not in the data.")
    position = pd.Index(respondents[key]).get_indexer(members[key])
    inside = position >= 0
    size = len(respondents)
    any_member = np.bincount(position[inside], weights=member_holds[inside], minlength=size) > 0
    unknown_member = (
        np.bincount(position[inside], weights=~member_known[inside], minlength=size) > 0
    )
    meets = holds | any_member
    settled = meets | (known & ~unknown_member)
    if indicator.denominator is not None:
        settled &= evaluate_condition(respondents, indicator.denominator).to_numpy()
    status = np.where(settled, np.where(meets, "yes", "no"), None)
    names = dict.fromkeys([*keep, *(design.columns() if design else ())])
    frame = pd.DataFrame({name: respondents[name] for name in names if name in respondents})
    frame[_HOUSEHOLD] = pd.Categorical(status, categories=["yes", "no"])
    return frame


def _estimate(
    frame: pd.DataFrame,
    indicator: Indicator,
    by: list[str],
    weight: str | None,
    confidence: float,
    design: SurveyDesign | None = None,
) -> pd.DataFrame:
    """Run the estimator of the indicator's kind; output has a `category` column."""
    if indicator.kind == "proportion":
        spec = ProportionSpec(indicator.numerator or {}, indicator.denominator, indicator.answered)
        return proportion(frame, spec, by=by, weight=weight, confidence=confidence, design=design)
    if indicator.denominator is not None:
        frame = frame[evaluate_condition(frame, indicator.denominator).to_numpy()]
    column = indicator.column or ""
    codes = indicator.codes or None
    if indicator.kind == "mean":
        return mean(frame, column, by=by, weight=weight, confidence=confidence, design=design)
    if indicator.kind == "median":
        return median(frame, column, by=by, confidence=confidence)  # unweighted by design
    if indicator.kind == "frequency":
        return frequencies(
            frame, column, codes=codes, by=by, weight=weight, confidence=confidence, design=design
        )
    if indicator.kind == "multiple":
        return multiple_frequencies(
            frame, column, codes, by=by, weight=weight, confidence=confidence, design=design
        )
    if indicator.kind in ("ranking", "points"):
        estimator = ranking if indicator.kind == "ranking" else rank_points
        table = estimator(
            frame,
            indicator.columns,
            points=indicator.points,
            by=by,
            codes=codes,
            weight=weight,
            confidence=confidence,
            design=design,
        )
        return table.rename(columns={"share_top": "estimate"})
    sector = indicator.column or "overall"
    table = severity_summary(
        frame, by=by, weight=weight, sectors=[sector], confidence=confidence, design=design
    )
    return table.rename(columns={"measure": "category"}).drop(columns=["sector"])


def _tidy(indicator: Indicator, table: pd.DataFrame) -> dict[str, np.ndarray]:
    """One indicator's rows as arrays of the tidy columns."""
    size = len(table)
    labels = {
        "indicator": indicator.id,
        "kind": indicator.kind,
        "label_en": indicator.label_en,
        "theme": indicator.theme or "",
        "chapter": indicator.chapter or "",
    }
    columns: dict[str, np.ndarray] = {}
    for name in TIDY_COLUMNS:
        if name in labels:
            columns[name] = np.full(size, labels[name], dtype=object)
        elif name in table.columns:
            columns[name] = table[name].to_numpy()
        elif name == "category":
            columns[name] = np.full(size, "", dtype=object)
        else:
            columns[name] = np.full(size, np.nan)
    return columns


def _assemble(parts: Sequence[Mapping[str, np.ndarray]]) -> pd.DataFrame:
    """Stack per-indicator arrays column by column, with fixed dtypes (even when empty)."""
    data: dict[str, Any] = {}
    for name in TIDY_COLUMNS:
        values = [part[name] for part in parts]
        if name in _TEXT:
            data[name] = pd.Series(np.concatenate(values) if values else [], dtype=object).astype(
                str
            )
        elif name == "indicative":
            data[name] = np.concatenate(values).astype(bool) if values else np.zeros(0, bool)
        elif name in _INTEGER:
            data[name] = (
                np.concatenate(values).astype(np.int64) if values else np.zeros(0, np.int64)
            )
        else:
            data[name] = np.concatenate(values).astype(float) if values else np.zeros(0)
    return pd.DataFrame(data, columns=list(TIDY_COLUMNS))


# --- plans without an analysis sheet --------------------------------------------------------


def automatic_plan(
    questions: Iterable[QuestionDescription],
    *,
    disaggregations: Sequence[str] = (),
    weight: str | None = None,
) -> AnalysisPlan:
    """A plan for an instrument without one: a frequency table per choice question and the
    mean and median of each number question. Free text, dates and notes are never analysed.
    """
    indicators: list[Indicator] = []
    for question in questions:
        common = {
            "labels": dict(question.labels),
            "unit": "member" if question.repeat else "respondent",
            "disaggregations": tuple(name for name in disaggregations if name != question.name),
            "chapter": question.section,
        }
        codes = tuple(choice.code for choice in question.choices)
        if question.measure == "categorical":
            indicators.append(
                Indicator(
                    question.name, kind="frequency", column=question.name, codes=codes, **common
                )
            )
        elif question.measure == "multiple":
            indicators.append(
                Indicator(
                    question.name, kind="multiple", column=question.name, codes=codes, **common
                )
            )
        elif question.measure == "numeric":
            for kind in ("mean", "median"):
                indicators.append(
                    Indicator(f"{question.name}_{kind}", kind=kind, column=question.name, **common)
                )
    return AnalysisPlan(tuple(indicators), weight=weight)


# --- plans as plain data --------------------------------------------------------------------


def indicator_from_mapping(data: Mapping[str, Any]) -> Indicator:
    """An Indicator from JSON-able data; conditions may be dicts or their one-line text form."""
    values = dict(data)
    for name in ("numerator", "denominator", "member_numerator"):
        if isinstance(values.get(name), str):
            text = values[name].strip()
            values[name] = parse_condition_text(text) if text else None
    for name in ("columns", "disaggregations", "codes", "points"):
        if isinstance(values.get(name), str):
            values[name] = tuple(item for item in values[name].replace(",", " ").split() if item)
    if "points" in values:
        values["points"] = tuple(float(item) for item in values["points"])
    unknown = sorted(set(values) - set(Indicator.__dataclass_fields__))
    if unknown:
        raise AnalysisError(f"Indicator '{values.get('id', '?')}': unknown field '{unknown[0]}'.")
    values.setdefault("labels", {})
    if "id" not in values or "kind" not in values:
        raise AnalysisError("Every indicator needs an id and a kind.")
    return Indicator(**values)


def plan_from_mapping(data: Mapping[str, Any]) -> AnalysisPlan:
    """An AnalysisPlan from {"indicators": [...], "severity_rules": {...}, "weight": ...}."""
    rules: dict[str, list[tuple[int, Condition]]] = {}
    for sector, sector_rules in dict(data.get("severity_rules") or {}).items():
        rules[sector] = [
            (score, parse_condition_text(rule) if isinstance(rule, str) else rule)
            for score, rule in sector_rules
        ]
    indicators = tuple(indicator_from_mapping(item) for item in data.get("indicators", ()))
    design = data.get("design")
    return AnalysisPlan(
        indicators, rules, data.get("weight"), SurveyDesign(**design) if design else None
    )


def plan_to_mapping(plan: AnalysisPlan) -> dict[str, Any]:
    """The plan as JSON-able data (inverse of plan_from_mapping)."""
    indicators = []
    for indicator in plan.indicators:
        item = {name: getattr(indicator, name) for name in Indicator.__dataclass_fields__}
        item["labels"] = dict(indicator.labels)
        for name in ("columns", "disaggregations", "codes", "points"):
            item[name] = list(item[name])
        indicators.append(item)
    rules = {
        sector: [[score, dict(condition)] for score, condition in sector_rules]
        for sector, sector_rules in plan.severity_rules.items()
    }
    design = None
    if plan.design is not None:
        design = {
            "weight": plan.design.weight,
            "strata": plan.design.strata,
            "cluster": plan.design.cluster,
        }
    return {
        "indicators": indicators,
        "severity_rules": rules,
        "weight": plan.weight,
        "design": design,
    }
