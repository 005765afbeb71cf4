"""Estimates of the analysis plan for a selection, and what each role sees of them."""

from __future__ import annotations

import numpy as np

from reports.analysis import AnalysisPlan, Indicator
from reports.analysis.suppression import SUPPRESSED
from survey.dashboards.estimates import FULL, PUBLIC, plan_of, publish, run_estimates
from survey.dashboards.filters import Filters, Selection, instrument_dataset, select_rows


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
