"""The protected cube: primary and complementary suppression of a star, checked by the LP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports.analysis import (
    AnalysisError,
    apply_to_estimates,
    protection,
    run_plan,
    suppress_small_cells,
)
from reports.analysis.audit import (
    cube_knowledge,
    cube_truth,
    narrow_cells,
    protection_intervals,
)
from reports.analysis.protection import population_table, protect_cube
from tests.reports.analysis.star import BY, MARGINS, PLAN, star
from tests.reports.analysis.star import survey as star_survey


def _attack(table: pd.DataFrame, population: pd.DataFrame, out_known, margins=MARGINS):
    knowledge = cube_knowledge(table, population, out_known, margins=margins)
    return protection_intervals(knowledge)


@pytest.mark.parametrize(("rows", "seed"), [(30, 1), (80, 2), (200, 3), (1000, 4)])
def test_no_hidden_figure_is_narrower_than_k(rows, seed) -> None:
    table, population = star(rows, seed)
    cube = protect_cube(table, population, margins=MARGINS, k=5)
    intervals = _attack(cube.table, cube.population, cube.out_known)
    truth = cube_truth(table, population)
    assert len(intervals) > 0
    narrow = narrow_cells(intervals, truth, 5)
    assert narrow.empty, narrow.head().to_string()
    # No published count is 1..4
    published = {
        key: value for key, value in cube_knowledge(cube.table, cube.population, {}).values.items()
    }
    small = [key for key, value in published.items() if value is not None and 0 < value < 5]
    assert small == []


def test_the_per_table_suppression_of_main_leaks_in_the_star() -> None:
    """Each indicator and the respondent counts suppressed apart (the old way): the LP pins
    hidden cells, so this audit can fail."""
    table, population = star(200, 3)
    published = apply_to_estimates(table, k=5)
    published.loc[published["suppressed"], "count"] = np.nan
    counts = population.copy()
    for variable, part in population.groupby("group_var"):
        if variable == "":
            continue
        flags = suppress_small_cells(part.set_index("group")[["respondents"]], k=5)[
            "respondents_suppressed"
        ]
        counts.loc[part.index, "respondents"] = part["respondents"].mask(flags.to_numpy())
    out_known = {indicator: True for indicator in table["indicator"].unique()}
    intervals = _attack(published.assign(unit="respondent"), counts, out_known)
    narrow = narrow_cells(intervals, cube_truth(table, population), 5)
    assert len(narrow) > 0


def test_a_small_group_is_hidden_in_every_indicator() -> None:
    table, population = star(200, 3)
    cube = protect_cube(table, population, margins=MARGINS, k=5)
    small = population[(population["respondents"] > 0) & (population["respondents"] < 5)]
    assert len(small)
    for record in small.to_dict("records"):
        rows = cube.table[
            (cube.table["group_var"] == record["group_var"])
            & (cube.table["group"] == record["group"])
        ]
        assert rows["n"].isna().all() and rows["suppressed"].all()
        hidden = cube.population[
            (cube.population["group_var"] == record["group_var"])
            & (cube.population["group"] == record["group"])
        ]
        assert hidden["respondents"].isna().all()


def test_shares_are_rounded_to_a_tenth_of_a_point() -> None:
    table, population = star(1000, 4)
    cube = protect_cube(table, population, margins=MARGINS, k=5)
    shares = cube.table.loc[cube.table["kind"] != "mean", "estimate"].dropna()
    assert len(shares)
    assert np.allclose(shares, shares.round(3))
    assert not np.allclose(table["estimate"].dropna(), table["estimate"].dropna().round(3))


def test_hiding_stays_close_to_the_primary_cells_on_large_data() -> None:
    table, population = star(1000, 4)
    cube = protect_cube(table, population, margins=MARGINS, k=5)
    assert cube.stats["secondary"] <= 2 * max(cube.stats["primary"], 1)
    assert cube.table["suppressed"].mean() < 0.3


def test_missing_values_in_a_star_variable_are_refused() -> None:
    frame = pd.DataFrame({"sex": ["female", None, "male"]})
    with pytest.raises(AnalysisError, match="missing values"):
        population_table(frame, BY[:1], "respondent")


def _multiple_choice_star(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A select_multiple question with one rare option (3 choosers) beside a common one."""
    from reports.analysis import AnalysisPlan, Indicator, run_plan

    frame = star_survey(rows, seed)
    rng = np.random.default_rng(seed)
    frame["aid"] = "common"  # answered by everyone (the text holds the chosen codes)
    frame["aid/common"] = (rng.random(rows) < 0.6).astype(int)
    rare = np.zeros(rows, dtype=int)
    rare[rng.choice(rows, 3, replace=False)] = 1
    frame["aid/rare"] = rare
    plan = AnalysisPlan(
        (Indicator("aid_each", {}, "multiple", column="aid", codes=("common", "rare")),)
    )
    table = run_plan(frame, None, plan, by_override=BY).table
    return table, population_table(frame, BY, "respondent")


