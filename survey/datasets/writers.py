"""CSV and XLSX files of a prepared export: every text cell neutralised against spreadsheet
formulas, CSV as UTF-8 with a byte-order mark (so Excel shows Kazakh and Russian), written in
chunks of rows. A CSV row is joined from few cells: neighbouring columns of few distinct texts
(categories, 0/1 flags, numbers) are one cell, looked up in a table of their texts already
joined by commas (`_Joined`), so a million rows of 200 columns are not 200 million strings.

XLSX: xlsxwriter in `constant_memory` mode makes the workbook (package, styles, sheet names,
header, frozen pane, codebook and about). Its public API costs some 5 µs a cell (type dispatch,
a tuple per cell, attribute lists), so 100,000 interviews (30 million cells) took minutes. The
data rows are therefore encoded here a column at a time (a lookup table per category, the same
XML xlsxwriter writes for each cell type) and handed to the worksheet's row stream, which
xlsxwriter then copies into the sheet as it does its own rows. `_FAST_ROWS` is False when the
installed xlsxwriter lacks what that relies on; the cells then go through `write_row`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import IO, Any

import numpy as np
import pandas as pd
from xlsxwriter.utility import (
    _datetime_to_excel_datetime,
    _preserve_whitespace,
    _utf16_len,
    _utf16_truncate,
    xl_col_to_name,
)
from xlsxwriter.xmlwriter import XMLwriter

from reports.anonymization import neutralise_formula
from survey.datasets.about import about_rows
from survey.datasets.codebook import codebook_rows
from survey.datasets.dataset import Dataset
from survey.datasets.deidentify import ExportError, ExportReport, PreparedExport, prepare_export

CHUNK_ROWS = 20_000


XLSX_MAX_ROWS = 1_048_576  # Excel's limit, header included


PathOrFile = str | os.PathLike[str] | IO[bytes]


_XLSX_STRMAX = 32_767  # Excel's longest cell text, in UTF-16 units (xlsxwriter's xls_strmax)
_escape_control_characters = XMLwriter._escape_control_characters


def _excel_date(value: Any) -> float:
    return _datetime_to_excel_datetime(value, False, False)


def _quote(text: str) -> str:
    """A CSV field (RFC 4180): quoted when it holds a comma, quote or line break."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


