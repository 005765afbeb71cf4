"""k-anonymity and local suppression of quasi-identifiers.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DEFAULT_K = 5


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


def _value_codes(series: pd.Series) -> tuple[np.ndarray, int]:
    """A column's values as codes 0…size-1, missing values (any kind) as code 0."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy().astype(np.int64) + 1, len(series.cat.categories) + 1
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes.astype(np.int64) + 1, len(uniques) + 1


def class_ids(df: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Each row's equivalence class over the columns, numbered in order of first appearance:
    what `df.groupby(columns, dropna=False, observed=True, sort=False).ngroup()` gives, from
    the columns' codes combined into one integer per row (a blank is a value of its own)."""
    if not columns:
        return np.zeros(len(df), dtype=np.int64)
    key: np.ndarray | None = None
    span = 1
    for column in columns:
        codes, size = _value_codes(df[column])
        if key is None:
            key, span = codes, size
            continue
        if span * size >= 2**62:  # renumber the classes so far before the key overflows
            compact, uniques = pd.factorize(key)
            key, span = compact.astype(np.int64), len(uniques)
        key = key * size + codes
        span *= size
    assert key is not None
    return pd.factorize(key)[0].astype(np.int64)


def _class_ids(df: pd.DataFrame, quasi_identifiers: Sequence[str]) -> tuple[np.ndarray, int]:
    if not quasi_identifiers or df.empty:
        return np.zeros(len(df), dtype=np.int64), (1 if len(df) else 0)
    ids = class_ids(df, list(quasi_identifiers))
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
