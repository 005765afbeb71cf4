"""Timings of the analysis estimators on synthetic survey frames (10k, 100k and 1M rows).

Run: .venv/bin/python bench/analysis.py [rows ...]

With --plan N: the default instrument's whole analysis plan (every indicator with its own
disaggregations, as `survey indicators` computes it) on N demo submissions, CPU seconds, once
without a design (Kish / Wilson) and once with a synthetic design (weights, district strata,
settlement clusters: Taylor linearisation). The database is built by bench/dataset.py's `fill`
in --keep (default: a temporary folder).

    .venv/bin/python bench/analysis.py --plan 100000 --keep /tmp/birge-plan
"""

from __future__ import annotations

import math
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


def plan_benchmark(rows: int, keep: str | None) -> None:
    """CPU time of the full analysis plan on `rows` demo submissions, without and with a design."""
    import os
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import dataset as dataset_bench

    folder = Path(keep or tempfile.mkdtemp(prefix="birge-plan-"))
    dataset_bench.fill(folder, rows)
    app = dataset_bench.make_app(folder)
    with app.app_context():
        from sqlalchemy import select

        from survey.datasets.dataset import load_dataset
        from survey.extensions import db
        from survey.instruments.analysis_plan import build_plan
        from survey.instruments.models import Instrument
        from survey.instruments.xlsform import load_xlsform

        instrument = db.session.execute(select(Instrument)).scalars().first()
        data = load_dataset(list(instrument.versions), include_demo=True)
        # The plan of this checkout's default instrument (the database keeps the one it was
        # filled with), so that an older checkout runs its own plan on the same data
        workbook = (
            Path(dataset_bench.ROOT) / "survey/instruments/default/birge_needs_assessment.xlsx"
        )
        plan, _problems = build_plan(load_xlsform(workbook.read_bytes()).spec)
    respondents, members = data.respondents, data.members
    rng = np.random.default_rng(7)
    respondents = respondents.assign(_design_weight=rng.uniform(0.5, 3.0, len(respondents)))
    print(
        f"{len(respondents):,} respondents, {len(members):,} members, "
        f"{len(plan.indicators)} indicators; load average {os.getloadavg()[0]:.2f}"
    )
    runs = [("no design (Kish / Wilson)", plan)]
    try:
        from reports.analysis import SurveyDesign

        design = SurveyDesign("_design_weight", "district", "settlement")
        runs.append(("design: weights, strata, clusters (Taylor)", replace(plan, design=design)))
    except ImportError:  # the code before design-based intervals
        pass
    from reports.analysis import run_plan

    for label, chosen in runs:
        best = math.inf
        for _ in range(2):
            start = time.process_time()
            result = run_plan(respondents, members, chosen)
            best = min(best, time.process_time() - start)
        print(f"  full plan, {label:<44} {best:7.2f} CPU s ({len(result.table):,} rows)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--plan"]:
        size = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
        where = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
        plan_benchmark(size, where)
    else:
        main([int(arg) for arg in sys.argv[1:]] or [10_000, 100_000, 1_000_000])
