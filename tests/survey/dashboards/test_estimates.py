"""Estimates of the analysis plan for a selection, and what each role sees of them."""

from __future__ import annotations

import numpy as np
import pytest

from reports.analysis import AnalysisPlan, Indicator
from reports.analysis.suppression import SUPPRESSED
from survey.dashboards.estimates import FULL, PUBLIC, plan_of, publish, run_estimates
from survey.dashboards.filters import Filters, Selection, instrument_dataset, select_rows


@pytest.mark.sqlite_only
def test_publish_hides_small_cells_for_advocates_only(app, demo) -> None:
    dataset = instrument_dataset(demo.instrument)
    selection = select_rows(dataset, Filters())
    plan, _problems = plan_of(dataset.spec)
    table, problems = run_estimates(selection, plan, dataset.spec, ("district",))
    assert not problems
    full = publish(table, FULL, 5)
    public = publish(table, PUBLIC, 5)
    assert not full[SUPPRESSED].any()
    assert public[SUPPRESSED].any()
    for column in ("n", "count", "dnk", "pnta"):
        shown = public[column].dropna()
        assert not ((shown >= 1) & (shown < 5)).any(), column
    assert ((table["n"] >= 1) & (table["n"] < 5)).any()  # there were small cells to hide


def test_roster_indicators_follow_the_respondent_disaggregation(app, demo) -> None:
    dataset = instrument_dataset(demo.instrument)
    selection = select_rows(dataset, Filters())
    plan, _problems = plan_of(dataset.spec)
    table, _problems = run_estimates(selection, plan, dataset.spec, ("sex", "district"))
    roster = table[table["indicator"] == "member_chronic"]
    assert {"", "respondent.sex", "_district"} == set(roster["group_var"])
    assert list(table["indicator"].drop_duplicates()) == [
        i.id for i in plan.indicators if i.id in set(table["indicator"])
    ]


def test_bad_weights_become_problems_not_errors(app, demo) -> None:
    dataset = instrument_dataset(demo.instrument)
    selection = select_rows(dataset, Filters())
    size = len(selection.respondents)
    for weights in (np.zeros(size), np.where(np.arange(size) % 2, 1.0, -1.0)):
        weighted = Selection(
            selection.respondents.assign(w=weights),
            selection.members,
            selection.excluded,
            selection.demo,
        )
        plan = AnalysisPlan(
            (
                Indicator(
                    "x", {"en": "X"}, "proportion", numerator={"column": "sex", "in": ["male"]}
                ),
            ),
            weight="w",
        )
        table, problems = run_estimates(weighted, plan, dataset.spec, None)
        assert len(table) == 0
        assert problems and "weights must not" in problems[0]


def test_non_answers_leave_the_denominators_of_severity_and_psych_unmet(app, demo) -> None:
    # Before: health "in need" had every respondent as denominator (a skipped or refused
    # "unmet need" scored 1, "no need"), and psych_unmet kept those who want support but did
    # not answer "received" as if they had received it.
    dataset = instrument_dataset(demo.instrument)
    selection = select_rows(dataset, Filters())
    plan, _problems = plan_of(dataset.spec)
    table, problems = run_estimates(selection, plan, dataset.spec, None)
    assert not problems
    people = selection.respondents
    answered = people["unmet_need"].isin(["yes", "no"])
    assert (~answered).sum() > 0  # the demo data have non-answers to leave out
    overall = table[table["group_var"] == ""]
    health = overall[
        (overall["indicator"] == "severity_health") & (overall["category"] == "in_need")
    ].iloc[0]
    assert health["n"] == answered.sum() < len(people)
    assert health["count"] == (people["unmet_need"] == "yes").sum()
    assert health["missing"] == (~answered).sum()
    psych = overall[overall["indicator"] == "psych_unmet"].iloc[0]
    wants = people["psych_support_wanted"] == "yes"
    settled = people["psych_support_wanted"].eq("no") | (
        wants & people["psych_support_received"].isin(["yes", "no"])
    )
    assert psych["n"] == settled.sum()
    assert psych["count"] == (wants & (people["psych_support_received"] == "no")).sum()


def test_the_missing_plan_items_are_produced(app, demo) -> None:
    dataset = instrument_dataset(demo.instrument)
    selection = select_rows(dataset, Filters())
    plan, _problems = plan_of(dataset.spec)
    table, problems = run_estimates(selection, plan, dataset.spec, ("sex",))
    assert not problems
    produced = set(table["indicator"])
    reforms = {
        "reform_descendants_status",
        "reform_indexed_compensation",
        "reform_annual_screening",
        "reform_specialised_clinics",
        "reform_psychosocial_services",
        "reform_simpler_documents",
        "reform_include_abroad",
        "reform_gender_age_measures",
        "reform_trust_fund",
    }
    assert reforms <= produced
    assert {
        "refusal_reasons",
        "benefits_each",
        "care_barriers_each",
        "top_needs_points",
        "household_cancer",
    } <= produced
    barriers = set(table[table["indicator"] == "care_barriers_each"]["category"])
    assert {"cost_services", "distance", "waiting", "no_specialist"} <= barriers
    points = table[(table["indicator"] == "top_needs_points") & (table["group_var"] == "")]
    assert points["estimate"].between(0, 3).all()
    assert points["estimate"].is_monotonic_decreasing
    # A household counts with cancer when the respondent or any member has it
    people, members = selection.respondents, selection.members
    own = people["conditions/cancer"].fillna(False).astype(bool)
    member = members[members["member_conditions/cancer"].fillna(False).astype(bool)]
    with_cancer = own | people["_submission_id"].isin(member["_submission_id"])
    household = table[(table["indicator"] == "household_cancer") & (table["group_var"] == "")]
    assert household["count"].iloc[0] == with_cancer.sum()
    assert {"", "sex"} <= set(table[table["indicator"] == "household_cancer"]["group_var"])
