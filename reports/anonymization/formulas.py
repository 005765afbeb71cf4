"""Spreadsheet formulas neutralised in every text cell that leaves the server (OWASP "CSV
injection")."""

from __future__ import annotations

from typing import Any

import pandas as pd

# Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: Any) -> Any:
    """A string that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells, category names and column names are neutralised."""
    out = {}
    for column in frame.columns:
        series = frame[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            categories = [neutralise_formula(c) for c in series.cat.categories]
            if categories != list(series.cat.categories):
                series = series.cat.rename_categories(categories)
        elif pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
            series = series.map(neutralise_formula, na_action="ignore")
        out[neutralise_formula(column)] = series
    return pd.DataFrame(out, index=frame.index)
