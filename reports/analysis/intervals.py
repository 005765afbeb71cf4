"""Confidence intervals: Wilson, Kish effective n, t and order-statistic intervals, Newcombe.

Each interval has a scalar function (the public API) and, where the estimators need it for
many groups at once, a vectorised twin working on numpy arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from reports.analysis.errors import AnalysisError

FloatArray = NDArray[np.float64]


def _stats() -> Any:
    """scipy.stats, loaded on first use: about a second that processes reading a kept
    publication never need to pay."""
    from scipy import stats

    return stats


def _special() -> Any:
    """scipy.special, loaded on first use: a third of scipy.stats' import, and the quantiles
    below are the very functions scipy.stats calls (norm.isf is -ndtri, t.isf is -stdtrit),
    so the numbers are the same to the last bit."""
    from scipy import special

    return special


def critical_z(confidence: float) -> float:
    """The two-sided standard normal quantile for a confidence level such as 0.95."""
    _check_confidence(confidence)
    return float(-_special().ndtri((1.0 - confidence) / 2.0))


def critical_t(confidence: float, degrees_of_freedom: float) -> float:
    """The two-sided t quantile for a confidence level and degrees of freedom."""
    _check_confidence(confidence)
    return float(-_special().stdtrit(degrees_of_freedom, (1.0 - confidence) / 2.0))


def _check_confidence(confidence: float) -> None:
    """Refuse confidence levels outside (0, 1), a common slip being 95 for 0.95."""
    if not (isinstance(confidence, int | float) and 0.0 < confidence < 1.0):
        raise AnalysisError(f"Confidence must be between 0 and 1 (got {confidence!r}).")


def wilson_bounds(
    successes: ArrayLike, n: ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Vectorised Wilson score bounds; NaN wherever n is zero, negative or missing."""
    z = critical_z(confidence)
    x, m = np.broadcast_arrays(np.asarray(successes, dtype=float), np.asarray(n, dtype=float))
    ok = m > 0  # False for NaN too, so no invalid-value warnings below
    size = np.where(ok, m, 1.0)
    share = np.clip(np.where(ok, x, 0.0) / size, 0.0, 1.0)
    z2 = z * z
    denominator = 1.0 + z2 / size
    centre = (share + z2 / (2.0 * size)) / denominator
    half = z * np.sqrt(share * (1.0 - share) / size + z2 / (4.0 * size * size)) / denominator
    # At 0% or 100% the bound is exactly 0 or 1; floating point would leave ±1e-19
    low = np.where(share <= 0.0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(share >= 1.0, 1.0, np.clip(centre + half, 0.0, 1.0))
    low = np.where(ok, low, np.nan)
    high = np.where(ok, high, np.nan)
    return low, high


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for successes out of n (n may be a Kish effective n); n=0 → NaN."""
    if not (math.isfinite(successes) and math.isfinite(n)) or n < 0:
        raise AnalysisError(f"A proportion needs a finite count and n ≥ 0 (got {successes}/{n}).")
    # A weighted count rescaled to the effective n may overshoot n by rounding only
    if successes < 0 or successes > n * (1 + 1e-12):
        raise AnalysisError(f"The count must lie between 0 and n (got {successes} of {n}).")
    low, high = wilson_bounds(successes, n, confidence)
    return float(low), float(high)


def validate_weights(weights: ArrayLike) -> FloatArray:
    """Return weights as floats, or raise AnalysisError for missing, infinite or negative ones.

    Zero weights on single rows are allowed (a respondent can be kept but count for nothing);
    weights that are all zero, so that nothing can be estimated, are refused.
    """
    try:
        values = np.asarray(weights, dtype=float)
    except (TypeError, ValueError) as error:
        raise AnalysisError("Weights must be numbers.") from error
    values = values.reshape(-1)
    if np.isnan(values).any():
        raise AnalysisError(f"Weights must not be missing ({int(np.isnan(values).sum())} are).")
    if np.isinf(values).any():
        raise AnalysisError("Weights must be finite numbers.")
    if (values < 0).any():
        raise AnalysisError(f"Weights must not be negative ({int((values < 0).sum())} are).")
    if values.size and values.sum() == 0:
        raise AnalysisError("Weights must not all be zero.")
    return values


def kish_effective_n(weights: ArrayLike) -> float:
    """Kish's effective sample size (Σw)² / Σw²; 0 for no rows."""
    values = validate_weights(weights)
    if values.size == 0:
        return 0.0
    return float(values.sum() ** 2 / np.square(values).sum())


def t_bounds(
    mean: ArrayLike, variance: ArrayLike, effective_n: ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Vectorised t interval from a (weighted) population variance and an effective n.

    SE = sqrt(variance / (n_eff - 1)) with n_eff - 1 degrees of freedom: with unit weights this
    is the textbook s/√n interval, and it equals statsmodels' DescrStatsW.tconfint_mean when
    the weights are rescaled to sum to n_eff. NaN where n_eff ≤ 1.
    """
    _check_confidence(confidence)
    centre, var, size = np.broadcast_arrays(
        np.asarray(mean, dtype=float),
        np.asarray(variance, dtype=float),
        np.asarray(effective_n, dtype=float),
    )
    ok = (size > 1) & np.isfinite(centre) & np.isfinite(var)
    dof = np.where(ok, size - 1.0, 1.0)
    quantile = -_special().stdtrit(dof, (1.0 - confidence) / 2.0)
    half = quantile * np.sqrt(np.where(ok, var, 0.0) / dof)
    return np.where(ok, centre - half, np.nan), np.where(ok, centre + half, np.nan)


def mean_interval(
    values: ArrayLike, weights: ArrayLike | None = None, confidence: float = 0.95
) -> tuple[float, float, float, int]:
    """(mean, low, high, n) with a t interval; weighted: SE and df from Kish's effective n.

    Missing values (NaN) are dropped with their weights; n is the unweighted count kept.
    """
    x = np.asarray(values, dtype=float).reshape(-1)
    w = np.ones_like(x) if weights is None else validate_weights(weights)
    if w.shape != x.shape:
        raise AnalysisError("Values and weights must have the same length.")
    keep = ~np.isnan(x)
    x, w = x[keep], w[keep]
    n = int(x.size)
    total = w.sum()
    if n == 0 or total == 0:
        return math.nan, math.nan, math.nan, n
    centre = float((w * x).sum() / total)
    variance = float((w * np.square(x - centre)).sum() / total)
    effective_n = total**2 / np.square(w).sum()
    low, high = t_bounds(centre, variance, effective_n, confidence)
    return centre, float(low), float(high), n


def median_ranks(
    n: ArrayLike, confidence: float = 0.95
) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """Zero-based rank j of the lower order statistic of the median CI, and where it exists.

    The interval [x_(j), x_(n-1-j)] covers the median with probability 1 - 2·P(B ≤ j) for
    B ~ Binomial(n, ½); j is the largest rank keeping that at or above the confidence. For
    small n (n ≤ 5 at 95%) no such rank exists and the interval is undefined.
    """
    _check_confidence(confidence)
    sizes = np.asarray(n, dtype=np.int64)
    tail = (1.0 - confidence) / 2.0
    safe = np.maximum(sizes, 1)
    first = _stats().binom.ppf(tail, safe, 0.5)  # smallest k with P(B ≤ k) ≥ tail
    rank = np.where(_stats().binom.cdf(first, safe, 0.5) <= tail, first, first - 1)
    exists = (sizes > 0) & (rank >= 0)
    return np.where(exists, rank, 0).astype(np.intp), exists


def median_interval(values: ArrayLike, confidence: float = 0.95) -> tuple[float, float, float, int]:
    """(median, low, high, n) with the distribution-free order-statistic interval."""
    x = np.sort(np.asarray(values, dtype=float).reshape(-1))
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    rank, exists = median_ranks(n, confidence)
    centre = float(np.median(x))
    if not exists:
        return centre, math.nan, math.nan, n
    j = int(rank)
    return centre, float(x[j]), float(x[n - 1 - j]), n


def newcombe_bounds(
    x1: ArrayLike, n1: ArrayLike, x2: ArrayLike, n2: ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Vectorised Newcombe hybrid score interval (method 10) for p1 - p2; NaN if an n is 0."""
    a, m, b, o = (np.asarray(v, dtype=float) for v in (x1, n1, x2, n2))
    a, m, b, o = np.broadcast_arrays(a, m, b, o)
    ok = (m > 0) & (o > 0)
    p1 = np.where(ok, a, 0.0) / np.where(ok, m, 1.0)
    p2 = np.where(ok, b, 0.0) / np.where(ok, o, 1.0)
    low1, high1 = wilson_bounds(a, m, confidence)
    low2, high2 = wilson_bounds(b, o, confidence)
    diff = p1 - p2
    low = diff - np.sqrt(np.square(p1 - low1) + np.square(high2 - p2))
    high = diff + np.sqrt(np.square(high1 - p1) + np.square(p2 - low2))
    nan = np.full_like(diff, np.nan)
    return np.where(ok, diff, nan), np.where(ok, low, nan), np.where(ok, high, nan)


def difference_interval(
    x1: float, n1: float, x2: float, n2: float, confidence: float = 0.95
) -> tuple[float, float, float]:
    """(p1 - p2, low, high) by Newcombe's hybrid score method (1998, method 10)."""
    for count, size in ((x1, n1), (x2, n2)):
        if size < 0 or count < 0 or count > size * (1 + 1e-12):
            raise AnalysisError(f"The count must lie between 0 and n (got {count} of {size}).")
    diff, low, high = newcombe_bounds(x1, n1, x2, n2, confidence)
    return float(diff), float(low), float(high)
