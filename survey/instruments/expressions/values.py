"""Values and conversions as XPath 1.0 and ODK define them: strings, numbers, booleans, dates
and date-times, and their JSON form."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from survey.instruments.expressions.syntax import _EPOCH, _NAN, _XPATH_WS, NodeSet

# -- values and conversions -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateTime:
    """An instant (dateTime): milliseconds since 1970-01-01T00:00Z, and the UTC offset in minutes
    it is shown in. In arithmetic it is days since 1970, as decimal-date-time() gives."""

    millis: float
    offset: int = 0


@dataclass
class EvalContext:
    """Where an expression finds its inputs.

    entries(name[, outer]): a repeat question's value in each entry of its repeat, in order (None
    where unanswered), for indexed-repeat(); outer, given over nested repeats, holds (repeat,
    number) pairs choosing the entries of the outer repeats; position: the number of the repeat
    entry the expression runs in; choice_rows(list): the rows of a choice list ({"name",
    "label", other columns}) for instance(); choice_label(question, code): a choice's label for
    jr:choice-name(); now: the instant of now(), with its UTC offset.
    """

    lookup: Callable[[str], object]
    current: object = None
    choice: Mapping[str, str] | None = None
    today: date | None = None
    entries: Callable[..., Sequence[object]] | None = None
    position: int = 1
    choice_rows: Callable[[str], Sequence[Mapping[str, str]]] | None = None
    choice_label: Callable[[str, str], str | None] | None = None
    now: DateTime | None = None
    focus: tuple[object, int, int] | None = None  # a predicate's (value, position, size)
    # The form's CSV attachments for pulldata(), by file name without '.csv'.
    tables: Mapping[str, Sequence[Mapping[str, str]]] | None = None
    # ${last-saved#name}: the answers of the last saved interview of the form (none: empty).
    last_saved: Callable[[str], object] | None = None


def _format_number(x: float) -> str:
    # ECMAScript Number::toString, so the server prints numbers exactly like the browser.
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    mantissa, _, exponent = repr(abs(x)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    all_digits = whole + fraction
    digits = all_digits.lstrip("0")
    n = len(whole) - (len(all_digits) - len(digits)) + int(exponent or 0)
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        e = n - 1
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + ("e+" if e >= 0 else "e-")
        text += str(abs(e))
    return ("-" if x < 0 else "") + text


def to_string(value: object) -> str:
    """XPath string(): numbers as in JavaScript, dates as ISO, lists space-separated."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_number(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, DateTime):
        return _iso_datetime(value)
    if isinstance(value, NodeSet):
        return to_string(value[0]) if value else ""
    if isinstance(value, list | tuple):
        return " ".join(map(str, value))
    raise TypeError(f"Unsupported expression value: {value!r}")


_NUMBER_TEXT = re.compile(r"[ \t\r\n]*-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[ \t\r\n]*")


def to_number(value: object) -> float:
    """XPath number(): NaN for anything not in XPath number syntax; dates as days since 1970."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if value is None:
        return _NAN
    if isinstance(value, str):
        return float(value) if _NUMBER_TEXT.fullmatch(value) else _NAN
    if isinstance(value, date):
        return float(value.toordinal() - _EPOCH)
    if isinstance(value, DateTime):
        return value.millis / _DAY_MS
    if isinstance(value, NodeSet):
        return to_number(value[0]) if value else _NAN
    if isinstance(value, list | tuple):
        return to_number(to_string(value))
    raise TypeError(f"Unsupported expression value: {value!r}")


def to_boolean(value: object) -> bool:
    """XPath boolean(): false for 0, NaN, "", empty lists and node-sets, and unanswered."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return not (value == 0 or math.isnan(value))
    if value is None:
        return False
    if isinstance(value, date | DateTime):
        return True
    if isinstance(value, str | list | tuple):
        return len(value) > 0
    raise TypeError(f"Unsupported expression value: {value!r}")


def _norm(value: object) -> object:
    """A looked-up value in the evaluator's domain: str, float, bool, date or NodeSet."""
    if value is None:
        return ""
    if isinstance(value, NodeSet):
        return NodeSet(_norm(v) for v in value)
    if isinstance(value, bool | str | date | DateTime):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | tuple):
        return " ".join(map(str, value))
    raise TypeError(f"Unsupported expression value: {value!r}")


_DATE_TEXT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def _parse_date(text: str) -> date | None:
    match = _DATE_TEXT.fullmatch(text)
    if match is None:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None


_DAY_MS = 86_400_000
_MIN_MS = (date.min.toordinal() - _EPOCH) * _DAY_MS
_MAX_MS = (date.max.toordinal() + 1 - _EPOCH) * _DAY_MS - 1
_DATETIME_TEXT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _fields(value: DateTime) -> tuple[date, int, int, int, int] | None:
    """Local (date, hours, minutes, seconds, milliseconds) of an instant; None out of range."""
    local = math.floor(value.millis) + value.offset * 60_000
    if not _MIN_MS <= local <= _MAX_MS:
        return None
    days, rest = divmod(local, _DAY_MS)
    seconds, millis = divmod(rest, 1000)
    return (
        date.fromordinal(_EPOCH + days),
        seconds // 3600,
        seconds // 60 % 60,
        seconds % 60,
        millis,
    )


def _iso_datetime(value: DateTime) -> str:
    fields = _fields(value)
    if fields is None:
        return ""
    day, h, m, sec, ms = fields
    sign, offset = ("-" if value.offset < 0 else "+"), abs(value.offset)
    return (
        f"{day.isoformat()}T{h:02d}:{m:02d}:{sec:02d}.{ms:03d}"
        f"{sign}{offset // 60:02d}:{offset % 60:02d}"
    )


def _parse_datetime(text: str) -> DateTime | None:
    """An ISO 8601 date-time; without an offset it is read as UTC (the same on every device)."""
    match = _DATETIME_TEXT.fullmatch(text.strip(_XPATH_WS))
    if match is None:
        return None
    y, mo, d, h, mi, sec, frac, zone = match.groups()
    day = _parse_date(f"{y}-{mo}-{d}")
    if day is None or int(h) > 23 or int(mi) > 59 or int(sec or 0) > 59:
        return None
    offset = 0
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        if int(digits[:2]) > 23 or int(digits[2:]) > 59:
            return None
        offset = (int(digits[:2]) * 60 + int(digits[2:])) * (-1 if zone[0] == "-" else 1)
    local = (day.toordinal() - _EPOCH) * _DAY_MS + (int(h) * 60 + int(mi)) * 60_000
    local += int(sec or 0) * 1000 + int((frac or "0")[:3].ljust(3, "0"))
    return DateTime(float(local - offset * 60_000), offset)


def value_to_json(value: object) -> object:
    """Encode a value for the browser and the JS tests (format in the module docstring)."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"num": _format_number(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, DateTime):
        return {"datetime": [value.millis, value.offset]}
    if isinstance(value, NodeSet):
        return {"nodeset": [value_to_json(v) for v in value]}
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    raise TypeError(f"Unsupported expression value: {value!r}")


def value_from_json(data: object) -> object:
    """Decode value_to_json() output."""
    if isinstance(data, list):
        return [str(v) for v in data]
    if isinstance(data, dict):
        if "nodeset" in data:
            return NodeSet(value_from_json(v) for v in data["nodeset"])
        if "num" in data:
            return float(data["num"])
        if "datetime" in data:
            millis, offset = data["datetime"]
            return DateTime(float(millis), int(offset))
        parsed = _parse_date(data["date"])
        if parsed is None:
            raise ValueError(f"Invalid date {data['date']!r}")
        return parsed
    return data
