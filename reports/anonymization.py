"""Disclosure control for microdata: generalisation, k-anonymity, local suppression, safe cells.

Pure pandas (DESIGN.md: `reports` never imports the app). Inputs are never mutated.

Conventions
-----------
- An equivalence class is a set of records with the same values of every quasi-identifier.
  A missing value (an unanswered or a suppressed one) counts as a value of its own: "blank"
  matches only "blank". This is the conservative reading: an intruder may know the true value
  behind a blank, so blanks are never treated as wildcards that would enlarge classes.
- A record is at risk when its class has fewer than k records.
- Local suppression blanks quasi-identifier values of at-risk records, one variable at a time
  (by default the one with the most distinct values first, because it splits classes most),
  re-checking after each; records still at risk when all their quasi-identifiers are blank are
  dropped. Values of `linked` columns (from which a blanked value could be recomputed, e.g.
  the answers a derived `generation` is calculated from) are blanked with it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_AGE_BANDS: tuple[tuple[int, int | None], ...] = ((18, 39), (40, 59), (60, 74), (75, None))
DEFAULT_K = 5
# Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# -- formulas -------------------------------------------------------------------------------------


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


# -- generalisation -------------------------------------------------------------------------------


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


# -- k-anonymity ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KAnonymityReport:
    """Which records sit in equivalence classes smaller than k."""

    at_risk_mask: pd.Series  # bool, aligned with the frame's index
    group_sizes: pd.Series  # each record's class size, aligned with the frame's index
    n_at_risk: int
    k: int
    quasi_identifiers: tuple[str, ...]
    n_classes: int
    n_classes_at_risk: int


def _class_ids(df: pd.DataFrame, quasi_identifiers: Sequence[str]) -> tuple[np.ndarray, int]:
    if not quasi_identifiers or df.empty:
        return np.zeros(len(df), dtype=np.int64), (1 if len(df) else 0)
    grouped = df.groupby(list(quasi_identifiers), dropna=False, observed=True, sort=False)
    ids = grouped.ngroup().to_numpy(dtype=np.int64)
    return ids, int(ids.max()) + 1 if len(ids) else 0


def k_anonymity(
    df: pd.DataFrame, quasi_identifiers: Sequence[str], k: int = DEFAULT_K
) -> KAnonymityReport:
    """Class sizes over the quasi-identifiers and the records in classes smaller than k."""
    if k < 1:
        raise ValueError("k must be at least 1")
    missing = [c for c in quasi_identifiers if c not in df.columns]
    if missing:
        raise KeyError(f"Quasi-identifiers not in the data: {', '.join(missing)}")
    ids, n_classes = _class_ids(df, quasi_identifiers)
    counts = np.bincount(ids, minlength=n_classes) if len(ids) else np.zeros(0, dtype=np.int64)
    sizes = counts[ids] if len(ids) else np.zeros(0, dtype=np.int64)
    at_risk = sizes < k
    return KAnonymityReport(
        at_risk_mask=pd.Series(at_risk, index=df.index, name="at_risk"),
        group_sizes=pd.Series(sizes, index=df.index, name="class_size"),
        n_at_risk=int(at_risk.sum()),
        k=k,
        quasi_identifiers=tuple(quasi_identifiers),
        n_classes=n_classes,
        n_classes_at_risk=int((counts < k).sum()) if len(counts) else 0,
    )


@dataclass(frozen=True)
class SuppressionResult:
    """A frame after local suppression, and what it cost."""

    frame: pd.DataFrame
    n_records_suppressed: int  # records with at least one value blanked (dropped ones included)
    n_values_blanked: int  # quasi-identifier values blanked (linked columns not counted)
    n_records_dropped: int
    blanked_by_column: Mapping[str, int] = field(default_factory=dict)
    dropped_index: pd.Index = field(default_factory=lambda: pd.Index([]))
    report: KAnonymityReport | None = None  # the check after suppression


def suppress_at_risk(
    df: pd.DataFrame,
    report: KAnonymityReport,
    quasi_identifiers: Sequence[str],
    *,
    order: Sequence[str] | None = None,
    linked: Mapping[str, Sequence[str]] | None = None,
) -> SuppressionResult:
    """Blank quasi-identifiers of at-risk records until every class has ≥ k; drop the rest.

    `order`: the quasi-identifiers to blank first (default: most distinct values first).
    Quasi-identifiers left out of `order` are never blanked (at-risk records are then dropped).
    """
    quasi_identifiers = list(quasi_identifiers)
    k = report.k
    frame = df.copy()
    if order is None:
        order = sorted(quasi_identifiers, key=lambda c: -frame[c].nunique(dropna=True))
    linked = linked or {}
    at_risk = report.at_risk_mask.reindex(frame.index, fill_value=False).to_numpy(dtype=bool)
    touched = np.zeros(len(frame), dtype=bool)
    blanked: dict[str, int] = {}
    for column in order:
        if not at_risk.any():
            break
        values = frame[column]
        rows = at_risk & values.notna().to_numpy()
        if rows.any():
            frame[column] = _blank(values, rows)
            blanked[column] = int(rows.sum())
            touched |= rows
            for other in linked.get(column, ()):
                if other in frame.columns:
                    frame[other] = _blank(frame[other], rows)
        at_risk = k_anonymity(frame, quasi_identifiers, k).at_risk_mask.to_numpy(dtype=bool)
    dropped = frame.index[at_risk]
    touched |= at_risk
    if len(dropped):
        frame = frame.drop(index=dropped)
    return SuppressionResult(
        frame=frame,
        n_records_suppressed=int(touched.sum()),
        n_values_blanked=sum(blanked.values()),
        n_records_dropped=len(dropped),
        blanked_by_column=blanked,
        dropped_index=dropped,
        report=k_anonymity(frame, quasi_identifiers, k),
    )


def _blank(series: pd.Series, rows: np.ndarray) -> pd.Series:
    """The series with the given rows set to its dtype's missing value."""
    if series.dtype == bool:
        series = series.astype("boolean")  # numpy bool has no missing value
    elif pd.api.types.is_integer_dtype(series.dtype) and not isinstance(
        series.dtype, pd.api.extensions.ExtensionDtype
    ):
        series = series.astype("Int64")
    return series.mask(rows)
