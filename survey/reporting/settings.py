"""What an advocate chooses for a working paper: masthead, language, data filters, narrative.

One plain, JSON-able value (`ReportSettings`) shared by the web form, the TOML file of the
`survey report` command and the history of generated reports. `settings_from_mapping` is the one
place that checks it, so the form and the command refuse the same things with the same words.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from flask_babel import lazy_gettext as _l

from reports.languages import PAPER_LANGUAGES
from survey.collection.models import REVIEW_STATUSES, ReviewStatus

LANGUAGES = PAPER_LANGUAGES  # as listed to the advocate
PAPER_SIZES = ("A4", "Letter")
# The paper names approved submissions first.
DEFAULT_REVIEW_STATUSES = (ReviewStatus.APPROVED.value, ReviewStatus.PENDING.value)
# A UN document symbol: letters/digits in parts separated by "/", e.g. TPNW/MSP/2025/NGO/23 or
# A/CONF.229/2017/NGO/1 (a dot or hyphen may join letters inside a part). Empty means "Draft".
_SYMBOL_PART = r"[A-Za-z0-9]+(?:[.-][A-Za-z0-9]+)*"
SYMBOL_PATTERN = re.compile(rf"^{_SYMBOL_PART}(?:/{_SYMBOL_PART})+$")
# A code as stored in answers and choice lists (district, generation, sex, age band).
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
MAX_TEXT = 300  # masthead lines
MAX_NARRATIVE = 30_000  # one narrative section, in characters
MAX_QUOTES = 20
NARRATIVE_FIELDS = (
    "introduction",
    "background",
    "recommendations_government",
    "recommendations_states",
    "recommendations_organizations",
)
LIST_FIELDS = ("rounds", "districts", "generations", "sexes", "age_bands", "review_statuses")
REQUIRED_FIELDS = ("title", "submitted_by")


class SettingsError(ValueError):
    """Settings that cannot make a paper; `problems` maps a setting's name to what is wrong."""

    def __init__(self, problems: Mapping[str, Any]) -> None:
        self.problems = dict(problems)  # name → message (lazily translated)
        super().__init__("; ".join(f"{name}: {text}" for name, text in self.problems.items()))


@dataclass(frozen=True)
class ReportSettings:
    """Everything that decides a working paper besides the data.

    Empty masthead texts (meeting, place_and_dates, agenda_item, agenda_title, agenda_footnote,
    affected_state) take the default of the paper's language. Empty lists mean "all".
    """

    title: str
    submitted_by: str
    date: dt.date
    symbol: str = ""
    meeting: str = ""
    place_and_dates: str = ""
    agenda_item: str = ""
    agenda_title: str = ""
    agenda_footnote: str = ""
    affected_state: str = ""
    language: str = "en"
    paper_size: str = "A4"
    instrument: str = ""
    rounds: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    generations: tuple[str, ...] = ()
    sexes: tuple[str, ...] = ()
    age_bands: tuple[str, ...] = ()
    review_statuses: tuple[str, ...] = DEFAULT_REVIEW_STATUSES
    include_demo: bool = False
    include_annex: bool = False
    max_quotes: int = 5
    introduction: str = ""
    background: str = ""
    recommendations_government: str = ""
    recommendations_states: str = ""
    recommendations_organizations: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (dates as ISO text, tuples as lists) that from_json reads back."""
        data = asdict(self)
        data["date"] = self.date.isoformat()
        for name in LIST_FIELDS:
            data[name] = list(data[name])
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReportSettings:
        """Settings stored by to_json (checked again: history rows may predate a rule)."""
        return settings_from_mapping(data)

    @property
    def is_draft(self) -> bool:
        """A paper without a UN symbol prints "Draft"."""
        return not self.symbol

    def filters_summary(self) -> dict[str, Any]:
        """The data choices, for the audit log and the history list (no narrative, no answers)."""
        return {
            "instrument": self.instrument,
            "rounds": list(self.rounds),
            "districts": list(self.districts),
            "generations": list(self.generations),
            "sexes": list(self.sexes),
            "age_bands": list(self.age_bands),
            "review_statuses": list(self.review_statuses),
            "include_demo": self.include_demo,
        }


KNOWN_KEYS = frozenset(f.name for f in fields(ReportSettings))


def _text(
    data: Mapping[str, Any], name: str, problems: dict[str, Any], limit: int = MAX_TEXT
) -> str:
    """A one-line text setting, stripped; a non-text or too long value is a problem."""
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        problems[name] = _l("Write this as text.")
        return ""
    value = value.strip()
    if limit == MAX_TEXT and ("\n" in value or "\r" in value):
        problems[name] = _l("Write this on one line.")
    if len(value) > limit:
        problems[name] = _l("Write at most %(limit)d characters.", limit=limit)
    return value


def _codes(data: Mapping[str, Any], name: str, problems: dict[str, Any]) -> tuple[str, ...]:
    """A list of codes (or names, for rounds); a comma-separated text is accepted too."""
    value = data.get(name)
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, Sequence) or not all(isinstance(v, str | int) for v in value):
        problems[name] = _l("Give a list of codes.")
        return ()
    items = tuple(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))
    if name != "rounds":
        bad = [item for item in items if not CODE_PATTERN.match(item)]
        if bad:
            problems[name] = _l("“%(code)s” is not a code.", code=bad[0])
    return items


def _flag(data: Mapping[str, Any], name: str, default: bool, problems: dict[str, Any]) -> bool:
    """A true/false setting (TOML booleans; "true"/"false" text from other sources)."""
    value = data.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "yes", "no", ""}:
        return value.strip().lower() in {"true", "yes"}
    problems[name] = _l("Write true or false.")
    return default


def _date(data: Mapping[str, Any], problems: dict[str, Any], today: dt.date) -> dt.date:
    """The paper's date: a TOML date or ISO text (YYYY-MM-DD); today when absent."""
    value = data.get("date")
    if value is None or value == "":
        return today
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    problems["date"] = _l("Write the date as YYYY-MM-DD.")
    return today


