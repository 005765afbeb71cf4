"""One registry of question types: the WTForms field, the stored value and the analysis measure.

The volunteer's form, the server's checks and the description handed to `reports` all read it,
so a new question type is added in one place.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage
from wtforms import Field

from reports.instrument import ChoiceDescription, QuestionDescription
from survey.instruments import media
from survey.instruments.spec import InstrumentSpec, Question

MAX_TEXT_LENGTH = 2000
INTEGER_PATTERN = re.compile(r"^[+-]?\d{1,9}$")
DECIMAL_PATTERN = re.compile(r"^[+-]?(\d{1,12}([.,]\d{0,10})?|[.,]\d{1,10})$")
LOCAL_DATE_PATTERN = re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})$")
# What a volunteer is told when a typed value cannot be read (the browser says it too: page.py).
INTEGER_MESSAGE = _l("Enter a whole number, for example 42.")
DECIMAL_MESSAGE = _l("Enter a number, for example 3.5.")
DATE_MESSAGE = _l("Enter a date as dd.mm.yyyy, for example 05.03.1956.")
TIME_MESSAGE = _l("Enter a time as hh:mm, for example 14:30.")
DATETIME_MESSAGE = _l("Enter a date and time, for example 1956-03-05 14:30.")
GEOPOINT_MESSAGE = _l(
    "Enter a location as latitude and longitude in degrees, for example 50.41 80.23."
)
GEOLINE_MESSAGE = _l(
    "Enter points as 'latitude longitude', separated by semicolons, for example "
    "50.41 80.23; 50.42 80.25."
)
RANGE_MESSAGE = _l("Choose a number from %(start)s to %(end)s, in steps of %(step)s.")
RANK_MESSAGE = _l("Put every option in order, each one once.")
TIME_PATTERN = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")
# Strict decimal syntax: Python's float() also reads '40_59', 'nan' and 'inf' (issue 9).
COORDINATE_PATTERN = re.compile(r"^[+-]?(\d{1,12}(\.\d{0,15})?|\.\d{1,15})$")


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


def parse_time(text: str) -> str | None:
    """A time of day as 'hh:mm:ss' (with the zone ODK sent, if any); '' is None."""
    text = clean_text(text)
    if not text:
        return None
    match = TIME_PATTERN.match(text)
    if not match:
        raise ValueError(TIME_MESSAGE)
    hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(TIME_MESSAGE)
    return f"{hour:02d}:{minute:02d}:{second:02d}{match.group(4) or ''}"


def parse_datetime(text: str) -> str | None:
    """A date and time in ISO 8601 ('yyyy-mm-ddThh:mm:ss', with its zone if given)."""
    text = clean_text(text).replace(" ", "T", 1)
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(DATETIME_MESSAGE) from None
    return value.isoformat(timespec="seconds")


def _coordinates(text: str, message: Any) -> tuple[float, ...]:
    parts = text.split()
    if not 2 <= len(parts) <= 4 or not all(COORDINATE_PATTERN.match(p) for p in parts):
        raise ValueError(message)
    numbers = tuple(float(p) for p in parts)
    if not (-90 <= numbers[0] <= 90 and -180 <= numbers[1] <= 180):
        raise ValueError(message)
    if len(numbers) == 4 and numbers[3] < 0:
        raise ValueError(message)
    return numbers


def format_point(numbers: tuple[float, ...]) -> str:
    """A point as ODK writes it: 'latitude longitude altitude accuracy'."""
    full = (*numbers, 0.0, 0.0)[:4]
    return " ".join(repr(round(n, 8)).removesuffix(".0") if n else "0" for n in full)


def parse_geopoint(text: str) -> str | None:
    """A location typed or filled by the browser: 'lat lon [altitude [accuracy]]'."""
    text = clean_text(text).replace(",", " ") if ";" not in text else clean_text(text)
    if not text:
        return None
    return format_point(_coordinates(text, GEOPOINT_MESSAGE))


def _parse_points(text: str, minimum: int, closed: bool) -> str | None:
    text = clean_text(text)
    if not text:
        return None
    points = [_coordinates(p.strip(), GEOLINE_MESSAGE) for p in text.split(";") if p.strip()]
    if closed and points and points[0][:2] != points[-1][:2]:
        points.append(points[0])
    if len(points) < minimum:
        raise ValueError(GEOLINE_MESSAGE)
    return "; ".join(format_point(p) for p in points)


def parse_geotrace(text: str) -> str | None:
    """A line of at least two points, 'lat lon; lat lon; ...'."""
    return _parse_points(text, 2, closed=False)


def parse_geoshape(text: str) -> str | None:
    """A closed shape of at least three corners (the first point is repeated at the end)."""
    return _parse_points(text, 4, closed=True)


def range_parser(parameters: Mapping[str, str]) -> Callable[[str], Any]:
    """The parser of a range question with its start, end and step."""
    start = float(parameters.get("start", "1"))
    end = float(parameters.get("end", "10"))
    step = float(parameters.get("step", "1"))
    whole = all(float(v).is_integer() for v in (start, end, step))

    def parse(text: str) -> int | float | None:
        value = parse_decimal(text)
        if value is None:
            return None
        steps = (value - start) / step
        if not start <= value <= end or abs(steps - round(steps)) > 1e-9:
            raise ValueError(
                RANGE_MESSAGE % {"start": _plain(start), "end": _plain(end), "step": _plain(step)}
            )
        return int(value) if whole else value

    return parse


def _plain(number: float) -> str:
    return str(int(number)) if number.is_integer() else str(number)


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


class MediaAnswerField(AnswerField):
    """image, audio, video, file: an upload, checked and cleaned (media.clean_upload); the
    answer is the stored file's name, and the file waits in `media_file` to be stored."""

    media_file: media.MediaFile | None = None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.media_file = None
        self.data = None
        upload = next((v for v in valuelist if isinstance(v, FileStorage) and v.filename), None)
        if upload is None:
            # The name of a file already stored (a correction keeps it); intake refuses a name
            # whose file did not come with the interview.
            kept = next((v for v in valuelist if isinstance(v, str) and v), "")
            self.data = kept if media.is_stored_name(self.question.name, kept) else None
            return
        data = upload.stream.read(media.max_bytes(self.question.type) + 1)
        if getattr(upload.stream, "overflowed", False) and len(data) <= media.max_bytes(
            self.question.type
        ):
            # Cut short because the files of the post together were over the allowance.
            raise media.MediaRefused(media.together_too_large_message())
        self.media_file = media.clean_upload(
            self.question.name, self.question.type, upload.filename or "", data
        )
        self.data = self.media_file.filename

    def _value(self) -> str:
        return self.data or ""


