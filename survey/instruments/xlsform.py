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
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook
from pyxform.errors import PyXFormError
from pyxform.xls2xform import convert

from survey.instruments import expressions
from survey.instruments.archive import ArchiveRefused, check_workbook_archive
from survey.instruments.languages import language_code
from survey.instruments.spec import (
    AnalysisDesign,
    Choice,
    InstrumentSpec,
    IntakeRules,
    Question,
    Repeat,
    Section,
)

# pyxform's internal type names → ours.
TYPE_NAMES = {
    "text": "text",
    "integer": "integer",
    "decimal": "decimal",
    "date": "date",
    "select one": "select_one",
    "select all that apply": "select_multiple",
    "note": "note",
    "calculate": "calculate",
    "acknowledge": "acknowledge",
}
SUPPORTED_TYPES_TEXT = (
    "text, integer, decimal, date, select_one, select_multiple (or_other), note, calculate, "
    "acknowledge, begin_group/end_group, begin_repeat/end_repeat"
)
QUESTION_APPEARANCES = {"minimal", "multiline"}
GROUP_APPEARANCES = {"field-list"}
SURVEY_COLUMNS = {
    "type",
    "name",
    "label",
    "hint",
    "required",
    "required_message",
    "relevant",
    "constraint",
    "constraint_message",
    "calculation",
    "default",
    "appearance",
    "choice_filter",
    "repeat_count",
}
TRANSLATABLE_COLUMNS = {"label", "hint", "required_message", "constraint_message"}
CHOICE_UNSUPPORTED = {"image", "audio", "video", "media", "big-image"}
SETTINGS_COLUMNS = {
    "form_id",
    "id_string",
    "form_title",
    "version",
    "default_language",
    "consent_question",
    "consent_value",
    "age_question",
    "minimum_age",
    "district_question",
    "analysis_weight",
    "analysis_strata",
    "analysis_cluster",
    "date_question",
}
# pyxform writes "Specify other." untranslated for or_other; give volunteers their language.
OTHER_LABELS = {"en": "Specify other", "ru": "Укажите другое", "kk": "Басқасын көрсетіңіз"}
OTHER_CHOICE_LABELS = {"en": "Other", "ru": "Другое", "kk": "Басқа"}
MAX_QUESTIONS = 2000
PLAN_SHEETS = ("analysis", "severity")
UNSUPPORTED_SHEETS = {"external_choices", "entities", "osm"}


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


@dataclass
class _Locations:
    """Where names and columns sit in the workbook, for error messages."""

    rows: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    extra_sheets: dict[str, tuple[dict[str, str], ...]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)

    def at(self, name: str, column: str | None = None) -> str:
        where = "Sheet 'survey'"
        if name in self.rows:
            where += f", row {self.rows[name]}"
        if column:
            where += f", column '{column}'"
        return where


def load_xlsform(data: bytes, filename: str = "form.xlsx") -> ImportedForm:
    """Parse XLSForm bytes into a spec; raise InstrumentImportError naming sheet, row, column."""
    if not data:
        raise InstrumentImportError(["The file is empty."])
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise InstrumentImportError(
            [f"'{filename}' is not an Excel workbook (.xlsx). Save the XLSForm as .xlsx and retry."]
        )
    try:
        check_workbook_archive(data)  # before openpyxl or pyxform inflate anything
    except ArchiveRefused as error:
        raise InstrumentImportError([str(error)]) from None
    locations = _locate(data)
    if locations.problems:
        raise InstrumentImportError(locations.problems)
    data, generated_version = _ensure_version(data)
    if locations.titles:
        data = _without_title_translations(data)
    try:
        result = convert(xlsform=io.BytesIO(data), file_type=".xlsx", form_name="data")
    except PyXFormError as error:
        raise InstrumentImportError([_pyxform_message(str(error))]) from error
    except Exception as error:  # pyxform surfaces many low-level errors for broken workbooks
        raise InstrumentImportError(
            [f"The workbook could not be read as an XLSForm: {error}"]
        ) from error
    survey = result._pyxform or {}
    spec = _build_spec(survey, locations)
    _check_expressions(spec, locations)
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
    warnings = [w for w in result.warnings if "or_other and translations" not in w]
    if generated_version:
        warnings.append(
            f"The settings sheet has no 'version'; this import is version {generated_version}."
        )
    return ImportedForm(spec=spec, xform=result.xform, warnings=warnings)


