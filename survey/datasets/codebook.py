"""The codebook of an export: each table's columns, labels, types and codes (with SPSS names and
values for .sav files).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from survey.datasets.columns import MULTIPLE_SEPARATOR, RESPONDENT_PREFIX
from survey.datasets.deidentify import EXPORT_TEXTS, PreparedExport

if TYPE_CHECKING:
    from survey.datasets.spss import SavColumn


CODEBOOK_HEADER = ("table", "column", "label", "type", "code", "code_label", "note")


SAV_CODEBOOK_HEADER = (*CODEBOOK_HEADER, "spss_name", "spss_value")


def _column_type(prepared: PreparedExport, column: str, series: pd.Series) -> str:
    if column.startswith("_"):
        return "metadata"
    base = column.removeprefix(RESPONDENT_PREFIX)
    if MULTIPLE_SEPARATOR in base:
        return "select_multiple (0/1)"
    if base.endswith("_band") and base not in prepared.types:
        return "age band"
    return prepared.types.get(base, str(series.dtype))


def codebook_rows(
    prepared: PreparedExport, sav: Mapping[str, SavColumn] | None = None
) -> list[tuple[Any, ...]]:
    """Header, then for every column a row, then one row per code of its categories."""
    rows: list[tuple[Any, ...]] = [SAV_CODEBOOK_HEADER if sav is not None else CODEBOOK_HEADER]
    for table, frame in prepared.tables.items():
        for column in frame.columns:
            series = frame[column]
            spss = sav.get(f"{table}:{column}") if sav is not None else None
            extra: tuple[Any, ...] = (spss.name, "") if spss is not None else ()
            label = prepared.column_labels.get(column, "")
            kind = _column_type(prepared, column, series)
            rows.append(
                (table, column, label, kind, "", "", prepared.notes.get(column, ""), *extra)
            )
            if isinstance(series.dtype, pd.CategoricalDtype):
                labels = prepared.value_labels.get(column, {})
                for category in series.cat.categories:
                    code = str(category)
                    value = spss.values.get(code, "") if spss is not None else None
                    more: tuple[Any, ...] = (spss.name, value) if spss is not None else ()
                    rows.append((table, column, "", "", code, labels.get(code, ""), "", *more))
            elif kind == "select_multiple (0/1)":
                for code, key in (("1", "chosen"), ("0", "not_chosen")):
                    more = (spss.name, int(code)) if spss is not None else ()
                    text = EXPORT_TEXTS[key][prepared.report.language]
                    rows.append((table, column, "", "", code, text, "", *more))
    return rows
