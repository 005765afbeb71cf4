"""Means and medians of numeric answers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from reports.analysis.conditions import (
    DONT_KNOW,
    PREFER_NOT_TO_ANSWER,
    as_numbers,
    missing_mask,
    multiple_columns,
)
from reports.analysis.design import DesignArrays, SurveyDesign, ratio_variance
from reports.analysis.errors import AnalysisError
from reports.analysis.estimators.common import (
    ESTIMATE_COLUMNS,
    INDICATIVE_N,
    Array,
    Mask,
    _check_frame,
    _divide,
    _effective_n,
    _stack,
    _weighting,
)
from reports.analysis.groups import (
    GroupBlock,
    group_blocks,
)
from reports.analysis.intervals import (
    critical_t,
    median_ranks,
    t_bounds,
)


def _numeric_answers(df: pd.DataFrame, column: str) -> tuple[Array, Mask, Mask, Mask]:
    """(values with NaN where unanswered, dnk, pnta, missing) for a numeric question."""
    if column not in df.columns:
        if multiple_columns(df, column):
            raise AnalysisError(f"Column '{column}' is a multiple-choice question, not a number.")
        raise AnalysisError(f"Column '{column}' is not in the data.")
    series = df[column]
    values = as_numbers(series)
    none = np.zeros(len(df), dtype=bool)
    if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return values, none, none, np.isnan(values)
    missing = missing_mask(series)
    text = series.astype(object)
    dnk = text.eq(DONT_KNOW).to_numpy(dtype=bool)
    pnta = text.eq(PREFER_NOT_TO_ANSWER).to_numpy(dtype=bool)
    bad = np.isnan(values) & ~missing & ~dnk & ~pnta
    if bad.any():
        example = text[bad].iloc[0]
        raise AnalysisError(
            f"Column '{column}' has answers that are not numbers, e.g. '{example}'."
        )
    return values, dnk, pnta, missing


def _centre_columns(
    block: GroupBlock,
    estimate: Array,
    low: Array,
    high: Array,
    n: Array,
    effective_n: Array,
    status: tuple[Mask, Mask, Mask],
) -> dict[str, np.ndarray]:
    """Output columns of a mean or median block (count is NaN: there is no numerator)."""
    dnk, pnta, missing = block.count_masks(status)
    return {
        "group_var": np.array([block.variable] * block.size, dtype=object),
        "group": np.array(block.labels, dtype=object),
        "estimate": estimate,
        "ci_low": low,
        "ci_high": high,
        "n": n.astype(np.int64),
        "count": np.full(block.size, np.nan),
        "effective_n": effective_n.astype(float),
        "dnk": dnk.astype(np.int64),
        "pnta": pnta.astype(np.int64),
        "missing": missing.astype(np.int64),
        "indicative": n < INDICATIVE_N,
    }


def mean(
    df: pd.DataFrame,
    column: str,
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
    design: SurveyDesign | None = None,
) -> pd.DataFrame:
    """Mean of a numeric question with a t interval (weighted: SE from Kish's effective n).

    With a design: SE by Taylor linearisation, t on the design's degrees of freedom
    (clusters − strata), and effective_n the variance of the values over the design variance.
    """
    _check_frame(df)
    values, dnk, pnta, missing = _numeric_answers(df, column)
    w, arrays = _weighting(df, weight, design)
    valid = ~np.isnan(values)
    x = np.where(valid, values, 0.0)
    weights = valid.astype(float) if w is None else w * valid
    parts = []
    for block in group_blocks(df, by):
        n = block.sum(valid)
        total = block.sum(weights)
        centre = _divide(block.sum(weights * x), total)
        # Second pass around each group's own mean: stable where sum-of-squares would not be
        row_centre = np.append(0.0, np.nan_to_num(centre))[block.codes + 1]
        variance = _divide(block.sum(weights * np.square(x - row_centre)), total)
        effective_n = n if w is None else _effective_n(total, block.sum(np.square(weights)))
        low, high = t_bounds(centre, variance, effective_n, confidence)
        if arrays is not None:
            low, high, effective_n = _design_mean_bounds(
                arrays, block, x[:, None], valid, centre[:, None], variance, confidence
            )
            low, high, effective_n = low[:, 0], high[:, 0], effective_n[:, 0]
        parts.append(
            _centre_columns(block, centre, low, high, n, effective_n, (dnk, pnta, missing))
        )
    return _stack(parts, ESTIMATE_COLUMNS)


def _design_mean_bounds(
    arrays: DesignArrays,
    block: GroupBlock,
    values: Array,
    valid: Mask,
    centre: Array,
    spread: Array,
    confidence: float,
) -> tuple[Array, Array, Array]:
    """(low, high, effective n), each (G, C), of design-based t intervals for ratio means."""
    variance = ratio_variance(
        arrays, block.codes, block.size, values * valid[:, None], valid.astype(float), centre
    )
    half = critical_t(confidence, arrays.degrees_of_freedom) * np.sqrt(variance)
    spread = np.broadcast_to(spread.reshape(spread.shape[0], -1), variance.shape)
    effective = np.nan_to_num(_divide(spread, variance))
    return centre - half, centre + half, effective


def _pick(ordered: Array, start: NDArray[np.intp], offset: NDArray[np.intp], ok: Mask) -> Array:
    """Per group, the value at start + offset of the group-sorted values; NaN where not ok."""
    if ordered.size == 0:
        return np.full(len(start), np.nan)
    return np.where(ok, ordered[np.clip(start + offset, 0, ordered.size - 1)], np.nan)


def median(
    df: pd.DataFrame,
    column: str,
    *,
    by: str | Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Median of a numeric question with the distribution-free order-statistic interval.

    Unweighted only: the order-statistic interval has no standard weighted form.
    """
    _check_frame(df)
    values, dnk, pnta, missing = _numeric_answers(df, column)
    valid = ~np.isnan(values)
    # Sort the values once; per block a stable sort on the small group codes keeps them sorted
    by_value = np.flatnonzero(valid)[np.argsort(values[valid], kind="stable")]
    sorted_values = values[by_value]
    parts = []
    for block in group_blocks(df, by):
        codes = block.codes[by_value]
        keep = codes >= 0
        codes = codes[keep].astype(np.int16 if block.size < 2**15 else np.int64)
        ordered = sorted_values[keep][np.argsort(codes, kind="stable")]
        n = np.bincount(codes, minlength=block.size).astype(np.int64)
        start = np.concatenate(([0], np.cumsum(n)[:-1])).astype(np.intp)
        has = n > 0
        centre = (_pick(ordered, start, (n - 1) // 2, has) + _pick(ordered, start, n // 2, has)) / 2
        rank, exists = median_ranks(n, confidence)
        low = _pick(ordered, start, rank, exists)
        high = _pick(ordered, start, n - 1 - rank, exists)
        parts.append(
            _centre_columns(block, centre, low, high, n, n.astype(float), (dnk, pnta, missing))
        )
    return _stack(parts, ESTIMATE_COLUMNS)
