"""Where a problem sits in an XLSForm workbook, in the current locale's words (the sheet and
column names stay as the workbook spells them)."""

from __future__ import annotations

from flask_babel import gettext as _


def workbook_place(sheet: str, row: int | str | None = None, column: str | None = None) -> str:
    """ "Sheet 'survey', row 5, column 'type'" (or without row or column) in the current locale."""
    if row and column:
        return _(
            "Sheet '%(sheet)s', row %(row)s, column '%(column)s'",
            sheet=sheet,
            row=row,
            column=column,
        )
    if row:
        return _("Sheet '%(sheet)s', row %(row)s", sheet=sheet, row=row)
    if column:
        return _("Sheet '%(sheet)s', column '%(column)s'", sheet=sheet, column=column)
    return _("Sheet '%(sheet)s'", sheet=sheet)
