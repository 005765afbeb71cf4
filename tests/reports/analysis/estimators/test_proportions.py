"""proportion(): denominators, dnk/pnta, weights, disaggregation, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from reports.analysis.errors import AnalysisError
from reports.analysis.estimators import ESTIMATE_COLUMNS, ProportionSpec, proportion

UNMET = ProportionSpec({"column": "unmet", "in": ["yes"]}, answered_column="unmet")


@pytest.fixture
def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unmet": ["yes", "yes", "no", "dnk", "pnta", None, "yes", "no", "no", "yes"],
            "sex": pd.Categorical(
                [
                    "female",
                    "female",
                    "male",
                    "female",
                    "male",
                    "male",
                    "male",
                    "female",
                    None,
                    "female",
                ],
                categories=["female", "male", "other"],
            ),
            "district": [
                "Abai",
                "Zharma",
                "Abai",
                "Abai",
                "Zharma",
                "Abai",
                "Zharma",
                "Abai",
                "Abai",
                "Zharma",
            ],
            "age": [70.0, 45.0, 61.0, 30.0, 80.0, 65.0, 20.0, 75.0, 66.0, 39.0],
            "_weight": [1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 3.0, 1.0, 0.5, 2.0],
        }
    )


def test_overall_by_hand(people: pd.DataFrame) -> None:
    table = proportion(people, UNMET)
    assert list(table.columns) == list(ESTIMATE_COLUMNS)
    row = table.iloc[0]
    assert (row.group_var, row.group) == ("", "")
    assert (row.n, row["count"], row.dnk, row.pnta, row.missing) == (7, 4, 1, 1, 1)
    assert row.estimate == pytest.approx(4 / 7)
    assert (row.ci_low, row.ci_high) == pytest.approx(proportion_confint(4, 7, method="wilson"))
    assert row.effective_n == 7
    assert bool(row.indicative)


def test_disaggregation_blocks_follow_by_and_category_order(people: pd.DataFrame) -> None:
    table = proportion(people, UNMET, by=["sex", "district"])
    assert list(zip(table.group_var, table.group, strict=True)) == [
        ("", ""),
        ("sex", "female"),
        ("sex", "male"),
        ("sex", "other"),
        ("district", "Abai"),
        ("district", "Zharma"),
    ]
    female = table.iloc[1]
    assert (female.n, female["count"], female.dnk) == (4, 3, 1)
    other = table.iloc[3]  # unused category: a row, a NaN estimate, no warning
    assert other.n == 0 and math.isnan(other.estimate) and math.isnan(other.ci_low)
    # The row with no sex is in the overall row but in no sex group
    assert table.loc[table.group_var == "sex", "n"].sum() == table.iloc[0].n - 1


def test_denominator_condition(people: pd.DataFrame) -> None:
    spec = ProportionSpec(
        {"column": "unmet", "in": ["yes"]}, {"column": "age", ">=": 60}, answered_column="unmet"
    )
    row = proportion(people, spec).iloc[0]
    # Aged 60+: rows 0 yes, 2 no, 4 pnta, 5 missing, 7 no, 8 no
    assert (row.n, row["count"], row.pnta, row.missing, row.dnk) == (4, 1, 1, 1, 0)


def test_without_answered_column_every_denominator_row_counts(people: pd.DataFrame) -> None:
    row = proportion(people, ProportionSpec({"column": "unmet", "in": ["yes"]})).iloc[0]
    assert (row.n, row["count"], row.dnk, row.pnta, row.missing) == (10, 4, 0, 0, 0)


def test_weighted_share_and_wilson_on_kish_n(people: pd.DataFrame) -> None:
    row = proportion(people, UNMET, weight="_weight").iloc[0]
    answered = people[people.unmet.isin(["yes", "no"])]
    w = answered["_weight"].to_numpy()
    share = w[answered.unmet.eq("yes").to_numpy()].sum() / w.sum()
    effective_n = w.sum() ** 2 / (w**2).sum()
    assert row.estimate == pytest.approx(share)
    assert row.effective_n == pytest.approx(effective_n)
    assert row.n == 7 and row["count"] == 4  # counts stay unweighted
    expected = proportion_confint(share * effective_n, effective_n, method="wilson")
    assert (row.ci_low, row.ci_high) == pytest.approx(expected)


def test_zero_weight_rows_are_allowed(people: pd.DataFrame) -> None:
    people["_weight"] = [0.0, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    row = proportion(people, UNMET, weight="_weight").iloc[0]
    assert row.estimate == pytest.approx(3 / 6)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_bad_weights_raise(people: pd.DataFrame, bad: float) -> None:
    people.loc[3, "_weight"] = bad
    with pytest.raises(AnalysisError):
        proportion(people, UNMET, weight="_weight")


def test_all_zero_weights_raise(people: pd.DataFrame) -> None:
    people["_weight"] = 0.0
    with pytest.raises(AnalysisError, match="zero"):
        proportion(people, UNMET, weight="_weight")


def test_group_with_only_zero_weights_gives_nan(people: pd.DataFrame) -> None:
    people["_weight"] = np.where(people.district.eq("Abai"), 0.0, 1.0)
    table = proportion(people, UNMET, by="district", weight="_weight")
    abai = table[table.group == "Abai"].iloc[0]
    assert math.isnan(abai.estimate) and abai.effective_n == 0 and abai.n > 0


def test_empty_frame() -> None:
    empty = pd.DataFrame({"unmet": pd.Series([], dtype=object), "sex": pd.Series([], dtype=object)})
    table = proportion(empty, UNMET, by="sex")
    assert len(table) == 1
    assert table.iloc[0].n == 0 and math.isnan(table.iloc[0].estimate)


def test_all_dont_know() -> None:
    df = pd.DataFrame({"unmet": ["dnk"] * 4, "sex": ["female", "male", "female", "male"]})
    table = proportion(df, UNMET, by="sex")
    assert table.n.tolist() == [0, 0, 0] and table.dnk.tolist() == [4, 2, 2]
    assert table.estimate.isna().all()


def test_one_group(people: pd.DataFrame) -> None:
    people["sex"] = "female"
    table = proportion(people, UNMET, by="sex")
    assert table.group.tolist() == ["", "female"]
    assert table.iloc[0].estimate == table.iloc[1].estimate


def test_input_is_not_mutated(people: pd.DataFrame) -> None:
    before = people.copy()
    proportion(people, UNMET, by=["sex", "district"], weight="_weight")
    pd.testing.assert_frame_equal(people, before)


def test_missing_column_is_named(people: pd.DataFrame) -> None:
    spec = ProportionSpec({"column": "thyroid", "in": ["yes"]})
    with pytest.raises(AnalysisError, match="'thyroid'"):
        proportion(people, spec)
    with pytest.raises(AnalysisError, match="'zone'"):
        proportion(people, UNMET, by="zone")
    with pytest.raises(AnalysisError, match="'w'"):
        proportion(people, UNMET, weight="w")


def test_select_multiple_numerator_and_answered_column() -> None:
    df = pd.DataFrame(
        {
            "benefits/pension": [True, False, False, False],
            "benefits/leave": [True, True, False, False],
            "benefits/pnta": [False, False, True, False],
        }
    )
    spec = ProportionSpec({"column": "benefits", "in": ["pension"]}, answered_column="benefits")
    row = proportion(df, spec).iloc[0]
    assert (row.n, row["count"], row.pnta, row.missing) == (2, 1, 1, 1)


def test_groups_with_numeric_labels() -> None:
    df = pd.DataFrame({"unmet": ["yes", "no", "yes"], "size": [1.0, 2.0, 1.0]})
    assert proportion(df, UNMET, by="size").group.tolist() == ["", "1", "2"]


def test_indicative_below_thirty() -> None:
    df = pd.DataFrame({"unmet": ["yes"] * 15 + ["no"] * 15, "sex": ["f"] * 29 + ["m"]})
    table = proportion(df, UNMET, by="sex")
    assert table.indicative.tolist() == [False, True, True]


def test_large_frame_five_disaggregations_is_vectorised() -> None:
    rng = np.random.default_rng(3)
    size = 200_000
    df = pd.DataFrame(
        {
            "unmet": pd.Categorical(rng.choice(["yes", "no", "dnk", "pnta"], size)),
            **{f"by{i}": pd.Categorical(rng.choice(list("abcdefgh"), size)) for i in range(5)},
        }
    )
    table = proportion(df, UNMET, by=[f"by{i}" for i in range(5)])
    assert len(table) == 1 + 5 * 8
    assert (table.groupby("group_var").n.sum().drop("") == table.iloc[0].n).all()


def test_unanswered_item_of_the_numerator_leaves_the_denominator() -> None:
    # "Want support and have not received it": before, the 2 who want support but refused or
    # did not know about "received" counted as having received it (1 of 5, 20 %); now they
    # leave the denominator (1 of 3). Those who do not want support stay: "received" does not
    # matter for them.
    people = pd.DataFrame(
        {
            "wanted": ["yes", "yes", "yes", "yes", "no", "dnk"],
            "received": ["no", "yes", "pnta", "dnk", "pnta", "no"],
        }
    )
    spec = ProportionSpec(
        {
            "all": [
                {"column": "wanted", "in": ["yes"]},
                {"column": "received", "in": ["no"]},
            ]
        },
        answered_column="wanted",
    )
    row = proportion(people, spec).iloc[0]
    assert (row["count"], row.n) == (1, 3)
    assert row.estimate == pytest.approx(1 / 3)
    assert (row.dnk, row.pnta, row.missing) == (2, 1, 0)
