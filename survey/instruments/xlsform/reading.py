"""Reading the workbook: pyxform's reading (never re-saved), its messages located, the plan sheets
and titles, and the whole import in order (`load_xlsform`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _

from survey.instruments.archive import ArchiveRefused, check_workbook_archive
from survey.instruments.languages import language_code
from survey.instruments.places import workbook_place
from survey.instruments.spec import (
    AnalysisDesign,
)

if TYPE_CHECKING:
    from pyxform.xls2json_backends import DefinitionData
from survey.instruments.xlsform.building import _build_spec
from survey.instruments.xlsform.checks import _check_expressions
from survey.instruments.xlsform.constants import NAME_HEADERS, PLAN_SHEETS, TYPE_HEADERS
from survey.instruments.xlsform.files import (
    _add_external_choices,
    _add_file_choices,
    _add_lookup_tables,
    _recode_csv_files,
)
from survey.instruments.xlsform.problems import (
    ImportedForm,
    InstrumentImportError,
    _cell_text,
    _file_type,
    _Locations,
    _name_mismatch,
    _quiet,
    _unreadable,
    form_id_from_filename,
)


def load_xlsform(
    data: bytes,
    filename: str = "form.xlsx",
    attachments: Mapping[str, bytes] | None = None,
    *,
    media_confirmed: bool = True,
) -> ImportedForm:
    """Parse XLSForm bytes into a spec; raise InstrumentImportError naming sheet, row, column.

    The workbook is read by pyxform (never re-saved, so formula cells keep their cached values),
    and the instrument is built from pyxform's normalised result. Every problem found, pyxform's
    and ours, is reported in one pass. `attachments` are the form's files by name (CSV, GeoJSON,
    XML, media): choices from files and pulldata() read them. Without `media_confirmed` (the
    admin's confirmation at import), photo, audio, video and file questions are refused.
    """
    # pyxform is imported here: it takes a quarter of a CPU-second to load, and every process
    # (web workers, `survey report`, ...) imports this module but few of them read a workbook.
    from pyxform.builder import create_survey_element_from_dict
    from pyxform.errors import PyXFormError
    from pyxform.xls2json import workbook_to_json
    from pyxform.xls2json_backends import get_xlsform

    if not data:
        raise InstrumentImportError([_("The file is empty.")])
    file_type = _file_type(data, filename)
    if file_type is None:
        raise InstrumentImportError(
            [
                _(
                    "'%(filename)s' is not an Excel workbook (.xlsx or .xls). Save the XLSForm "
                    "as .xlsx and retry.",
                    filename=filename,
                )
            ]
        )
    mismatch = _name_mismatch(file_type, filename)
    if mismatch:
        raise InstrumentImportError([mismatch])
    if file_type != ".xls":
        try:
            check_workbook_archive(data)  # before openpyxl or pyxform inflate anything
        except ArchiveRefused as error:
            raise InstrumentImportError([str(error)]) from None
    locations = _Locations(attachments=dict(attachments or {}), media_confirmed=media_confirmed)
    _recode_csv_files(locations)
    try:
        with _quiet():
            workbook = get_xlsform(io.BytesIO(data), file_type=file_type)
    except PyXFormError as error:
        duplicate = re.match(r"Duplicate column header: (.+)", str(error))
        if duplicate:
            sheet = _sheet_with_duplicate_header(data, file_type, duplicate.group(1))
            raise InstrumentImportError(
                [
                    _(
                        "%(where)s: Duplicate column header: %(header)s. Each column header "
                        "may appear once; remove or rename the other.",
                        where=workbook_place(sheet, 1),
                        header=duplicate.group(1),
                    )
                ]
            ) from error
        raise InstrumentImportError([_unreadable(error)]) from error
    except Exception as error:  # xlrd and openpyxl raise many types for damaged files
        raise InstrumentImportError([_unreadable(error)]) from error
    if {"analysis", "severity"} & {str(n).strip().lower() for n in workbook.sheet_names or []}:
        _EXTRA_ROWS[id(workbook)] = _read_plan_sheets(data, file_type)
    try:
        _locate(workbook, locations)
    finally:
        _EXTRA_ROWS.pop(id(workbook), None)
    _refuse_out_of_scope(workbook, locations)
    locations.titles = _take_titles(workbook)
    generated_version = _ensure_version(workbook)
    collected: list[str] = []
    try:
        with _quiet():
            survey = workbook_to_json(
                workbook_dict=workbook,
                fallback_form_name=form_id_from_filename(filename),
                warnings=collected,
            )
            xform = create_survey_element_from_dict(survey).to_xml(
                validate=False, warnings=collected
            )
    except PyXFormError as error:
        # Names repeated within one group are reported already, in the admin's language.
        if not (locations.duplicate_found and "must be unique within" in str(error)):
            locations.problems.append(_pyxform_message(str(error), workbook, locations))
        raise InstrumentImportError(locations.problems) from error
    except Exception as error:  # pyxform surfaces low-level errors for some broken workbooks
        locations.problems.append(
            _(
                "%(where)s: pyxform could not convert the form: %(error)s",
                where=workbook_place("survey"),
                error=error,
            )
        )
        raise InstrumentImportError(locations.problems) from error
    generated = _add_external_choices(survey, workbook)
    spec = _build_spec(survey, locations)
    spec = _add_file_choices(spec, locations)
    _check_expressions(spec, locations)
    spec = _add_lookup_tables(spec, locations)
    if locations.extra_sheets:
        spec = dataclasses.replace(
            spec,
            analysis_rows=locations.extra_sheets.get("analysis", ()),
            severity_rows=locations.extra_sheets.get("severity", ()),
        )
        from survey.instruments.analysis_plan import build_plan

        locations.problems.extend(build_plan(spec)[1])
    elif spec.design != AnalysisDesign():
        from survey.instruments.analysis_plan import design_of

        locations.problems.extend(design_of(spec)[1])
    if locations.problems:
        raise InstrumentImportError(locations.problems)
    warnings_out = [_one_line(w) for w in collected if "or_other and translations" not in w]
    warnings_out.extend(locations.warnings)
    if generated_version:
        warnings_out.append(
            _(
                "The settings sheet has no 'version'; this import is version %(version)s.",
                version=generated_version,
            )
        )
    return ImportedForm(
        spec=spec, xform=xform, warnings=warnings_out, files={**locations.attachments, **generated}
    )


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _ensure_version(workbook: DefinitionData) -> str | None:
    """Give a workbook without a settings 'version' one, in pyxform's reading of it.

    ODK clients match submissions to a form by version; a version known only to the database
    would leave their submissions unmatched. The file itself is never re-saved: that would drop
    the cached results of formula cells.
    """
    settings = [dict(row) for row in (workbook.settings or [])] or [{}]
    if _cell_text(settings[0].get("version")):
        return None
    version = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    settings[0]["version"] = version
    workbook.settings = settings
    header = list(workbook.settings_header or [{}])
    workbook.settings_header = [{**(header[0] if header else {}), "version": None}]
    return version


def _pyxform_message(message: str, workbook: DefinitionData, locations: _Locations) -> str:
    """pyxform's message, located at a sheet, row and column where pyxform or we can tell."""
    message = _one_line(message)
    match = re.match(r"\[row : (\d+)\]\s*(.*)", message, re.S)
    if match:
        text = match.group(2)
        sheet = "choices" if re.search(r"'choices' sheet|choices sheet", text) else "survey"
        if "List name" in text:
            sheet = "survey"
        if re.search(r"'settings' sheet", text):
            sheet = "settings"
        if re.search(r"'entities' sheet", text):
            sheet = "entities"
        return f"{workbook_place(sheet, match.group(1))}: {text}"
    unknown = re.match(r"Unknown question type '(.+)'\.?", message)
    if unknown:
        row = next((n for n, t in locations.types.items() if t == unknown.group(1)), None)
        return _(
            "%(where)s: the question type '%(type)s' is not an XLSForm type (pyxform: Unknown "
            "question type).",
            where=workbook_place("survey", row, "type"),
            type=unknown.group(1),
        )
    named = re.search(r"named '([^']+)'", message)
    if named:
        return f"{locations.at(named.group(1))}: {message}"
    duplicate = re.match(r"Duplicate column header: (.+)", message)
    if duplicate:
        for sheet, header in (
            ("survey", workbook.survey_header),
            ("choices", workbook.choices_header),
            ("settings", workbook.settings_header),
        ):
            if header is None:
                return f"{workbook_place(sheet, 1)}: {message}"
        return f"{workbook_place('survey', 1)}: {message}"
    if "has not been included" in message:
        row = next((n for n, t in locations.types.items() if t.startswith("include")), None)
        return _(
            "%(where)s: 'include' rows (pyxform's sections from other files) are not "
            "supported: %(message)s",
            where=workbook_place("survey", row, "type"),
            message=message,
        )
    if "sheet" in message.lower():
        return message
    return f"{workbook_place('survey')}: {message}"


def _locate(workbook: DefinitionData, locations: _Locations) -> None:
    """Find the row of each name (pyxform keeps empty rows, so index + 2 is the Excel row)."""
    seen: dict[str, int] = {}
    # Names must be unique within their nearest group or repeat (as pyxform wants), not in the
    # whole form: each begin opens a scope, each end closes it.
    scopes: list[dict[str, int]] = [{}]
    for number, row in enumerate(workbook.survey or [], 2):
        values = {str(k).strip().lower(): _cell_text(v) for k, v in row.items()}
        kind = next((values[k] for k in TYPE_HEADERS if values.get(k)), "")
        name = next((values[k] for k in NAME_HEADERS if values.get(k)), "")
        if kind:
            locations.types[number] = kind
        # "begin group", "begin_repeat", "begin loop over list", "end_group", ...
        first_word = kind.lower().replace("_", " ").split()[:1]
        if first_word == ["end"]:
            if len(scopes) > 1:
                scopes.pop()
            continue
        if name:
            scope = scopes[-1]
            if name in scope:
                locations.problems.append(
                    _(
                        "%(where)s: the name '%(name)s' is already used on row %(first)s. Every "
                        "question, group and repeat needs its own name.",
                        where=workbook_place("survey", number, "name"),
                        name=name,
                        first=scope[name],
                    )
                )
                locations.duplicate_found = True
            scope.setdefault(name, number)
            seen.setdefault(name, number)
            locations.name_rows.setdefault(name, []).append(number)
        if first_word == ["begin"]:
            scopes.append({})
    locations.rows.update(seen)
    for name in PLAN_SHEETS:
        rows = _extra_sheet(workbook, name)
        if rows is not None:
            locations.extra_sheets[name] = rows


def _extra_sheet(workbook: DefinitionData, name: str) -> tuple[dict[str, str], ...] | None:
    """Rows of a sheet pyxform does not read (the analysis plan), read the way pyxform reads."""
    names = {str(n).strip().lower(): str(n) for n in (workbook.sheet_names or [])}
    if name not in names:
        return None
    raw = _EXTRA_ROWS.get(id(workbook), {}).get(names[name], [])
    out = []
    for number, row in enumerate(raw, 2):
        values = {str(k): _cell_text(v) for k, v in row.items() if _cell_text(v)}
        if values:
            out.append({**values, "_row": str(number)})
    return tuple(out)


_EXTRA_ROWS: dict[int, dict[str, list[dict[str, Any]]]] = {}


def _read_plan_sheets(data: bytes, file_type: str) -> dict[str, list[dict[str, Any]]]:
    """The 'analysis' and 'severity' sheets (Birge's, so pyxform skips them), read only."""
    out: dict[str, list[dict[str, Any]]] = {}
    with _quiet():
        if file_type == ".xls":
            import xlrd

            book = xlrd.open_workbook(file_contents=data)
            for sheet in book.sheets():
                if sheet.name.strip().lower() in PLAN_SHEETS and sheet.nrows:
                    headers = [_cell_text(h) for h in sheet.row_values(0)]
                    out[sheet.name] = [
                        dict(zip(headers, sheet.row_values(r), strict=False))
                        for r in range(1, sheet.nrows)
                    ]
            return out
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            for sheet in book.worksheets:
                if sheet.title.strip().lower() not in PLAN_SHEETS:
                    continue
                rows = list(sheet.iter_rows(values_only=True))
                headers = [_cell_text(h) for h in rows[0]] if rows else []
                out[sheet.title] = [dict(zip(headers, row, strict=False)) for row in rows[1:]]
        finally:
            book.close()
    return out


def _sheet_with_duplicate_header(data: bytes, file_type: str, header: str) -> str:
    """The name of the sheet whose first row repeats a header (pyxform does not say)."""
    with _quiet():
        if file_type == ".xls":
            import xlrd

            book = xlrd.open_workbook(file_contents=data)
            firsts = {
                sheet.name: [_cell_text(v) for v in sheet.row_values(0)] if sheet.nrows else []
                for sheet in book.sheets()
            }
        else:
            from openpyxl import load_workbook

            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                firsts = {
                    sheet.title: [_cell_text(c.value) for c in next(sheet.rows, [])]
                    for sheet in book.worksheets
                }
            finally:
                book.close()
    for name, headers in firsts.items():
        if headers.count(header.strip()) > 1:
            return name
    return "survey"


def _take_titles(workbook: DefinitionData) -> dict[str, str]:
    """The translated titles on the settings sheet, by language code, taken out of pyxform's
    reading (it takes a translated title for a node): form_title::<language> columns, or
    form_title_<code> for a workbook that must also convert in plain pyxform."""
    if not workbook.settings:
        return {}
    settings = dict(workbook.settings[0])
    titles = {}
    for header in list(settings):
        text = str(header).strip()
        lowered = text.lower()
        value = _cell_text(settings[header])
        if lowered.startswith("form_title::"):
            settings.pop(header)
            if value:
                titles[language_code(text.split("::", 1)[1])] = value
        elif re.fullmatch(r"form_title_[a-z]{2,3}", lowered) and value:
            titles[lowered.rsplit("_", 1)[1]] = value
    workbook.settings = [settings, *workbook.settings[1:]]
    if workbook.settings_header:
        header_row = {
            k: v
            for k, v in workbook.settings_header[0].items()
            if not str(k).strip().lower().startswith("form_title::")
        }
        workbook.settings_header = [header_row, *workbook.settings_header[1:]]
    return titles


def _refuse_out_of_scope(workbook: DefinitionData, locations: _Locations) -> None:
    """Entities and encrypted forms are refused with the reason (issue 9)."""
    if any(any(_cell_text(v) for v in row.values()) for row in workbook.entities or []):
        locations.problems.append(
            _(
                "%(where)s: this form creates or updates ODK entities (shared case lists). Birge "
                "keeps anonymous survey answers only and has no entity lists to update; remove "
                "the entities sheet (and the save_to column) to import the form.",
                where=workbook_place("entities"),
            )
        )
    settings = (workbook.settings or [{}])[0] if workbook.settings else {}
    if any(str(k).strip().lower() == "public_key" and _cell_text(v) for k, v in settings.items()):
        locations.problems.append(
            _(
                "%(where)s: this form is encrypted. Birge must read the answers on the server to "
                "screen them for identifiers, check them and analyse them, so it cannot accept "
                "encrypted submissions; remove public_key (and submission_url) to import the form.",
                where=workbook_place("settings", column="public_key"),
            )
        )
