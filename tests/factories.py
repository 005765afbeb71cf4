"""Plain helpers shared by tests (importable: `from tests.factories import xlsform_bytes`)."""

from __future__ import annotations

import io
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
