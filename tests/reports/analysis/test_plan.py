"""The analysis plan: indicators, run_plan's tidy table and problems, automatic plans."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from reports.analysis.design import SurveyDesign
from reports.analysis.errors import AnalysisError
from reports.analysis.plan import (
    TIDY_COLUMNS,
    AnalysisPlan,
    Indicator,
    automatic_plan,
    indicator_from_mapping,
    plan_from_mapping,
    plan_to_mapping,
    run_plan,
)
from reports.analysis.suppression import apply_to_estimates
from reports.instrument import ChoiceDescription, QuestionDescription


@pytest.fixture
def respondents() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    size = 120
    return pd.DataFrame(
        {
            "sex": rng.choice(["female", "male"], size),
            "generation": rng.choice(["g1", "g2", "g3"], size),
            "certificate": rng.choice(["paper", "digital", "never", "dnk"], size),
            "unmet": rng.choice(["yes", "no", "pnta"], size),
            "cost": rng.gamma(2, 50, size).round(),
            "need_1": rng.choice(["medical", "income"], size),
            "need_2": rng.choice(["housing", "income"], size),
            "need_3": rng.choice(["medical", "screening"], size),
            "benefits/pension": rng.choice([True, False], size),
            "benefits/leave": rng.choice([True, False], size),
            "_weight": rng.uniform(0.5, 2, size),
        }
    )


@pytest.fixture
def members() -> pd.DataFrame:
    return pd.DataFrame(
        {"thyroid": ["yes", "no", "no", "yes", "no"], "sex": ["f", "m", "f", "f", "m"]}
    )


def plan() -> AnalysisPlan:
    return AnalysisPlan(
        (
            Indicator(
                "g1_without_certificate",
                {"en": "G1 without certificate", "ru": "…"},
                "proportion",
                numerator={"column": "certificate", "in": ["never"]},
                denominator={"column": "generation", "in": ["g1"]},
                answered="certificate",
                disaggregations=("sex",),
                theme="Art. 6(1) non-discrimination",
                chapter="B",
            ),
            Indicator(
                "cost", {"en": "Out-of-pocket cost"}, "mean", column="cost", weight="_weight"
            ),
            Indicator("cost_median", {}, "median", column="cost", disaggregations=("sex",)),
            Indicator("needs", {}, "ranking", columns=("need_1", "need_2", "need_3")),
            Indicator("in_need", {}, "severity", column="overall"),
            Indicator(
                "certificate",
                {},
                "frequency",
                column="certificate",
                codes=("paper", "digital", "never"),
            ),
            Indicator("benefits", {}, "multiple", column="benefits", codes=("pension", "leave")),
            Indicator(
                "thyroid",
                {},
                "proportion",
                numerator={"column": "thyroid", "in": ["yes"]},
                unit="member",
                disaggregations=("sex",),
            ),
        ),
        severity_rules={"health": [(3, {"column": "unmet", "in": ["yes"]})]},
    )


def test_run_plan_builds_one_tidy_table(respondents: pd.DataFrame, members: pd.DataFrame) -> None:
    result = run_plan(respondents, members, plan())
    assert result.problems == []
    table = result.table
    assert list(table.columns) == list(TIDY_COLUMNS)
    assert table.indicator.unique().tolist() == [i.id for i in plan().indicators]
    first = table[table.indicator == "g1_without_certificate"]
    assert first.group.tolist() == ["", "female", "male"]
    assert first.label_en.iloc[0] == "G1 without certificate"
    assert first.theme.iloc[0] == "Art. 6(1) non-discrimination"
    g1 = respondents[respondents.generation == "g1"]
    answered = g1[g1.certificate != "dnk"]
    assert first.n.iloc[0] == len(answered)
    assert first.estimate.iloc[0] == pytest.approx((answered.certificate == "never").mean())
    assert table[table.indicator == "in_need"].category.tolist() == ["in_need", "acute"]
    assert table[table.indicator == "needs"].points.notna().all()
    assert table[table.indicator == "thyroid"].n.tolist() == [5, 3, 2]
    assert table.label_en[table.indicator == "cost_median"].iloc[0] == "cost_median"


def test_problems_do_not_hide_other_indicators(respondents: pd.DataFrame) -> None:
    broken = AnalysisPlan(
        (
            Indicator(
                "ok",
                {},
                "proportion",
                numerator={"column": "unmet", "in": ["yes"]},
                disaggregations=("sex", "zone"),
            ),
            Indicator("bad", {}, "proportion", numerator={"column": "cancer", "in": ["yes"]}),
            Indicator("members", {}, "mean", column="age", unit="member"),
            Indicator("weights", {}, "mean", column="cost", weight="missing_weight"),
        )
    )
    result = run_plan(respondents, None, broken)
    assert result.table.indicator.unique().tolist() == ["ok"]
    assert result.table.group.tolist() == ["", "female", "male"]
    assert result.problems == [
        "Indicator 'ok': disaggregation 'zone' is not in the data; left out.",
        "Indicator 'bad': column 'cancer' is not in the data.",
        "Indicator 'members': it needs household member data and none were given.",
        "Indicator 'weights': weight column 'missing_weight' is not in the data.",
    ]


def test_by_override_and_plan_weight(respondents: pd.DataFrame) -> None:
    simple = AnalysisPlan(
        (
            Indicator(
                "unmet",
                {},
                "proportion",
                numerator={"column": "unmet", "in": ["yes"]},
                answered="unmet",
                disaggregations=("sex",),
            ),
        ),
        weight="_weight",
    )
    table = run_plan(respondents, None, simple, by_override=["generation"]).table
    assert table.group_var.tolist() == ["", "generation", "generation", "generation"]
    assert (table.effective_n < table.n).all()  # weighted by the plan's default weight


def test_empty_plan_gives_an_empty_table_with_the_columns(respondents: pd.DataFrame) -> None:
    result = run_plan(respondents, None, AnalysisPlan())
    assert result.table.empty and list(result.table.columns) == list(TIDY_COLUMNS)


def test_run_plan_does_not_mutate(respondents: pd.DataFrame, members: pd.DataFrame) -> None:
    before, before_members = respondents.copy(), members.copy()
    run_plan(respondents, members, plan())
    pd.testing.assert_frame_equal(respondents, before)
    pd.testing.assert_frame_equal(members, before_members)


def test_suppression_applies_to_the_whole_table(
    respondents: pd.DataFrame, members: pd.DataFrame
) -> None:
    table = apply_to_estimates(run_plan(respondents, members, plan()).table)
    thyroid = table[table.indicator == "thyroid"]
    assert thyroid.suppressed.all()  # 5 people in all
    assert not table[table.indicator == "cost"].suppressed.any()


def test_an_inner_repeat_is_a_unit_with_its_household_design() -> None:
    respondents = pd.DataFrame(
        {"_submission_id": [1, 2, 3], "sex": ["f", "m", "f"], "_weight": [1.0, 2.0, 3.0]}
    )
    members = pd.DataFrame({"_submission_id": [1, 2, 3], "_index": [1, 1, 1]})
    # Illnesses of members: household 9 is not among the respondents (filtered out).
    illness = pd.DataFrame(
        {
            "_submission_id": [1, 1, 2, 3, 3, 9],
            "_index": [1, 2, 1, 1, 2, 1],
            "_parent_index": [1, 1, 1, 1, 1, 1],
            "respondent.sex": ["f", "f", "m", "f", "f", "m"],
            "treated": ["yes", "no", "yes", "no", "no", "yes"],
        }
    )
    treated = Indicator(
        "treated",
        {},
        "proportion",
        numerator={"column": "treated", "in": ["yes"]},
        unit="illness",
        disaggregations=("respondent.sex",),
    )
    repeats = {"member": members, "illness": illness}
    table = run_plan(respondents, members, AnalysisPlan((treated,)), repeats=repeats).table
    rows = {(r.group_var, r.group): (r.count, r.n, r.estimate) for r in table.itertuples()}
    # Two of the five illnesses of the three households were treated; f: 1 of 4, m: 1 of 1.
    assert rows[("", "")] == (2, 5, pytest.approx(0.4))
    assert rows[("respondent.sex", "f")] == (1, 4, pytest.approx(0.25))
    assert rows[("respondent.sex", "m")] == (1, 1, pytest.approx(1.0))

    # With a design each illness weighs what its household weighs: (1 + 2) / (1 + 1 + 2 + 3 + 3).
    designed = AnalysisPlan((treated,), design=SurveyDesign("_weight"))
    result = run_plan(respondents, members, designed, repeats=repeats)
    assert result.problems == []
    overall = result.table[result.table["group_var"] == ""].iloc[0]
    assert overall["estimate"] == pytest.approx(0.3)
    assert overall["n"] == 5

    missing = run_plan(respondents, members, AnalysisPlan((treated,))).problems
    assert missing == [
        "Indicator 'treated': it needs the entries of repeat 'illness' and none were given."
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kind": "ratio"}, "unknown kind"),
        ({"kind": "proportion"}, "needs a numerator"),
        ({"kind": "mean"}, "needs a column"),
        ({"kind": "ranking"}, "needs ranked columns"),
        ({"kind": "mean", "column": "x", "unit": "household"}, "unit"),
        ({"kind": "mean", "column": "x", "disaggregations": "sex"}, "list"),
        ({"kind": "proportion", "numerator": {"column": "x"}}, "'x'|column|operator"),
    ],
)
def test_invalid_indicators(arguments: dict, message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        Indicator("i", {}, **arguments)


def test_duplicate_ids_and_severity_without_rules() -> None:
    one = Indicator("a", {}, "mean", column="x")
    with pytest.raises(AnalysisError, match="twice"):
        AnalysisPlan((one, one))
    with pytest.raises(AnalysisError, match="Severity needs"):
        AnalysisPlan((Indicator("s", {}, "severity"),))


def test_automatic_plan_skips_text_dates_and_notes() -> None:
    questions = [
        QuestionDescription(
            "sex",
            "categorical",
            {"en": "Sex"},
            (ChoiceDescription("female"), ChoiceDescription("male")),
        ),
        QuestionDescription("benefits", "multiple", choices=(ChoiceDescription("pension"),)),
        QuestionDescription("age", "numeric", repeat="roster"),
        QuestionDescription("message", "text"),
        QuestionDescription("date", "date"),
        QuestionDescription("intro", "none"),
    ]
    automatic = automatic_plan(questions, disaggregations=("sex",))
    summary = [(i.id, i.kind, i.unit, i.disaggregations) for i in automatic.indicators]
    assert summary == [
        ("sex", "frequency", "respondent", ()),
        ("benefits", "multiple", "respondent", ("sex",)),
        ("age_mean", "mean", "member", ("sex",)),
        ("age_median", "median", "member", ("sex",)),
    ]
    assert automatic.indicators[0].codes == ("female", "male")


def test_plan_as_plain_data_round_trip() -> None:
    original = plan()
    data = plan_to_mapping(original)
    json.dumps(data)
    assert plan_from_mapping(json.loads(json.dumps(data))) == original


def test_indicator_from_mapping_reads_the_text_forms() -> None:
    indicator = indicator_from_mapping(
        {
            "id": "status_gap",
            "kind": "proportion",
            "numerator": "certificate in (never, refused)",
            "denominator": "generation in (g1) and age >= 18",
            "answered": "certificate",
            "disaggregations": "sex, district",
        }
    )
    assert indicator.numerator == {"column": "certificate", "in": ["never", "refused"]}
    assert indicator.denominator == {
        "all": [{"column": "generation", "in": ["g1"]}, {"column": "age", ">=": 18}]
    }
    assert indicator.disaggregations == ("sex", "district")
    with pytest.raises(AnalysisError, match="unknown field 'colour'"):
        indicator_from_mapping({"id": "x", "kind": "mean", "column": "a", "colour": "red"})
