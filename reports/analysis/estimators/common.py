"""Shared pieces of the estimators: output columns, weights, shares and their variances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from reports.analysis.conditions import (
    DONT_KNOW,
    PREFER_NOT_TO_ANSWER,
    Condition,
    evaluate_condition,
    has_column,
)
from reports.analysis.design import DesignArrays, SurveyDesign, ratio_variance, resolve_design
from reports.analysis.errors import AnalysisError
from reports.analysis.groups import (
    GroupBlock,
)
from reports.analysis.intervals import (
    validate_weights,
    wilson_bounds,
)

INDICATIVE_N = 30

ESTIMATE_COLUMNS = (
    "group_var",
    "group",
    "estimate",
    "ci_low",
    "ci_high",
    "n",
    "count",
    "effective_n",
    "dnk",
    "pnta",
    "missing",
    "indicative",
)

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]


@dataclass(frozen=True)
class ProportionSpec:
    """A proportion: rows meeting numerator among denominator rows that answered.

    answered_column names the question whose dnk/pnta/missing answers leave the denominator
    (they are counted in the dnk, pnta and missing columns instead). Without it every
    denominator row counts.
    """

    numerator: Condition
    denominator: Condition | None = None
    answered_column: str | None = None


def _check_frame(df: object) -> None:
    """Estimators take a DataFrame; say so plainly otherwise."""
    if not isinstance(df, pd.DataFrame):
        raise AnalysisError(f"The data must be a table (DataFrame), not {type(df).__name__}.")


def _require(df: pd.DataFrame, names: set[str] | Sequence[str]) -> None:
    """Raise AnalysisError naming the first column the data lack."""
    for name in sorted(names):
        if not has_column(df, name):
            raise AnalysisError(f"Column '{name}' is not in the data.")


def _weights(df: pd.DataFrame, weight: str | None) -> Array | None:
    """The validated weight column, or None for an unweighted analysis."""
    if weight is None:
        return None
    if weight not in df.columns:
        raise AnalysisError(f"Weight column '{weight}' is not in the data.")
    return validate_weights(df[weight].to_numpy(dtype=float, na_value=np.nan))


def _weighting(
    df: pd.DataFrame, weight: str | None, design: SurveyDesign | None
) -> tuple[Array | None, DesignArrays | None]:
    """Weights and resolved design: a design brings its own weight column."""
    if design is None:
        return _weights(df, weight), None
    arrays = resolve_design(df, design)
    return arrays.weights, arrays


def _design_columns(design: SurveyDesign | None) -> tuple[str, ...]:
    """Columns a design reads (none without one)."""
    return design.columns() if design is not None else ()


def _share_variance(
    arrays: DesignArrays | None,
    block: GroupBlock,
    sums: _Shares,
    numerators: Array,
    valid: Mask,
) -> Array | None:
    """Linearised variances (G, C) of a block's shares under the design, or None without one."""
    if arrays is None:
        return None
    ratio = _divide(sums.weighted, sums.total[:, None])
    return ratio_variance(arrays, block.codes, block.size, numerators, valid.astype(float), ratio)


def _effective_n(total: Array, squares: Array) -> Array:
    """Kish's effective n per group from Σw and Σw²; 0 for groups without weight."""
    return np.nan_to_num(_divide(total**2, squares), nan=0.0)


def _divide(numerator: Array, denominator: Array) -> Array:
    """numerator / denominator, NaN where the denominator is not positive (and no warning)."""
    num, den = np.broadcast_arrays(np.asarray(numerator, float), np.asarray(denominator, float))
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def answer_status(df: pd.DataFrame, column: str) -> tuple[Mask, Mask, Mask, Mask]:
    """(answered, dnk, pnta, missing) masks for a question; exactly one is True per row."""
    answered = evaluate_condition(df, {"column": column, "answered": True}).to_numpy()
    dnk = evaluate_condition(df, {"column": column, "in": [DONT_KNOW]}).to_numpy() & ~answered
    pnta = (
        evaluate_condition(df, {"column": column, "in": [PREFER_NOT_TO_ANSWER]}).to_numpy()
        & ~answered
        & ~dnk
    )
    return answered, dnk, pnta, ~answered & ~dnk & ~pnta


@dataclass(frozen=True)
class _Shares:
    """Per-group sums for shares of several categories over one denominator (G groups, C cats)."""

    n: Array  # (G,) unweighted denominator
    total: Array  # (G,) summed weights of the denominator
    squares: Array  # (G,) summed squared weights
    count: Array  # (G, C) unweighted numerators
    weighted: Array  # (G, C) weighted numerators


