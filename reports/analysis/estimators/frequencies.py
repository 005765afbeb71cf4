"""Frequencies of single and multiple choice answers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports.analysis.conditions import (
    DONT_KNOW,
    PREFER_NOT_TO_ANSWER,
    SPECIAL_CODES,
    chosen_mask,
    multiple_columns,
)
from reports.analysis.design import SurveyDesign
from reports.analysis.errors import AnalysisError
from reports.analysis.estimators.common import (
    ESTIMATE_COLUMNS,
    _check_frame,
    _exclusive_sums,
    _share_columns,
    _share_sums,
    _share_variance,
    _stack,
    _weighting,
    answer_status,
)
from reports.analysis.groups import (
    answer_codes,
    code_label,
    group_blocks,
)

# The estimate columns with the answer category after the group.
FREQUENCY_COLUMNS = (*ESTIMATE_COLUMNS[:2], "category", *ESTIMATE_COLUMNS[2:])


def frequencies(
    df: pd.DataFrame,
    column: str,
    *,
    codes: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
    design: SurveyDesign | None = None,
) -> pd.DataFrame:
    """Counts and shares per answer code of a single-choice question.

    One row per group and code (codes in the given order, then any other code found in the
    data so none is silently dropped), followed by rows for dnk and pnta whose counts are
    shown but which are left out of the share denominators (their estimate is NaN).
    """
    _check_frame(df)
    if column not in df.columns:
        if multiple_columns(df, column):
            raise AnalysisError(f"'{column}' is a multiple-choice question: use its choices.")
        raise AnalysisError(f"Column '{column}' is not in the data.")
    series = df[column]
    value_codes, labels = answer_codes(series)
    present = np.bincount(value_codes + 1, minlength=len(labels) + 1)[1:] > 0
    if codes is None:
        ordinary = [label for label in labels if label not in SPECIAL_CODES]
    else:
        ordinary = [code_label(code) for code in codes if code_label(code) not in SPECIAL_CODES]
        extra = [
            label
            for label, seen in zip(labels, present, strict=True)
            if seen and label not in ordinary and label not in SPECIAL_CODES
        ]
        ordinary += extra
    categories = [*ordinary, *SPECIAL_CODES]
    position = {label: index for index, label in enumerate(categories)}
    lookup = np.array([position.get(label, -1) for label in labels] + [-1], dtype=np.intp)
    category = lookup[np.where(value_codes < 0, len(labels), value_codes)]
    special = np.isin(category, [position[code] for code in SPECIAL_CODES])
    valid = (category >= 0) & ~special
    status = (
        category == position[DONT_KNOW],
        category == position[PREFER_NOT_TO_ANSWER],
        category < 0,
    )
    w, arrays = _weighting(df, weight, design)
    is_special = np.array([label in SPECIAL_CODES for label in categories])
    numerators = (
        (category[:, None] == np.arange(len(categories))[None, :]) & valid[:, None]
        if arrays is not None
        else None
    )
    parts = []
    for block in group_blocks(df, by):
        sums = _exclusive_sums(block, category, len(categories), valid, w)
        variance = (
            _share_variance(arrays, block, sums, numerators.astype(float), valid)
            if numerators is not None
            else None
        )
        parts.append(
            _share_columns(
                block,
                sums,
                categories,
                is_special,
                status,
                w is not None,
                confidence,
                variance=variance,
            )
        )
    return _stack(parts, FREQUENCY_COLUMNS)


def multiple_frequencies(
    df: pd.DataFrame,
    question: str,
    codes: Sequence[str] | None = None,
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
    design: SurveyDesign | None = None,
) -> pd.DataFrame:
    """Share choosing each code of a select_multiple question among those who answered it.

    Reads the `<question>/<code>` columns. A respondent who chose only dnk or pnta is counted
    there; one who chose nothing is missing. A code without a column was never chosen.
    """
    _check_frame(df)
    columns = multiple_columns(df, question)
    if not columns:
        raise AnalysisError(f"No columns '{question}/<code>' for the question '{question}'.")
    wanted = [str(code) for code in (codes if codes is not None else columns)]
    wanted = [code for code in wanted if code not in SPECIAL_CODES]
    answered, dnk, pnta, missing = answer_status(df, question)
    none = np.zeros(len(df), dtype=bool)
    hits = [
        answered & chosen_mask(df[columns[code]]) if code in columns else none for code in wanted
    ]
    w, arrays = _weighting(df, weight, design)
    numerators = np.column_stack(hits).astype(float) if arrays is not None and hits else None
    parts = []
    for block in group_blocks(df, by):
        sums = _share_sums(block, answered, hits, w)
        variance = (
            _share_variance(arrays, block, sums, numerators, answered)
            if numerators is not None
            else None
        )
        parts.append(
            _share_columns(
                block,
                sums,
                wanted,
                None,
                (dnk, pnta, missing),
                w is not None,
                confidence,
                variance=variance,
            )
        )
    return _stack(parts, FREQUENCY_COLUMNS)
