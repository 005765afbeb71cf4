"""Estimators: proportions, means, medians, frequencies, rankings, severity and round changes.

Each function takes the wide DataFrame and options and returns a new tidy DataFrame with one row
per group: first the overall row (group_var "" and group ""), then one block of rows per
disaggregation column (each disaggregated alone, not crossed). Shared output columns:

    group_var, group, [category], estimate, ci_low, ci_high, n, count, effective_n,
    dnk, pnta, missing, indicative

n is the unweighted denominator (answers other than dnk/pnta), count the unweighted numerator,
effective_n Kish's effective n (= n unweighted), dnk/pnta/missing the unweighted counts kept out
of the denominator, indicative True when n < 30. Groups with no rows (unused categories) get a
NaN estimate. Estimates are shares in 0–1, weighted when a weight column is given; their CIs
are Wilson intervals on the effective n.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from reports.analysis.conditions import (
    DONT_KNOW,
    PREFER_NOT_TO_ANSWER,
    SPECIAL_CODES,
    Condition,
    as_numbers,
    chosen_mask,
    condition_columns,
    evaluate_condition,
    evaluate_known,
    has_column,
    missing_mask,
    multiple_columns,
    validate_condition,
)
from reports.analysis.design import DesignArrays, SurveyDesign, ratio_variance, resolve_design
from reports.analysis.errors import AnalysisError
from reports.analysis.groups import (
    GroupBlock,
    answer_codes,
    code_label,
    group_blocks,
    group_codes,
    label_mask,
    normalise_by,
)
from reports.analysis.intervals import (
    critical_t,
    median_ranks,
    newcombe_bounds,
    t_bounds,
    validate_weights,
    wilson_bounds,
)

INDICATIVE_N = 30
SEVERITY_PREFIX = "severity_"
SEVERITY_OVERALL = "severity_overall"
SEVERITY_MEASURES = (("in_need", 3), ("acute", 4))
# severity() also writes the highest score still possible given unanswered items
SEVERITY_MAX = "__max"
_MEASURE = "_measure_met"

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


# --- shared helpers -------------------------------------------------------------------------


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


# --- proportions ----------------------------------------------------------------------------


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


# --- means and medians ----------------------------------------------------------------------


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


# --- frequencies ----------------------------------------------------------------------------

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


# --- ranked needs ---------------------------------------------------------------------------

RANKING_COLUMNS = (
    "group_var",
    "group",
    "category",
    "points",
    "share_top",
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


@dataclass(frozen=True)
class _Ranked:
    """Ranked columns read once: the codes, each rank's code per row and its first mentions."""

    categories: list[str]
    rank_codes: list[NDArray[np.intp]]
    first: list[Mask]
    valid: Mask
    status: tuple[Mask, Mask, Mask]


def _ranked(
    df: pd.DataFrame,
    columns: Sequence[str],
    points: Sequence[float],
    exclude: Sequence[str],
    codes: Sequence[str] | None,
) -> _Ranked:
    """Read ranked columns (need_1..need_3): codes, per-rank row codes, who ranked anything."""
    _check_frame(df)
    columns = list(columns)
    if not columns or len(points) != len(columns):
        raise AnalysisError(
            f"Ranking needs one points value per ranked column ({len(columns)} columns, "
            f"{len(points)} points)."
        )
    _require(df, columns)
    excluded = {str(code) for code in exclude}
    answers = []  # per ranked column: (row codes, labels), missing answers coded -1
    observed: set[str] = set()
    for name in columns:
        value_codes, labels = answer_codes(df[name])
        used = np.bincount(value_codes + 1, minlength=len(labels) + 1)[1:] > 0
        observed |= {label for label, seen in zip(labels, used, strict=True) if seen}
        answers.append((value_codes, labels))
    categories = [str(code) for code in codes] if codes is not None else []
    categories += sorted(observed - excluded - set(categories))
    position = {label: index for index, label in enumerate(categories)}
    rank_codes = []
    for value_codes, labels in answers:
        lookup = np.array([position.get(label, -1) for label in labels] + [-1], dtype=np.intp)
        rank_codes.append(lookup[np.where(value_codes < 0, len(labels), value_codes)])
    valid = np.logical_or.reduce([code >= 0 for code in rank_codes])
    said = {
        special: np.logical_or.reduce([label_mask(*answer, special) for answer in answers])
        for special in SPECIAL_CODES
    }
    dnk = ~valid & said[DONT_KNOW]
    pnta = ~valid & ~dnk & said[PREFER_NOT_TO_ANSWER]
    # A code counts once per person: only its first mention is counted
    first = []
    for index, code in enumerate(rank_codes):
        new = code >= 0
        for earlier in rank_codes[:index]:
            new = new & (code != earlier)
        first.append(new)
    return _Ranked(categories, rank_codes, first, valid, (dnk, pnta, ~valid & ~dnk & ~pnta))


