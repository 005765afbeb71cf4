"""frequencies(), multiple_frequencies() and ranking()."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from reports.analysis.errors import AnalysisError
from reports.analysis.estimators import frequencies, multiple_frequencies, ranking


def test_frequencies_by_hand() -> None:
    df = pd.DataFrame(
        {"certificate": ["paper", "digital", "paper", "dnk", None, "pnta", "never", "paper"]}
    )
    table = frequencies(df, "certificate", codes=["paper", "digital", "pending", "never"])
    assert table.category.tolist() == ["paper", "digital", "pending", "never", "dnk", "pnta"]
    assert table["count"].tolist() == [3, 1, 0, 1, 1, 1]
    assert (table.n == 5).all() and (table.missing == 1).all()
    assert table.estimate.iloc[:4].tolist() == pytest.approx([0.6, 0.2, 0.0, 0.2])
    assert table.estimate.iloc[4:].isna().all()  # listed, outside the denominators
    assert (table.ci_low.iloc[0], table.ci_high.iloc[0]) == pytest.approx(
        proportion_confint(3, 5, method="wilson")
    )


def test_frequencies_keeps_codes_missing_from_the_list() -> None:
    df = pd.DataFrame({"q": ["a", "b", "zz"]})
    assert frequencies(df, "q", codes=["a", "b"]).category.tolist() == [
        "a",
        "b",
        "zz",
        "dnk",
        "pnta",
    ]


def test_frequencies_by_group_and_weights() -> None:
    df = pd.DataFrame(
        {
            "q": ["a", "b", "a", "a"],
            "sex": ["f", "f", "m", "m"],
            "_weight": [1.0, 3.0, 1.0, 1.0],
        }
    )
    table = frequencies(df, "q", by="sex", weight="_weight")
    female_a = table[(table.group == "f") & (table.category == "a")].iloc[0]
    assert female_a.estimate == pytest.approx(0.25) and female_a["count"] == 1
    assert female_a.effective_n == pytest.approx(16 / 10)


def test_frequencies_of_numeric_codes() -> None:
    df = pd.DataFrame({"worry": [1.0, 2.0, 2.0, 4.0, math.nan]})
    table = frequencies(df, "worry", codes=["1", "2", "3", "4"])
    assert table["count"].tolist()[:4] == [1, 2, 0, 1]
    assert table.missing.iloc[0] == 1


def test_frequencies_empty_frame() -> None:
    table = frequencies(pd.DataFrame({"q": pd.Series([], dtype=object)}), "q", codes=["a"])
    assert table.category.tolist() == ["a", "dnk", "pnta"] and (table.n == 0).all()


def test_multiple_frequencies() -> None:
    df = pd.DataFrame(
        {
            "benefits/pension": [True, False, True, False, False],
            "benefits/leave": [True, True, False, False, False],
            "benefits/dnk": [False, False, False, True, False],
            "sex": ["f", "f", "m", "m", "m"],
        }
    )
    table = multiple_frequencies(df, "benefits", ["pension", "leave", "screening"], by="sex")
    overall = table[table.group_var == ""]
    assert overall.category.tolist() == ["pension", "leave", "screening"]
    assert overall["count"].tolist() == [2, 2, 0]
    assert (overall.n == 3).all() and (overall.dnk == 1).all() and (overall.missing == 1).all()
    assert overall.estimate.tolist() == pytest.approx([2 / 3, 2 / 3, 0.0])


def test_multiple_frequencies_with_nullable_booleans() -> None:
    df = pd.DataFrame(
        {
            "b/x": pd.array([True, None, False], dtype="boolean"),
            "b/y": pd.array([False, None, True], dtype="boolean"),
        }
    )
    table = multiple_frequencies(df, "b")
    assert table["count"].tolist() == [1, 1] and table.n.tolist() == [2, 2]


def test_multiple_frequencies_unknown_question() -> None:
    with pytest.raises(AnalysisError, match="'benefits/<code>'"):
        multiple_frequencies(pd.DataFrame({"x": [1]}), "benefits")


NEEDS = pd.DataFrame(
    {
        "need_1": ["medical", "medicines", "medical", "dnk", "housing", None],
        "need_2": ["medicines", "medical", "housing", None, "housing", None],
        "need_3": ["housing", None, "screening", None, "medical", None],
        "sex": ["f", "f", "m", "m", "f", "m"],
    }
)


def test_ranking_points_and_share_by_hand() -> None:
    table = ranking(NEEDS, ["need_1", "need_2", "need_3"])
    # medical 3+2+3+1 = 9; medicines 2+3 = 5; housing 1+2+3+2 = 8; screening 1
    assert table.category.tolist() == ["medical", "housing", "medicines", "screening"]
    assert table.points.tolist() == [9.0, 8.0, 5.0, 1.0]
    # 4 respondents named a code; "housing" twice by one person counts once
    assert table["count"].tolist() == [4, 3, 2, 1]
    assert (table.n == 4).all() and (table.dnk == 1).all() and (table.missing == 1).all()
    assert table.share_top.tolist() == pytest.approx([1.0, 0.75, 0.5, 0.25])


def test_ranking_by_group_and_given_codes() -> None:
    table = ranking(NEEDS, ["need_1", "need_2", "need_3"], by="sex", codes=["environment"])
    male = table[table.group == "m"]
    assert male.category.tolist()[0] == "medical"
    assert "environment" in table.category.tolist()
    assert table[table.category == "environment"].points.eq(0).all()


def test_ranking_needs_one_points_value_per_column() -> None:
    with pytest.raises(AnalysisError, match="points"):
        ranking(NEEDS, ["need_1", "need_2"], points=(3, 2, 1))


def test_inputs_not_mutated() -> None:
    before = NEEDS.copy()
    ranking(NEEDS, ["need_1", "need_2", "need_3"], by="sex")
    frequencies(NEEDS, "need_1", by="sex")
    pd.testing.assert_frame_equal(NEEDS, before)


def test_multiple_frequencies_na_means_unasked_and_all_false_means_none_chosen() -> None:
    # The dataset bridge: nullable booleans, NA = question not answered
    df = pd.DataFrame(
        {
            "b/x": pd.array([True, False, None, False], dtype="boolean"),
            "b/dnk": pd.array([False, False, None, True], dtype="boolean"),
        }
    )
    table = multiple_frequencies(df, "b")
    assert table.category.tolist() == ["x"]
    row = table.iloc[0]
    assert (row["count"], row.n, row.dnk, row.missing) == (1, 2, 1, 1)
