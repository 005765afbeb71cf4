"""The instrument built from pyxform's normalised survey: sections, groups, repeats, questions."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _

from survey.instruments import expressions
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
    questions_in,
)

if TYPE_CHECKING:
    pass
from survey.instruments.xlsform.constants import (
    GROUP_APPEARANCES,
    INPUT_TYPES,
    MAX_QUESTIONS,
    OTHER_CHOICE_LABELS,
    OTHER_LABELS,
    PRELOAD_TYPES,
    QUESTION_APPEARANCES,
)
from survey.instruments.xlsform.problems import _cell_text, _Locations, _unknown_appearance


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
    media = [q for q in questions_in(sections) if q.type == "media"]
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
    uploads = [q for q in questions_in(sections) if q.type in {"image", "audio", "video", "file"}]
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
    if sum(1 for _ in questions_in(sections)) > MAX_QUESTIONS:
        locations.problems.append(
            _("The form has more than %(count)s questions.", count=MAX_QUESTIONS)
        )
    if not any(True for _ in questions_in(sections)):
        locations.problems.append(
            _("%(where)s: the form has no question to answer.", where=workbook_place("survey"))
        )
    intake = _intake(survey, locations)
    design = _design(survey)
    for lang in (default_language,):
        if lang not in languages:
            languages.insert(0, lang)
    known = {q.name for q in questions_in(sections)}
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
    # randomize=true shows the choices shuffled (collection/page.py); pyxform has checked that
    # a seed is a number or a ${reference}.
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
