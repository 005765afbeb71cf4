"""Proportions: rows meeting a condition among those who answered."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports.analysis.conditions import (
    Condition,
    condition_columns,
    evaluate_condition,
    evaluate_known,
    validate_condition,
)
from reports.analysis.design import SurveyDesign
from reports.analysis.errors import AnalysisError
from reports.analysis.estimators.common import (
    ESTIMATE_COLUMNS,
    Mask,
    ProportionSpec,
    _check_frame,
    _require,
    _share_columns,
    _share_sums,
    _share_variance,
    _stack,
    _weighting,
    answer_status,
)
from reports.analysis.groups import (
    group_blocks,
)


def proportion(
    df: pd.DataFrame,
    indicator: ProportionSpec,
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
    design: SurveyDesign | None = None,
) -> pd.DataFrame:
    """Share of denominator rows meeting the numerator, overall and by each `by` column.

    With an answered column, a row whose answers cannot settle the numerator (it reads an
    item the row left unanswered, e.g. "wants support and has not received it" with
    "received" refused) leaves the denominator too, and is counted as dnk, pnta or missing
    after the items concerned.
    With a design the intervals are design-based (Taylor linearisation); otherwise Wilson on
    Kish's effective n.
    """
    _check_frame(df)
    if not isinstance(indicator, ProportionSpec):
        raise AnalysisError("A proportion needs a ProportionSpec.")
    validate_condition(indicator.numerator)
    needed = condition_columns(indicator.numerator)
    if indicator.denominator is not None:
        needed |= condition_columns(indicator.denominator)
    if indicator.answered_column is not None:
        needed.add(indicator.answered_column)
    _require(df, needed)
    w, arrays = _weighting(df, weight, design)
    blocks = group_blocks(df, by)
    base = (
        np.ones(len(df), dtype=bool)
        if indicator.denominator is None
        else evaluate_condition(df, indicator.denominator).to_numpy()
    )
    none = np.zeros(len(df), dtype=bool)
    if indicator.answered_column is None:
        valid = base
        status = (none, none, none)
    else:
        answered, dnk, pnta, missing = answer_status(df, indicator.answered_column)
        valid = base & answered
        status = (base & dnk, base & pnta, base & missing)
    if indicator.answered_column is None:
        holds = evaluate_condition(df, indicator.numerator).to_numpy()
    else:
        holds, known = evaluate_known(df, indicator.numerator)
        unsettled = valid & ~known
        if unsettled.any():
            valid = valid & known
            status = _unsettled_status(df, indicator.numerator, unsettled, status)
    hit = valid & holds
    parts = []
    for b in blocks:
        sums = _share_sums(b, valid, [hit], w)
        variance = _share_variance(arrays, b, sums, hit[:, None].astype(float), valid)
        parts.append(
            _share_columns(
                b, sums, [""], None, status, w is not None, confidence, variance=variance
            )
        )
    return _stack(parts, ESTIMATE_COLUMNS)


def _unsettled_status(
    df: pd.DataFrame, condition: Condition, rows: Mask, status: tuple[Mask, Mask, Mask]
) -> tuple[Mask, Mask, Mask]:
    """Add rows whose numerator is unknown to dnk, pnta or missing, by the items they left."""
    said_dnk = np.zeros(len(df), dtype=bool)
    said_pnta = np.zeros(len(df), dtype=bool)
    for name in sorted(condition_columns(condition)):
        _answered, dnk, pnta, _missing = answer_status(df, name)
        said_dnk |= dnk
        said_pnta |= pnta
    dnk = rows & said_dnk
    pnta = rows & ~said_dnk & said_pnta
    return (status[0] | dnk, status[1] | pnta, status[2] | (rows & ~dnk & ~pnta))
