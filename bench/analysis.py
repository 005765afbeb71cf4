"""Timings of the analysis estimators on synthetic survey frames (10k, 100k and 1M rows).

Run: .venv/bin/python bench/analysis.py [rows ...]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from reports.analysis import (
    ProportionSpec,
    frequencies,
    mean,
    median,
    proportion,
    ranking,
    severity,
    suppress_small_cells,
)

BY = ["sex", "age_band", "generation", "district", "urban"]
NEEDS = ["medical", "medicines", "screening", "income", "housing", "environment", "dnk"]


def synthetic(rows: int, *, categorical: bool, seed: int = 1) -> pd.DataFrame:
    """A wide frame shaped like the default instrument's respondents."""
    rng = np.random.default_rng(seed)

    def pick(codes: list[str], p: list[float] | None = None) -> pd.Series:
        values = rng.choice(codes, rows, p=p)
        return pd.Series(pd.Categorical(values, categories=codes) if categorical else values)

    return pd.DataFrame(
        {
            "sex": pick(["female", "male", "pnta"], [0.55, 0.44, 0.01]),
            "age_band": pick(["18_39", "40_59", "60_74", "75_plus"]),
            "generation": pick(["g1", "g2", "g3", "none"]),
            "district": pick(
                [
                    "abai",
                    "aksuat",
                    "ayagoz",
                    "beskaragai",
                    "borodulikha",
                    "zharma",
                    "kokpekti",
                    "urzhar",
                    "semey",
                    "kurchatov",
                ]
            ),
            "urban": pick(["urban", "rural"]),
            "unmet": pick(["yes", "no", "dnk", "pnta"], [0.3, 0.6, 0.07, 0.03]),
            "disability": pick(["yes", "no"], [0.2, 0.8]),
            "cost": rng.gamma(2.0, 100.0, rows),
            "need_1": pick(NEEDS),
            "need_2": pick(NEEDS),
            "need_3": pick(NEEDS),
            "_weight": rng.uniform(0.5, 2.0, rows),
        }
    )


def timed(label: str, action: Callable[..., object], *args: object, **options: object) -> None:
    """Print the best of three runs of action(*args, **options), in milliseconds."""
    best = min(_once(action, args, options) for _ in range(3))
    print(f"  {label:<42} {best * 1000:9.1f} ms")


def _once(action: Callable[..., object], args: tuple, options: dict) -> float:
    start = time.perf_counter()
    action(*args, **options)
    return time.perf_counter() - start


def main(sizes: list[int]) -> None:
    """Time each estimator on frames of each size, with categorical and with text columns."""
    spec = ProportionSpec({"column": "unmet", "in": ["yes"]}, answered_column="unmet")
    severe = {"all": [{"column": "unmet", "in": ["yes"]}, {"column": "disability", "in": ["yes"]}]}
    rules = {"health": [(3, {"column": "unmet", "in": ["yes"]}), (4, severe)]}
    needs = ["need_1", "need_2", "need_3"]
    for rows in sizes:
        for categorical in (True, False):
            df = synthetic(rows, categorical=categorical)
            kind = "categorical" if categorical else "text"
            print(f"{rows:,} rows, {kind} columns")
            timed("proportion, by 5 columns", proportion, df, spec, by=BY)
            timed(
                "proportion, by 5 columns, weighted", proportion, df, spec, by=BY, weight="_weight"
            )
            timed("frequencies, by 5 columns", frequencies, df, "unmet", by=BY)
            timed("mean, by 5 columns, weighted", mean, df, "cost", by=BY, weight="_weight")
            timed("median, by 5 columns", median, df, "cost", by=BY)
            timed("ranking of 3 needs, by 5 columns", ranking, df, needs, by=BY)
            timed("severity (2 rules)", severity, df, rules)
    sample = synthetic(2_000, categorical=True)
    table = pd.crosstab(sample.district, sample.generation, margins=True)
    timed(
        "suppress_small_cells, 10 × 4 cross-tab",
        suppress_small_cells,
        table,
        row_total="All",
        col_total="All",
    )


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [10_000, 100_000, 1_000_000])
