"""Severity scores per sector and their summary shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from reports.analysis.conditions import (
    Condition,
    condition_columns,
    evaluate_known,
    validate_condition,
)
from reports.analysis.design import SurveyDesign
from reports.analysis.errors import AnalysisError
from reports.analysis.estimators.common import (
    ProportionSpec,
    _check_frame,
    _design_columns,
    _require,
)
from reports.analysis.estimators.proportions import proportion
from reports.analysis.groups import (
    normalise_by,
)

SEVERITY_PREFIX = "severity_"
SEVERITY_OVERALL = "severity_overall"
SEVERITY_MEASURES = (("in_need", 3), ("acute", 4))
# severity() also writes the highest score still possible given unanswered items
SEVERITY_MAX = "__max"
_MEASURE = "_measure_met"

SeverityRules = Mapping[str, Sequence[tuple[int, Condition]]]


def validate_severity_rules(rules: SeverityRules) -> None:
    """Raise AnalysisError unless rules map sector names to (score 1–5, condition) pairs."""
    if not isinstance(rules, Mapping) or not rules:
        raise AnalysisError("Severity needs at least one sector with rules.")
    for sector, sector_rules in rules.items():
        if not isinstance(sector, str) or not sector or sector == "overall":
            raise AnalysisError(
                f"Severity sector names must be text other than 'overall' ({sector!r})."
            )
        for rule in sector_rules:
            if not (isinstance(rule, Sequence) and len(rule) == 2):
                raise AnalysisError(
                    f"Severity rules of '{sector}' must be (score, condition) pairs."
                )
            score, condition = rule
            if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
                raise AnalysisError(f"Severity scores of '{sector}' must be whole numbers 1–5.")
            validate_condition(condition)


def severity(df: pd.DataFrame, rules: SeverityRules) -> pd.DataFrame:
    """A copy of df with a score 1–5 per sector (`severity_<sector>`) and `severity_overall`.

    In each sector the highest score whose condition holds wins; a row meeting none scores 1.
    The overall score is the highest sector score (JIAF-inspired, not an official JIAF analysis).

    Unanswered items (missing, dnk, pnta) are not read as "no": the rules are evaluated in
    three-valued logic (evaluate_known), `severity_<sector>` is the score the answers already
    establish and `severity_<sector>__max` the highest score the unanswered items could still
    give. Where the two differ, whether a threshold is met may be unknown (severity_summary).
    """
    _check_frame(df)
    validate_severity_rules(rules)
    _require(df, set().union(*(condition_columns(c) for r in rules.values() for _, c in r)))
    scores: dict[str, NDArray[np.int64]] = {}
    highest: dict[str, NDArray[np.int64]] = {}
    for sector, sector_rules in rules.items():
        low = np.ones(len(df), dtype=np.int64)
        high = np.ones(len(df), dtype=np.int64)
        for value, condition in sector_rules:
            holds, known = evaluate_known(df, condition)
            low = np.maximum(low, np.where(holds, value, 1))
            high = np.maximum(high, np.where(holds | ~known, value, 1))
        scores[f"{SEVERITY_PREFIX}{sector}"] = low
        highest[f"{SEVERITY_PREFIX}{sector}{SEVERITY_MAX}"] = high
    ones = np.ones(len(df), np.int64)
    scores[SEVERITY_OVERALL] = np.maximum.reduce([*scores.values(), ones])
    highest[SEVERITY_OVERALL + SEVERITY_MAX] = np.maximum.reduce([*highest.values(), ones])
    columns = {**scores, **highest}
    clash = [name for name in columns if name in df.columns]
    if clash:
        raise AnalysisError(f"The data already have a column '{clash[0]}'.")
    return df.assign(
        **{name: pd.Series(values, index=df.index) for name, values in columns.items()}
    )


def _score_columns(scores: pd.DataFrame) -> list[str]:
    """The sector score columns of severity() output, overall last (bounds left out)."""
    names = [
        c
        for c in scores.columns
        if isinstance(c, str) and c.startswith(SEVERITY_PREFIX) and not c.endswith(SEVERITY_MAX)
    ]
    return [c for c in names if c != SEVERITY_OVERALL] + (
        [SEVERITY_OVERALL] if SEVERITY_OVERALL in scores.columns else []
    )


def severity_summary(
    scores: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    sectors: Sequence[str] | None = None,
    confidence: float = 0.95,
    design: SurveyDesign | None = None,
) -> pd.DataFrame:
    """% in need (score ≥ 3) and % acute (≥ 4) per sector and overall, from severity() output.

    A row counts where its answers settle the measure: met when the established score reaches
    the threshold, not met when even the highest possible score (`__max`) stays below it.
    Rows it depends on unanswered items for are left out of the denominator; n is the number
    of rows settled (answered) and `missing` the number left unknown.
    Columns: sector, measure ("in_need" or "acute"), then those of proportion().
    """
    _check_frame(scores)
    if sectors is None:
        names = _score_columns(scores)
    else:
        names = [f"{SEVERITY_PREFIX}{sector}" for sector in sectors]
    if not names:
        raise AnalysisError("No severity scores in the data: run severity() first.")
    _require(scores, names)
    keep = [*normalise_by(by), *([weight] if weight else []), *_design_columns(design)]
    frames = []
    for name in names:
        low = scores[name].to_numpy(dtype=float, na_value=np.nan)
        upper = name + SEVERITY_MAX
        high = scores[upper].to_numpy(dtype=float, na_value=np.nan) if upper in scores else low
        for measure, threshold in SEVERITY_MEASURES:
            met = low >= threshold
            settled = met | (high < threshold)
            status = np.where(settled, np.where(met, "yes", "no"), None)
            frame = pd.DataFrame(
                {column: scores[column] for column in dict.fromkeys(keep) if column in scores}
            )
            frame[_MEASURE] = pd.Categorical(status, categories=["yes", "no"])
            spec = ProportionSpec({"column": _MEASURE, "in": ["yes"]}, answered_column=_MEASURE)
            table = proportion(
                frame, spec, by=by, weight=weight, confidence=confidence, design=design
            )
            table.insert(0, "measure", measure)
            table.insert(0, "sector", name[len(SEVERITY_PREFIX) :])
            frames.append(table)
    return pd.concat(frames, ignore_index=True)
