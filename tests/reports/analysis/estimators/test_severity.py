"""severity(), severity_summary() and round_difference()."""

from __future__ import annotations

import pandas as pd
import pytest

from reports.analysis.errors import AnalysisError
from reports.analysis.estimators import (
    ProportionSpec,
    round_difference,
    severity,
    severity_summary,
)

RULES = {
    "health": [
        (3, {"column": "unmet", "in": ["yes"]}),
        (4, {"all": [{"column": "unmet", "in": ["yes"]}, {"column": "disability", "in": ["yes"]}]}),
        (
            5,
            {
                "all": [
                    {"column": "unmet", "in": ["yes"]},
                    {"column": "skipped_medicines", "in": ["yes"]},
                ]
            },
        ),
        (2, {"column": "unmet", "in": ["no"]}),
    ],
    "income": [(3, {"column": "basic_needs", "in": ["cannot"]})],
}


@pytest.fixture
def households() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unmet": ["yes", "yes", "yes", "no", None, "dnk"],
            "disability": ["no", "yes", "yes", "yes", "no", "no"],
            "skipped_medicines": ["no", "no", "yes", "no", "no", "no"],
            "basic_needs": ["can", "cannot", "can", "cannot", None, "can"],
            "sex": ["f", "m", "f", "m", "f", "m"],
        }
    )


def test_highest_holding_score_wins_and_default_is_one(households: pd.DataFrame) -> None:
    scores = severity(households, RULES)
    assert scores.severity_health.tolist() == [3, 4, 5, 2, 1, 1]
    assert scores.severity_income.tolist() == [1, 3, 1, 3, 1, 1]
    assert scores.severity_overall.tolist() == [3, 4, 5, 3, 1, 1]
    assert list(scores.columns[: len(households.columns)]) == list(households.columns)


def test_severity_does_not_mutate(households: pd.DataFrame) -> None:
    before = households.copy()
    severity(households, RULES)
    pd.testing.assert_frame_equal(households, before)


@pytest.mark.parametrize(
    "rules",
    [
        {},
        {"health": [(6, {"column": "unmet", "in": ["yes"]})]},
        {"health": [(2.5, {"column": "unmet", "in": ["yes"]})]},
        {"overall": [(3, {"column": "unmet", "in": ["yes"]})]},
        {"health": [(3, {"column": "unmet"})]},
    ],
)
def test_bad_rules_are_refused(households: pd.DataFrame, rules: dict) -> None:
    with pytest.raises(AnalysisError):
        severity(households, rules)


def test_rule_on_unknown_column(households: pd.DataFrame) -> None:
    with pytest.raises(AnalysisError, match="'cancer'"):
        severity(households, {"health": [(4, {"column": "cancer", "in": ["yes"]})]})


def test_severity_summary(households: pd.DataFrame) -> None:
    summary = severity_summary(severity(households, RULES), by="sex")
    overall = summary[(summary.group == "")].set_index(["sector", "measure"])
    assert overall.loc[("health", "in_need"), "count"] == 3
    assert overall.loc[("health", "acute"), "count"] == 2
    # Rows 4 (unmet missing) and 5 (unmet dnk) cannot be placed in or out of need: they leave
    # that denominator; neither can be acute whatever they answered (no disability, no skipping)
    assert overall.loc[("overall", "in_need"), "estimate"] == pytest.approx(4 / 4)
    assert overall.loc[("overall", "acute"), "estimate"] == pytest.approx(2 / 6)
    assert overall.loc[("overall", "in_need"), "missing"] == 2
    assert summary.sector.unique().tolist() == ["health", "income", "overall"]


def test_an_unanswered_key_item_is_not_no_need(households: pd.DataFrame) -> None:
    # Before: the two people who did not answer "unmet" scored 1 and counted as not in need,
    # so health in need was 3/6 = 50 %; of the four who answered, 3 are in need (75 %).
    scores = severity(households, RULES)
    assert scores["severity_health__max"].tolist() == [3, 4, 5, 2, 3, 3]
    summary = severity_summary(scores, sectors=["health"])
    in_need = summary[(summary.group == "") & (summary.measure == "in_need")].iloc[0]
    assert (in_need["count"], in_need.n, in_need.missing) == (3, 4, 2)
    assert in_need.estimate == pytest.approx(0.75)


def test_need_established_by_answers_counts_though_a_later_item_is_unanswered() -> None:
    # Unmet need is "yes" but disability was refused: in need for sure, acute unknown
    people = pd.DataFrame(
        {
            "unmet": ["yes", "yes", "no", "yes"],
            "disability": ["pnta", "no", "pnta", "yes"],
            "skipped_medicines": ["no", "no", "no", "no"],
            "basic_needs": ["can"] * 4,
        }
    )
    summary = severity_summary(severity(people, RULES), sectors=["health"])
    rows = summary[summary.group == ""].set_index("measure")
    assert (rows.loc["in_need", "count"], rows.loc["in_need", "n"]) == (3, 4)
    # Acute: row 1 not acute, row 3 acute, row 2 settled by "unmet = no"; row 0 unknown
    assert (rows.loc["acute", "count"], rows.loc["acute", "n"]) == (1, 3)
    assert rows.loc["acute", "pnta"] + rows.loc["acute", "missing"] == 1


def test_severity_summary_needs_scores(households: pd.DataFrame) -> None:
    with pytest.raises(AnalysisError, match="severity"):
        severity_summary(households)


def test_round_difference_reproduces_newcombe_example() -> None:
    # Round 1: 48/80 yes; round 2: 56/70 yes → change +0.2000 (0.0524 to 0.3339)
    rows = [("r1", "yes")] * 48 + [("r1", "no")] * 32 + [("r2", "yes")] * 56 + [("r2", "no")] * 14
    df = pd.DataFrame(rows, columns=["_round", "screened"])
    spec = ProportionSpec({"column": "screened", "in": ["yes"]}, answered_column="screened")
    row = round_difference(df, spec, first="r1", second="r2").iloc[0]
    assert row.estimate == pytest.approx(0.2)
    assert (row.ci_low, row.ci_high) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    assert (row.n1, row.n2, row.count1, row.count2) == (80, 70, 48, 56)


def test_round_difference_by_group_present_in_one_round_only() -> None:
    df = pd.DataFrame(
        {
            "_round": ["r1", "r1", "r2", "r2", "r2"],
            "x": ["yes", "no", "yes", "yes", "no"],
            "district": ["Abai", "Abai", "Abai", "Semey", "Semey"],
        }
    )
    spec = ProportionSpec({"column": "x", "in": ["yes"]})
    table = round_difference(df, spec, first="r1", second="r2", by="district")
    assert table.group.tolist() == ["", "Abai", "Semey"]
    assert table.estimate.iloc[1] == pytest.approx(0.5)
    assert table.estimate.isna().tolist() == [False, False, True]


def test_round_difference_unknown_round() -> None:
    df = pd.DataFrame({"_round": ["r1"], "x": ["yes"]})
    with pytest.raises(AnalysisError, match="'r9'"):
        round_difference(
            df, ProportionSpec({"column": "x", "in": ["yes"]}), first="r1", second="r9"
        )