def settings_from_mapping(
    data: Mapping[str, Any],
    *,
    today: dt.date | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> ReportSettings:
    """Checked settings from plain data (a form, a TOML file, a history row).

    `defaults` fill keys that `data` lacks (e.g. the configured submitting organisation).
    Raises SettingsError naming every problem: unknown keys, missing title or organisation,
    a malformed symbol, an unknown language or paper size, bad dates, lists or flags.
    """
    problems: dict[str, Any] = {}
    unknown = sorted(set(data) - KNOWN_KEYS)
    for name in unknown:
        problems[name] = _l("This is not a report setting.")
    merged = {**(defaults or {}), **{k: v for k, v in data.items() if v is not None}}
    values: dict[str, Any] = {}
    for name in (
        "title",
        "submitted_by",
        "symbol",
        "meeting",
        "place_and_dates",
        "agenda_item",
        "agenda_title",
        "agenda_footnote",
        "affected_state",
        "instrument",
    ):
        values[name] = _text(merged, name, problems)
    for name in REQUIRED_FIELDS:
        if not values[name] and name not in problems:
            problems[name] = _l("This is required.")
    if values["symbol"] and not SYMBOL_PATTERN.match(values["symbol"]):
        problems["symbol"] = _l(
            "Write letters and digits separated by “/”, like TPNW/MSP/2025/NGO/23, "
            "or leave it empty for a draft."
        )
    values["date"] = _date(merged, problems, today or dt.date.today())
    language = str(merged.get("language", "en")).strip()
    if language not in LANGUAGES:
        problems["language"] = _l("Choose one of: %(choices)s.", choices=", ".join(LANGUAGES))
    values["language"] = language if language in LANGUAGES else "en"
    paper = str(merged.get("paper_size", "A4")).strip()
    match = {size.lower(): size for size in PAPER_SIZES}.get(paper.lower())
    if match is None:
        problems["paper_size"] = _l("Choose one of: %(choices)s.", choices=", ".join(PAPER_SIZES))
    values["paper_size"] = match or "A4"
    for name in LIST_FIELDS:
        values[name] = _codes(merged, name, problems)
    if "review_statuses" not in merged:
        values["review_statuses"] = DEFAULT_REVIEW_STATUSES
    unknown_status = [s for s in values["review_statuses"] if s not in REVIEW_STATUSES]
    if unknown_status:
        problems["review_statuses"] = _l(
            "“%(code)s” is not a review status; choose from: %(choices)s.",
            code=unknown_status[0],
            choices=", ".join(REVIEW_STATUSES),
        )
    elif not values["review_statuses"]:
        problems["review_statuses"] = _l("Choose at least one review status.")
    values["include_demo"] = _flag(merged, "include_demo", False, problems)
    values["include_annex"] = _flag(merged, "include_annex", False, problems)
    quotes = merged.get("max_quotes", 5)
    if isinstance(quotes, str) and quotes.strip().isdigit():
        quotes = int(quotes)
    if isinstance(quotes, bool) or not isinstance(quotes, int) or not 0 <= quotes <= MAX_QUOTES:
        problems["max_quotes"] = _l("Write a whole number from 0 to %(most)d.", most=MAX_QUOTES)
        quotes = 5
    values["max_quotes"] = quotes
    for name in NARRATIVE_FIELDS:
        values[name] = _text(merged, name, problems, limit=MAX_NARRATIVE)
    if problems:
        raise SettingsError(problems)
    return ReportSettings(**values)
