"""Numbers and dates as readers see them in Kazakh, Russian and English: one home for the
dashboards (screen) and the working paper (print).

Two registers, on purpose:
- the screen's (`format_*`): CLDR patterns through Babel, one decimal ("45.7%", «45,7 %» in
  Russian, "45,7%" in Kazakh), a dash for a missing value;
- the paper's (`percent`, `interval`, `decimal`): whole per cents, exactly as reports.charts
  prints them on the bars (on screen and in print), so that text, tables and charts agree;
  written out here rather than taken from CLDR, so that a Babel upgrade can never change a
  paper regenerated from history. The per cent sign follows CLDR, as on screen: "37%" in English
  and Kazakh, «37 %» in Russian.
Counts read the same in both. Month names are written out for the same reason.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from typing import Any

import pandas as pd
from babel import Locale
from babel.numbers import format_decimal, format_percent

DASH = "—"  # a value that does not exist (no answers), never a hidden one
NBSP = "\u00a0"

MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "ru": [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ],
    "kk": [
        "қаңтар",
        "ақпан",
        "наурыз",
        "сәуір",
        "мамыр",
        "маусым",
        "шілде",
        "тамыз",
        "қыркүйек",
        "қазан",
        "қараша",
        "желтоқсан",
    ],
}


def is_missing(value: Any) -> bool:
    """Whether a value is None, NA or NaN (anything else, text included, is not)."""
    if value is None or value is pd.NA:
        return True
    try:
        return bool(math.isnan(float(value)))
    except (TypeError, ValueError):
        return False


def is_number(value: object) -> bool:
    """Whether a table value holds a published number (hidden cells are None or NaN)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# -- counts: the same on screen and in print ----------------------------------------------------


def format_count(value: Any, language: str) -> str:
    """A whole number with the locale's grouping ("1,234", «1 234»); NaN and None become a dash."""
    if is_missing(value):
        return DASH
    return format_decimal(round(float(value)), format="#,##0", locale=language)


def count(value: float, language: str) -> str:
    """A whole count in the paper: "1,234" in English, «1 234» (no-break space) in Russian and
    Kazakh — the screen's digits and grouping."""
    return format_count(value, language)


# -- the screen's register ----------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _percent_pattern(language: str) -> str:
    """The locale's percent pattern with one decimal ("#,##0.0 %" in Russian)."""
    pattern = Locale.parse(language).percent_formats[None].pattern
    return re.sub(r"0(?=[^0#,.]*%)", "0.0", pattern, count=1)


def format_share(value: Any, language: str) -> str:
    """A share 0–1 as a percentage with one decimal (decimal comma in kk and ru)."""
    if is_missing(value):
        return DASH
    return format_percent(float(value), format=_percent_pattern(language), locale=language)


def format_number(value: Any, language: str, digits: int = 1) -> str:
    """A decimal number with `digits` decimals; NaN and None become a dash."""
    if is_missing(value):
        return DASH
    return format_decimal(
        float(value), format="#,##0." + "0" * digits if digits else "#,##0", locale=language
    )


def format_interval(low: Any, high: Any, language: str, *, share: bool) -> str:
    """A confidence interval "41.2–49.8" (percent points for shares)."""
    if is_missing(low) or is_missing(high):
        return DASH
    scale = 100.0 if share else 1.0
    low_text = format_number(float(low) * scale, language)
    return f"{low_text}–{format_number(float(high) * scale, language)}"


def format_confidence(level: float, language: str) -> str:
    """A confidence level as a percentage in the language ("95%", «95 %» in Russian)."""
    return format_percent(level, locale=language)


# -- the paper's register -----------------------------------------------------------------------


def percent_number(share: float) -> str:
    """A share 0–1 as whole per cent digits, rounded as the charts round them ("37")."""
    # `.0f` is what reports.charts prints on the bars: text, tables and charts always agree.
    return f"{share * 100:.0f}"


# CLDR's percent patterns ("#,##0%" in English and Kazakh, "#,##0 %" in Russian), written out:
# one sign per language on the screen, in the paper's text and on every chart.
PERCENT_SIGN = {"en": "%", "ru": NBSP + "%", "kk": "%"}


def percent(share: float, language: str) -> str:
    """ "37%" in English and Kazakh, «37 %» (no-break space) in Russian."""
    return percent_number(share) + PERCENT_SIGN.get(language, "%")


def bar_percent(share: float, language: str) -> str:
    """A bar's value: as `percent`, but a share that is neither 0 nor 1 never reads "0%" or
    "100%" ("<1%", ">99%"): a group of 5 among 1,500 is not nobody."""
    if 0 < share < 0.005:
        return "<" + percent(0.01, language)
    if 0.995 <= share < 1:
        return ">" + percent(0.99, language)
    return percent(share, language)


def interval(low: float, high: float, language: str) -> str:
    """A 95% CI as "33–42%" / «33–42 %»."""
    return f"{percent_number(low)}–{percent(high, language)}"


def decimal(value: float, language: str, digits: int = 1) -> str:
    """A number with a decimal point in English and a decimal comma in Russian and Kazakh."""
    text = f"{value:,.{digits}f}"
    if language == "en":
        return text
    return text.replace(",", NBSP).replace(".", ",")


# -- dates ------------------------------------------------------------------------------------


def date(value: dt.date, language: str) -> str:
    """The written date: "3 March 2025", «3 марта 2025 г.», «2025 жылғы 3 наурыз»."""
    month = MONTHS[language][value.month - 1]
    if language == "ru":
        return f"{value.day} {month} {value.year} г."
    if language == "kk":
        return f"{value.year} жылғы {value.day} {month}"
    return f"{value.day} {month} {value.year}"


def numeric_date(value: dt.date | dt.datetime | str | None, language: str) -> str:
    """dd.mm.yyyy in kk and ru, ISO 8601 in en; text that is not a date is returned as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    if language in {"kk", "ru"}:
        return value.strftime("%d.%m.%Y")
    return value.strftime("%Y-%m-%d")
