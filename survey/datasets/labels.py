"""Labels of a dataset's columns and codes per language (data labels of exported files, not the
interface's words).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from survey.datasets.columns import (
    METADATA_COLUMNS,
    RESPONDENT_CONTEXT,
    RESPONDENT_PREFIX,
    multiple_column,
)
from survey.instruments.spec import InstrumentSpec

# Labels of the metadata columns per language (data labels of exported files, not the UI).
METADATA_LABELS: dict[str, dict[str, str]] = {
    "_submission_id": {"en": "Submission", "ru": "Анкета", "kk": "Сауалнама"},
    "_version": {"en": "Instrument version", "ru": "Версия анкеты", "kk": "Сауалнама нұсқасы"},
    "_round": {"en": "Survey round", "ru": "Раунд опроса", "kk": "Сауалнама кезеңі"},
    "_district": {"en": "District", "ru": "Район", "kk": "Аудан"},
    "_received_at": {
        "en": "Received at (UTC)",
        "ru": "Получено (UTC)",
        "kk": "Алынған уақыты (UTC)",
    },
    "_started_at": {"en": "Started at (UTC)", "ru": "Начато (UTC)", "kk": "Басталған уақыты (UTC)"},
    "_duration_min": {
        "en": "Interview duration (minutes)",
        "ru": "Длительность интервью (минуты)",
        "kk": "Сұхбат ұзақтығы (минут)",
    },
    "_review_status": {"en": "Review status", "ru": "Статус проверки", "kk": "Тексеру күйі"},
    "_volunteer": {"en": "Volunteer (user id)", "ru": "Волонтёр (id)", "kk": "Ерікті (id)"},
    "_language": {"en": "Interface language", "ru": "Язык интерфейса", "kk": "Интерфейс тілі"},
    "_demo": {"en": "Demo data", "ru": "Демо-данные", "kk": "Демо деректер"},
    "_source": {"en": "Source", "ru": "Источник", "kk": "Дереккөз"},
    "_index": {
        "en": "Position in the roster",
        "ru": "Номер в списке",
        "kk": "Тізімдегі реті",
    },
    "_parent_index": {
        "en": "Position of the entry holding it",
        "ru": "Номер записи, в которую входит",
        "kk": "Ішіне кіретін жазбаның реті",
    },
}


# Names of derived (calculated) variables, which carry no label in the XLSForm.
DERIVED_COLUMNS: Mapping[str, Any] = {
    "age_band": _l("Age group"),
    "generation": _l("Generation"),
    "wg_disability": _l("Disability (Washington Group)"),
    "phq4_positive": _l("Positive PHQ-4 screen"),
    "_district": _l("District"),
}


DERIVED_VALUES: Mapping[str, Any] = {
    "g1": _l("G1: exposed themselves"),
    "g2": _l("G2: child of an exposed person"),
    "g3": _l("G3: grandchild of an exposed person"),
    "none": _l("No connection to the tests"),
    "yes": _l("Yes"),
    "no": _l("No"),
    "True": _l("Yes"),
    "False": _l("No"),
    "dnk": _l("Don't know"),
    "pnta": _l("Prefer not to answer"),
}


def derived_label(name: str) -> str:
    """The label, in the current locale, of a calculated variable the XLSForm leaves unlabelled
    (a roster's `member_generation` as `generation`); the name itself when unknown."""
    derived = DERIVED_COLUMNS.get(name) or DERIVED_COLUMNS.get(name.removeprefix("member_"))
    return str(derived) if derived is not None else name


RESPONDENT_LABEL = {"en": "Respondent", "ru": "Респондент", "kk": "Респондент"}


def _meta_label(column: str, language: str) -> str:
    labels = METADATA_LABELS.get(column, {})
    return labels.get(language) or labels.get("en") or column


def column_labels(spec: InstrumentSpec, language: str) -> dict[str, str]:
    """Every column an instrument version can produce → its label in kk, ru or en."""
    labels = {column: _meta_label(column, language) for column in METADATA_COLUMNS}
    labels["_index"] = _meta_label("_index", language)
    labels["_parent_index"] = _meta_label("_parent_index", language)
    respondent = RESPONDENT_LABEL.get(language, RESPONDENT_LABEL["en"])
    for question in spec.iter_questions():
        if question.type == "note":
            continue
        text = spec.label(question.labels, language) or question.name
        if question.type == "select_multiple":
            for choice in spec.choices.get(question.choice_list or "", ()):
                choice_text = spec.label(choice.labels, language) or choice.name
                labels[multiple_column(question.name, choice.name)] = f"{text}: {choice_text}"
        else:
            labels[question.name] = text
        if question.repeat is None and question.name in RESPONDENT_CONTEXT:
            labels[RESPONDENT_PREFIX + question.name] = f"{respondent}: {text}"
    return labels


def value_labels(spec: InstrumentSpec, language: str) -> dict[str, dict[str, str]]:
    """Categorical columns → {code: label} in kk, ru or en (select_one, acknowledge, district)."""
    out: dict[str, dict[str, str]] = {}
    for question in spec.iter_questions():
        if question.type not in {"select_one", "acknowledge"}:
            continue
        if question.type == "acknowledge":
            mapping = {"OK": "OK"}
        else:
            mapping = {
                choice.name: spec.label(choice.labels, language) or choice.name
                for choice in spec.choices.get(question.choice_list or "", ())
            }
        out[question.name] = mapping
        if question.repeat is None and question.name in RESPONDENT_CONTEXT:
            out[RESPONDENT_PREFIX + question.name] = mapping
    district = spec.questions_by_name.get(spec.intake.district_question)
    if district is not None and district.name in out:
        out["_district"] = out[district.name]
    return out
