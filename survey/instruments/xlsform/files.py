"""The files a form comes with: CSV and GeoJSON choices, external choices, pulldata() tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _

from survey.instruments import attachments as form_files
from survey.instruments import expressions, piping
from survey.instruments.spec import (
    Choice,
    InstrumentSpec,
    Question,
)

if TYPE_CHECKING:
    from pyxform.xls2json_backends import DefinitionData
from survey.instruments.xlsform.problems import _cell_text, _Locations


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