def _mention_matrix(ranked: _Ranked, scores: Sequence[float]) -> Array:
    """(rows, codes): the score each row gives each code at its first mention (0 if unnamed)."""
    out = np.zeros((len(ranked.valid), len(ranked.categories)))
    rows = np.arange(len(ranked.valid))
    for code, is_first, score in zip(ranked.rank_codes, ranked.first, scores, strict=True):
        out[rows[is_first], code[is_first]] += float(score)
    return out


def ranking(
    df: pd.DataFrame,
    columns: Sequence[str],
    *,
    points: Sequence[float] = (3, 2, 1),
    by: str | Sequence[str] | None = None,
    exclude: Sequence[str] = SPECIAL_CODES,
    codes: Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
    design: SurveyDesign | None = None,
) -> pd.DataFrame:
    """Ranked needs: rank-weighted points per code and the share naming it at any rank.

    columns hold the code ranked 1st, 2nd, … (e.g. need_1..need_3) and points the score of
    each rank. share_top (with a Wilson CI) is among respondents who named at least one code
    not in exclude; count is how many of them named the code. Rows are sorted by points,
    highest first, within each group. A code named twice by one person counts once in the share.
    """
    ranked = _ranked(df, columns, points, exclude, codes)
    categories, rank_codes, first, valid = (
        ranked.categories,
        ranked.rank_codes,
        ranked.first,
        ranked.valid,
    )
    w, arrays = _weighting(df, weight, design)
    unit = np.ones(len(df)) if w is None else w
    size = len(categories)
    # Per rank, independent of the grouping: the points, mention and weighted-mention weights
    rank_weights = [
        (unit * float(score), is_first.astype(float), unit * is_first)
        for score, is_first in zip(points, first, strict=True)
    ]
    named = _mention_matrix(ranked, [1.0] * len(first)) if arrays is not None else None
    parts = []
    for block in group_blocks(df, by):
        shape = (block.size, size)
        scored, mentions, weighted = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        for code, (score_w, first_w, weighted_w) in zip(rank_codes, rank_weights, strict=True):
            cell = _cells(block.codes, code, shape)
            scored += _cell_sums(cell, score_w, shape)
            mentions += _cell_sums(cell, first_w, shape)
            weighted += _cell_sums(cell, weighted_w, shape)
        n = block.sum(valid)
        sums = (
            _Shares(n, n, n, mentions, mentions)
            if w is None
            else _Shares(n, block.sum(w * valid), block.sum(w * w * valid), mentions, weighted)
        )
        variance = _share_variance(arrays, block, sums, named, valid) if named is not None else None
        out = _share_columns(
            block, sums, categories, None, ranked.status, w is not None, confidence, variance
        )
        out["points"] = scored.reshape(-1)
        out["share_top"] = out.pop("estimate")
        # Within each group: points descending, the code order breaking ties
        group_index = np.repeat(np.arange(block.size), size)
        code_index = np.tile(np.arange(size), block.size)
        order = np.lexsort((code_index, -out["points"], group_index))
        parts.append({name: values[order] for name, values in out.items()})
    return _stack(parts, RANKING_COLUMNS)


