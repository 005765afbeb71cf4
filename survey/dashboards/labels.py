"""Labels of columns and codes in the page language, with the dashboards' own words for derived
variables, chapters, review statuses, refusal reasons and severity measures.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from reports.analysis import Indicator
from reports.instrument import SPECIAL_CODES
from survey.collection.forms import REVIEW_STATUS_LABELS
from survey.datasets.columns import MULTIPLE_SEPARATOR, RESPONDENT_PREFIX
from survey.datasets.dataset import Dataset
from survey.datasets.labels import DERIVED_VALUES, derived_label
from survey.instruments.spec import InstrumentSpec

SPECIAL = SPECIAL_CODES


CHAPTERS: Mapping[str, Any] = {
    "profile": _l("Profile of respondents"),
    "status": _l("Legal status and benefits"),
    "health": _l("Health"),
    "disability": _l("Functioning and disability"),
    "psychosocial": _l("Psychological well-being"),
    "socioeconomic": _l("Socio-economic inclusion"),
    "environment": _l("Environment"),
    "intergenerational": _l("Intergenerational impacts"),
    "priorities": _l("Priorities and law reform"),
    "severity": _l("Severity (JIAF-inspired)"),
}


STATUS_LABELS: Mapping[str, Any] = {
    **REVIEW_STATUS_LABELS,
    "demo": _l("Demo data"),
}


REFUSAL_LABELS: Mapping[str, Any] = {
    "no_consent": _l("Did not consent"),
    "under_age": _l("Under 18"),
}


SEVERITY_MEASURES: Mapping[str, Any] = {
    "in_need": _l("in need (3 or more)"),
    "acute": _l("acute need (4 or more)"),
}


class Labels:
    """Labels of columns and codes in one language, with fallbacks for derived variables."""

    def __init__(self, dataset: Dataset, language: str) -> None:
        self.language = language
        self.spec = dataset.spec
        self.columns = dataset.column_labels(language)
        self.values = dataset.value_labels(language)

    def column(self, name: str) -> str:
        """A column's label ("Respondent: Sex" for roster context columns)."""
        if name.startswith(RESPONDENT_PREFIX):
            inner = name.removeprefix(RESPONDENT_PREFIX)
            return _("Respondent: %(label)s", label=self.column(inner))
        label = self.columns.get(name)
        if label is None or label == name:
            return derived_label(name)
        return label

    def value(self, column: str, code: Any) -> str:
        """A code's label in a column; derived codes and special answers get UI labels."""
        text = str(code)
        mapping = self.values.get(column)
        if mapping is None and column.startswith(RESPONDENT_PREFIX):
            mapping = self.values.get(column.removeprefix(RESPONDENT_PREFIX))
        if mapping and text in mapping:
            return mapping[text]
        if text in DERIVED_VALUES:
            return str(DERIVED_VALUES[text])
        band = re.fullmatch(r"(\d+)_(\d+)", text)
        if band:
            return f"{band.group(1)}–{band.group(2)}"
        plus = re.fullmatch(r"(\d+)_plus", text)
        if plus:
            return f"{plus.group(1)}+"
        return text

    def text(self, labels: Mapping[str, str], fallback: str) -> str:
        """A label mapping (language → text) in this language."""
        return self.spec.label(labels, self.language) or fallback


def settlement_like(spec: InstrumentSpec) -> set[str]:
    """select_one questions finer than the district: never tabulated (DOMAIN.md §6)."""
    district = spec.intake.district_question
    names = set()
    for question in spec.iter_questions():
        choices = spec.choices.get(question.choice_list or "", ())
        if question.name != district and any(district in c.filters for c in choices):
            names.add(question.name)
    return names


def category_label(indicator: Indicator, category: str, labels: Labels) -> str:
    """The label of a category row (an answer, a need, a severity measure)."""
    if indicator.kind == "severity":
        return str(SEVERITY_MEASURES.get(category, category))
    if indicator.kind in ("ranking", "points"):
        column = indicator.columns[0] if indicator.columns else ""
        return labels.value(column, category)
    column = indicator.column or ""
    if indicator.kind == "multiple":
        description_labels = labels.columns.get(column + MULTIPLE_SEPARATOR + category)
        if description_labels and ": " in description_labels:
            return description_labels.split(": ", 1)[1]
        return labels.value(column, category)
    return labels.value(column, category)


def group_text(group_var: str, group: str, labels: Labels) -> str:
    """The label of a group ("All" for the overall row)."""
    if group_var == "":
        return _("All")
    if group_var.startswith(RESPONDENT_PREFIX):
        # A roster row grouped by the respondent's answer, not the member's own.
        return _("%(value)s (respondent)", value=labels.value(group_var, group))
    return labels.value(group_var, group)


def chapter_label(chapter: str, spec: InstrumentSpec, labels: Labels) -> str:
    """A chapter's heading: its section's label, a known chapter, or the code."""
    section = spec.sections_by_name.get(chapter)
    if section is not None:
        return labels.text(section.labels, chapter)
    if chapter in CHAPTERS:
        return str(CHAPTERS[chapter])
    return chapter.replace("_", " ").capitalize() if chapter else _("Other indicators")