class _Column:
    """How one column's values become CSV text and spreadsheet values, a slice at a time."""

    def __init__(self, series: pd.Series, labels: Mapping[str, str] | None) -> None:
        self.series = series
        dtype = series.dtype
        self.kind = "text"
        if isinstance(dtype, pd.CategoricalDtype):
            self.kind = "category"
            self.codes = series.cat.codes.to_numpy()
            names = [str(labels.get(c, c)) if labels else str(c) for c in series.cat.categories]
            shown = [neutralise_formula(n) for n in names]
            self.csv_lut = np.array([*(_quote(n) for n in shown), ""], dtype=object)
            self.xlsx_lut = np.array([*shown, None], dtype=object)
        elif pd.api.types.is_bool_dtype(dtype):
            self.kind = "flag"
        elif isinstance(dtype, pd.DatetimeTZDtype):
            self.kind = "timestamp"
            self.values = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        elif pd.api.types.is_datetime64_dtype(dtype):
            self.kind = "date"
            self.values = series.to_numpy().astype("datetime64[D]")
        elif pd.api.types.is_numeric_dtype(dtype):
            self.kind = "number"
            self.values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            finite = self.values[np.isfinite(self.values)]
            self.integral = bool(np.all(finite == np.floor(finite))) and (
                not len(finite) or float(np.abs(finite).max()) < 2**53
            )

    def _flags(self, start: int, stop: int) -> np.ndarray:
        """0 / 1, and 2 for a missing value; converted once for the whole column."""
        if not hasattr(self, "flags"):
            if self.series.dtype == bool:
                self.flags = self.series.to_numpy().astype(np.int8)
            else:
                self.flags = self.series.to_numpy(dtype=np.int8, na_value=2)
        return self.flags[start:stop]

    def csv(self, start: int, stop: int) -> list[str]:
        if self.kind == "category":
            return self.csv_lut[self.codes[start:stop]].tolist()
        if self.kind == "flag":
            return _FLAG_CSV[self._flags(start, stop)].tolist()
        if self.kind == "number":
            values = self.values[start:stop]
            finite = np.isfinite(values)
            out = np.full(len(values), "", dtype=object)
            if self.integral:
                out[finite] = list(map(str, values[finite].astype(np.int64).tolist()))
            else:
                out[finite] = list(map(repr, values[finite].tolist()))
            return out.tolist()
        if self.kind == "timestamp":
            text = np.datetime_as_string(self.values[start:stop], unit="s")
            return [("" if t == "NaT" else t + "Z") for t in text.tolist()]
        if self.kind == "date":
            text = np.datetime_as_string(self.values[start:stop], unit="D")
            return [("" if t == "NaT" else t) for t in text.tolist()]
        values = self.series.iloc[start:stop].tolist()
        return [
            "" if v is None or v is pd.NA or v != v else _quote(str(neutralise_formula(str(v))))
            for v in values
        ]

    def csv_texts(self) -> list[str] | None:
        """The distinct texts `csv` writes (empty last), which `csv_codes` index: for
        categories, flags and numbers; None for the other kinds (text, dates, times)."""
        if self.kind == "category":
            return self.csv_lut.tolist()
        if self.kind == "flag":
            return _FLAG_CSV.tolist()
        if self.kind != "number":
            return None
        if not hasattr(self, "number_codes"):
            finite = np.isfinite(self.values)
            # Distinct numbers by their bits (0.0 and -0.0 are written differently).
            codes, distinct = pd.factorize(self.values[finite].view(np.int64))
            numbers = np.asarray(distinct, dtype=np.int64).view(np.float64)
            if self.integral:
                texts = list(map(str, numbers.astype(np.int64).tolist()))
            else:
                texts = list(map(repr, numbers.tolist()))
            self.number_codes = np.full(len(self.values), len(texts), dtype=np.int32)
            self.number_codes[finite] = codes
            self.number_texts = [*texts, ""]
        return self.number_texts

    def csv_codes(self, start: int, stop: int) -> np.ndarray:
        """Rows start..stop as codes into `csv_texts`."""
        if self.kind == "category":
            codes = self.codes[start:stop]
            return np.where(codes < 0, len(self.csv_lut) - 1, codes)
        if self.kind == "flag":
            return self._flags(start, stop)
        return self.number_codes[start:stop]

    def xlsx(self, start: int, stop: int) -> list[Any]:
        if self.kind == "category":
            return self.xlsx_lut[self.codes[start:stop]].tolist()
        if self.kind == "flag":
            return _FLAG_XLSX[self._flags(start, stop)].tolist()
        if self.kind == "number":
            values = self.values[start:stop]
            out = np.full(len(values), None, dtype=object)
            finite = np.isfinite(values)
            if self.integral:
                out[finite] = values[finite].astype(np.int64).tolist()
            else:
                out[finite] = values[finite].tolist()
            return out.tolist()
        if self.kind == "timestamp":
            return [t or None for t in self.csv(start, stop)]
        if self.kind == "date":
            return self.values[start:stop].tolist()  # datetime.date, None for NaT
        values = self.series.iloc[start:stop].tolist()
        return [
            None if v is None or v is pd.NA or v != v else neutralise_formula(str(v))
            for v in values
        ]

    def xlsx_xml(self, start: int, stop: int, date_style: int) -> list[str | None]:
        """Each cell's XML after `<c r="A1` (as xlsxwriter writes it); None for an empty cell."""
        if self.kind == "category":
            if not hasattr(self, "xml_lut"):
                bodies = [_xml_text(n) if n else None for n in self.xlsx_lut[:-1]]
                self.xml_lut = np.array([*bodies, None], dtype=object)
            return self.xml_lut[self.codes[start:stop]].tolist()
        if self.kind == "flag":
            return _FLAG_XML[self._flags(start, stop)].tolist()
        if self.kind == "date":
            style = f'" s="{date_style}"><v>'
            return [
                None if v is None else f"{style}{_excel_date(v):.16G}</v></c>"
                for v in self.xlsx(start, stop)
            ]
        return [
            None
            if v is None or v == ""  # xlsxwriter writes nothing for an empty string either
            else (_xml_text(v) if type(v) is str else f'"><v>{v:.16G}</v></c>')
            for v in self.xlsx(start, stop)
        ]


