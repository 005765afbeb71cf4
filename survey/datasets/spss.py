"""SPSS .sav files (pyreadstat): names sanitised (≤ 64 bytes, ASCII letters, digits and `_`,
starting with a letter, unique ignoring case), a list of integer codes keeps its numbers, others
are numbered 1…n in choice order; `dnk` and `pnta` become 98/99 (or 998/999…), user-missing.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports.anonymization import neutralise_formula
from reports.instrument import SPECIAL_CODES
from survey.datasets.about import about_rows
from survey.datasets.codebook import codebook_rows
from survey.datasets.dataset import Dataset
from survey.datasets.deidentify import EXPORT_TEXTS, ExportError, ExportReport, PreparedExport
from survey.datasets.writers import PathOrFile, prepared_export, write_rows_csv

SPSS_RESERVED = {"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"}


@dataclass(frozen=True)
class SavColumn:
    """A column's SPSS name and, for categoricals, code → number."""

    name: str
    values: Mapping[str, int] = field(default_factory=dict)
    missing: tuple[int, ...] = ()


def spss_name(column: str, taken: set[str]) -> str:
    """A valid, unique SPSS variable name for a column (see the module doc)."""
    ascii_name = column.encode("ascii", "replace").decode("ascii")
    name = re.sub(r"[^A-Za-z0-9_]", "_", ascii_name)
    if name.startswith("_"):
        name = "meta" + name  # `_round` → `meta_round`: SPSS names begin with a letter
    if not name or not name[0].isalpha():
        name = "v" + name
    name = name.rstrip("_") or "v"
    if name.upper() in SPSS_RESERVED:
        name += "_v"
    name = name[:64]
    candidate, number = name, 2
    while candidate.upper() in taken:
        suffix = f"_{number}"
        candidate = name[: 64 - len(suffix)] + suffix
        number += 1
    taken.add(candidate.upper())
    return candidate


def _sav_values(categories: Sequence[str]) -> tuple[dict[str, int], tuple[int, ...]]:
    """Numbers for codes: integer codes keep theirs, others 1…n; dnk/pnta user-missing."""
    plain = [c for c in categories if c not in SPECIAL_CODES]
    if plain and all(re.fullmatch(r"-?\d{1,9}", c) for c in plain):
        values = {c: int(c) for c in plain}
    else:
        values = {c: i for i, c in enumerate(plain, start=1)}
    top = max([*values.values(), 0])
    missing: list[int] = []
    base = 98
    while base <= top + 1:
        base = base * 10 + 8  # 98 → 998 → 9998: above every real code
    for offset, code in enumerate(SPECIAL_CODES):  # dnk is always …8, pnta …9
        if code in categories:
            values[code] = base + offset
            missing.append(base + offset)
    return values, tuple(missing)


def _clip(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut between characters."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def sav_columns(prepared: PreparedExport) -> dict[str, SavColumn]:
    out: dict[str, SavColumn] = {}
    for table, frame in prepared.tables.items():
        taken: set[str] = set()
        for column in frame.columns:
            name = spss_name(column, taken)
            series = frame[column]
            if isinstance(series.dtype, pd.CategoricalDtype):
                values, missing = _sav_values([str(c) for c in series.cat.categories])
                out[f"{table}:{column}"] = SavColumn(name, values, missing)
            else:
                out[f"{table}:{column}"] = SavColumn(name)
    return out


def write_sav_table(
    prepared: PreparedExport, table: str, path: PathOrFile, sav: Mapping[str, Any]
) -> int:
    """One table as an SPSS .sav with variable labels, value labels and user-missing codes."""
    if not isinstance(path, str | os.PathLike):
        # pyreadstat writes to a named file only: write one, then copy it into the stream.
        with tempfile.TemporaryDirectory() as folder:
            named = Path(folder) / f"{table}.sav"
            count = write_sav_table(prepared, table, named, sav)
            with named.open("rb") as handle:
                shutil.copyfileobj(handle, path)
        return count
    import pyreadstat

    frame = prepared.tables[table]
    language = prepared.report.language
    data: dict[str, Any] = {}
    variable_labels: dict[str, str] = {}
    value_labels: dict[str, dict[int | float, str]] = {}
    missing_ranges: dict[str, list[Any]] = {}
    measures: dict[str, str] = {}
    formats: dict[str, str] = {}
    for column in frame.columns:
        info: SavColumn = sav[f"{table}:{column}"]
        series = frame[column]
        name = info.name
        variable_labels[name] = _clip(
            neutralise_formula(prepared.column_labels.get(column, column)), 255
        )
        if isinstance(series.dtype, pd.CategoricalDtype):
            lookup = np.array(
                [*(info.values[str(c)] for c in series.cat.categories), np.nan], dtype=np.float64
            )
            data[name] = lookup[series.cat.codes.to_numpy()]
            labels = prepared.value_labels.get(column, {})
            value_labels[name] = {
                float(number): _clip(neutralise_formula(str(labels.get(code, code))), 120)
                for code, number in info.values.items()
            }
            if info.missing:
                missing_ranges[name] = [float(m) for m in info.missing]
            measures[name] = "nominal"
            formats[name] = "F8.0"
        elif pd.api.types.is_bool_dtype(series.dtype):
            data[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            value_labels[name] = {
                0.0: EXPORT_TEXTS["not_chosen"][language],
                1.0: EXPORT_TEXTS["chosen"][language],
            }
            measures[name] = "nominal"
            formats[name] = "F1.0"
        elif isinstance(series.dtype, pd.DatetimeTZDtype):
            data[name] = series.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[s]")
        elif pd.api.types.is_datetime64_dtype(series.dtype):
            data[name] = series.astype("datetime64[s]")
        elif pd.api.types.is_numeric_dtype(series.dtype):
            data[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            measures[name] = "scale"
        else:
            data[name] = [
                "" if v is None or v is pd.NA or v != v else neutralise_formula(str(v))
                for v in series.tolist()
            ]
    out = pd.DataFrame(data)
    pyreadstat.write_sav(
        out,
        os.fspath(path),
        file_label=_clip(prepared.title, 64),
        column_labels=variable_labels,
        variable_value_labels=value_labels,
        missing_ranges=missing_ranges,
        variable_measure=measures,
        variable_format=formats,
        # SPSS keeps notes as 80-byte document lines.
        note=[_clip(f"{d}: {v}", 80) for _k, d, v in about_rows(prepared)[1:]],
    )
    return len(frame)


def export_sav(
    source: Dataset | PreparedExport,
    out: PathOrFile,
    *,
    repeat_outs: Mapping[str, PathOrFile] | None = None,
    codebook_out: PathOrFile | None = None,
    **options: Any,
) -> ExportReport:
    """Respondents as .sav to `out`; repeats (`{'member': target}`) and codebook CSV if given."""
    prepared = prepared_export(source, "sav", options)
    sav = sav_columns(prepared)
    write_sav_table(prepared, "respondents", out, sav)
    for name, target in (repeat_outs or {}).items():
        if name not in prepared.tables:
            raise ExportError(f"This instrument has no repeat {name!r}.")
        write_sav_table(prepared, name, target, sav)
    if codebook_out is not None:
        write_rows_csv(codebook_rows(prepared, sav), codebook_out)
    return prepared.report