def _share_sums(block: GroupBlock, valid: Mask, hits: Sequence[Mask], w: Array | None) -> _Shares:
    """Sums over the denominator rows (valid) and each category's rows (hits)."""
    n = block.sum(valid)
    count = np.column_stack([block.sum(hit) for hit in hits]) if hits else np.zeros((block.size, 0))
    if w is None:
        return _Shares(n, n, n, count, count)
    weighted = (
        np.column_stack([block.sum(w * hit) for hit in hits]) if hits else np.zeros((block.size, 0))
    )
    return _Shares(n, block.sum(w * valid), block.sum(w * w * valid), count, weighted)


def _cells(
    groups: NDArray[np.intp], codes: NDArray[np.intp], shape: tuple[int, int]
) -> NDArray[np.intp]:
    """Cell number group × codes + code per row; rows without group or code go to a last bin."""
    spare = shape[0] * shape[1]
    return np.where((groups >= 0) & (codes >= 0), groups * shape[1] + codes, spare)


def _cell_sums(cell: NDArray[np.intp], values: Array | None, shape: tuple[int, int]) -> Array:
    """Sums of values (row counts when None) per cell, dropping the last bin of unplaced rows."""
    size = shape[0] * shape[1]
    sums = np.bincount(cell, weights=values, minlength=size + 1)[:size]
    return sums.astype(float).reshape(shape)


def _exclusive_sums(
    block: GroupBlock, category: NDArray[np.intp], size: int, valid: Mask, w: Array | None
) -> _Shares:
    """Like _share_sums for mutually exclusive categories, with one 2-D bincount."""
    shape = (block.size, size)
    cell = _cells(block.codes, category, shape)
    count = _cell_sums(cell, None, shape)
    n = block.sum(valid)
    if w is None:
        return _Shares(n, n, n, count, count)
    weighted = _cell_sums(cell, w, shape)
    return _Shares(n, block.sum(w * valid), block.sum(w * w * valid), count, weighted)


def _share_columns(
    block: GroupBlock,
    sums: _Shares,
    categories: Sequence[str],
    not_in_denominator: Mask | None,
    status: tuple[Mask, Mask, Mask],
    weighted: bool,
    confidence: float,
    variance: Array | None = None,
) -> dict[str, np.ndarray]:
    """Output columns for one block, group-major then category (length G × C).

    With a design variance (G, C) the Wilson interval is taken on the design's effective n,
    p(1 − p) / V (Kish's where p is 0 or 1 and V vanishes).
    """
    size = len(categories)
    effective_n = _effective_n(sums.total, sums.squares) if weighted else sums.n
    estimate = _divide(sums.weighted, sums.total[:, None])
    if not_in_denominator is not None:
        estimate[:, not_in_denominator] = np.nan
    effective = np.repeat(effective_n, size)
    if variance is not None:
        spread = (estimate * (1.0 - estimate)).reshape(-1)
        design_n = _divide(spread, variance.reshape(-1))
        effective = np.where(np.isfinite(design_n) & (spread > 0), design_n, effective)
    low, high = wilson_bounds(
        np.nan_to_num(estimate.reshape(-1)) * effective, effective, confidence
    )
    low[np.isnan(estimate.reshape(-1))] = np.nan
    high[np.isnan(estimate.reshape(-1))] = np.nan
    dnk, pnta, missing = (np.repeat(counts, size) for counts in block.count_masks(status))
    n = np.repeat(sums.n, size)
    return {
        "group_var": np.repeat(np.array([block.variable] * block.size, dtype=object), size),
        "group": np.repeat(np.array(block.labels, dtype=object), size),
        "category": np.tile(np.array(categories, dtype=object), block.size),
        "estimate": estimate.reshape(-1),
        "ci_low": low,
        "ci_high": high,
        "n": n.astype(np.int64),
        "count": sums.count.reshape(-1).astype(np.int64),
        "effective_n": effective.astype(float),
        "dnk": dnk.astype(np.int64),
        "pnta": pnta.astype(np.int64),
        "missing": missing.astype(np.int64),
        "indicative": n < INDICATIVE_N,
    }


def _stack(parts: Sequence[Mapping[str, np.ndarray]], columns: Sequence[str]) -> pd.DataFrame:
    """Concatenate per-block column arrays into one DataFrame with the given column order."""
    data = {name: np.concatenate([part[name] for part in parts]) for name in columns}
    frame = pd.DataFrame(data)
    for name in ("group_var", "group", "category", "sector", "measure"):
        if name in frame.columns:
            frame[name] = frame[name].astype(str)
    return frame
