"""A small synthetic survey and its star table, shared by the protection and audit tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports.analysis import AnalysisPlan, Indicator, parse_condition_text, run_plan
from reports.analysis.protection import population_table

BY = ("sex", "age_band", "district")
MARGINS = {"sample_district": "district"}
PLAN = AnalysisPlan(
    (
        Indicator(
            "unmet",
            {},
            "proportion",
            numerator=parse_condition_text("unmet in (yes)"),
            answered="unmet",
        ),
        Indicator(
            "cancer",
            {},
            "proportion",
            numerator=parse_condition_text("cancer in (yes)"),
            answered="cancer",
        ),
        Indicator(
            "cancer_women",
            {},
            "proportion",
            numerator=parse_condition_text("cancer in (yes)"),
            denominator=parse_condition_text("sex in (female)"),
            answered="cancer",
        ),
        Indicator("income", {}, "frequency", column="income", codes=("low", "mid", "high")),
        Indicator("age_mean", {}, "mean", column="age"),
        Indicator("sample_district", {}, "frequency", column="district"),
    )
)


def survey(rows: int, seed: int) -> pd.DataFrame:
    """Respondents with skewed categories, so that small cells abound."""
    rng = np.random.default_rng(seed)

    def pick(codes: list[str], p: list[float]) -> np.ndarray:
        return rng.choice(codes, rows, p=p)

    return pd.DataFrame(
        {
            "sex": pick(["female", "male"], [0.55, 0.45]),
            "age_band": pick(["18_39", "40_59", "60_74", "75_plus"], [0.3, 0.3, 0.3, 0.1]),
            "district": pick(list("abcdefgh"), [0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02]),
            "unmet": pick(["yes", "no", "dnk", "pnta"], [0.2, 0.7, 0.07, 0.03]),
            "cancer": pick(["yes", "no", "dnk"], [0.05, 0.93, 0.02]),
            "income": pick(["low", "mid", "high", "dnk", "pnta"], [0.3, 0.4, 0.2, 0.05, 0.05]),
            "age": rng.integers(18, 90, rows).astype(float),
        }
    )


def star(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the unsuppressed star table, the respondent counts per group)."""
    frame = survey(rows, seed)
    table = run_plan(frame, None, PLAN, by_override=BY).table
    return table, population_table(frame, BY, "respondent")
