"""One registry of question types: the WTForms field, the stored value and the analysis measure.

The volunteer's form, the server's checks and the description handed to `reports` all read it,
so a new question type is added in one place.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import Field

from reports.instrument import ChoiceDescription, QuestionDescription
from survey.instruments.spec import InstrumentSpec, Question

MAX_TEXT_LENGTH = 2000
INTEGER_PATTERN = re.compile(r"^[+-]?\d{1,9}$")
DECIMAL_PATTERN = re.compile(r"^[+-]?(\d{1,12}([.,]\d{0,10})?|[.,]\d{1,10})$")
LOCAL_DATE_PATTERN = re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})$")
# What a volunteer is told when a typed value cannot be read (the browser says it too: page.py).
INTEGER_MESSAGE = _l("Enter a whole number, for example 42.")
DECIMAL_MESSAGE = _l("Enter a number, for example 3.5.")
DATE_MESSAGE = _l("Enter a date as dd.mm.yyyy, for example 05.03.1956.")


def clean_text(value: str) -> str:
    """NFC-normalised, trimmed text with Unix line ends (DOMAIN.md §8)."""
    # Browsers post "\r\n", ODK's XML gives "\n": store one form so both channels agree.
    return unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n").strip()


def parse_integer(text: str) -> int | None:
    """A whole number typed by a volunteer; '' is None; ValueError when not a whole number."""
    text = clean_text(text).replace(" ", "").replace("\u00a0", "")
    if not text:
        return None
    if not INTEGER_PATTERN.match(text):
        raise ValueError(INTEGER_MESSAGE)
    return int(text)


def parse_decimal(text: str) -> float | None:
    """A number with a decimal point or comma; '' is None."""
    text = clean_text(text).replace(" ", "").replace("\u00a0", "")
    if not text:
        return None
    if not DECIMAL_PATTERN.match(text):
        raise ValueError(DECIMAL_MESSAGE)
    return float(text.replace(",", "."))


def parse_date(text: str) -> str | None:
    """An ISO date string from 'yyyy-mm-dd' or 'dd.mm.yyyy'; '' is None."""
    text = clean_text(text)
    if not text:
        return None
    match = LOCAL_DATE_PATTERN.match(text)
    try:
        if match:
            day, month, year = (int(g) for g in match.groups())
            return dt.date(year, month, day).isoformat()
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(DATE_MESSAGE) from None


def parse_text(text: str) -> str | None:
    """Free text, normalised; '' is None."""
    text = clean_text(text)
    if not text:
        return None
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(_l("This answer is too long (at most 2000 characters)."))
    return text


class AnswerField(Field):
    """A question's field: keeps what was typed, parses it to the stored value."""

    def __init__(
        self,
        label: str = "",
        validators: Any = None,
        *,
        question: Question,
        parser: Callable[[str], Any],
        choices: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, **kwargs)
        self.question = question
        self.parser = parser
        self.choices = choices or []
        self.typed = ""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.typed = valuelist[0] if valuelist else ""
        self.data = None
        self.data = self.parser(self.typed)

    def _value(self) -> str:
        if self.raw_data is not None:
            return self.typed
        return "" if self.data is None else str(self.data)


class ChoiceAnswerField(AnswerField):
    """select_one: one code."""

    def process_formdata(self, valuelist: list[str]) -> None:
        code = clean_text(valuelist[0]) if valuelist else ""
        self.typed = code
        self.data = code or None

    def is_checked(self, code: str) -> bool:
        return self.data == code


class MultipleChoiceAnswerField(AnswerField):
    """select_multiple: the chosen codes, without duplicates, in the order given."""

    def process_formdata(self, valuelist: list[str]) -> None:
        codes: list[str] = []
        for value in valuelist:
            code = clean_text(value)
            if code and code not in codes:
                codes.append(code)
        self.data = codes or None

    def process_data(self, value: Any) -> None:
        if isinstance(value, str):
            value = value.split()
        self.data = list(value) if value else None

    def is_checked(self, code: str) -> bool:
        return code in (self.data or [])


class AcknowledgeAnswerField(AnswerField):
    """acknowledge: 'OK' when ticked."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = "OK" if valuelist and valuelist[0] else None

    def is_checked(self, code: str = "OK") -> bool:
        return self.data == "OK"


@dataclass(frozen=True)
class QuestionType:
    """How one XLSForm type is entered, stored and described to analysis."""

    name: str
    field_class: type[AnswerField] | None
    parser: Callable[[str], Any] | None
    measure: str
    widget: str  # the macro branch that renders it


QUESTION_TYPES: dict[str, QuestionType] = {
    t.name: t
    for t in (
        QuestionType("text", AnswerField, parse_text, "text", "text"),
        QuestionType("integer", AnswerField, parse_integer, "numeric", "integer"),
        QuestionType("decimal", AnswerField, parse_decimal, "numeric", "decimal"),
        QuestionType("date", AnswerField, parse_date, "date", "date"),
        QuestionType("select_one", ChoiceAnswerField, None, "categorical", "select_one"),
        QuestionType(
            "select_multiple", MultipleChoiceAnswerField, None, "multiple", "select_multiple"
        ),
        QuestionType("acknowledge", AcknowledgeAnswerField, None, "categorical", "acknowledge"),
        QuestionType("note", None, None, "none", "note"),
        QuestionType("calculate", None, None, "categorical", "calculate"),
    )
}


def widget_for(question: Question) -> str:
    """The widget a question is drawn with (appearance may change it)."""
    widget = QUESTION_TYPES[question.type].widget
    if widget == "text" and question.appearance == "multiline":
        return "textarea"
    if widget == "select_one" and question.appearance == "minimal":
        return "dropdown"
    return widget


def make_field(spec: InstrumentSpec, question: Question, language: str) -> Field | None:
    """The unbound WTForms field of a question in a language, or None for notes/calculates."""
    kind = QUESTION_TYPES[question.type]
    if kind.field_class is None:
        return None
    choices = [
        (c.name, spec.label(c.labels, language) or c.name)
        for c in spec.choices.get(question.choice_list or "", ())
    ]
    return kind.field_class(
        spec.label(question.labels, language) or question.name,
        name=question.name,
        question=question,
        parser=kind.parser or (lambda text: text or None),
        choices=choices,
        default=question.default,
    )


def describe(spec: InstrumentSpec) -> tuple[QuestionDescription, ...]:
    """The plain description of every question, for `reports`."""
    out = []
    for q in spec.iter_questions():
        choices = tuple(
            ChoiceDescription(code=c.name, labels=dict(c.labels))
            for c in spec.choices.get(q.choice_list or "", ())
        )
        out.append(
            QuestionDescription(
                name=q.name,
                measure=QUESTION_TYPES[q.type].measure,
                labels=dict(q.labels),
                choices=choices,
                repeat=q.repeat,
                section=q.section,
            )
        )
    return tuple(out)