class ChoiceAnswerField(AnswerField):
    """select_one: one code."""

    def process_formdata(self, valuelist: list[str]) -> None:
        code = clean_text(valuelist[0]) if valuelist else ""
        self.typed = code
        self.data = code or None

    def is_checked(self, code: str) -> bool:
        return self.data == code


class MultipleChoiceAnswerField(AnswerField):
    """select_multiple: the chosen codes, without duplicates, in the order given (a shuffled
    question's in the choices sheet's order)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        codes: list[str] = []
        for value in valuelist:
            code = clean_text(value)
            if code and code not in codes:
                codes.append(code)
        if self.question.shuffles_choices:
            # The boxes were shown shuffled and post in that order: store the codes in the
            # choices sheet's order, as if they had not been (codes not offered stay last).
            sheet = {str(code): i for i, (code, _label) in enumerate(self.choices)}
            codes.sort(key=lambda code: sheet.get(code, len(sheet)))
        self.data = codes or None

    def process_data(self, value: Any) -> None:
        if isinstance(value, str):
            value = value.split()
        self.data = list(value) if value else None

    def is_checked(self, code: str) -> bool:
        return code in (self.data or [])


class RankAnswerField(AnswerField):
    """rank: every option once, in the order the volunteer put them."""

    def process_formdata(self, valuelist: list[str]) -> None:
        codes = [clean_text(v) for v in valuelist if clean_text(v)]
        self.data = None
        if not codes:
            return
        offered = [code for code, _label in self.choices]
        self.data = codes  # kept to redraw the volunteer's order when it is refused
        if sorted(codes) != sorted(offered) or len(set(codes)) != len(codes):
            raise ValueError(RANK_MESSAGE)

    def process_data(self, value: Any) -> None:
        if isinstance(value, str):
            value = value.split()
        self.data = list(value) if value else None

    def code_at(self, position: int) -> str | None:
        """The code put at a position (0-based), for redrawing the form."""
        return self.data[position] if self.data and position < len(self.data) else None


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
        QuestionType("hidden", None, None, "categorical", "calculate"),
        QuestionType("time", AnswerField, parse_time, "text", "time"),
        QuestionType("datetime", AnswerField, parse_datetime, "text", "datetime"),
        QuestionType("geopoint", AnswerField, parse_geopoint, "none", "geopoint"),
        QuestionType("geotrace", AnswerField, parse_geotrace, "none", "geoline"),
        QuestionType("geoshape", AnswerField, parse_geoshape, "none", "geoline"),
        QuestionType("barcode", AnswerField, parse_text, "text", "text"),
        QuestionType("range", AnswerField, parse_decimal, "numeric", "range"),
        QuestionType("rank", RankAnswerField, None, "none", "rank"),
        # Stored on the server only (SubmissionMedia); never analysed or exported.
        *(
            QuestionType(name, MediaAnswerField, parse_text, "none", "media")
            for name in media.MEDIA_TYPES
        ),
        # Metadata: filled by ODK Collect, or by the server for the web form; never drawn.
        QuestionType("start", None, parse_datetime, "none", "calculate"),
        QuestionType("end", None, parse_datetime, "none", "calculate"),
        QuestionType("today", None, parse_date, "date", "calculate"),
        QuestionType("start_geopoint", None, parse_geopoint, "none", "calculate"),
        QuestionType("audit", None, None, "none", "calculate"),
        *(
            QuestionType(name, None, parse_text, "none", "calculate")
            for name in ("deviceid", "subscriberid", "simserial", "phonenumber", "username")
        ),
        QuestionType("email", None, parse_text, "none", "calculate"),
    )
}


def parser_for(question: Question) -> Callable[[str], Any] | None:
    """How a question's typed text becomes its stored value (range reads its parameters)."""
    if question.type == "range":
        return range_parser(question.parameters)
    return QUESTION_TYPES[question.type].parser


def widget_for(question: Question) -> str:
    """The widget a question is drawn with (appearance may change it)."""
    widget = QUESTION_TYPES[question.type].widget
    appearance = set((question.appearance or "").lower().split())
    if widget == "text" and "multiline" in appearance:
        return "textarea"
    if widget == "text" and "numbers" in appearance:
        return "numbers"
    if widget == "select_one" and appearance & {"minimal", "autocomplete", "search"}:
        return "dropdown"
    if widget == "media" and question.type == "image" and appearance & {"signature", "draw"}:
        return "media"  # drawn on paper or a tablet, photographed or saved, and uploaded
    if widget == "date" and appearance & {"month-year", "year"}:
        return "date"
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
        parser=parser_for(question) or (lambda text: text or None),
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
