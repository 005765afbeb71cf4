"""Aggregate indicators as HXL-tagged CSV (plain UTF-8, the hashtag row under the header)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reports.anonymization import neutralise_formula
from survey.datasets.deidentify import ExportError
from survey.datasets.writers import PathOrFile, binary_target

HXL_COLUMNS: dict[str, str] = {
    "indicator": "#indicator",
    "group": "#meta+group",
    "group_value": "#meta+value",
    "estimate": "#value+estimate",
    "ci_low": "#value+ci_low",
    "ci_high": "#value+ci_high",
    "n": "#reached",
    "suppressed": "#meta+suppressed",
}


def export_indicators_hxl(
    table: pd.DataFrame,
    path: PathOrFile,
    *,
    columns: Mapping[str, str] | None = None,
) -> int:
    """An already-suppressed indicator table as HXL-tagged CSV; returns the rows written.

    `columns` maps this table's column names to the keys of HXL_COLUMNS when they differ
    (e.g. {'value': 'group_value'}). Refuses a table where a row marked suppressed still
    shows an estimate, interval or n: suppression must happen before publishing.
    """
    renamed = table.rename(columns=dict(columns or {}))
    missing = [c for c in ("indicator", "estimate") if c not in renamed.columns]
    if missing:
        raise ExportError(f"The indicator table lacks {', '.join(missing)}.")
    present = [c for c in HXL_COLUMNS if c in renamed.columns]
    if "suppressed" in renamed.columns:
        hidden = renamed["suppressed"].fillna(False).astype(bool)
        shown = [c for c in ("estimate", "ci_low", "ci_high", "n") if c in renamed.columns]
        leaks = hidden & renamed[shown].notna().any(axis=1)
        if leaks.any():
            raise ExportError(
                f"{int(leaks.sum())} suppressed row(s) still show values: suppress first."
            )
    rows: list[list[Any]] = [present, [HXL_COLUMNS[c] for c in present]]
    for record in renamed[present].itertuples(index=False, name=None):
        rows.append([_hxl_cell(v) for v in record])
    _write_hxl(rows, path)
    return len(renamed)


def _hxl_cell(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, float | np.floating):
        number = float(value)
        # A count stored as float (a column with gaps) is still written as a whole number.
        return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
    return neutralise_formula(str(value))


def _write_hxl(rows: Sequence[Sequence[Any]], path: PathOrFile) -> None:
    # HXL tools read plain UTF-8 (no byte-order mark), so this is not write_rows_csv.
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerows(rows)
    with binary_target(path) as handle:
        handle.write(text.getvalue().encode("utf-8"))
