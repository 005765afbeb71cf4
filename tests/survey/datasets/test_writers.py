"""The XLSX writer's streamed rows are byte for byte what xlsxwriter's own API writes."""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey.datasets import writers
from survey.datasets.deidentify import ExportReport, PreparedExport
from survey.datasets.writers import export_xlsx

LONG = "ж" * 40_000  # over Excel's 32,767 characters: truncated the same way


def prepared_of(tables: dict[str, pd.DataFrame]) -> PreparedExport:
    report = ExportReport(
        format="xlsx",
        deidentified=False,
        labels=True,
        language="en",
        rows={t: len(f) for t, f in tables.items()},
        columns={t: len(f.columns) for t, f in tables.items()},
        dropped_columns=(),
        checks=(),
    )
    return PreparedExport(
        tables=tables,
        column_labels={},
        value_labels={"choice": {"a": "Apple & <pear>", "b": " spaced "}},
        types={},
        notes={},
        report=report,
        about=(("instrument", "test"),),
        title="test",
    )


def tricky_tables() -> dict[str, pd.DataFrame]:
    respondents = pd.DataFrame(
        {
            "number": pd.array([1, None, 3, 2**40], dtype="Int64"),
            "decimal": [0.1, np.nan, 1e-7, -2.5],
            "flag": pd.array([True, False, None, True], dtype="boolean"),
            "choice": pd.Categorical(["a", "b", None, "a"], categories=["a", "b", "c"]),
            "text": ["=1+1", "tab\there & <b>", None, "ж" * 300],
            "control": ["\x01bell", "_x0041_", " lead", "trail "],
            "empty": ["", "x", "", None],
            "day": pd.to_datetime(["2025-01-02", None, "1899-12-31", "1900-03-01"]),
            "stamp": pd.to_datetime(
                ["2025-01-02T03:04:05Z", None, "2026-12-31T23:59:59Z", "2000-02-29T00:00:00Z"]
            ),
        }
    )
    member = pd.DataFrame({"age": [5, 70], "sex": pd.Categorical(["female", None])})
    empty = pd.DataFrame({"nothing": pd.Series([], dtype=object)})
    return {"respondents": respondents, "member": member, "pet": empty}


def sheets(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n.startswith("xl/")}


def both(tmp_path: Path, tables: dict[str, pd.DataFrame]) -> tuple[Path, Path]:
    fast, slow = tmp_path / "fast.xlsx", tmp_path / "slow.xlsx"
    export_xlsx(prepared_of(tables), fast)
    export_xlsx(prepared_of(tables), slow, fast_rows=False)
    return fast, slow


def test_installed_xlsxwriter_takes_the_fast_path() -> None:
    assert writers._FAST_ROWS


def test_streamed_rows_equal_xlsxwriters_own(tmp_path: Path) -> None:
    fast, slow = both(tmp_path, tricky_tables())
    assert sheets(fast) == sheets(slow)
    book = openpyxl.load_workbook(fast, read_only=True)
    rows = list(book["respondents"].iter_rows(values_only=True))
    book.close()
    assert rows[0][:3] == ("number", "decimal", "flag")
    assert rows[1][:5] == (1, 0.1, 1, "Apple & <pear>", "'=1+1")
    assert rows[2][3] == " spaced "
    assert rows[4][0] == 2**40 and rows[4][4] == "ж" * 300
    assert rows[1][7] == dt.datetime(2025, 1, 2)
    assert rows[1][8] == "2025-01-02T03:04:05Z"
    assert book.sheetnames == ["respondents", "member", "pet", "codebook", "about"]


def test_a_large_table_spans_chunks_the_same(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(writers, "CHUNK_ROWS", 7)
    rng = np.random.default_rng(3)
    n = 50
    table = pd.DataFrame(
        {
            "x": rng.integers(0, 9, n),
            "y": pd.Categorical(rng.choice(["a", "b", None], n)),
            "z": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
        }
    )
    fast, slow = both(tmp_path, {"respondents": table})
    assert sheets(fast) == sheets(slow)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=1, max_size=6),
    numbers=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64)),
        min_size=1,
        max_size=6,
    ),
)
def test_any_text_and_number_is_written_as_xlsxwriter_does(
    tmp_path: Path, texts: list, numbers: list
) -> None:
    texts = [t for t in texts if t is None or not (t.startswith("<r>") and t.endswith("</r>"))]
    size = min(len(texts), len(numbers))
    if not size:
        return
    table = pd.DataFrame({"t": texts[:size], "n": numbers[:size]})
    fast, slow = both(tmp_path, {"respondents": table})
    assert sheets(fast) == sheets(slow)


