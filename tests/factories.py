"""Plain helpers shared by tests (importable: `from tests.factories import xlsform_bytes`)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook

PASSWORD = "correct horse battery staple"


def xlsform_bytes(
    survey: Sequence[Sequence[Any]],
    choices: Sequence[Sequence[Any]] | None = None,
    settings: dict[str, Any] | None = None,
) -> bytes:
    """An .xlsx XLSForm built from rows (the first row of each sheet is its header)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    for row in survey:
        sheet.append(list(row))
    if choices:
        choice_sheet = workbook.create_sheet("choices")
        for row in choices:
            choice_sheet.append(list(row))
    settings = {
        "form_id": "test_form",
        "version": "1",
        "form_title": "Test form",
        **(settings or {}),
    }
    settings_sheet = workbook.create_sheet("settings")
    settings_sheet.append(list(settings))
    settings_sheet.append(list(settings.values()))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_export(client: Any, form_id: str) -> bytes:
    """The CSV export (a zip) of every submission of a form, as a logged-in admin downloads it."""
    response = client.post(
        "/exports",
        data={
            "instrument": form_id,
            "file_format": "csv",
            "values": "codes",
            "language": "en",
            "survey_round": "",
            "statuses": ["pending", "approved"],
        },
    )
    body = response.get_data()
    response.close()
    assert response.status_code == 200, body[:500]
    return body


def csv_tables(body: bytes) -> dict[str, list[dict[str, str]]]:
    """Every table of a CSV export, by file name without '.csv'."""
    archive = zipfile.ZipFile(io.BytesIO(body))
    return {
        name.removesuffix(".csv"): list(
            csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig")))
        )
        for name in archive.namelist()
        if name.endswith(".csv")
    }
