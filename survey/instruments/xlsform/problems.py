"""What an import gives back (the form, or every problem found) and where a problem is: sheet,
row and column."""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _

from survey.instruments.places import workbook_place
from survey.instruments.spec import (
    Group,
    InstrumentSpec,
)

if TYPE_CHECKING:
    pass
from survey.instruments.xlsform.constants import OLE2_SIGNATURE


class InstrumentImportError(ValueError):
    """The workbook cannot be imported; problems lists every reason, each locating the cell."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass
class ImportedForm:
    """What an import produces: the spec, the XForm for ODK clients, pyxform's warnings."""

    spec: InstrumentSpec
    xform: str
    warnings: list[str] = field(default_factory=list)
    # The form's attachments (and the itemsets.csv of select_one_external), by file name.
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class _Locations:
    """Where names sit in the workbook, and every problem found, for error messages."""

    rows: dict[str, int] = field(default_factory=dict)
    types: dict[int, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    extra_sheets: dict[str, tuple[dict[str, str], ...]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    # Every row of each name, in order: pyxform wants names unique per path, not per form, so
    # a name may sit on several rows; each occurrence gets its own key (see _claim).
    name_rows: dict[str, list[int]] = field(default_factory=dict)
    seen_names: dict[str, int] = field(default_factory=dict)
    keys: dict[str, set[str]] = field(default_factory=lambda: {"item": set(), "group": set()})
    groups: list[Group] = field(default_factory=list)
    duplicate_found: bool = False
    attachments: Mapping[str, bytes] = field(default_factory=dict)
    default_language: str = "en"
    media_confirmed: bool = True

    def at(self, name: str, column: str | None = None) -> str:
        """Where a name sits, in the current locale's words ("Sheet 'survey', row 5, …")."""
        return workbook_place("survey", self.rows.get(name), column)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the warnings openpyxl and xlrd print for workbooks of every age."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _file_type(data: bytes, filename: str) -> str | None:
    """pyxform's file type of the bytes ('.xlsx' or '.xls'), from their content, not the name."""
    if data.startswith(OLE2_SIGNATURE):
        return ".xls"
    if zipfile.is_zipfile(io.BytesIO(data)):
        return ".xlsm" if filename.lower().endswith(".xlsm") else ".xlsx"
    return None


def _name_mismatch(file_type: str, filename: str) -> str | None:
    """Why a workbook whose name says another format than its content is refused, if it is.

    pyxform (and so ODK Central and KoboToolbox) opens a workbook by its name's extension and
    refuses an .xls saved under an .xlsx name; Birge refuses it too, with the way out."""
    suffix = PurePath(filename.replace("\\", "/")).suffix.lower()
    name = PurePath(filename.replace("\\", "/")).name
    if file_type == ".xls" and suffix in {".xlsx", ".xlsm"}:
        return _(
            "'%(filename)s' is an Excel 97-2003 workbook (.xls) under an %(suffix)s name, which "
            "pyxform, ODK Central and KoboToolbox refuse. Rename the file to '%(renamed)s', or "
            "open it and save it as an Excel Workbook (.xlsx), then import it again.",
            filename=name,
            suffix=suffix,
            renamed=PurePath(name).stem + ".xls",
        )
    if file_type != ".xls" and suffix == ".xls":
        return _(
            "'%(filename)s' is an Excel Workbook (.xlsx) under an .xls name, which pyxform, ODK "
            "Central and KoboToolbox refuse. Rename the file to '%(renamed)s' and import it "
            "again.",
            filename=name,
            renamed=PurePath(name).stem + ".xlsx",
        )
    return None


def _unreadable(error: Exception) -> str:
    return _(
        "The workbook could not be read: no sheet of it could be opened (%(error)s).",
        error=error,
    )


def _unknown_appearance(where: str, word: str) -> str:
    return _(
        "%(where)s: appearance '%(word)s' is not an appearance of the XLSForm specification; it "
        "is ignored, as ODK Collect ignores it.",
        where=where,
        word=word,
    )


def form_id_from_filename(filename: str) -> str:
    """The form id pyxform's own command gives a form without form_id: the file name's stem."""
    stem = PurePath(filename.replace("\\", "/")).stem.strip()
    stem = re.sub(r"[^\w.\-]+", "_", unicodedata.normalize("NFC", stem)).strip("_.-")
    return stem[:100] or "form"


def _cell_text(value: Any) -> str:
    return "" if value is None else unicodedata.normalize("NFC", str(value)).strip()
