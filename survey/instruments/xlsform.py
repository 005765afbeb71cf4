"""Read an XLSForm with pyxform and turn it into an InstrumentSpec, refusing what we don't support.

pyxform does the XLSForm parsing; this module only checks its result against what the volunteer's
form can show, and locates problems by sheet, row and column so an admin can fix the workbook.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
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

from survey.instruments import attachments as form_files
from survey.instruments import expressions, piping
from survey.instruments.archive import ArchiveRefused, check_workbook_archive
from survey.instruments.languages import language_code
from survey.instruments.places import workbook_place
from survey.instruments.spec import (
    AnalysisDesign,
    Choice,
    Group,
    InstrumentSpec,
    IntakeRules,
    Question,
    Repeat,
    Section,
)

if TYPE_CHECKING:
    from pyxform.xls2json_backends import DefinitionData

# What each XLSForm type becomes, decided from pyxform's own description of the type (its
# QUESTION_TYPE_DICT: the XForm control and bind type), so every alias pyxform accepts ('int',
# 'string', 'gps', 'photo', 'select one', 'phone number', ...) is read as pyxform reads it.
INPUT_TYPES = {
    "string": "text",
    "int": "integer",
    "decimal": "decimal",
    "date": "date",
    "time": "time",
    "dateTime": "datetime",
    "geopoint": "geopoint",
    "geotrace": "geotrace",
    "geoshape": "geoshape",
    "barcode": "barcode",
}
# Metadata the device (or the server, for the web form) fills in: ODK's jr:preload parameters.
PRELOAD_TYPES = {
    "start": "start",
    "end": "end",
    "today": "today",
    "deviceid": "deviceid",
    "uri:deviceid": "deviceid",
    "subscriberid": "subscriberid",
    "uri:subscriberid": "subscriberid",
    "simserial": "simserial",
    "uri:simserial": "simserial",
    "phonenumber": "phonenumber",
    "uri:phonenumber": "phonenumber",
    "username": "username",
    "uri:username": "username",
    "email": "email",
    "uri:email": "email",
}
# Device identifiers: identifying data, stored only where the admin confirmed it at import.
DEVICE_ID_TYPES = {"deviceid", "subscriberid", "simserial", "phonenumber", "username", "email"}
MEDIA_TYPES = {"image", "audio", "video", "file", "background-audio", "osm"}
QUESTION_APPEARANCES = {
    # rendered on the web page
    "minimal",
    "multiline",
    "numbers",
    "thousands-sep",
    "autocomplete",
    "search",
    "no-calendar",
    "month-year",
    "year",
    "likert",
    "columns",
    "columns-pack",
    "columns-2",
    "columns-3",
    "columns-4",
    "columns-5",
    "horizontal",
    "horizontal-compact",
    "compact",
    "quick",
    "quickcompact",
    "label",
    "list-nolabel",
    "list",
    "hidden-answer",
    "masked",
    "url",
    # accepted: they change a device's widget (maps, pickers, calendars), not the answer
    "maps",
    "map",
    "placement-map",
    "hide-input",
    "picker",
    "rating",
    "no-buttons",
    "no-ticks",
    "vertical",
    "distress",
    "bearing",
    "counter",
    "new",
    "draw",
    "annotate",
    "signature",
    "selfie",
    "printer",
    "image-map",
    "field-list",
    "table-list",
    "no-calender",
    "ethiopian",
    "coptic",
    "islamic",
    "bikram-sambat",
    "myanmar",
    "persian",
    "buddhist",
}
GROUP_APPEARANCES = {"field-list", "table-list", "compact", "no-collapse"}
# pyxform writes "Specify other." untranslated for or_other; give volunteers their language.
OTHER_LABELS = {"en": "Specify other", "ru": "Укажите другое", "kk": "Басқасын көрсетіңіз"}
OTHER_CHOICE_LABELS = {"en": "Other", "ru": "Другое", "kk": "Басқа"}
MAX_QUESTIONS = 2000
PLAN_SHEETS = ("analysis", "severity")
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
NAME_HEADERS = {"name", "value", "tag"}
TYPE_HEADERS = {"type", "command"}
# Kinds of identifying data an admin can confirm at import (issue 9, part 6).
IDENTIFYING_KINDS = ("precise_location", "device_ids", "media", "phone_numbers")


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


def _recode_csv_files(locations: _Locations) -> None:
    """Store CSV attachments as UTF-8, which ODK reads: a file saved in a legacy encoding
    (Excel's 'CSV' or 'CSV (MS-DOS)') is converted, and the admin told which and from what.
    A file whose encoding cannot be told is left as it is, and refused where the form reads it."""
    for name, data in sorted(locations.attachments.items()):
        if not name.lower().endswith(".csv"):
            continue
        try:
            recoded, codec, example = form_files.recoded_csv(data)
        except form_files.AttachmentError:
            continue
        if codec is None:
            continue
        locations.attachments[name] = recoded
        locations.warnings.append(
            _(
                "'%(file)s' was not UTF-8 text: it was read as %(encoding)s and stored as UTF-8, "
                "as ODK reads it. Check that its accented names read right on the form, for "
                "example '%(example)s'.",
                file=name,
                encoding=form_files.encoding_name(codec),
                example=example,
            )
        )


def _add_external_choices(survey: dict[str, Any], workbook: DefinitionData) -> dict[str, bytes]:
    """Lists of the external_choices sheet join the choices (select_one_external reads them);
    ODK clients read them from itemsets.csv, written here as pyxform's command writes it."""
    rows = [
        {
            ("list_name" if str(k).strip().lower() in {"list name", "list_name"} else k): v
            for k, v in row.items()
        }
        for row in workbook.external_choices or []
    ]
    rows = [row for row in rows if _cell_text(row.get("list_name")) and _cell_text(row.get("name"))]
    if not rows:
        return {}
    choices = survey.setdefault("choices", {})
    external: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        item = {k: v for k, v in row.items() if k != "list_name" and v is not None}
        external.setdefault(_cell_text(row["list_name"]), []).append(item)
    for list_name, items in external.items():
        choices.setdefault(list_name, items)
    return {"itemsets.csv": form_files.itemsets_csv(rows)}


def _file_of(question: Question) -> str | None:
    """The attachment a select_*_from_file question reads its choices from."""
    if question.type in {"select_one", "select_multiple"} and "." in (question.choice_list or ""):
        return question.choice_list
    return None


def _add_file_choices(spec: InstrumentSpec, locations: _Locations) -> InstrumentSpec:
    """Read the choices of select_*_from_file questions from their attachments."""
    added: dict[str, tuple[Choice, ...]] = {}
    for question in spec.iter_questions():
        name = _file_of(question)
        if name is None or name in added:
            continue
        data = locations.attachments.get(name)
        added[name] = ()  # reported once, here, not again as a list missing from 'choices'
        if data is None:
            locations.problems.append(
                _(
                    "%(where)s: the choices of '%(question)s' come from the file '%(file)s', "
                    "which was not uploaded with the form. Import a .zip holding the workbook "
                    "and its files, or add the file beside the workbook.",
                    where=locations.at(question.name, "type"),
                    question=question.name,
                    file=name,
                )
            )
            continue
        try:
            added[name] = form_files.choices_from_file(
                name, data, question.parameters, locations.default_language
            )
        except form_files.AttachmentError as error:
            locations.problems.append(f"{locations.at(question.name, 'type')}: '{name}': {error}")
    if not added:
        return spec
    return dataclasses.replace(spec, choices={**spec.choices, **added})


def _pulldata_files(text: str | None, *, choice_filter: bool = False) -> set[str]:
    """The files pulldata() calls of an expression read (their first argument, a string)."""
    if not text or "pulldata" not in text:
        return set()
    try:
        node = expressions.parse(text, choice_filter=choice_filter)
    except expressions.ExpressionError:
        return set()  # reported where the expression is checked
    return expressions.pulldata_files(node)


def _shown_pulldata_files(texts: Iterable[Mapping[str, str]]) -> set[str]:
    """The files the answers shown in labels, hints and messages read with pulldata()."""
    found: set[str] = set()
    for text in (t for by_language in texts for t in by_language.values()):
        if "pulldata" not in text:
            continue
        try:
            nodes = piping.nodes(text)
        except expressions.ExpressionError:
            continue  # reported where the texts are checked
        for node in nodes:
            found |= expressions.pulldata_files(node)
    return found


def _pulldata_uses(spec: InstrumentSpec) -> Iterator[tuple[str, str, set[str]]]:
    """(name, column, files) of every place of the form whose expressions call pulldata()."""
    for section in spec.sections:
        yield section.name, "relevant", _pulldata_files(section.relevant)
        yield section.name, "label", _shown_pulldata_files([section.labels])
    for group in spec.groups:
        yield group.name, "label", _shown_pulldata_files([group.labels, group.hints])
    for repeat in spec.iter_repeats():
        yield repeat.name, "relevant", _pulldata_files(repeat.relevant)
        yield repeat.name, "repeat_count", _pulldata_files(repeat.repeat_count)
        yield repeat.name, "label", _shown_pulldata_files([repeat.labels, repeat.hints])
    for question in spec.iter_questions():
        for column in ("calculation", "relevant", "constraint"):
            yield question.name, column, _pulldata_files(getattr(question, column))
        yield question.name, "default", _pulldata_files(question.default_expression)
        yield question.name, "required", _pulldata_files(question.required_if)
        yield question.name, "read_only", _pulldata_files(question.read_only_if)
        filter_files = _pulldata_files(question.choice_filter, choice_filter=True)
        yield question.name, "choice_filter", filter_files
        texts = [
            question.labels,
            question.hints,
            question.required_messages,
            question.constraint_messages,
        ]
        yield question.name, "label", _shown_pulldata_files(texts)


def _add_lookup_tables(spec: InstrumentSpec, locations: _Locations) -> InstrumentSpec:
    """Put the CSV tables pulldata() reads into the spec (by file name without .csv)."""
    tables: dict[str, tuple[dict[str, str], ...]] = {}
    for name, column, files in _pulldata_uses(spec):
        for stem in sorted(files - tables.keys()):
            data = locations.attachments.get(f"{stem}.csv")
            if data is None:
                locations.problems.append(
                    _(
                        "%(where)s: pulldata() reads the file '%(file)s', which was not uploaded "
                        "with the form. Import a .zip holding the workbook and its files, or add "
                        "the file beside the workbook.",
                        where=locations.at(name, column),
                        file=f"{stem}.csv",
                    )
                )
                tables[stem] = ()  # reported once
                continue
            try:
                tables[stem] = tuple(form_files.csv_rows(data))
            except form_files.AttachmentError as error:
                locations.problems.append(f"{locations.at(name, column)}: '{stem}.csv': {error}")
                tables[stem] = ()
    if not tables:
        return spec
    return dataclasses.replace(spec, lookup_tables=tables)


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


def _cell_text(value: Any) -> str:
    return "" if value is None else unicodedata.normalize("NFC", str(value)).strip()


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


def _texts(value: Any, default_language: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        out = {}
        for lang, text in value.items():
            code = default_language if lang == "default" else language_code(lang)
            if text:
                out[code] = unicodedata.normalize("NFC", str(text))
        return out
    return {default_language: unicodedata.normalize("NFC", str(value))} if str(value) else {}


def _build_spec(survey: Mapping[str, Any], locations: _Locations) -> InstrumentSpec:
    default_language = language_code(str(survey.get("default_language") or "en"))
    if default_language == "default":
        default_language = "en"
    locations.default_language = default_language
    languages: list[str] = []

    def texts(value: Any) -> dict[str, str]:
        out = _texts(value, default_language)
        for code in out:
            if code not in languages:
                languages.append(code)
        return out

    choices: dict[str, tuple[Choice, ...]] = {}
    for list_name, items in (survey.get("choices") or {}).items():
        built = []
        for item in items:
            labels = texts(item.get("label"))
            if item["name"] == "other" and not set(labels) - {"other"}:
                labels = dict(OTHER_CHOICE_LABELS)
            elif item["name"] == "other" and labels.get(default_language) == "Other":
                labels = {
                    **OTHER_CHOICE_LABELS,
                    **{k: v for k, v in labels.items() if v != "Other"},
                }
            filters = {
                str(k): _cell_text(v)
                for k, v in item.items()
                if k not in {"name", "label", "media", "sms_option"}
            }
            built.append(Choice(name=str(item["name"]), labels=labels, filters=filters))
        choices[list_name] = tuple(built)

    sections: list[Section] = []
    loose: list[Question | Repeat] = []

    def flush_loose() -> None:
        if loose:
            name = f"section_{len(sections) + 1}"
            sections.append(Section(name=name, labels={}, items=tuple(loose)))
            loose.clear()

    for child in survey.get("children", []):
        child = _expand_loop(child)
        kind = child.get("type")
        name = child.get("name", "")
        if name == "meta" and kind == "group":
            continue
        if kind == "group":
            flush_loose()
            sections.append(_section(child, texts, locations))
        else:
            loose.extend(_items([child], _Place(), texts, locations))
    flush_loose()
    media = [q for q in _iter_all(sections) if q.type == "media"]
    if media:
        listed = ", ".join(f"'{q.name}' (row {q.row})" for q in media)
        locations.problems.append(
            _(
                "%(where)s: background audio recording and OpenStreetMap questions (%(listed)s) "
                "are not supported: a web form cannot record in the background, and OSM tags "
                "need ODK Collect's map editor. Remove these questions to import the form.",
                where=workbook_place("survey", column="type"),
                listed=listed,
            )
        )
    uploads = [q for q in _iter_all(sections) if q.type in {"image", "audio", "video", "file"}]
    if uploads and not locations.media_confirmed:
        locations.problems.append(
            _(
                "%(where)s: the questions %(names)s collect pictures, sound, video or files, "
                "which can identify people. Confirm that this form must collect them (the "
                "box about photos, audio, video and files on the import page, --keep media "
                "on the command line), or remove these questions.",
                where=workbook_place("survey", column="type"),
                names=", ".join(f"'{q.name}' (row {q.row})" for q in uploads),
            )
        )
    if sum(1 for _ in _iter_all(sections)) > MAX_QUESTIONS:
        locations.problems.append(
            _("The form has more than %(count)s questions.", count=MAX_QUESTIONS)
        )
    if not any(True for _ in _iter_all(sections)):
        locations.problems.append(
            _("%(where)s: the form has no question to answer.", where=workbook_place("survey"))
        )
    intake = _intake(survey, locations)
    design = _design(survey)
    for lang in (default_language,):
        if lang not in languages:
            languages.insert(0, lang)
    known = {q.name for q in _iter_all(sections)}
    for key in ("consent_question", "age_question", "district_question"):
        declared = getattr(intake, key)
        if declared and declared not in known:
            locations.problems.append(
                _(
                    "%(where)s: '%(name)s' is not the name of a question.",
                    where=workbook_place("settings", column=key),
                    name=declared,
                )
            )
    return InstrumentSpec(
        instance_name=_cell_text(survey.get("instance_name")) or None,
        style=_cell_text(survey.get("style")) or None,
        form_id=str(survey.get("id_string") or "form"),
        version=str(survey.get("version") or ""),
        title=str(survey.get("title") or survey.get("id_string") or ""),
        default_language=default_language,
        languages=tuple(languages),
        sections=tuple(sections),
        choices=choices,
        intake=intake,
        design=design,
        titles=dict(locations.titles),
        groups=tuple(locations.groups),
    )


def _iter_all(sections: Iterable[Section]) -> Iterable[Question]:
    for section in sections:
        for item in section.items:
            if isinstance(item, Repeat):
                for repeat in item.iter_repeats():
                    yield from repeat.questions
            else:
                yield item


def _intake(survey: Mapping[str, Any], locations: _Locations) -> IntakeRules:
    values: dict[str, Any] = {}
    for key in (
        "consent_question",
        "consent_value",
        "age_question",
        "district_question",
        "date_question",
    ):
        if survey.get(key):
            values[key] = str(survey[key]).strip()
    if survey.get("minimum_age"):
        try:
            values["minimum_age"] = int(str(survey["minimum_age"]).strip())
        except ValueError:
            locations.problems.append(
                _(
                    "%(where)s: not a whole number.",
                    where=workbook_place("settings", column="minimum_age"),
                )
            )
    return IntakeRules(**values)


def _design(survey: Mapping[str, Any]) -> AnalysisDesign:
    """The sampling design columns of the settings sheet (checked with the analysis plan)."""
    values = {
        name: str(survey[f"analysis_{name}"]).strip()
        for name in ("weight", "strata", "cluster")
        if str(survey.get(f"analysis_{name}") or "").strip()
    }
    return AnalysisDesign(**values)


def _appearance(node: Mapping[str, Any]) -> str | None:
    value = (node.get("control") or {}).get("appearance")
    return str(value).strip() if value else None


@dataclass(frozen=True)
class _Place:
    """Where an element sits: its section, repeat and innermost group, its parent's XForm path
    and name, and the relevant of the groups between it and its section or repeat."""

    section: str | None = None
    repeat: str | None = None
    group: str | None = None
    path: str = ""
    parent: str = ""
    relevant: str | None = None

    def child_path(self, name: str) -> str:
        return f"{self.path}/{name}" if self.path else name


def _both(outer: str | None, inner: str | None) -> str | None:
    """Two relevant conditions that must both hold (a group's and one of its items')."""
    if outer and inner:
        return f"({outer}) and ({inner})"
    return outer or inner


def _claim(name: str, place: _Place, namespace: str, locations: _Locations) -> str:
    """The key of one occurrence of a name, and its row.

    Answers, columns and expressions use keys; pyxform makes names unique only per group, so
    the first occurrence keeps its name and each later one is prefixed with its parent's name.
    """
    rows = locations.name_rows.get(name, [])
    count = locations.seen_names.get(name, 0)
    locations.seen_names[name] = count + 1
    row = rows[min(count, len(rows) - 1)] if rows else locations.rows.get(name)
    taken = locations.keys[namespace]
    key = name
    if key in taken:
        base = f"{place.parent}_{name}" if place.parent else name
        key, number = base, 2
        while key in taken or key in locations.name_rows:
            key, number = f"{base}_{number}", number + 1
    taken.add(key)
    if row is not None and (key != name or key not in locations.rows):
        locations.rows[key] = row
    return key


def _expand_loop(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """A `begin loop over <list>` as pyxform builds it: a group holding one group per choice,
    each with a copy of the loop's questions (%(name)s and %(label)s filled in)."""
    if node.get("type") != "loop":
        return node
    from pyxform.builder import SurveyElementBuilder

    groups = []
    for column in node.get("columns") or ():
        if column.get("name") == "none":
            continue  # pyxform skips the "none" option of a loop's list
        # pyxform's own substitution (a private helper): the loop tests fail if it changes.
        children = [
            SurveyElementBuilder._name_and_label_substitutions(child, column)
            for child in node.get("children") or ()
        ]
        groups.append({**column, "type": "group", "children": children})
    expanded = {k: v for k, v in node.items() if k not in {"columns", "children", "type"}}
    return {**expanded, "type": "group", "children": groups}


def _group_check(node: Mapping[str, Any], key: str, locations: _Locations) -> str | None:
    appearance = _appearance(node)
    for word in (appearance or "").lower().split():
        if word not in GROUP_APPEARANCES and word not in QUESTION_APPEARANCES:
            locations.warnings.append(_unknown_appearance(locations.at(key, "appearance"), word))
    return appearance


def _section(node: Mapping[str, Any], texts: Any, locations: _Locations) -> Section:
    name = _claim(node["name"], _Place(), "group", locations)
    appearance = _group_check(node, name, locations)
    place = _Place(section=name, path=node["name"], parent=name)
    return Section(
        name=name,
        labels=texts(node.get("label")),
        relevant=(node.get("bind") or {}).get("relevant"),
        appearance=appearance,
        items=tuple(_items(node.get("children", []), place, texts, locations)),
        row=locations.rows.get(name),
    )


def _items(
    children: Iterable[Mapping[str, Any]], place: _Place, texts: Any, locations: _Locations
) -> list[Question | Repeat]:
    """Questions and repeats of a section, group or repeat, nested groups flattened into them
    (each remembers its innermost group, whose relevant is folded into its own)."""
    items: list[Question | Repeat] = []
    for child in children:
        child = _expand_loop(child)
        kind = child.get("type")
        if kind == "group":
            key = _claim(child["name"], place, "group", locations)
            own = (child.get("bind") or {}).get("relevant")
            locations.groups.append(
                Group(
                    name=key,
                    labels=texts(child.get("label")),
                    hints=texts(child.get("hint")),
                    relevant=own,
                    appearance=_group_check(child, key, locations),
                    parent=place.group,
                    section=place.section,
                    repeat=place.repeat,
                    path=place.child_path(child["name"]),
                    row=locations.rows.get(key),
                )
            )
            inner = dataclasses.replace(
                place,
                group=key,
                path=place.child_path(child["name"]),
                parent=key,
                relevant=_both(place.relevant, own),
            )
            items.extend(_items(child.get("children", []), inner, texts, locations))
        elif kind == "repeat":
            items.append(_repeat(child, place, texts, locations))
        else:
            question = _question(child, place, texts, locations)
            if question is not None:
                items.append(question)
    return items


def _repeat(node: Mapping[str, Any], place: _Place, texts: Any, locations: _Locations) -> Repeat:
    name = _claim(node["name"], place, "item", locations)
    path = place.child_path(node["name"])
    inner = _Place(section=place.section, repeat=name, path=path, parent=name)
    questions: list[Question] = []
    repeats: list[Repeat] = []
    for item in _items(node.get("children", []), inner, texts, locations):
        if isinstance(item, Repeat):
            # A repeat inside a repeat: each entry holds a list of entries of its own.
            repeats.append(dataclasses.replace(item, repeat=name, after=len(questions)))
        else:
            questions.append(item)
    return Repeat(
        name=name,
        labels=texts(node.get("label")),
        hints=texts(node.get("hint")),
        relevant=_both(place.relevant, (node.get("bind") or {}).get("relevant")),
        repeat_count=(node.get("control") or {}).get("jr:count"),
        questions=tuple(questions),
        section=place.section,
        row=locations.rows.get(name),
        group=place.group,
        path=path,
        repeats=tuple(repeats),
    )


def _kind(node: Mapping[str, Any], locations: _Locations) -> str | None:
    """Birge's type of a pyxform question, from pyxform's own description of its type."""
    from pyxform.question_type_dictionary import QUESTION_TYPE_DICT

    raw = str(node.get("type", ""))
    name = str(node.get("name", ""))
    described = QUESTION_TYPE_DICT.get(raw)
    if raw == "select one external":
        # The web form shows it as a select_one of the external_choices list (itemset).
        return "select_one"
    if described is None:
        locations.problems.append(
            _(
                "%(where)s: the question type '%(type)s' is not an XLSForm type.",
                where=locations.at(name, "type"),
                type=raw,
            )
        )
        return None
    control = described.get("control") or {}
    bind = described.get("bind") or {}
    tag = control.get("tag")
    preload = bind.get("jr:preloadParams")
    if preload:
        return PRELOAD_TYPES.get(str(preload))
    if raw == "audit":
        return "audit"
    if tag == "upload":
        # image, audio, video, file (and their aliases: photo, q picture, ...) by media type.
        kind = str(control.get("mediatype", "")).split("/", 1)[0]
        return {"application": "file"}.get(kind, kind) if kind != "osm" else "media"
    if raw == "background-audio":
        return "media"
    if tag == "action" or raw == "background-geopoint":
        return "start_geopoint"
    if bind.get("readonly") == "true()" and tag == "input":
        return "note"
    if tag == "select1":
        return "select_one"
    if tag == "select":
        return "select_multiple"
    if tag == "odk:rank":
        return "rank"
    if tag == "range":
        return "range"
    if tag == "trigger":
        return "acknowledge"
    if tag is None:
        return "hidden" if raw == "hidden" else "calculate"
    kind = INPUT_TYPES.get(str(bind.get("type")))
    if kind is None:
        locations.problems.append(
            _(
                "%(where)s: the question type '%(type)s' is not supported.",
                where=locations.at(name, "type"),
                type=raw,
            )
        )
    return kind


def _parameters(node: Mapping[str, Any]) -> dict[str, str]:
    """The parameters column as pyxform parsed it (range start/end/step, randomize, ...)."""
    value = node.get("parameters")
    if isinstance(value, Mapping):
        return {str(k): _cell_text(v) for k, v in value.items() if _cell_text(v)}
    out = {}
    for part in re.split(r"[\s;,]+", _cell_text(value)):
        key, sep, text = part.partition("=")
        if sep and key.strip():
            out[key.strip()] = text.strip()
    return out


# What pyxform writes for the yes/no of required and read_only (and what authors type).
_FLAG_WORDS = frozenset({"yes", "true", "true()", "no", "false", "false()"})


def _question(
    node: Mapping[str, Any], place: _Place, texts: Any, locations: _Locations
) -> Question | None:
    section, repeat = place.section, place.repeat
    tag = str(node.get("name", ""))
    generated_other = tag.endswith("_other") and node.get("label") == "Specify other."
    name = tag if generated_other else _claim(tag, place, "item", locations)
    locations.keys["item"].add(name)
    node = {**node, "name": name}
    kind = _kind(node, locations)
    if kind is None:
        return None
    bind = node.get("bind") or {}
    appearance = _appearance(node)
    for word in (appearance or "").lower().split():
        if word not in QUESTION_APPEARANCES and not word.startswith("ex:"):
            locations.warnings.append(_unknown_appearance(locations.at(name, "appearance"), word))
    default = node.get("default")
    # pyxform's own test: a default with a function call, ${…}, an operator or a predicate is
    # an expression, which ODK evaluates when the interview (or repeat entry) is created.
    from pyxform.utils import default_is_dynamic

    dynamic = default is not None and default_is_dynamic(str(default), str(node.get("type")))
    # required and read_only may be expressions (ODK evaluates them as the answers change);
    # one our engine cannot read is kept out with a warning, as ODK's engine loads such forms.
    conditions: dict[str, str | None] = {"required": None, "readonly": None}
    for column, key in (("required", "required"), ("read_only", "readonly")):
        text = _cell_text(bind.get(key))
        if not text or text.lower() in _FLAG_WORDS:
            continue
        try:
            expressions.parse(text)
        except expressions.ExpressionError as error:
            locations.warnings.append(
                _(
                    "%(where)s: the expression cannot be read (%(error)s); '%(name)s' is "
                    "treated as no.",
                    where=locations.at(name, column),
                    error=error,
                    name=name,
                )
            )
            continue
        conditions[key] = text
    labels = texts(node.get("label"))
    if generated_other:
        labels = dict(OTHER_LABELS)
        locations.rows.setdefault(name, locations.rows.get(name.removesuffix("_other"), 0))
    if name not in locations.rows and repeat:
        locations.rows[name] = locations.rows.get(repeat, 0)
    parameters = _parameters(node)
    if kind == "range":
        parameters = {"start": "1", "end": "10", "step": "1", **parameters}
        try:
            start, end, step = (float(parameters[k]) for k in ("start", "end", "step"))
            if step <= 0 or end < start:
                raise ValueError
        except ValueError:
            locations.problems.append(
                _(
                    "%(where)s: a range needs numbers with start <= end and a positive step.",
                    where=locations.at(name, "parameters"),
                )
            )
    if parameters.get("randomize", "").strip().lower() in {"true", "yes", "true()"}:
        # ODK Collect shuffles the choices (the XForm it gets says so); the web form does not yet.
        locations.warnings.append(
            _(
                "%(where)s: ODK Collect shows the choices in a shuffled order, but the web form "
                "shows them in the order of the choices sheet (randomize is not applied there).",
                where=locations.at(name, "parameters"),
            )
        )
    return Question(
        name=name,
        type=kind,
        labels=labels,
        hints=texts(node.get("hint")),
        required=str(bind.get("required", "")).strip().lower() in {"yes", "true", "true()"},
        required_messages=texts(bind.get("jr:requiredMsg")),
        relevant=_both(place.relevant, bind.get("relevant")),
        constraint=bind.get("constraint"),
        constraint_messages=texts(bind.get("jr:constraintMsg")),
        calculation=bind.get("calculate"),
        default=str(default) if default is not None and not dynamic else None,
        default_expression=str(default) if dynamic else None,
        appearance=appearance,
        choice_list=node.get("list_name") or node.get("itemset"),
        choice_filter=node.get("choice_filter"),
        section=section,
        repeat=repeat,
        row=locations.rows.get(name),
        parameters=parameters,
        read_only=str(bind.get("readonly", "")).strip().lower() in {"yes", "true", "true()"},
        required_if=conditions["required"],
        read_only_if=conditions["readonly"],
        group=place.group,
        path=place.child_path(tag),
    )


def _check_indexed_repeat(
    spec: InstrumentSpec, where: str, name: str, named: tuple[str, ...], locations: _Locations
) -> None:
    """indexed-repeat() names the repeats holding its question, outermost first and ending
    with the question's own, as ODK reads it; anything else would choose entries at random."""
    question = spec.questions_by_name.get(name)
    if question is None:
        return  # an unknown name is reported with the others
    holders = tuple(r.name for r in spec.repeat_chain(question.repeat))
    if not holders:
        locations.problems.append(
            _(
                "%(where)s: indexed-repeat() reads a question of a repeat, and '%(name)s' is "
                "in none.",
                where=where,
                name=name,
            )
        )
        return
    at = [holders.index(r) if r in holders else -1 for r in named]
    if named and named[-1] == holders[-1] and -1 not in at and at == sorted(set(at)):
        return
    locations.problems.append(
        _(
            "%(where)s: indexed-repeat() must name repeats that hold '%(name)s', outermost "
            "first, the last being its own (%(holders)s), not %(given)s.",
            where=where,
            name=name,
            holders="/".join(holders),
            given="/".join(named),
        )
    )


def _check_expressions(spec: InstrumentSpec, locations: _Locations) -> None:
    """Parse every expression with our engine; check names exist; refuse circular references."""
    known = set(spec.questions_by_name) | set(spec.repeats_by_name)
    dependencies: dict[str, set[str]] = {}

    def check(
        owner: str, column: str, text: str | None, *, choice_filter: bool = False
    ) -> set[str]:
        if not text:
            return set()
        try:
            node = expressions.parse(text, choice_filter=choice_filter)
        except expressions.ExpressionError as error:
            locations.problems.append(f"{locations.at(owner, column)}: {error}")
            return set()
        refs = set(expressions.references(node))
        if column != "default":
            for name in sorted(expressions.last_saved_names(node)):
                locations.warnings.append(
                    _(
                        "%(where)s: ${last-saved#%(name)s} reads the last saved interview only "
                        "in the default column; here the web form reads it as empty (ODK "
                        "Collect reads the device's last saved form).",
                        where=locations.at(owner, column),
                        name=name,
                    )
                )
        for bare in sorted(expressions.bare_names(node)):
            locations.warnings.append(
                _(
                    "%(where)s: '%(name)s' without ${…} is read as ODK reads it, as an empty "
                    "value (false), not as an answer. Write ${%(name)s} for the answer of a "
                    "question, or true() and false().",
                    where=locations.at(owner, column),
                    name=bare,
                )
            )
        unknown_lists = {n for n in expressions.instance_lists(node) if not spec.instance_list(n)}
        for list_name in sorted(unknown_lists):
            locations.problems.append(
                _(
                    "%(where)s: instance('%(list)s') reads a choice list that is not on the "
                    "choices sheet.",
                    where=locations.at(owner, column),
                    list=list_name,
                )
            )
        for name, named in expressions.indexed_repeat_calls(node):
            _check_indexed_repeat(spec, locations.at(owner, column), name, named, locations)
        for name in sorted(expressions.choice_name_questions(node)):
            target = spec.questions_by_name.get(name)
            if target is None or not target.choice_list:
                locations.problems.append(
                    _(
                        "%(where)s: jr:choice-name() needs a select question, and '%(name)s' "
                        "is not one.",
                        where=locations.at(owner, column),
                        name=name,
                    )
                )
        for missing in sorted((refs | expressions.last_saved_names(node)) - known):
            locations.problems.append(
                _(
                    "%(where)s: '%(name)s' is not the name of a question.",
                    where=locations.at(owner, column),
                    name=missing,
                )
            )
        return refs & known

    for section in spec.sections:
        section_refs = check(section.name, "relevant", section.relevant)
        dependencies[section.name] = section_refs
        for item in section.items:
            if isinstance(item, Repeat):
                for repeat in item.iter_repeats():
                    dependencies[repeat.name] = (
                        check(repeat.name, "relevant", repeat.relevant)
                        | check(repeat.name, "repeat_count", repeat.repeat_count)
                        | ({repeat.repeat} if repeat.repeat else set())
                    )
                members = tuple(q for r in item.iter_repeats() for q in r.questions)
            else:
                members = (item,)
            for q in members:
                texts = (
                    ("label", q.labels),
                    ("hint", q.hints),
                    ("constraint_message", q.constraint_messages),
                    ("required_message", q.required_messages),
                )
                for column, by_language in texts:
                    for text in dict.fromkeys(by_language.values()):
                        for output in piping.outputs(text):
                            check(q.name, column, output)
                # A default runs once, at creation: it reads answers but is no dependency.
                check(q.name, "default", q.default_expression)
                check(q.name, "required", q.required_if)
                check(q.name, "read_only", q.read_only_if)
                refs = check(q.name, "relevant", q.relevant)
                refs |= check(q.name, "calculation", q.calculation)
                refs |= check(q.name, "choice_filter", q.choice_filter, choice_filter=True)
                check(q.name, "constraint", q.constraint)
                if q.choice_list and q.choice_list not in spec.choices:
                    locations.problems.append(
                        _(
                            "%(where)s: the choice list '%(list)s' is not on the choices sheet.",
                            where=locations.at(q.name, "type"),
                            list=q.choice_list,
                        )
                    )
                # A question is shown only when its section (and repeat) is.
                dependencies[q.name] = refs | {section.name} | ({q.repeat} if q.repeat else set())
    # A nested group's label and hint show answers as its questions' texts do.
    for group in spec.groups:
        for column, by_language in (("label", group.labels), ("hint", group.hints)):
            for text in dict.fromkeys(by_language.values()):
                for output in piping.outputs(text):
                    check(group.name, column, output)
    cycle = _find_cycle(dependencies)
    if cycle:
        path = " → ".join(f"'{n}' (row {locations.rows.get(n, '?')})" for n in cycle)
        locations.problems.append(
            _(
                "%(where)s: circular reference between %(path)s. A relevant or calculation "
                "cannot depend on itself, directly or through other questions.",
                where=workbook_place("survey"),
                path=path,
            )
        )


def _find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """A list of names forming a cycle in the dependency graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if state.get(start) is None:
            found = visit(start)
            if found:
                return found
    return None