def rank_points(
    df: pd.DataFrame,
    columns: Sequence[str],
    *,
    points: Sequence[float] = (3, 2, 1),
    by: str | Sequence[str] | None = None,
    exclude: Sequence[str] = SPECIAL_CODES,
    codes: Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
    design: SurveyDesign | None = None,
) -> pd.DataFrame:
    """Rank-weighted points: the mean score (e.g. 3/2/1 for 1st/2nd/3rd) each code gets.

    Among respondents who ranked at least one code, a code scores the points of the rank it
    was named at (0 when not named); the estimate is the (weighted) mean score, 0 to the top
    points, with a t interval (Kish's effective n, or design-based with a design). `points`
    holds the total points and `count` how many named the code. Sorted by estimate within
    each group, highest first.
    """
    ranked = _ranked(df, columns, points, exclude, codes)
    w, arrays = _weighting(df, weight, design)
    valid = ranked.valid
    scores = _mention_matrix(ranked, points)
    named = _mention_matrix(ranked, [1.0] * len(points)) > 0
    weights = valid.astype(float) if w is None else w * valid
    size = len(ranked.categories)
    parts = []
    for block in group_blocks(df, by):
        n = block.sum(valid)
        total = block.sum(weights)
        plain_sum = np.column_stack([block.sum(scores[:, c]) for c in range(size)])
        weighted_sum = np.column_stack([block.sum(weights * scores[:, c]) for c in range(size)])
        squares = np.column_stack(
            [block.sum(weights * np.square(scores[:, c])) for c in range(size)]
        )
        count = np.column_stack([block.sum(named[:, c] & valid) for c in range(size)])
        centre = _divide(weighted_sum, total[:, None])
        spread = np.maximum(_divide(squares, total[:, None]) - np.square(centre), 0.0)
        effective_n = n if w is None else _effective_n(total, block.sum(np.square(weights)))
        effective = np.broadcast_to(effective_n[:, None], centre.shape)
        low, high = t_bounds(centre, spread, effective, confidence)
        if arrays is not None:
            low, high, effective = _design_mean_bounds(
                arrays, block, scores, valid, centre, spread, confidence
            )
        dnk, pnta, missing = (
            np.repeat(counts, size) for counts in block.count_masks(ranked.status)
        )
        out = {
            "group_var": np.repeat(np.array([block.variable] * block.size, dtype=object), size),
            "group": np.repeat(np.array(block.labels, dtype=object), size),
            "category": np.tile(np.array(ranked.categories, dtype=object), block.size),
            "estimate": centre.reshape(-1),
            "ci_low": low.reshape(-1),
            "ci_high": high.reshape(-1),
            "n": np.repeat(n, size).astype(np.int64),
            "count": count.reshape(-1).astype(np.int64),
            "effective_n": np.asarray(effective, dtype=float).reshape(-1),
            "dnk": dnk.astype(np.int64),
            "pnta": pnta.astype(np.int64),
            "missing": missing.astype(np.int64),
            "indicative": np.repeat(n, size) < INDICATIVE_N,
            "points": plain_sum.reshape(-1),
        }
        group_index = np.repeat(np.arange(block.size), size)
        code_index = np.tile(np.arange(size), block.size)
        order = np.lexsort((code_index, -np.nan_to_num(out["estimate"]), group_index))
        parts.append({name: values[order] for name, values in out.items()})
    return _stack(parts, (*FREQUENCY_COLUMNS, "points"))


# --- severity -------------------------------------------------------------------------------

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


# --- change between rounds ------------------------------------------------------------------

ROUND_COLUMNS = (
    "group_var",
    "group",
    "first",
    "second",
    "estimate_first",
    "estimate_second",
    "estimate",
    "ci_low",
    "ci_high",
    "n1",
    "n2",
    "count1",
    "count2",
    "effective_n1",
    "effective_n2",
)


def round_difference(
    df: pd.DataFrame,
    indicator: ProportionSpec,
    *,
    round_column: str = "_round",
    first: str,
    second: str,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Change of a proportion from round `first` to round `second` with Newcombe's CI.

    estimate = second − first. The interval treats the rounds as independent samples; with
    weights each round's share is carried on its Kish effective n.
    """
    _check_frame(df)
    if round_column not in df.columns:
        raise AnalysisError(f"Round column '{round_column}' is not in the data.")
    round_codes, round_labels = group_codes(df[round_column])
    results = {}
    for name in (first, second):
        chosen = label_mask(round_codes, round_labels, code_label(name))
        if not chosen.any():
            raise AnalysisError(f"No rows of round '{name}' in column '{round_column}'.")
        results[name] = proportion(
            df[chosen], indicator, by=by, weight=weight, confidence=confidence
        )
    keys = ["group_var", "group"]
    one, two = (results[name].set_index(keys) for name in (first, second))
    # Groups seen in one round only (text columns) still get a row, inside their own block
    order = {name: index for index, name in enumerate(["", *normalise_by(by)])}
    index = list(dict.fromkeys([*one.index, *two.index]))
    index.sort(key=lambda key: order[key[0]])
    merged = one.reindex(index).add_suffix("_1").join(two.reindex(index).add_suffix("_2"))
    merged = merged.reset_index()
    p1, p2 = merged["estimate_1"].to_numpy(float), merged["estimate_2"].to_numpy(float)
    e1, e2 = merged["effective_n_1"].to_numpy(float), merged["effective_n_2"].to_numpy(float)
    # Successes on the effective-n scale, as for the Wilson intervals of each round
    x1, x2 = np.nan_to_num(p1) * np.nan_to_num(e1), np.nan_to_num(p2) * np.nan_to_num(e2)
    diff, low, high = newcombe_bounds(x2, np.nan_to_num(e2), x1, np.nan_to_num(e1), confidence)
    return pd.DataFrame(
        {
            "group_var": merged["group_var"].astype(str),
            "group": merged["group"].astype(str),
            "first": str(first),
            "second": str(second),
            "estimate_first": p1,
            "estimate_second": p2,
            "estimate": diff,
            "ci_low": low,
            "ci_high": high,
            "n1": merged["n_1"],
            "n2": merged["n_2"],
            "count1": merged["count_1"],
            "count2": merged["count_2"],
            "effective_n1": e1,
            "effective_n2": e2,
        },
        columns=list(ROUND_COLUMNS),
    )
