"""mean() and median(): references, weights, dnk in numeric questions, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.weightstats import DescrStatsW

from reports.analysis.errors import AnalysisError
from reports.analysis.estimators import mean, median


@pytest.fixture
def spending() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "cost": rng.gamma(2.0, 100.0, 60).round(),
            "sex": rng.choice(["female", "male"], 60),
            "_weight": rng.uniform(0.3, 2.5, 60),
        }
    )


def test_mean_matches_descrstatsw(spending: pd.DataFrame) -> None:
    table = mean(spending, "cost", by="sex")
    for row in table.itertuples():
        values = spending.cost if row.group == "" else spending.cost[spending.sex == row.group]
        reference = DescrStatsW(values.to_numpy())
        assert row.estimate == pytest.approx(reference.mean)
        assert (row.ci_low, row.ci_high) == pytest.approx(reference.tconfint_mean())
        assert row.n == len(values) and row.effective_n == len(values)
        assert math.isnan(row.count)


def test_weighted_mean_matches_descrstatsw_on_effective_n(spending: pd.DataFrame) -> None:
    row = mean(spending, "cost", weight="_weight").iloc[0]
    x, w = spending.cost.to_numpy(), spending["_weight"].to_numpy()
    effective_n = w.sum() ** 2 / (w**2).sum()
    assert row.estimate == pytest.approx(DescrStatsW(x, weights=w).mean)
    assert row.effective_n == pytest.approx(effective_n)
    reference = DescrStatsW(x, weights=w * effective_n / w.sum())
    assert (row.ci_low, row.ci_high) == pytest.approx(reference.tconfint_mean())


def test_numeric_question_stored_as_text_with_dnk() -> None:
    df = pd.DataFrame({"children": ["2", "dnk", "4", None, "pnta", "", "0"]})
    row = mean(df, "children").iloc[0]
    assert (row.estimate, row.n, row.dnk, row.pnta, row.missing) == (2.0, 3, 1, 1, 2)


def test_text_answers_in_a_numeric_question_are_refused() -> None:
    with pytest.raises(AnalysisError, match="'many'"):
        mean(pd.DataFrame({"children": ["2", "many"]}), "children")


def test_mean_of_empty_and_single_groups() -> None:
    df = pd.DataFrame(
        {
            "x": [1.0, 2.0, math.nan],
            "g": pd.Categorical(["a", "b", "b"], categories=["a", "b", "c"]),
        }
    )
    table = mean(df, "x", by="g")
    single, empty = table.iloc[1], table.iloc[3]
    assert single.estimate == 1.0 and math.isnan(single.ci_low)
    assert empty.n == 0 and math.isnan(empty.estimate)
    assert table.iloc[2].missing == 1


def test_median_by_hand() -> None:
    df = pd.DataFrame(
        {
            "x": [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 7, 8, math.nan],
            "g": ["a"] * 11 + ["b"] * 3,
        }
    )
    table = median(df, "x", by="g")
    a, b = table.iloc[1], table.iloc[2]
    assert (a.estimate, a.ci_low, a.ci_high, a.n) == (4.0, 1.0, 6.0, 11)
    assert b.estimate == 7.5 and b.n == 2 and math.isnan(b.ci_low)  # too few for a 95% CI
    overall = table.iloc[0]
    assert overall.estimate == 5.0 and overall.n == 13


def test_median_of_empty_frame() -> None:
    table = median(pd.DataFrame({"x": pd.Series([], dtype=float)}), "x")
    assert table.iloc[0].n == 0 and math.isnan(table.iloc[0].estimate)


def test_inputs_not_mutated(spending: pd.DataFrame) -> None:
    before = spending.copy()
    mean(spending, "cost", by="sex", weight="_weight")
    median(spending, "cost", by="sex")
    pd.testing.assert_frame_equal(spending, before)