def _xml_text(text: str) -> str:
    """An inline string cell's XML, escaped and truncated exactly as xlsxwriter does it."""
    if len(text) > _XLSX_STRMAX // 2 and _utf16_len(text) > _XLSX_STRMAX:
        text = _utf16_truncate(text, _XLSX_STRMAX)
    text = _escape_control_characters(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
    return f'" t="inlineStr"><is><t{space}>{text}</t></is></c>'


_FLAG_CSV = np.array(["0", "1", ""], dtype=object)


_FLAG_XML = np.array(['"><v>0</v></c>', '"><v>1</v></c>', None], dtype=object)


_FLAG_XLSX = np.array([0, 1, None], dtype=object)


def _columns(prepared: PreparedExport, table: str, labels: bool) -> list[_Column]:
    frame = prepared.tables[table]
    return [
        _Column(frame[c], prepared.value_labels.get(c) if labels else None) for c in frame.columns
    ]


@contextlib.contextmanager
def binary_target(target: PathOrFile) -> Iterator[IO[bytes]]:
    if isinstance(target, str | os.PathLike):
        with open(target, "wb") as handle:
            yield handle
    else:
        yield target


def prepared_export(
    source: Dataset | PreparedExport, fmt: str, options: Mapping[str, Any]
) -> PreparedExport:
    if isinstance(source, PreparedExport):
        if options:
            raise TypeError("Options go to prepare_export() when passing a PreparedExport.")
        return replace(source, report=replace(source.report, format=fmt))
    return prepare_export(source, fmt=fmt, **options)


def write_csv_table(
    prepared: PreparedExport, table: str, out: PathOrFile, *, chunk_rows: int = CHUNK_ROWS
) -> int:
    """One table as UTF-8 CSV (with BOM), written chunk by chunk; returns the rows written."""
    frame = prepared.tables[table]
    columns = _joined_columns(_columns(prepared, table, prepared.report.labels))
    header = ",".join(_quote(str(neutralise_formula(c))) for c in frame.columns)
    with binary_target(out) as handle:
        handle.write(("\ufeff" + header + "\r\n").encode("utf-8"))
        for start in range(0, len(frame), chunk_rows):
            stop = min(start + chunk_rows, len(frame))
            cells = [column.csv(start, stop) for column in columns]
            lines = map(",".join, zip(*cells, strict=True))
            handle.write(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return len(frame)


_JOINED_TEXTS = 4096  # at most this many texts in the table of a run of joined columns


class _Joined:
    """Neighbouring columns of few distinct texts written as one: each row's codes make one
    code into a table of their texts already joined by commas, so a row is joined from a
    few cells instead of one per column (the same text: joining is associative)."""

    def __init__(self, columns: list[_Column]) -> None:
        self.columns = columns
        texts = [column.csv_texts() or [] for column in columns]
        self.sizes = [len(t) for t in texts]
        self.texts = np.array(list(map(",".join, itertools.product(*texts))), dtype=object)

    def csv(self, start: int, stop: int) -> list[str]:
        code = np.zeros(stop - start, dtype=np.int64)
        for column, size in zip(self.columns, self.sizes, strict=True):
            code *= size
            code += column.csv_codes(start, stop)
        return self.texts[code].tolist()


def _joined_columns(columns: Sequence[_Column]) -> list[_Column | _Joined]:
    """The columns, runs of neighbours with few distinct texts joined (`_Joined`)."""
    out: list[_Column | _Joined] = []
    run: list[_Column] = []
    size = 1
    for column in [*columns, None]:  # None: the end closes the last run
        texts = column.csv_texts() if column is not None else None
        if texts is None or size * len(texts) > _JOINED_TEXTS:
            if len(run) > 1:
                out.append(_Joined(run))
            else:
                out += run
            run, size = [], 1
        if column is None:
            break
        if texts is None or len(texts) > _JOINED_TEXTS:
            out.append(column)
            continue
        run.append(column)
        size *= len(texts)
    return out


def write_rows_csv(rows: Sequence[Sequence[Any]], out: PathOrFile) -> None:
    """A small table (codebook, about) as CSV, every cell neutralised."""
    text = io.StringIO()
    text.write("\ufeff")
    writer = csv.writer(text, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise_formula(v) if isinstance(v, str) else v for v in row])
    with binary_target(out) as handle:
        handle.write(text.getvalue().encode("utf-8"))


def export_csv(
    source: Dataset | PreparedExport,
    out: PathOrFile,
    *,
    repeat_outs: Mapping[str, PathOrFile] | None = None,
    codebook_out: PathOrFile | None = None,
    about_out: PathOrFile | None = None,
    **options: Any,
) -> ExportReport:
    """Respondents as CSV to `out`; repeats (`{'member': path}`), codebook and about if given.

    Options: labels, language, deidentify, k (see prepare_export).
    """
    prepared = prepared_export(source, "csv", options)
    write_csv_table(prepared, "respondents", out)
    for name, target in (repeat_outs or {}).items():
        if name not in prepared.tables:
            raise ExportError(f"This instrument has no repeat {name!r}.")
        write_csv_table(prepared, name, target)
    if codebook_out is not None:
        write_rows_csv(codebook_rows(prepared), codebook_out)
    if about_out is not None:
        write_rows_csv(about_rows(prepared), about_out)
    return prepared.report


def _sheet_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "sheet"
    candidate, number = base, 2
    while candidate.lower() in taken:
        suffix = f" ({number})"
        candidate = base[: 31 - len(suffix)] + suffix
        number += 1
    taken.add(candidate.lower())
    return candidate


def _write_rows(sheet: Any, columns: list[_Column], first: int, last: int) -> None:
    """Rows first..last of a table from sheet row 1 on, through xlsxwriter's write_row."""
    row_number = 1
    for start in range(first, last, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, last)
        cells = [column.xlsx(start, stop) for column in columns]
        for values in zip(*cells, strict=True):
            sheet.write_row(row_number, 0, values)
            row_number += 1


def _fast_rows_supported() -> bool:
    """Whether this xlsxwriter has the constant-memory row stream _stream_rows writes to."""
    import xlsxwriter.format
    import xlsxwriter.worksheet

    sheet = xlsxwriter.worksheet.Worksheet
    return all(
        hasattr(sheet, name) for name in ("_write_single_row", "_check_dimensions", "_opt_close")
    ) and hasattr(xlsxwriter.format.Format, "_get_xf_index")


def _stream_rows(
    sheet: Any, columns: list[_Column], first: int, last: int, date_style: int
) -> None:
    """Rows first..last of a table from sheet row 1 on, as XML in the sheet's row stream.

    The header (row 0) is flushed first; afterwards the sheet's dimensions and current row are
    set as if each cell had been written through the API, so closing works unchanged.
    """
    sheet._write_single_row(1)  # writes the pending header row, as a write to row 1 would
    prefixes = [f'<c r="{xl_col_to_name(i)}' for i in range(len(columns))]
    row_number, written = 1, 0
    for start in range(first, last, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, last)
        cells = [column.xlsx_xml(start, stop, date_style) for column in columns]
        lines = []
        for bodies in zip(*cells, strict=True):
            r = str(row_number + 1)
            row = "".join([p + r + b for p, b in zip(prefixes, bodies, strict=True) if b])
            if row:  # like xlsxwriter, no element (nor dimension) for a row without a value
                lines.append(f'<row r="{r}">{row}</row>')
                written = row_number
            row_number += 1
        sheet.fh.write("".join(lines))
    if written:
        sheet._check_dimensions(written, len(columns) - 1)
        sheet.previous_row = written


def export_xlsx(
    source: Dataset | PreparedExport, out: PathOrFile, *, fast_rows: bool = True, **options: Any
) -> ExportReport:
    """One workbook: respondents, a sheet per repeat, codebook and about (constant memory).

    A table longer than Excel's 1,048,575 rows continues on sheets named '<table> (2)', ….
    `fast_rows=False` writes every cell through xlsxwriter's API (the reference, and slower).
    """
    import xlsxwriter

    prepared = prepared_export(source, "xlsx", options)
    workbook = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            # Text stays text: no formulas, links or numbers made from what people typed.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "default_date_format": "yyyy-mm-dd",
        },
    )
    taken: set[str] = set()
    bold = workbook.add_format({"bold": True})
    date_style = workbook.default_date_format._get_xf_index() if _FAST_ROWS else 0
    for table, frame in prepared.tables.items():
        columns = _columns(prepared, table, prepared.report.labels)
        header = [neutralise_formula(str(c)) for c in frame.columns]
        per_sheet = XLSX_MAX_ROWS - 1
        starts = range(0, max(len(frame), 1), per_sheet)
        for first in starts:
            sheet = workbook.add_worksheet(_sheet_name(table, taken))
            sheet.write_row(0, 0, header, bold)
            sheet.freeze_panes(1, 0)
            last = min(first + per_sheet, len(frame))
            if fast_rows and _FAST_ROWS:
                _stream_rows(sheet, columns, first, last, date_style)
            else:
                _write_rows(sheet, columns, first, last)
    for name, rows in (
        ("codebook", codebook_rows(prepared)),
        ("about", about_rows(prepared)),
    ):
        sheet = workbook.add_worksheet(_sheet_name(name, taken))
        for number, row in enumerate(rows):
            values = [neutralise_formula(v) if isinstance(v, str) else v for v in row]
            sheet.write_row(number, 0, values, bold if number == 0 else None)
    workbook.close()
    return prepared.report


_FAST_ROWS = _fast_rows_supported()
