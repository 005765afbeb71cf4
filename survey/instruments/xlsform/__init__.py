"""Read an XLSForm with pyxform and turn it into an InstrumentSpec, refusing what we don't support.

pyxform does the XLSForm parsing; this module only checks its result against what the volunteer's
form can show, and locates problems by sheet, row and column so an admin can fix the workbook.
"""

from __future__ import annotations

from survey.instruments.xlsform.constants import (
    DEVICE_ID_TYPES,
    GROUP_APPEARANCES,
    IDENTIFYING_KINDS,
    INPUT_TYPES,
    MAX_QUESTIONS,
    MEDIA_TYPES,
    NAME_HEADERS,
    OLE2_SIGNATURE,
    OTHER_CHOICE_LABELS,
    OTHER_LABELS,
    PLAN_SHEETS,
    PRELOAD_TYPES,
    QUESTION_APPEARANCES,
    TYPE_HEADERS,
)
from survey.instruments.xlsform.problems import (
    ImportedForm,
    InstrumentImportError,
    form_id_from_filename,
)
from survey.instruments.xlsform.reading import (
    load_xlsform,
)

__all__ = [
    "DEVICE_ID_TYPES",
    "GROUP_APPEARANCES",
    "IDENTIFYING_KINDS",
    "INPUT_TYPES",
    "MAX_QUESTIONS",
    "MEDIA_TYPES",
    "NAME_HEADERS",
    "OLE2_SIGNATURE",
    "OTHER_CHOICE_LABELS",
    "OTHER_LABELS",
    "PLAN_SHEETS",
    "PRELOAD_TYPES",
    "QUESTION_APPEARANCES",
    "TYPE_HEADERS",
    "ImportedForm",
    "InstrumentImportError",
    "form_id_from_filename",
    "load_xlsform",
]
