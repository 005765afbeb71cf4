"""The audit that decides every hidden figure agrees with min and max solved for each one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports.analysis import apply_to_estimates
from reports.analysis.audit import (
    Knowledge,
    cube_knowledge,
    decide_intervals,
    protection_intervals,
)
from reports.analysis.protection import protect_cube
from tests.reports.analysis.star import MARGINS, star

K = 5


def _published(rows: int, seed: int, protected: bool) -> Knowledge:
    table, population = star(rows, seed)
    if protected:
        cube = protect_cube(table, population, margins=MARGINS, k=K)
        return cube_knowledge(cube.table, cube.population, cube.out_known, margins=MARGINS)
    # Each indicator suppressed on its own: the programme pins many hidden figures
    published = apply_to_estimates(table, k=K)
    published.loc[published["suppressed"], "count"] = np.nan
    out_known = {indicator: True for indicator in table["indicator"].unique()}
    return cube_knowledge(published.assign(unit="respondent"), population, out_known)


@pytest.mark.parametrize(("rows", "seed", "protected"), [(200, 3, True), (200, 3, False)])
def test_every_hidden_figure_is_decided_as_the_exact_programme_decides(
    rows, seed, protected
) -> None:
    knowledge = _published(rows, seed, protected)
    decided = decide_intervals(knowledge, K).set_index("key")
    exact = protection_intervals(knowledge).set_index("key")
    hidden = [key for key, value in knowledge.values.items() if value is None]
    assert len(decided) == len(hidden) == len(exact)
    # Fewer programmes than min and max for each figure
    assert decided.attrs["solves"] < 2 * len(hidden)
    merged = exact.join(decided.add_suffix("_decided"))
    width = merged["high"] - merged["low"]
    decided_width = merged["high_decided"] - merged["low_decided"]
    pd.testing.assert_series_equal(width < K - 1e-6, decided_width < K - 1e-6, check_names=False)
    points = merged[merged["how_decided"] == "points"]
    assert (points["low"] <= points["low_decided"] + 1e-6).all()
    assert (points["high"] >= points["high_decided"] - 1e-6).all()
    bounds = merged[merged["how_decided"] == "bounds"]
    assert (bounds["low"] >= bounds["low_decided"] - 1e-6).all()
    assert (bounds["high"] <= bounds["high_decided"] + 1e-6).all()
    assert set(merged["how_decided"]) <= {"points", "bounds", "exact"}


def test_bounds_decide_a_row_whose_total_is_small() -> None:
    """yes + no = 3 with both hidden: narrow without solving anything."""
    knowledge = Knowledge()
    knowledge.figure("yes", None)
    knowledge.figure("no", None)
    knowledge.figure("n", 3)
    knowledge.equal.append((("yes", "no"), "n"))
    decided = decide_intervals(knowledge, K)
    assert list(decided["how"]) == ["bounds", "bounds"]
    assert list(decided["high"]) == [3.0, 3.0]
    assert decided.attrs["solves"] == 0


def test_two_solutions_show_a_wide_figure() -> None:
    """yes + no = 40: two solutions (0 and 40) show both figures wide."""
    knowledge = Knowledge()
    knowledge.figure("yes", None)
    knowledge.figure("no", None)
    knowledge.figure("n", 40)
    knowledge.equal.append((("yes", "no"), "n"))
    decided = decide_intervals(knowledge, K)
    assert list(decided["how"]) == ["points", "points"]
    assert list(decided["high"] - decided["low"]) == [40.0, 40.0]


def test_one_unbounded_solve_shows_every_figure_its_ray_raises_wide() -> None:
    """yes + no = n with all three hidden: a maximisation is unbounded, its ray raises two."""
    knowledge = Knowledge()
    for key in ("yes", "no", "n"):
        knowledge.figure(key, None)
    knowledge.equal.append((("yes", "no"), "n"))
    decided = decide_intervals(knowledge, K)
    assert list(decided["how"]) == ["points", "points", "points"]
    assert list(decided["low"]) == [0.0, 0.0, 0.0]
    assert np.isinf(decided["high"]).all()
    # The ray of maximising yes raises n too: two unbounded solves for three figures, and no
    # minimisation after them (min and max per figure: 2 + 2 × 3 solves)
    assert decided.attrs["solves"] <= 6
