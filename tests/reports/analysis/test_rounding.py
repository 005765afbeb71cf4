"""Published estimates are rounded (0.1 percentage point for shares)."""

from __future__ import annotations

import pandas as pd
import pytest

from reports.analysis import ProportionSpec, proportion
from reports.analysis.rounding import round_published


def test_a_share_printed_in_full_gives_the_count_back_and_a_rounded_one_does_not() -> None:
    # 17 of 1,237 answered yes: the full estimate × n is exactly 17; rounded to 0.1 point
    # (1.4 %) it only says 16.7 to 17.9
    people = pd.DataFrame({"x": ["yes"] * 17 + ["no"] * 1220})
    table = proportion(people, ProportionSpec({"column": "x", "in": ["yes"]}))
    table.insert(0, "kind", "proportion")
    assert table.estimate.iloc[0] * 1237 == pytest.approx(17, abs=1e-9)
    published = round_published(table)
    assert published.estimate.iloc[0] == 0.014
    assert published.ci_low.iloc[0] == round(table.ci_low.iloc[0], 3)
    assert abs(published.estimate.iloc[0] * 1237 - 17) > 0.1


def test_means_keep_two_decimals_and_the_input_is_not_changed() -> None:
    table = pd.DataFrame(
        {"kind": ["mean", "points"], "estimate": [1234.5678, 1.31349], "ci_low": [1.0, 1.0]}
    )
    before = table.copy()
    published = round_published(table)
    assert published.estimate.tolist() == [1234.57, 1.31]
    pd.testing.assert_frame_equal(table, before)
