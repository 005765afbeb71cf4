"""Small-cell suppression: examples, the published view, estimator tables, and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.analysis.errors import AnalysisError
from reports.analysis.estimators import ProportionSpec, frequencies, mean, proportion
from reports.analysis.suppression import (
    Relations,
    apply_to_estimates,
    protect,
    shared_within_groups,
    suppress_small_cells,
    suppressed_view,
)

K = 5


def crosstab(cells: list[list[int]]) -> pd.DataFrame:
    """Groups × categories with a 'total' column and an 'All' row, as published."""
    columns = [f"c{j}" for j in range(len(cells[0]))]
    table = pd.DataFrame(cells, columns=columns, index=[f"r{i}" for i in range(len(cells))])
    table["total"] = table.sum(axis=1)
    table.loc["All"] = table.sum(axis=0)
    return table


def test_one_dimensional_frequency_table() -> None:
    table = pd.DataFrame({"count": [10, 3, 12, 25]}, index=["paper", "digital", "never", "Total"])
    result = suppress_small_cells(table, col_total="Total")
    assert result.count_suppressed.tolist() == [True, True, False, False]
    view = suppressed_view(result)
    assert view["count"].tolist() == ["x", "x", 12, 25]


def test_two_dimensional_cross_tab() -> None:
    result = suppress_small_cells(
        crosstab([[10, 7], [3, 8], [12, 1]]), row_total="total", col_total="All"
    )
    assert result.c0_suppressed.tolist() == [False, True, True, False]
    assert result.c1_suppressed.tolist() == [False, True, True, False]
    assert not result.total_suppressed.any()


def test_zeros_are_published_and_never_complements() -> None:
    table = pd.DataFrame({"count": [0, 3, 0, 9, 12]}, index=["a", "b", "c", "d", "Total"])
    result = suppress_small_cells(table, col_total="Total")
    assert result.count_suppressed.tolist() == [False, True, False, True, False]


def test_total_is_hidden_when_it_is_the_only_complement() -> None:
    # Only one non-zero cell besides the small one: its column total must go too
    result = suppress_small_cells(
        crosstab([[3, 0], [0, 0], [0, 20]]), row_total="total", col_total="All"
    )
    assert result.loc["r0", "c0_suppressed"] and result.loc["r0", "total_suppressed"]
    assert result.loc["All", "c0_suppressed"]  # c0 total = 3 is itself small


def test_threshold_is_configurable() -> None:
    table = pd.DataFrame({"count": [8, 9, 20, 37]}, index=["a", "b", "c", "Total"])
    assert not suppress_small_cells(table, col_total="Total").count_suppressed.any()
    assert suppress_small_cells(table, k=10, col_total="Total").count_suppressed.tolist() == [
        True,
        True,
        False,
        False,
    ]


def test_without_totals_only_primary_suppression() -> None:
    table = pd.DataFrame({"count": [10, 3, 12]}, index=["a", "b", "c"])
    assert suppress_small_cells(table).count_suppressed.tolist() == [False, True, False]


@pytest.mark.parametrize("bad", [[1.5, 2.0], [-1, 2], [None, 2]])
def test_counts_must_be_whole_numbers(bad: list) -> None:
    with pytest.raises(AnalysisError):
        suppress_small_cells(pd.DataFrame({"count": bad}, dtype=float))


def test_view_never_holds_the_original_number() -> None:
    result = suppress_small_cells(
        crosstab([[10, 7], [3, 8], [12, 1]]), row_total="total", col_total="All"
    )
    view = suppressed_view(result, marker="<5")
    assert list(view.columns) == ["c0", "c1", "total"]
    hidden = result[["c0_suppressed", "c1_suppressed", "total_suppressed"]].to_numpy()
    assert (view.to_numpy()[hidden] == "<5").all()
    for value in (3, 8, 12, 1):
        assert value not in view.to_numpy()[hidden].tolist()
    assert not np.shares_memory(view.to_numpy(), result.to_numpy())


def test_view_refuses_a_mask_that_misses_a_small_cell() -> None:
    table = pd.DataFrame({"count": [10, 3]})
    mask = pd.DataFrame({"count": [False, False]})
    with pytest.raises(AnalysisError, match="below 5"):
        suppressed_view(table, mask)


def test_estimates_small_group_and_its_complement() -> None:
    estimates = pd.DataFrame(
        {
            "group_var": ["", "district", "district", "district"],
            "group": ["", "Abai", "Urzhar", "Zharma"],
            "estimate": [34 / 58, 15 / 26, 3 / 7, 16 / 25],
            "ci_low": 0.1,
            "ci_high": 0.9,
            "n": [58, 26, 7, 25],
            "count": [34, 15, 3, 16],
        }
    )
    result = apply_to_estimates(estimates)
    assert result.suppressed.tolist() == [False, True, True, False]
    assert result.estimate.isna().tolist() == [False, True, True, False]
    assert result["count"].isna().tolist() == [False, True, True, False]
    assert result.n.tolist() == [58, 26, 7, 25]  # group sizes ≥ k stay
    pd.testing.assert_frame_equal(estimates, estimates.copy())


def test_estimates_share_near_100_percent_reveals_the_rest() -> None:
    estimates = pd.DataFrame(
        {
            "group_var": ["", "sex", "sex"],
            "group": ["", "f", "m"],
            "estimate": [0.96, 0.95, 0.97],
            "n": [100, 40, 60],
            "count": [96, 38, 58],
        }
    )
    result = apply_to_estimates(estimates)
    assert result.suppressed.tolist() == [True, True, True]  # n − count = 4, 2, 2


def test_estimates_tiny_group_hides_n() -> None:
    df = pd.DataFrame({"x": [1.0] * 40 + [2.0] * 3, "g": ["a"] * 40 + ["b"] * 3})
    result = apply_to_estimates(mean(df, "x", by="g"))
    assert result.n.isna().tolist() == [False, True, True]  # 3 and its complement 40
    assert result.suppressed.tolist() == [False, True, True]


def test_frequency_tables_protect_categories_within_groups() -> None:
    df = pd.DataFrame({"q": ["a"] * 10 + ["b"] * 3 + ["c"] * 12})
    result = apply_to_estimates(frequencies(df, "q"))
    assert result.suppressed.tolist()[:3] == [True, True, False]


def test_indicative_rows_keep_their_estimate() -> None:
    df = pd.DataFrame({"x": ["yes"] * 10 + ["no"] * 10})
    result = apply_to_estimates(proportion(df, ProportionSpec({"column": "x", "in": ["yes"]})))
    assert not result.suppressed.iloc[0] and result.indicative.iloc[0]
    assert result.estimate.iloc[0] == 0.5


def test_dnk_counts_are_protected() -> None:
    df = pd.DataFrame({"x": ["yes"] * 20 + ["no"] * 20 + ["dnk"] * 2, "g": ["a", "b"] * 21})
    spec = ProportionSpec({"column": "x", "in": ["yes"]}, answered_column="x")
    result = apply_to_estimates(proportion(df, spec, by="g"))
    assert result.dnk.isna().all()
    assert not result.suppressed.any()


# --- properties ------------------------------------------------------------------------------

small_counts = st.one_of(st.integers(0, 6), st.integers(0, 40))


@st.composite
def tables(draw: st.DrawFn) -> list[list[int]]:
    rows = draw(st.integers(1, 5))
    columns = draw(st.integers(1, 5))
    return [[draw(small_counts) for _ in range(columns)] for _ in range(rows)]


def lines_of(values: np.ndarray) -> list[list[tuple[int, int]]]:
    """Every row and column of the grid with margins: parts first, the total last."""
    rows, columns = values.shape
    return [[(i, j) for j in range(columns)] for i in range(rows)] + [
        [(i, j) for i in range(rows)] for j in range(columns)
    ]


def determined(hidden: np.ndarray, lines: list[list[tuple[int, int]]]) -> set[tuple[int, int]]:
    """Independent check (matrix ranks): hidden cells fixed by the published relations."""
    cells = [tuple(map(int, cell)) for cell in np.argwhere(hidden)]
    if not cells:
        return set()
    position = {cell: index for index, cell in enumerate(cells)}
    rows = []
    for line in lines:
        row = np.zeros(len(cells))
        for cell in line[:-1]:
            if cell in position:
                row[position[cell]] = 1
        if line[-1] in position:
            row[position[line[-1]]] = -1
        rows.append(row)
    matrix = np.array(rows)
    rank = np.linalg.matrix_rank(matrix)
    found = set()
    for cell, index in position.items():
        unit = np.zeros(len(cells))
        unit[index] = 1
        if np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank:
            found.add(cell)
    return found


def check_protection(
    values: np.ndarray, hidden: np.ndarray, lines: list[list[tuple[int, int]]]
) -> None:
    published = values[~hidden]
    assert not ((published >= 1) & (published < K)).any()  # (a)
    for line in lines:
        count = sum(bool(hidden[cell]) for cell in line)
        assert count != 1  # (b)
        total = line[-1]
        if not hidden[total]:
            rest = values[total] - sum(values[cell] for cell in line[:-1] if not hidden[cell])
            for cell in line[:-1]:
                if hidden[cell]:
                    assert values[cell] != rest  # (c)
    assert not determined(hidden, lines)  # (c) across several relations too


@settings(max_examples=150, deadline=None)
@given(tables())
def test_two_dimensional_tables_are_protected(cells: list[list[int]]) -> None:
    table = crosstab(cells)
    result = suppress_small_cells(table, row_total="total", col_total="All")
    columns = list(table.columns)
    hidden = result[[f"{c}_suppressed" for c in columns]].to_numpy()
    values = table.to_numpy()
    check_protection(values, hidden, lines_of(values))
    view = suppressed_view(result)
    assert (view.to_numpy()[~hidden] == values[~hidden]).all()  # (d)
    assert (view.to_numpy()[hidden] == "x").all()


@settings(max_examples=150, deadline=None)
@given(st.lists(small_counts, min_size=1, max_size=8))
def test_one_dimensional_tables_are_protected(counts: list[int]) -> None:
    table = pd.DataFrame(
        {"count": [*counts, sum(counts)]}, index=[*map(str, range(len(counts))), "Total"]
    )
    result = suppress_small_cells(table, col_total="Total")
    values = table[["count"]].to_numpy()
    hidden = result[["count_suppressed"]].to_numpy()
    check_protection(values, hidden, [[(i, 0) for i in range(len(values))]])
    assert (suppressed_view(result)["count"][~hidden[:, 0]] == table["count"][~hidden[:, 0]]).all()


@st.composite
def group_estimates(draw: st.DrawFn) -> pd.DataFrame:
    size = draw(st.integers(1, 4))
    n = [draw(st.integers(0, 30)) for _ in range(size)]
    count = [draw(st.integers(0, value)) for value in n]
    return pd.DataFrame(
        {
            "group_var": ["", *["g"] * size],
            "group": ["", *map(str, range(size))],
            "estimate": 0.5,
            "n": [sum(n), *n],
            "count": [sum(count), *count],
        }
    )


@settings(max_examples=150, deadline=None)
@given(group_estimates())
def test_estimate_tables_are_protected(estimates: pd.DataFrame) -> None:
    result = apply_to_estimates(estimates)
    shown = ~result.suppressed
    for name in ("count", "n"):
        published = result[name].dropna()
        assert not ((published >= 1) & (published < K)).any()
    rest = (result.n - result["count"])[shown]
    assert not ((rest >= 1) & (rest < K)).any()
    assert result.estimate.isna().eq(result.suppressed).all()
    for name in ("count", "n"):
        assert result[name].isna().sum() != 1  # groups add up to the overall row
    hidden_rest = result.suppressed & result.n.notna()
    assert (result["count"].isna() | ~hidden_rest).all()  # n published: count hidden with rest


def test_frequency_rows_of_a_hidden_group_hide_everything() -> None:
    answers = ["a"] * 30 + ["b"] * 10 + ["a", "a", "b", "dnk", "dnk"]
    df = pd.DataFrame({"q": answers, "g": ["x"] * 40 + ["y"] * 5})
    result = apply_to_estimates(frequencies(df, "q", by="g"))
    small = result[result.group == "y"]  # n = 3: every figure of the group goes, dnk rows too
    assert small.n.isna().all() and small["count"].isna().all() and small.dnk.isna().all()
    assert small.suppressed.all()
    assert result[result.group == "x"].n.isna().all()  # the only other group: its complement


def test_severity_summaries_are_protected_per_sector_and_measure() -> None:
    from reports.analysis.estimators import severity, severity_summary

    df = pd.DataFrame({"unmet": ["yes"] * 3 + ["no"] * 40, "sex": ["f"] * 20 + ["m"] * 23})
    scores = severity(df, {"health": [(4, {"column": "unmet", "in": ["yes"]})]})
    result = apply_to_estimates(severity_summary(scores, by="sex"))
    acute = result[(result.sector == "health") & (result.measure == "acute")]
    # 3 acute cases, all women: overall and women hidden; men's 0 of 23 gives nothing away
    assert acute.suppressed.tolist() == [True, True, False]
    assert acute.estimate.isna().tolist() == [True, True, False]


def test_explicit_mask_and_marker() -> None:
    table = pd.DataFrame({"count": [10, 3, 12]}, index=["a", "b", "c"])
    mask = pd.DataFrame({"count": [True, True, False]}, index=["a", "b", "c"])
    assert suppressed_view(table, mask, 5, marker="<5")["count"].tolist() == ["<5", "<5", 12]
    with pytest.raises(AnalysisError, match="rows"):
        suppressed_view(table, mask.reset_index(drop=True))


def test_non_answer_counts_that_differ_by_category_are_each_protected() -> None:
    # Severity rows: "in need" and "acute" leave different people out as unknown. Before, one
    # entry per group stood for both, so the acute row's 2 was published.
    rows = [
        ("", "", "in_need", 100, 50, 20),
        ("", "", "acute", 110, 20, 10),
        ("sex", "female", "in_need", 50, 25, 12),
        ("sex", "female", "acute", 58, 10, 2),
        ("sex", "male", "in_need", 50, 25, 8),
        ("sex", "male", "acute", 52, 10, 8),
    ]
    table = pd.DataFrame(rows, columns=["group_var", "group", "category", "n", "count", "missing"])
    table.insert(0, "kind", "severity")
    table.insert(0, "indicator", "severity_overall")
    table["estimate"] = table["count"] / table["n"]
    published = apply_to_estimates(table, k=5)
    shown = published["missing"].dropna()
    assert not ((shown >= 1) & (shown < 5)).any(), published


def test_a_protected_problem_solved_again_gives_a_fresh_identical_mask() -> None:
    def relations() -> Relations:
        table = Relations()
        cells = [table.entry(("cell", i), value) for i, value in enumerate((2, 7, 9))]
        total = table.entry("total", 18, cost=1)
        table.relation(cells, total)
        return table

    first = protect(relations())
    first[:] = False  # what a caller does with its mask is its own business
    second = protect(relations())
    assert second.tolist() == [True, True, False, False] and second.flags.writeable
    other = relations()
    other.values[0] = 3.0
    other.values[3] = 19.0
    assert protect(other).tolist() == [True, True, False, False]
    assert protect(relations(), k=2).tolist() == [False, False, False, False]


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["", "sex", "district"]),
            st.sampled_from(["", "a", "b"]),
            st.sampled_from([0.0, 1.0, 7.0, float("nan")]),
            st.sampled_from([0.0, 3.0, float("nan")]),
        ),
        max_size=12,
    )
)
def test_shared_within_groups_says_what_the_groupby_said(
    rows: list[tuple[str, str, float, float]],
) -> None:
    # The suppression read this from pandas (one groupby per indicator); the same answers,
    # NaN counting as one value of its own, decide whether a group shares one n entry.
    variables = np.array([row[0] for row in rows], dtype=object)
    groups = np.array([row[1] for row in rows], dtype=object)
    columns = {
        "n": np.array([row[2] for row in rows], dtype=float),
        "dnk": np.array([row[3] for row in rows], dtype=float),
    }
    frame = pd.DataFrame({"v": variables, "g": groups, **columns})
    expected = frame.groupby(["v", "g"]).nunique(dropna=False).le(1).all()
    assert shared_within_groups(variables, groups, columns) == {
        name: bool(expected[name]) for name in columns
    }
