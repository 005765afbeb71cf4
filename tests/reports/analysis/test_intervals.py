"""Intervals against statsmodels/scipy and against published hand-computed values."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from reports.analysis.errors import AnalysisError
from reports.analysis.intervals import (
    critical_t,
    critical_z,
    difference_interval,
    kish_effective_n,
    mean_interval,
    median_interval,
    median_ranks,
    t_bounds,
    validate_weights,
    wilson_bounds,
    wilson_interval,
)


@pytest.mark.parametrize("confidence", [0.90, 0.95, 0.99])
@pytest.mark.parametrize(
    ("successes", "n"),
    [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (17, 30), (512, 1000), (12.3, 40.7)],
)
def test_wilson_matches_statsmodels(successes: float, n: float, confidence: float) -> None:
    low, high = wilson_interval(successes, n, confidence)
    expected = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    assert (low, high) == pytest.approx(expected, abs=1e-12)


def test_wilson_is_exact_at_the_edges() -> None:
    assert wilson_interval(0, 25)[0] == 0.0
    assert wilson_interval(25, 25)[1] == 1.0


def test_wilson_zero_n_gives_nan() -> None:
    low, high = wilson_interval(0, 0)
    assert math.isnan(low) and math.isnan(high)


def test_wilson_bounds_vectorised_and_nan_for_empty_groups() -> None:
    low, high = wilson_bounds(np.array([0, 3, 0]), np.array([0, 10, 5]))
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert (low[1], high[1]) == pytest.approx(proportion_confint(3, 10, method="wilson"))


@pytest.mark.parametrize(
    ("successes", "n", "confidence"),
    [(11, 10, 0.95), (-1, 10, 0.95), (1, -2, 0.95), (1, 10, 95), (1, 10, 0), (math.nan, 10, 0.95)],
)
def test_wilson_refuses_impossible_input(successes: float, n: float, confidence: float) -> None:
    with pytest.raises(AnalysisError):
        wilson_interval(successes, n, confidence)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([1, 1, 1, 1], 4.0),
        ([1, 2, 3], 36 / 14),
        ([2, 2], 2.0),
        ([5, 0, 0], 1.0),
        ([0.5, 1.5], 1.6),
        ([], 0.0),
    ],
)
def test_kish_effective_n_by_hand(weights: list[float], expected: float) -> None:
    assert kish_effective_n(weights) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("weights", "words"),
    [
        ([1, -1], "negative"),
        ([1, math.nan], "missing"),
        ([1, math.inf], "finite"),
        ([0, 0], "zero"),
        (["a"], "numbers"),
    ],
)
def test_bad_weights_are_refused(weights: list[object], words: str) -> None:
    with pytest.raises(AnalysisError, match=words):
        validate_weights(weights)


def test_zero_weight_on_single_rows_is_allowed() -> None:
    assert validate_weights([0, 1, 2]).tolist() == [0.0, 1.0, 2.0]


def test_mean_interval_unweighted_matches_t_interval() -> None:
    values = [3.0, 5.0, 8.0, 1.0, 9.0, 4.0, math.nan]
    centre, low, high, n = mean_interval(values)
    reference = DescrStatsW(np.array([3.0, 5.0, 8.0, 1.0, 9.0, 4.0]))
    assert n == 6
    assert centre == pytest.approx(reference.mean)
    assert (low, high) == pytest.approx(reference.tconfint_mean())


def test_mean_interval_weighted_matches_descrstatsw_on_effective_n() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(50, 10, 40)
    w = rng.uniform(0.2, 3.0, 40)
    centre, low, high, n = mean_interval(x, w, confidence=0.9)
    effective_n = w.sum() ** 2 / (w**2).sum()
    reference = DescrStatsW(x, weights=w * effective_n / w.sum())  # weights summing to n_eff
    assert n == 40
    assert centre == pytest.approx(DescrStatsW(x, weights=w).mean)
    assert (low, high) == pytest.approx(reference.tconfint_mean(alpha=0.1))


def test_mean_interval_drops_weights_of_missing_values() -> None:
    assert mean_interval([1.0, math.nan, 3.0], [1.0, 100.0, 1.0])[0] == pytest.approx(2.0)


def test_mean_interval_small_and_empty() -> None:
    centre, low, high, n = mean_interval([4.0])
    assert (centre, n) == (4.0, 1) and math.isnan(low) and math.isnan(high)
    centre, low, high, n = mean_interval([])
    assert n == 0 and math.isnan(centre)


def test_median_interval_by_hand() -> None:
    # Sorted: 1 1 2 3 3 4 5 5 5 6 9 (n=11). P(B ≤ 1) = 12/2048 ≤ 0.025 < P(B ≤ 2) = 67/2048,
    # so the interval runs from the 2nd to the 10th order statistic.
    centre, low, high, n = median_interval([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, math.nan])
    assert (centre, low, high, n) == (4.0, 1.0, 6.0, 11)


def test_median_interval_ten_values_uses_second_and_ninth() -> None:
    assert median_interval(range(1, 11)) == (5.5, 2.0, 9.0, 10)


def test_median_interval_too_few_values_for_95_percent() -> None:
    assert median_interval([1, 2, 3, 4, 5, 6])[1:3] == (1.0, 6.0)  # coverage 1 - 2/64
    centre, low, high, n = median_interval([1, 2, 3, 4, 5])  # best coverage 1 - 2/32 < 0.95
    assert centre == 3.0 and n == 5 and math.isnan(low) and math.isnan(high)
    assert math.isnan(median_interval([])[0])


@pytest.mark.parametrize("n", [6, 7, 10, 25, 100, 1001])
def test_median_ranks_give_the_tightest_interval_with_enough_coverage(n: int) -> None:
    rank, exists = median_ranks(n)
    assert exists
    assert 1 - 2 * stats.binom.cdf(rank, n, 0.5) >= 0.95
    assert 1 - 2 * stats.binom.cdf(rank + 1, n, 0.5) < 0.95


# Newcombe (1998) Stat Med 17:873–890, Table II, method 10 (hybrid score)
NEWCOMBE_TABLE_II = [
    (56, 70, 48, 80, 0.2000, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.6000, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.5714, 0.0582, 0.8062),
    (5, 56, 0, 29, 0.0893, -0.0381, 0.1926),
    (0, 10, 0, 20, 0.0000, -0.1611, 0.2775),
    (10, 10, 0, 20, 1.0000, 0.6791, 1.0000),
]


@pytest.mark.parametrize(("x1", "n1", "x2", "n2", "diff", "low", "high"), NEWCOMBE_TABLE_II)
def test_newcombe_matches_table_ii(
    x1: int, n1: int, x2: int, n2: int, diff: float, low: float, high: float
) -> None:
    assert difference_interval(x1, n1, x2, n2) == pytest.approx((diff, low, high), abs=5e-5)


def test_difference_interval_with_an_empty_sample_is_nan() -> None:
    assert all(math.isnan(value) for value in difference_interval(0, 0, 3, 10))


def test_difference_interval_refuses_counts_above_n() -> None:
    with pytest.raises(AnalysisError):
        difference_interval(11, 10, 3, 10)


@pytest.mark.parametrize("confidence", [0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999])
def test_quantiles_are_scipy_stats_to_the_last_bit(confidence: float) -> None:
    tail = (1 - confidence) / 2
    assert critical_z(confidence) == float(stats.norm.isf(tail))
    for dof in (1.0, 2.5, 9.0, 99.0, 1e6):
        assert critical_t(confidence, dof) == float(stats.t.isf(tail, dof))
    low, high = t_bounds([1.5, 2.0], [4.0, 0.25], [10.0, 3.7], confidence)
    expected = stats.t.isf(tail, np.array([9.0, 2.7])) * np.sqrt(np.array([4.0, 0.25]) / [9, 2.7])
    assert list(high) == list(np.array([1.5, 2.0]) + expected)
    assert list(low) == list(np.array([1.5, 2.0]) - expected)


def test_proportions_and_means_do_not_load_scipy_stats() -> None:
    # scipy.stats takes about half a CPU-second to import, which a cold `survey report` paid
    # for two quantiles; only the median's binomial ranks still need it.
    code = (
        "import sys; from reports.analysis.intervals import wilson_bounds, t_bounds; "
        "wilson_bounds([3], [10]); t_bounds([1.0], [2.0], [5.0]); "
        "print('scipy.stats' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
