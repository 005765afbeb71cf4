"""Change between two rounds of the same indicator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports.analysis.errors import AnalysisError
from reports.analysis.estimators.common import ProportionSpec, _check_frame
from reports.analysis.estimators.proportions import proportion
from reports.analysis.groups import (
    code_label,
    group_codes,
    label_mask,
    normalise_by,
)
from reports.analysis.intervals import (
    newcombe_bounds,
)

ROUND_COLUMNS = (
    "group_var",
    "group",
    "first",
    "second",
    "estimate_first",
    "estimate_second",
    "estimate",
    "ci_low",
    "ci_high",
    "n1",
    "n2",
    "count1",
    "count2",
    "effective_n1",
    "effective_n2",
)


def round_difference(
    df: pd.DataFrame,
    indicator: ProportionSpec,
    *,
    round_column: str = "_round",
    first: str,
    second: str,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Change of a proportion from round `first` to round `second` with Newcombe's CI.

    estimate = second − first. The interval treats the rounds as independent samples; with
    weights each round's share is carried on its Kish effective n.
    """
    _check_frame(df)
    if round_column not in df.columns:
        raise AnalysisError(f"Round column '{round_column}' is not in the data.")
    round_codes, round_labels = group_codes(df[round_column])
    results = {}
    for name in (first, second):
        chosen = label_mask(round_codes, round_labels, code_label(name))
        if not chosen.any():
            raise AnalysisError(f"No rows of round '{name}' in column '{round_column}'.")
        results[name] = proportion(
            df[chosen], indicator, by=by, weight=weight, confidence=confidence
        )
    keys = ["group_var", "group"]
    one, two = (results[name].set_index(keys) for name in (first, second))
    # Groups seen in one round only (text columns) still get a row, inside their own block
    order = {name: index for index, name in enumerate(["", *normalise_by(by)])}
    index = list(dict.fromkeys([*one.index, *two.index]))
    index.sort(key=lambda key: order[key[0]])
    merged = one.reindex(index).add_suffix("_1").join(two.reindex(index).add_suffix("_2"))
    merged = merged.reset_index()
    p1, p2 = merged["estimate_1"].to_numpy(float), merged["estimate_2"].to_numpy(float)
    e1, e2 = merged["effective_n_1"].to_numpy(float), merged["effective_n_2"].to_numpy(float)
    # Successes on the effective-n scale, as for the Wilson intervals of each round
    x1, x2 = np.nan_to_num(p1) * np.nan_to_num(e1), np.nan_to_num(p2) * np.nan_to_num(e2)
    diff, low, high = newcombe_bounds(x2, np.nan_to_num(e2), x1, np.nan_to_num(e1), confidence)
    return pd.DataFrame(
        {
            "group_var": merged["group_var"].astype(str),
            "group": merged["group"].astype(str),
            "first": str(first),
            "second": str(second),
            "estimate_first": p1,
            "estimate_second": p2,
            "estimate": diff,
            "ci_low": low,
            "ci_high": high,
            "n1": merged["n_1"],
            "n2": merged["n_2"],
            "count1": merged["count_1"],
            "count2": merged["count_2"],
            "effective_n1": e1,
            "effective_n2": e2,
        },
        columns=list(ROUND_COLUMNS),
    )