def _ensure_version(data: bytes) -> tuple[bytes, str | None]:
    """Give a workbook without a settings 'version' one, so the XForm carries it too.

    ODK clients match submissions to a form by version; a version known only to the database
    would leave their submissions unmatched.
    """
    workbook = load_workbook(io.BytesIO(data))
    sheets = {ws.title.strip().lower(): ws for ws in workbook.worksheets}
    settings = sheets.get("settings")
    if settings is None:
        settings = workbook.create_sheet("settings")
    rows = list(settings.iter_rows(values_only=True))
    headers = [_cell_text(h).lower() for h in rows[0]] if rows else []
    if "version" in headers and len(rows) > 1:
        index = headers.index("version")
        if index < len(rows[1]) and _cell_text(rows[1][index]):
            return data, None
    version = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    column = headers.index("version") + 1 if "version" in headers else len(headers) + 1
    settings.cell(row=1, column=column, value="version")
    settings.cell(row=2, column=column, value=version)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), version


def _without_title_translations(data: bytes) -> bytes:
    """The workbook without its form_title::<language> columns, which pyxform cannot read (it
    takes a translated title for a node); the spec keeps them (InstrumentSpec.titles)."""
    workbook = load_workbook(io.BytesIO(data))
    sheets = {ws.title.strip().lower(): ws for ws in workbook.worksheets}
    settings = sheets["settings"]
    headers = [_cell_text(c.value).lower() for c in settings[1]]
    for index in reversed(range(len(headers))):
        if headers[index].startswith("form_title::"):
            settings.delete_cols(index + 1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _pyxform_message(message: str) -> str:
    match = re.match(r"\[row : (\d+)\]\s*(.*)", message, re.S)
    if match:
        text = match.group(2)
        sheet = "choices" if "choices sheet" in text and "List name" not in text else "survey"
        return f"Sheet '{sheet}', row {match.group(1)}: {text}"
    return message


def _cell_text(value: Any) -> str:
    return "" if value is None else unicodedata.normalize("NFC", str(value)).strip()


def _locate(data: bytes) -> _Locations:
    """Find the row of each name and refuse columns and sheets we do not support."""
    locations = _Locations()
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for damaged files
        locations.problems.append(f"The workbook could not be opened: {error}")
        return locations
    try:
        sheets = {ws.title.strip().lower(): ws for ws in workbook.worksheets}
        if "survey" not in sheets:
            locations.problems.append("The workbook has no sheet named 'survey'.")
            return locations
        _locate_survey(sheets["survey"], locations)
        if "choices" in sheets:
            _check_columns(
                sheets["choices"], "choices", locations, lambda base: base not in CHOICE_UNSUPPORTED
            )
        if "settings" in sheets:
            _check_columns(
                sheets["settings"],
                "settings",
                locations,
                lambda base: (
                    base in SETTINGS_COLUMNS or re.fullmatch(r"form_title_[a-z]{2,3}", base)
                ),
            )
            locations.titles = _titles(sheets["settings"])
        for name in sorted(set(sheets) & UNSUPPORTED_SHEETS):
            locations.problems.append(f"Sheet '{name}': this sheet is not supported.")
        for name in PLAN_SHEETS:
            if name in sheets:
                locations.extra_sheets[name] = _sheet_rows(sheets[name])
    finally:
        workbook.close()
    return locations


def _titles(ws: Any) -> dict[str, str]:
    """The translated titles on the settings sheet, by language code: form_title::<language>
    columns (as labels are written), or form_title_<code> for a workbook that must also convert
    in plain pyxform, which cannot read a translated title."""
    rows = list(ws.iter_rows(values_only=True, max_row=2))
    if len(rows) < 2:
        return {}
    titles = {}
    for header, value in zip(rows[0], rows[1], strict=False):
        text = _cell_text(header)
        lowered = text.lower()
        if not _cell_text(value):
            continue
        if lowered.startswith("form_title::"):
            titles[language_code(text.split("::", 1)[1])] = _cell_text(value)
        elif re.fullmatch(r"form_title_[a-z]{2,3}", lowered):
            titles[lowered.rsplit("_", 1)[1]] = _cell_text(value)
    return titles


def _sheet_rows(ws: Any) -> tuple[dict[str, str], ...]:
    """Non-empty rows of a sheet as header → text, with the Excel row number under '_row'."""
    rows = list(ws.iter_rows(values_only=True))
    headers = [_cell_text(h) for h in rows[0]] if rows else []
    out = []
    for number, row in enumerate(rows[1:], 2):
        values = {
            header: _cell_text(value)
            for header, value in zip(headers, row, strict=False)
            if header and _cell_text(value)
        }
        if values:
            out.append({**values, "_row": str(number)})
    return tuple(out)


def _headers(rows: list[tuple[Any, ...]]) -> list[str]:
    return [_cell_text(h).lower() for h in rows[0]] if rows else []


def _base_column(header: str) -> str:
    return header.split("::", 1)[0].strip().replace(" ", "_")


def _check_columns(ws: Any, sheet: str, locations: _Locations, allowed: Any) -> None:
    rows = list(ws.iter_rows(values_only=True))
    headers = _headers(rows)
    for index, header in enumerate(headers):
        if not header or allowed(_base_column(header)):
            continue
        used = next(
            (n for n, row in enumerate(rows[1:], 2) if index < len(row) and _cell_text(row[index])),
            None,
        )
        if used is not None:
            locations.problems.append(
                f"Sheet '{sheet}', row {used}, column '{header}': this column is not supported."
            )


def _locate_survey(ws: Any, locations: _Locations) -> None:
    rows = list(ws.iter_rows(values_only=True))
    headers = _headers(rows)
    if "type" not in headers or "name" not in headers:
        locations.problems.append(
            "Sheet 'survey', row 1: the columns 'type' and 'name' are required."
        )
        return
    type_index, name_index = headers.index("type"), headers.index("name")
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], 2):
        name = _cell_text(row[name_index]) if name_index < len(row) else ""
        kind = _cell_text(row[type_index]).lower() if type_index < len(row) else ""
        if not name or kind.startswith("end"):
            continue
        if name in seen:
            locations.problems.append(
                f"Sheet 'survey', row {number}, column 'name': the name '{name}' is already used "
                f"on row {seen[name]}. Every question, group and repeat needs its own name."
            )
        seen[name] = number
    locations.rows.update(seen)
    for index, header in enumerate(headers):
        if not header:
            continue
        base = _base_column(header)
        if base in SURVEY_COLUMNS and ("::" not in header or base in TRANSLATABLE_COLUMNS):
            continue
        used = next(
            (n for n, row in enumerate(rows[1:], 2) if index < len(row) and _cell_text(row[index])),
            None,
        )
        if used is not None:
            locations.problems.append(
                f"Sheet 'survey', row {used}, column '{header}': this column is not supported."
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
        kind = child.get("type")
        name = child.get("name", "")
        if name == "meta" and kind == "group":
            continue
        if kind == "group":
            flush_loose()
            sections.append(_section(child, texts, locations))
        elif kind == "repeat":
            loose.append(_repeat(child, None, texts, locations))
        else:
            question = _question(child, None, None, texts, locations)
            if question is not None:
                loose.append(question)
    flush_loose()
    if sum(1 for _ in _iter_all(sections)) > MAX_QUESTIONS:
        locations.problems.append(f"The form has more than {MAX_QUESTIONS} questions.")
    if not any(q.has_input for q in _iter_all(sections)):
        locations.problems.append("Sheet 'survey': the form has no question to answer.")
    intake = _intake(survey, locations)
    design = _design(survey)
    for lang in (default_language,):
        if lang not in languages:
            languages.insert(0, lang)
    return InstrumentSpec(
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
    )


def _iter_all(sections: Iterable[Section]) -> Iterable[Question]:
    for section in sections:
        for item in section.items:
            yield from item.questions if isinstance(item, Repeat) else [item]


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
            locations.problems.append("Sheet 'settings', column 'minimum_age': not a whole number.")
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


def _section(node: Mapping[str, Any], texts: Any, locations: _Locations) -> Section:
    name = node["name"]
    appearance = _appearance(node)
    if appearance and appearance not in GROUP_APPEARANCES:
        locations.problems.append(
            f"{locations.at(name, 'appearance')}: appearance '{appearance}' is not supported "
            "on a group (only field-list)."
        )
    items: list[Question | Repeat] = []
    for child in node.get("children", []):
        kind = child.get("type")
        if kind == "group":
            locations.problems.append(
                f"{locations.at(child['name'], 'type')}: a group inside a group is not supported; "
                "use top-level groups (each one is a section of the form)."
            )
        elif kind == "repeat":
            items.append(_repeat(child, name, texts, locations))
        else:
            question = _question(child, name, None, texts, locations)
            if question is not None:
                items.append(question)
    return Section(
        name=name,
        labels=texts(node.get("label")),
        relevant=(node.get("bind") or {}).get("relevant"),
        appearance=appearance,
        items=tuple(items),
        row=locations.rows.get(name),
    )


def _repeat(
    node: Mapping[str, Any], section: str | None, texts: Any, locations: _Locations
) -> Repeat:
    name = node["name"]
    questions: list[Question] = []
    for child in node.get("children", []):
        if child.get("type") in {"group", "repeat"}:
            locations.problems.append(
                f"{locations.at(child['name'], 'type')}: groups and repeats inside a repeat are "
                "not supported."
            )
            continue
        question = _question(child, section, name, texts, locations)
        if question is not None:
            questions.append(question)
    return Repeat(
        name=name,
        labels=texts(node.get("label")),
        hints=texts(node.get("hint")),
        relevant=(node.get("bind") or {}).get("relevant"),
        repeat_count=(node.get("control") or {}).get("jr:count"),
        questions=tuple(questions),
        section=section,
        row=locations.rows.get(name),
    )


def _question(
    node: Mapping[str, Any],
    section: str | None,
    repeat: str | None,
    texts: Any,
    locations: _Locations,
) -> Question | None:
    name = node.get("name", "")
    kind = TYPE_NAMES.get(node.get("type", ""))
    if kind is None:
        locations.problems.append(
            f"{locations.at(name, 'type')}: the question type '{node.get('type')}' is not "
            f"supported. Supported types: {SUPPORTED_TYPES_TEXT}."
        )
        return None
    bind = node.get("bind") or {}
    appearance = _appearance(node)
    if appearance and appearance not in QUESTION_APPEARANCES:
        locations.problems.append(
            f"{locations.at(name, 'appearance')}: appearance '{appearance}' is not supported "
            "(supported: minimal, multiline, field-list)."
        )
    default = node.get("default")
    if default is not None and re.search(r"\$\{|\(", str(default)):
        locations.problems.append(
            f"{locations.at(name, 'default')}: only fixed default values are supported, "
            "not expressions."
        )
    labels = texts(node.get("label"))
    if name.endswith("_other") and node.get("label") == "Specify other.":
        labels = dict(OTHER_LABELS)
        locations.rows.setdefault(name, locations.rows.get(name.removesuffix("_other"), 0))
    if name not in locations.rows and repeat:
        locations.rows[name] = locations.rows.get(repeat, 0)
    return Question(
        name=name,
        type=kind,
        labels=labels,
        hints=texts(node.get("hint")),
        required=str(bind.get("required", "")).strip().lower() in {"yes", "true", "true()"},
        required_messages=texts(bind.get("jr:requiredMsg")),
        relevant=bind.get("relevant"),
        constraint=bind.get("constraint"),
        constraint_messages=texts(bind.get("jr:constraintMsg")),
        calculation=bind.get("calculate"),
        default=str(default) if default is not None else None,
        appearance=appearance,
        choice_list=node.get("list_name") or node.get("itemset"),
        choice_filter=node.get("choice_filter"),
        section=section,
        repeat=repeat,
        row=locations.rows.get(name),
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
        for missing in sorted(refs - known):
            locations.problems.append(
                f"{locations.at(owner, column)}: '{missing}' is not the name of a question."
            )
        return refs & known

    for section in spec.sections:
        section_refs = check(section.name, "relevant", section.relevant)
        dependencies[section.name] = section_refs
        for item in section.items:
            if isinstance(item, Repeat):
                dependencies[item.name] = check(item.name, "relevant", item.relevant) | check(
                    item.name, "repeat_count", item.repeat_count
                )
                members = item.questions
            else:
                members = (item,)
            for q in members:
                refs = check(q.name, "relevant", q.relevant)
                refs |= check(q.name, "calculation", q.calculation)
                refs |= check(q.name, "choice_filter", q.choice_filter, choice_filter=True)
                check(q.name, "constraint", q.constraint)
                if q.choice_list and q.choice_list not in spec.choices:
                    locations.problems.append(
                        f"{locations.at(q.name, 'type')}: the choice list '{q.choice_list}' "
                        "is not on the choices sheet."
                    )
                # A question is shown only when its section (and repeat) is.
                dependencies[q.name] = refs | {section.name} | ({q.repeat} if q.repeat else set())
    cycle = _find_cycle(dependencies)
    if cycle:
        path = " → ".join(f"'{n}' (row {locations.rows.get(n, '?')})" for n in cycle)
        locations.problems.append(
            f"Sheet 'survey': circular reference between {path}. A relevant or calculation "
            "cannot depend on itself, directly or through other questions."
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