@pytest.mark.parametrize(("rows", "seed"), [(400, 5), (1000, 6)])
def test_one_small_category_hides_that_category_only(rows, seed) -> None:
    """Cells, not rows: the rare option's overall count is hidden, the common one's is not,
    and the LP still finds every hidden figure's interval at least k wide."""
    table, population = _multiple_choice_star(rows, seed)
    cube = protect_cube(table, population, k=5)
    overall = cube.table[cube.table["group_var"] == ""].set_index("category")
    assert overall.loc["rare", "suppressed"]
    assert not overall.loc["common", "suppressed"]
    assert overall.loc["common", "estimate"] > 0
    intervals = _attack(cube.table, cube.population, cube.out_known, margins={})
    assert len(intervals) > 0
    narrow = narrow_cells(intervals, cube_truth(table, population), 5)
    assert narrow.empty, narrow.head().to_string()


def _rare_income_star(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The star survey with a rare income category: 3 women and 5 men answer "high"."""
    frame = star_survey(rows, seed)
    frame["income"] = np.where(frame.index % 2 == 0, "low", "mid")
    women = frame.index[frame["sex"] == "female"][:3]
    men = frame.index[frame["sex"] == "male"][:5]
    frame.loc[[*women, *men], "income"] = "high"
    table = run_plan(frame, None, PLAN, by_override=BY).table
    return table, population_table(frame, BY, "respondent")


def _frequency_cells(cube) -> tuple[int, int]:
    """(count cells of the income frequency hidden, rows with a hidden cell and a shown one)."""
    part = cube.table[
        (cube.table["indicator"] == "income") & ~cube.table["category"].isin(["dnk", "pnta"])
    ]
    mixed = part.groupby(["group_var", "group"])["suppressed"].agg(lambda s: 0 < s.sum() < len(s))
    return int(part["suppressed"].sum()), int(mixed.sum())


@pytest.mark.parametrize(("rows", "seed"), [(400, 5), (1000, 6)])
def test_a_frequency_hides_cells_not_rows(rows, seed, monkeypatch) -> None:
    """A small category of a single-choice frequency hides cells (a rectangle of four whose
    other cells are large enough), not the whole row; the LP finds nothing narrower than k."""
    table, population = _rare_income_star(rows, seed)
    cube = protect_cube(table, population, margins=MARGINS, k=5)
    hidden, mixed = _frequency_cells(cube)
    assert mixed > 0  # some rows keep categories published beside hidden ones
    by_sex = cube.table[(cube.table["indicator"] == "income") & (cube.table["group_var"] == "sex")]
    hidden_by_sex = by_sex.set_index(["group", "category"])["suppressed"]
    assert hidden_by_sex[("female", "high")]
    assert not hidden_by_sex[[("female", "low"), ("female", "mid")]].all()
    intervals = _attack(cube.table, cube.population, cube.out_known)
    narrow = narrow_cells(intervals, cube_truth(table, population), 5)
    assert narrow.empty, narrow.head().to_string()
    # Fewer cells hidden than when whole rows were
    monkeypatch.setattr(protection, "_open_cells", lambda block, k: None)
    rows_hidden, _mixed = _frequency_cells(protect_cube(table, population, margins=MARGINS, k=5))
    assert hidden < rows_hidden


def test_the_audit_finds_frequency_cells_shown_without_rectangles(monkeypatch) -> None:
    """Showing every cell but the small ones (no rectangle check): the LP pins hidden cells."""
    monkeypatch.setattr(protection, "_rectangles_hold", lambda table, hidden, k: True)
    table, population = _rare_income_star(1000, 6)
    cube = protect_cube(table, population, margins=MARGINS, k=5)
    intervals = _attack(cube.table, cube.population, cube.out_known)
    narrow = narrow_cells(intervals, cube_truth(table, population), 5)
    assert narrow["key"].map(lambda key: key[1] == "income").any()
