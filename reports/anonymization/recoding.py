"""Global recoding: exact ages into bands, settlements into districts, top codes.

Pure pandas; inputs are never mutated.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_AGE_BANDS: tuple[tuple[int, int | None], ...] = ((18, 39), (40, 59), (60, 74), (75, None))


def band_code(low: int, high: int | None) -> str:
    """The code of an age band: '18_39', '75_plus'."""
    return f"{low}_plus" if high is None else f"{low}_{high}"


def age_band(
    series: pd.Series, bands: Sequence[tuple[int, int | None]] = DEFAULT_AGE_BANDS
) -> pd.Series:
    """Ages as a categorical of band codes ('18_39' … '75_plus'); ages in no band are NA."""
    ages = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
    ages = np.floor(ages)  # completed years: 39.9 is still 39
    codes = np.full(len(ages), -1, dtype=np.int8)
    for position, (low, high) in enumerate(bands):
        inside = ages >= low
        if high is not None:
            inside &= ages <= high
        codes[inside & (codes == -1)] = position
    categories = [band_code(low, high) for low, high in bands]
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=categories),
        index=series.index,
        name=series.name,
    )


def generalise(
    df: pd.DataFrame,
    *,
    settlement_to_district: Mapping[Hashable, Hashable] | None = None,
    drop_columns: Iterable[str] = (),
    age_column: str | None = "age",
    settlement_column: str = "settlement",
    district_column: str = "district",
    age_bands: Sequence[tuple[int, int | None]] = DEFAULT_AGE_BANDS,
) -> pd.DataFrame:
    """Drop columns (free text), settlement → district, exact age → `<age_column>_band`.

    The settlement column is always removed; with a mapping, districts missing in
    `district_column` are filled from it first. The age column is replaced by its band, placed
    where the age was; an existing band column is kept and only its gaps are filled.
    """
    out = df.drop(columns=[c for c in drop_columns if c in df.columns])
    if settlement_column in out.columns:
        if settlement_to_district is not None:
            mapped = out[settlement_column].astype("object").map(settlement_to_district)
            if district_column in out.columns:
                district = out[district_column]
                if isinstance(district.dtype, pd.CategoricalDtype):
                    extra = [
                        d
                        for d in pd.unique(mapped.dropna())
                        if d not in set(district.cat.categories)
                    ]
                    district = district.cat.add_categories(extra)
                out[district_column] = district.where(district.notna(), mapped)
            else:
                out.insert(out.columns.get_loc(settlement_column), district_column, mapped)
        out = out.drop(columns=[settlement_column])
    if age_column is not None and age_column in out.columns:
        band_column = f"{age_column}_band"
        banded = age_band(out[age_column], age_bands)
        if band_column in out.columns:
            existing = out[band_column].astype("object")
            out[band_column] = existing.where(existing.notna(), banded.astype("object")).astype(
                pd.CategoricalDtype(list(banded.cat.categories) + _extra(existing, banded))
            )
            out = out.drop(columns=[age_column])
        else:
            out.insert(out.columns.get_loc(age_column), band_column, banded)
            out = out.drop(columns=[age_column])
    return out


def _extra(existing: pd.Series, banded: pd.Series) -> list[Any]:
    known = set(banded.cat.categories)
    return [v for v in pd.unique(existing.dropna()) if v not in known]


def top_code(series: pd.Series, maximum: float) -> pd.Series:
    """Values above `maximum` set to it (the codebook says 'N or more')."""
    numbers = pd.to_numeric(series, errors="coerce")
    return numbers.where(~(numbers > maximum), maximum)