def test_overlong_text_is_cut_and_the_row_goes_on(tmp_path: Path) -> None:
    # xlsxwriter's write_row stops at a cut text, losing the rest of the row; streamed rows
    # cut the text the same way and keep the cells after it.
    table = pd.DataFrame({"t": [LONG, "short"], "after": [1, 2]})
    path = tmp_path / "long.xlsx"
    export_xlsx(prepared_of({"respondents": table}), path)
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book["respondents"].iter_rows(values_only=True))
    book.close()  # a read-only workbook keeps its file open until closed
    assert rows[1] == ("ж" * 32_767, 1)
    assert rows[2] == ("short", 2)


def test_text_shaped_like_rich_text_stays_escaped(tmp_path: Path) -> None:
    # xlsxwriter's API writes '<r>…</r>' unescaped into the sheet; typed answers never are.
    table = pd.DataFrame({"t": ["<r><t>x</t></r>"]})
    path = tmp_path / "rich.xlsx"
    export_xlsx(prepared_of({"respondents": table}), path)
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book["respondents"].iter_rows(values_only=True))
    book.close()
    assert rows[1] == ("<r><t>x</t></r>",)


def csv_reference(prepared: PreparedExport, table: str, chunk_rows: int) -> bytes:
    """write_csv_table before neighbouring columns were joined: a cell per column, joined
    by commas row by row."""
    frame = prepared.tables[table]
    columns = writers._columns(prepared, table, prepared.report.labels)
    header = ",".join(writers._quote(str(writers.neutralise_formula(c))) for c in frame.columns)
    out = [("\ufeff" + header + "\r\n").encode("utf-8")]
    for start in range(0, len(frame), chunk_rows):
        stop = min(start + chunk_rows, len(frame))
        cells = [column.csv(start, stop) for column in columns]
        lines = map(",".join, zip(*cells, strict=True))
        out.append(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return b"".join(out)


def csv_bytes(prepared: PreparedExport, table: str, chunk_rows: int) -> bytes:
    import io

    out = io.BytesIO()
    writers.write_csv_table(prepared, table, out, chunk_rows=chunk_rows)
    return out.getvalue()


@pytest.mark.parametrize("labels", [False, True])
def test_csv_of_joined_columns_is_the_csv_of_each_cell(labels: bool) -> None:
    for table in ("respondents", "member", "pet"):
        prepared = prepared_of(tricky_tables())
        prepared = replace(prepared, report=replace(prepared.report, labels=labels))
        assert csv_bytes(prepared, table, 3) == csv_reference(prepared, table, 3)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 40),
    kinds=st.lists(st.sampled_from(["flag", "bool", "choice", "wide", "int", "float", "text"])),
    seed=st.integers(0, 2**16),
    chunk=st.integers(1, 17),
)
def test_csv_of_runs_of_columns_is_the_csv_of_each_cell(rows, kinds, seed, chunk) -> None:
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for i, kind in enumerate(kinds):
        if kind == "flag":
            values = pd.array(rng.choice([True, False, None], rows), dtype="boolean")
        elif kind == "bool":
            values = rng.choice([True, False], rows)
        elif kind == "choice":
            values = pd.Categorical(rng.choice(["a", "b,c", '"q"', "=x", None], rows))
        elif kind == "wide":  # more categories than one run's table holds
            names = [f"c{j}" for j in range(5000)]
            values = pd.Categorical(rng.choice(names[:50], rows), categories=names)
        elif kind == "int":
            values = pd.array(rng.choice([0, -3, 2**40, None], rows), dtype="Int64")
        elif kind == "float":
            values = rng.choice([0.0, -0.0, 0.1, 1e-7, 2.5e20, np.nan, -np.inf], rows)
        else:
            values = rng.choice(["x", "a,b", None, "-1"], rows)
        columns[f"{kind}{i}"] = values
    prepared = prepared_of({"respondents": pd.DataFrame(columns, index=range(rows))})
    assert csv_bytes(prepared, "respondents", chunk) == csv_reference(
        prepared, "respondents", chunk
    )
