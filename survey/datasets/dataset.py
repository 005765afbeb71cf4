"""The one bridge from submission rows to pandas: typed, categorical, wide DataFrames.

`load_dataset(versions, ...)` reads the submissions of one instrument's versions and returns a
`Dataset` with one row per submission (`respondents`) and one row per repeat entry (`repeats`,
`members` for the household roster). Everything downstream (analysis, dashboards, exports)
starts here; nothing else turns rows into frames.

Column conventions
------------------
- Metadata columns start with an underscore: `_submission_id, _version, _round, _district,
  _received_at, _started_at, _duration_min, _review_status, _volunteer, _language, _demo,
  _source` (see `METADATA_COLUMNS`). Times are UTC (`datetime64[us, UTC]`).
- One column per question, named like the question:
  - select_one / acknowledge: `category` of codes, categories in choice-list order (newest
    version first, codes only older versions had appended); `dnk`/`pnta` stay categories.
  - select_multiple: no raw column; one nullable `boolean` column per choice named
    `<question>/<code>`. True = chosen, False = not chosen, NA = question not answered (skipped
    by relevance or left blank), so denominators can exclude the unasked.
  - integer / decimal: `float64` (NaN = no answer).
  - date: `datetime64[s]`.
  - text: pandas `string` (free text: exports drop it when de-identifying).
  - calculate: `float64` when every stored value is a number, else `category` of the stored
    values in natural order.
  - notes have no column.
- Repeat entries (`Dataset.repeats[name]`, `Dataset.members`): `_submission_id`, `_index`
  (1-based position in the roster), the respondent's `_version, _round, _district,
  _review_status, _demo`, the respondent's disaggregation answers prefixed `respondent.`
  (`respondent.sex`, `respondent.age_band`, ... see `RESPONDENT_CONTEXT`, those present), then
  the repeat's questions with the conventions above.
- When versions differ, columns are the union; a question's type and labels come from the
  newest version that has it.

Loading reads rows with SQLAlchemy Core in chunks (`yield_per`), parses JSON with the stdlib and
builds each column as a NumPy array chunk by chunk (codes, not strings), so a million
submissions fit in memory. Results are cached per (versions, filters) in the application and
refreshed incrementally: new submissions are appended; a correction, review, withdrawal or
deletion makes the next load rebuild. `invalidate()` empties the cache.

Settings: `DATASET_CACHE_ENTRIES` (datasets kept per process, default 4; a million submissions
take about 0.75 GB) and `DATASET_FULL_CHECK_SECONDS` (default 0). Telling a review apart needs
the newest `reviewed_at`/`updated_at`, a scan of the submissions table: milliseconds for
thousands of rows, seconds for a million in SQLite. A positive value re-reads them at most that
often (new, deleted and corrected submissions are still seen at once); indexes on both columns
would make the scan unnecessary.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from flask import current_app
from sqlalchemy import Text, case, cast, func, select

from reports.instrument import QuestionDescription
from survey.collection.models import Submission, SubmissionVersion, SurveyRound
from survey.extensions import db
from survey.instruments.models import InstrumentVersion
from survey.instruments.registry import describe
from survey.instruments.services import spec_for
from survey.instruments.spec import InstrumentSpec, Question

REVIEW_STATUSES = ("pending", "approved", "on_hold", "rejected")
METADATA_COLUMNS = (
    "_submission_id",
    "_version",
    "_round",
    "_district",
    "_received_at",
    "_started_at",
    "_duration_min",
    "_review_status",
    "_volunteer",
    "_language",
    "_demo",
    "_source",
)
# Respondent metadata repeated on every repeat entry, so rosters can be disaggregated alone.
REPEAT_METADATA = ("_version", "_round", "_district", "_review_status", "_demo")
# The respondent's answers joined to repeat entries as `respondent.<name>` (those present).
RESPONDENT_CONTEXT = (
    "sex",
    "age_band",
    "generation",
    "zone_self_reported",
    "urban_rural",
    "wg_disability",
    "certificate_status",
)
RESPONDENT_PREFIX = "respondent."
MULTIPLE_SEPARATOR = "/"
CHUNK_ROWS = 5000
CACHE_ENTRIES = 4  # datasets kept per application; a million submissions take about 1 GB
_MISSING = -1
_UNKNOWN = -2

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
}
RESPONDENT_LABEL = {"en": "Respondent", "ru": "Респондент", "kk": "Респондент"}


# -- the dataset --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetFilters:
    """Which submissions a dataset holds, besides the instrument versions."""

    round_ids: tuple[int, ...] | None = None
    review_statuses: tuple[str, ...] = ("pending", "approved")
    include_demo: bool = True
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    districts: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Dataset:
    """Submissions as frames. Treat the frames as read-only: they may be shared by the cache."""

    respondents: pd.DataFrame
    repeats: Mapping[str, pd.DataFrame]
    excluded: Mapping[str, int]
    descriptions: tuple[QuestionDescription, ...]
    specs: tuple[InstrumentSpec, ...]  # oldest first
    filters: DatasetFilters = field(default_factory=DatasetFilters)

    @property
    def members(self) -> pd.DataFrame:
        """The household roster: the repeat named 'member', else the first repeat."""
        if "member" in self.repeats:
            return self.repeats["member"]
        if self.repeats:
            return next(iter(self.repeats.values()))
        return pd.DataFrame({"_submission_id": pd.Series([], dtype="int64")})

    @property
    def spec(self) -> InstrumentSpec:
        """The newest instrument version's spec."""
        return self.specs[-1]

    def description(self, name: str) -> QuestionDescription | None:
        """A question's description (from the newest version that has it)."""
        return next((d for d in self.descriptions if d.name == name), None)

    def columns_for(self, question: str) -> list[str]:
        """The columns holding a question's answers (several for select_multiple)."""
        frame = self.respondents
        description = self.description(question)
        if description is not None and description.repeat is not None:
            frame = self.repeats.get(description.repeat, frame)
        prefix = question + MULTIPLE_SEPARATOR
        return [c for c in frame.columns if c == question or c.startswith(prefix)]

    def column_labels(self, language: str) -> dict[str, str]:
        """Column → label in a language, over every version (newest wins)."""
        labels: dict[str, str] = {}
        for spec in self.specs:
            labels.update(column_labels(spec, language))
        return labels

    def value_labels(self, language: str) -> dict[str, dict[str, str]]:
        """Column → {code: label} in a language, over every version (newest wins)."""
        labels: dict[str, dict[str, str]] = {}
        for spec in self.specs:
            for column, mapping in value_labels(spec, language).items():
                labels.setdefault(column, {}).update(mapping)
        return labels


# -- labels -------------------------------------------------------------------------------------


def _meta_label(column: str, language: str) -> str:
    labels = METADATA_LABELS.get(column, {})
    return labels.get(language) or labels.get("en") or column


def column_labels(spec: InstrumentSpec, language: str) -> dict[str, str]:
    """Every column an instrument version can produce → its label in kk, ru or en."""
    labels = {column: _meta_label(column, language) for column in METADATA_COLUMNS}
    labels["_index"] = _meta_label("_index", language)
    respondent = RESPONDENT_LABEL.get(language, RESPONDENT_LABEL["en"])
    for question in spec.iter_questions():
        if question.type == "note":
            continue
        text = spec.label(question.labels, language) or question.name
        if question.type == "select_multiple":
            for choice in spec.choices.get(question.choice_list or "", ()):
                choice_text = spec.label(choice.labels, language) or choice.name
                labels[_multiple_column(question.name, choice.name)] = f"{text}: {choice_text}"
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


def _multiple_column(question: str, code: str) -> str:
    return f"{question}{MULTIPLE_SEPARATOR}{code}"


# -- the schema: what columns the versions produce ----------------------------------------------


@dataclass
class _Field:
    """One question's column plan (merged over versions)."""

    name: str
    kind: str  # category | multiple | number | date | text | calculate
    repeat: str | None
    codes: list[str] = field(default_factory=list)


_KINDS = {
    "select_one": "category",
    "acknowledge": "category",
    "select_multiple": "multiple",
    "integer": "number",
    "decimal": "number",
    "date": "date",
    "text": "text",
    "calculate": "calculate",
}


def _field_of(spec: InstrumentSpec, question: Question) -> _Field | None:
    kind = _KINDS.get(question.type)
    if kind is None:
        return None  # notes (and unknown types) store nothing
    codes: list[str] = []
    if question.type == "acknowledge":
        codes = ["OK"]
    elif kind in {"category", "multiple"}:
        codes = [c.name for c in spec.choices.get(question.choice_list or "", ())]
    return _Field(question.name, kind, question.repeat, codes)


def _schema(specs: Sequence[InstrumentSpec]) -> tuple[list[_Field], list[str]]:
    """Fields in the newest version's order (older-only ones after), and repeat names."""
    fields: dict[str, _Field] = {}
    repeats: list[str] = []
    for spec in reversed(specs):  # newest first: its type and choice order win
        for repeat in spec.iter_repeats():
            if repeat.name not in repeats:
                repeats.append(repeat.name)
        for question in spec.iter_questions():
            found = _field_of(spec, question)
            if found is None:
                continue
            known = fields.get(question.name)
            if known is None:
                fields[question.name] = found
            elif known.kind == found.kind:
                known.codes.extend(c for c in found.codes if c not in known.codes)
    return list(fields.values()), repeats


# -- column builders: one array per chunk, joined at the end ------------------------------------


def _as_key(value: Any) -> str | None:
    """A stored value that is not a plain code, as the code it stands for."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


class _CategoryBuilder:
    """Codes of a select_one as int32 positions in a growing list of categories."""

    def __init__(self, codes: Sequence[str]) -> None:
        self.categories: list[str] = list(codes)
        self.index: dict[Any, int] = {c: i for i, c in enumerate(self.categories)}
        self.index[None] = _MISSING
        self.index[""] = _MISSING
        self.parts: list[np.ndarray] = []

    def _code(self, value: Any) -> int:
        try:
            return self.index[value]
        except (KeyError, TypeError):
            pass
        key = _as_key(value)
        if key is None:
            return _MISSING
        if key not in self.index:
            # A code no version lists (an older import, a hand-made row): keep it, don't lose it.
            self.index[key] = len(self.categories)
            self.categories.append(key)
        return self.index[key]

    def add(self, values: list[Any]) -> None:
        get = self.index.get
        try:
            codes = np.fromiter(
                map(get, values, itertools.repeat(_UNKNOWN)), dtype=np.int32, count=len(values)
            )
        except TypeError:  # an unhashable value (a list where a code was expected)
            codes = np.full(len(values), _UNKNOWN, dtype=np.int32)
        for position in np.flatnonzero(codes == _UNKNOWN):
            codes[position] = self._code(values[position])
        self.parts.append(codes)

    def codes(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.empty(0, dtype=np.int32)

    def finish(self) -> pd.Categorical:
        return pd.Categorical.from_codes(
            self.codes(), dtype=pd.CategoricalDtype(self.categories, ordered=False)
        )


class _CalculateBuilder(_CategoryBuilder):
    """Calculated values as stored: numbers if every value is numeric, else categories."""

    def __init__(self) -> None:
        super().__init__(())

    def _code(self, value: Any) -> int:
        if value is None or value == "":
            return _MISSING
        try:
            hash(value)
        except TypeError:
            value = _as_key(value)
        self.index[value] = len(self.categories)
        self.categories.append(value)
        return self.index[value]

    def finish(self) -> Any:  # type: ignore[override]
        codes = self.codes()
        numbers = []
        for value in self.categories:
            if isinstance(value, bool):
                break
            try:
                numbers.append(float(value))
            except (TypeError, ValueError):
                break
        else:
            lookup = np.array([*numbers, np.nan], dtype=np.float64)  # -1 → the trailing NaN
            return lookup[codes]
        names = [_as_key(v) or "" for v in self.categories]
        unique = sorted(set(names), key=_natural_key)
        position = {name: i for i, name in enumerate(unique)}
        remap = np.array([*(position[n] for n in names), _MISSING], dtype=np.int32)
        return pd.Categorical.from_codes(
            remap[codes], dtype=pd.CategoricalDtype(unique, ordered=False)
        )


def _natural_key(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


class _MultipleBuilder:
    """A select_multiple as one boolean row per code (and whether it was answered at all)."""

    def __init__(self, codes: Sequence[str]) -> None:
        self.codes: list[str] = list(codes)
        self.index = {c: i for i, c in enumerate(self.codes)}
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, values: list[Any]) -> None:
        n = len(values)
        answered = np.zeros(n, dtype=bool)
        rows: list[int] = []
        cols: list[int] = []
        index = self.index
        for i, value in enumerate(values):
            if not value:
                continue
            if isinstance(value, str):
                value = value.split()  # OpenRosa stores "a b c"
            elif not isinstance(value, list | tuple):
                value = [_as_key(value)]
            answered[i] = True
            for code in value:
                j = index.get(code)
                if j is None:
                    code = _as_key(code) or ""
                    j = index.get(code)
                    if j is None:
                        j = index[code] = len(self.codes)
                        self.codes.append(code)
                rows.append(i)
                cols.append(j)
        matrix = np.zeros((len(self.codes), n), dtype=bool)
        matrix[cols, rows] = True
        self.parts.append((matrix, answered))

    def finish(self) -> dict[str, pd.arrays.BooleanArray]:
        missing = ~np.concatenate([a for _m, a in self.parts]) if self.parts else np.empty(0, bool)
        out = {}
        for j, code in enumerate(self.codes):
            data = np.concatenate(
                [
                    m[j] if j < m.shape[0] else np.zeros(m.shape[1], dtype=bool)
                    for m, _a in self.parts
                ]
                or [np.empty(0, dtype=bool)]
            )
            out[code] = pd.arrays.BooleanArray(data, missing.copy())
        return out


class _NumberBuilder:
    """Integers and decimals as float64 (NaN = no answer)."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []

    def add(self, values: list[Any]) -> None:
        try:
            part = np.array(values, dtype=np.float64)
        except (TypeError, ValueError):
            part = np.fromiter((_to_float(v) for v in values), dtype=np.float64, count=len(values))
        self.parts.append(part)

    def finish(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.empty(0, dtype=np.float64)


def _to_float(value: Any) -> float:
    try:
        return float(value) if value not in (None, "") else np.nan
    except (TypeError, ValueError):
        return np.nan


class _DateBuilder:
    """ISO dates as datetime64[s]."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []

    def add(self, values: list[Any]) -> None:
        try:
            part = np.array([v or None for v in values], dtype="datetime64[D]")
        except (TypeError, ValueError):
            part = np.array([_to_date(v) for v in values], dtype="datetime64[D]")
        self.parts.append(part)

    def finish(self) -> np.ndarray:
        days = np.concatenate(self.parts) if self.parts else np.empty(0, dtype="datetime64[D]")
        return days.astype("datetime64[s]")


def _to_date(value: Any) -> Any:
    try:
        return np.datetime64(str(value)[:10], "D") if value else None
    except ValueError:
        return None


class _TextBuilder:
    """Free text: only the answered cells are kept until the end."""

    def __init__(self) -> None:
        self.count = 0
        self.cells: list[tuple[int, str]] = []

    def add(self, values: list[Any]) -> None:
        base = self.count
        self.cells.extend((base + i, str(v)) for i, v in enumerate(values) if v not in (None, ""))
        self.count += len(values)

    def finish(self) -> Any:
        out = np.full(self.count, None, dtype=object)
        for position, text in self.cells:
            out[position] = text
        return pd.array(out, dtype="string")


def _builder(spec_field: _Field) -> Any:
    if spec_field.kind == "category":
        return _CategoryBuilder(spec_field.codes)
    if spec_field.kind == "multiple":
        return _MultipleBuilder(spec_field.codes)
    if spec_field.kind == "number":
        return _NumberBuilder()
    if spec_field.kind == "date":
        return _DateBuilder()
    if spec_field.kind == "calculate":
        return _CalculateBuilder()
    return _TextBuilder()


def _finish_fields(
    fields: Sequence[_Field], builders: Mapping[str, Any], columns: dict[str, Any]
) -> None:
    for spec_field in fields:
        built = builders[spec_field.name].finish()
        if spec_field.kind == "multiple":
            for code, values in built.items():
                columns[_multiple_column(spec_field.name, code)] = values
        else:
            columns[spec_field.name] = built


# -- reading rows -------------------------------------------------------------------------------


_SELECTED = (
    Submission.id,
    Submission.instrument_version_id,
    Submission.round_id,
    Submission.district,
    Submission.received_at,
    Submission.started_at,
    Submission.ended_at,
    Submission.review_status,
    Submission.entered_by_id,
    Submission.language,
    Submission.source,
    Submission.is_demo,
    # Raw JSON text: the stdlib parses it once (PostgreSQL's driver would parse json itself).
    cast(Submission.answers, Text).label("answers_text"),
)


def _conditions(version_ids: Sequence[int], filters: DatasetFilters) -> list[Any]:
    """Scope of a dataset, before review status and demo flags are applied."""
    where: list[Any] = [Submission.instrument_version_id.in_(version_ids)]
    if filters.round_ids is not None:
        where.append(Submission.round_id.in_(filters.round_ids))
    if filters.since is not None:
        where.append(Submission.received_at >= filters.since)
    if filters.until is not None:
        where.append(Submission.received_at < filters.until)
    if filters.districts is not None:
        where.append(Submission.district.in_(filters.districts))
    return where


def _kept(filters: DatasetFilters) -> list[Any]:
    where: list[Any] = [Submission.review_status.in_(filters.review_statuses)]
    if not filters.include_demo:
        where.append(Submission.is_demo.is_(False))
    return where


def _utc_naive(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _parse_answers(texts: Sequence[str | None]) -> list[dict[str, Any]]:
    """JSON answers of a chunk, decoded in one call (a bad row costs only itself)."""
    try:
        # One json.loads over the chunk saves the per-call overhead of thousands of calls.
        parsed = json.loads("[" + ",".join(t or "{}" for t in texts) + "]")
    except ValueError:
        parsed = []
        for text in texts:
            try:
                parsed.append(json.loads(text) if text else {})
            except ValueError:
                parsed.append({})
    return [p if isinstance(p, dict) else {} for p in parsed]


def _transpose(records: Sequence[Mapping[str, Any]], names: Iterable[str]) -> dict[str, list[Any]]:
    """Rows of answers as one list per question (None where unanswered).

    Walking each record's own keys once is about four times faster than asking every record
    for every question: most questions are skipped by relevance in most interviews.
    """
    n = len(records)
    columns = {name: [None] * n for name in names}
    get = columns.get
    for position, record in enumerate(records):
        for key, value in record.items():
            column = get(key)
            if column is not None:
                column[position] = value
    return columns


class _Loader:
    """Builds the frames of one dataset from chunks of rows."""

    def __init__(
        self,
        specs: Sequence[InstrumentSpec],
        version_names: Mapping[int, str],
        round_names: Mapping[int, str],
        known: Dataset | None = None,
    ) -> None:
        self.fields, self.repeats = _schema(specs)
        self.top = [f for f in self.fields if f.repeat is None]
        self.by_repeat = {r: [f for f in self.fields if f.repeat == r] for r in self.repeats}
        self.version_names = version_names
        self.round_names = round_names
        self.versions = _CategoryBuilder(list(dict.fromkeys(version_names.values())))
        self.rounds = _CategoryBuilder(list(dict.fromkeys(round_names.values())))
        spec = specs[-1]
        district_field = next(
            (f for f in self.top if f.name == spec.intake.district_question and f.codes), None
        )
        self.districts = _CategoryBuilder(district_field.codes if district_field else ())
        self.statuses = _CategoryBuilder(REVIEW_STATUSES)
        self.languages = _CategoryBuilder(sorted(spec.languages))
        self.sources = _CategoryBuilder(("web", "openrosa", "demo"))
        self.builders = {f.name: _builder(f) for f in self.top}
        self.repeat_builders = {
            r: {f.name: _builder(f) for f in fields} for r, fields in self.by_repeat.items()
        }
        if known is not None:
            self._adopt_categories(known)
        self.ids: list[np.ndarray] = []
        self.received: list[np.ndarray] = []
        self.started: list[np.ndarray] = []
        self.duration: list[np.ndarray] = []
        self.volunteers: list[np.ndarray] = []
        self.demo: list[np.ndarray] = []
        self.parents: dict[str, list[np.ndarray]] = {r: [] for r in self.repeats}
        self.positions: dict[str, list[np.ndarray]] = {r: [] for r in self.repeats}
        self.count = 0

    def _adopt_categories(self, known: Dataset) -> None:
        """Start from an existing dataset's categories, so appended codes line up."""

        def adopt(builder: Any, series: pd.Series | None) -> None:
            if series is None or not isinstance(series.dtype, pd.CategoricalDtype):
                return
            for category in series.cat.categories:
                builder._code(category)

        def adopt_all(builders: Mapping[str, Any], part: pd.DataFrame | None) -> None:
            if part is None:
                return
            for name, builder in builders.items():
                if type(builder) is _CategoryBuilder:  # calculates re-derive their categories
                    adopt(builder, part.get(name))
                elif isinstance(builder, _MultipleBuilder):
                    prefix = name + MULTIPLE_SEPARATOR
                    for column in part.columns:
                        code = column.removeprefix(prefix)
                        if column.startswith(prefix) and code not in builder.index:
                            builder.index[code] = len(builder.codes)
                            builder.codes.append(code)

        frame = known.respondents
        adopt(self.versions, frame.get("_version"))
        adopt(self.rounds, frame.get("_round"))
        adopt(self.districts, frame.get("_district"))
        adopt(self.statuses, frame.get("_review_status"))
        adopt(self.languages, frame.get("_language"))
        adopt(self.sources, frame.get("_source"))
        adopt_all(self.builders, frame)
        for repeat, builders in self.repeat_builders.items():
            adopt_all(builders, known.repeats.get(repeat))

    def add(self, rows: Sequence[Any]) -> None:
        n = len(rows)
        answers = _parse_answers([row.answers_text for row in rows])
        self.ids.append(np.fromiter((r.id for r in rows), dtype=np.int64, count=n))
        self.versions.add([self.version_names.get(r.instrument_version_id) for r in rows])
        self.rounds.add([self.round_names.get(r.round_id) for r in rows])
        self.districts.add([r.district for r in rows])
        self.statuses.add([r.review_status for r in rows])
        self.languages.add([r.language for r in rows])
        self.sources.add([r.source for r in rows])
        received = [_utc_naive(r.received_at) for r in rows]
        started = [_utc_naive(r.started_at) for r in rows]
        ended = [_utc_naive(r.ended_at) for r in rows]
        self.received.append(np.array(received, dtype="datetime64[us]"))
        started_array = np.array(started, dtype="datetime64[us]")
        self.started.append(started_array)
        seconds = (np.array(ended, dtype="datetime64[us]") - started_array) / np.timedelta64(1, "s")
        self.duration.append(seconds / 60.0)
        self.volunteers.append(
            np.array([r.entered_by_id if r.entered_by_id is not None else -1 for r in rows])
        )
        self.demo.append(np.fromiter((bool(r.is_demo) for r in rows), dtype=bool, count=n))
        values = _transpose(answers, self.builders)
        for name, builder in self.builders.items():
            builder.add(values[name])
        for repeat in self.repeats:
            self._add_repeat(repeat, answers)
        self.count += n

    def _add_repeat(self, repeat: str, answers: Sequence[Mapping[str, Any]]) -> None:
        parents: list[int] = []
        positions: list[int] = []
        entries: list[Mapping[str, Any]] = []
        for row, values in enumerate(answers):
            found = values.get(repeat)
            if not isinstance(found, list):
                continue
            for position, entry in enumerate(found, start=1):
                if isinstance(entry, dict):
                    parents.append(self.count + row)
                    positions.append(position)
                    entries.append(entry)
        self.parents[repeat].append(np.array(parents, dtype=np.int64))
        self.positions[repeat].append(np.array(positions, dtype=np.int64))
        builders = self.repeat_builders[repeat]
        values = _transpose(entries, builders)
        for name, builder in builders.items():
            builder.add(values[name])

    def finish(self) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
        def joined(parts: list[np.ndarray], dtype: str) -> np.ndarray:
            return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

        volunteers = joined(self.volunteers, "int64").astype(np.int64)
        columns: dict[str, Any] = {
            "_submission_id": joined(self.ids, "int64"),
            "_version": self.versions.finish(),
            "_round": self.rounds.finish(),
            "_district": self.districts.finish(),
            "_received_at": pd.DatetimeIndex(joined(self.received, "datetime64[us]")).tz_localize(
                "UTC"
            ),
            "_started_at": pd.DatetimeIndex(joined(self.started, "datetime64[us]")).tz_localize(
                "UTC"
            ),
            "_duration_min": joined(self.duration, "float64"),
            "_review_status": self.statuses.finish(),
            "_volunteer": pd.arrays.IntegerArray(volunteers, volunteers < 0),
            "_language": self.languages.finish(),
            "_demo": joined(self.demo, "bool"),
            "_source": self.sources.finish(),
        }
        _finish_fields(self.top, self.builders, columns)
        respondents = pd.DataFrame(columns)
        repeats = {}
        for repeat in self.repeats:
            parents = joined(self.parents[repeat], "int64")
            repeat_columns: dict[str, Any] = {
                "_submission_id": columns["_submission_id"][parents],
                "_index": joined(self.positions[repeat], "int64"),
            }
            for name in REPEAT_METADATA:
                repeat_columns[name] = respondents[name].take(parents).array
            for name in RESPONDENT_CONTEXT:
                if name in respondents.columns:
                    repeat_columns[RESPONDENT_PREFIX + name] = respondents[name].take(parents).array
            _finish_fields(self.by_repeat[repeat], self.repeat_builders[repeat], repeat_columns)
            repeats[repeat] = pd.DataFrame(repeat_columns)
        return respondents, repeats


# -- combining an existing dataset with newly read rows -----------------------------------------


class _Rebuild(Exception):
    """New rows cannot be appended to the cached frames (a column changed type)."""


def _append(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Rows of `new` after `old`, with categories merged and missing columns filled."""
    if new.empty:
        return old
    if old.empty:
        return new
    old_parts: dict[str, Any] = {}
    new_parts: dict[str, Any] = {}
    # The new rows' builders started from the old codes, so their column order extends ours.
    if set(old.columns) <= set(new.columns):
        order = list(new.columns)
    else:
        order = list(old.columns) + [c for c in new.columns if c not in old.columns]
    for column in order:
        left = old[column] if column in old.columns else None
        right = new[column] if column in new.columns else None
        template = left if left is not None else right
        assert template is not None
        if left is None:
            left = pd.Series(pd.array([None] * len(old), dtype=template.dtype))
            prefix = column.rsplit(MULTIPLE_SEPARATOR, 1)[0] + MULTIPLE_SEPARATOR
            sibling = next((c for c in old.columns if c.startswith(prefix)), None)
            if MULTIPLE_SEPARATOR in column and sibling is not None:
                # A code first seen in the new rows: old answers did not choose it.
                answered = old[sibling].notna().to_numpy()
                left = pd.Series(pd.arrays.BooleanArray(np.zeros(len(old), bool), ~answered))
        if right is None:
            right = pd.Series(pd.array([None] * len(new), dtype=template.dtype))
        left_categorical = isinstance(left.dtype, pd.CategoricalDtype)
        if left_categorical != isinstance(right.dtype, pd.CategoricalDtype) or (
            not left_categorical and left.dtype != right.dtype
        ):
            raise _Rebuild(column)  # e.g. a calculate that stops being all-numeric
        if left_categorical:
            # The new rows' builder started from the old categories: theirs extend ours.
            known = list(left.cat.categories)
            seen = set(known)
            extra = [c for c in right.cat.categories if c not in seen]
            if extra:
                left = left.cat.add_categories(extra)  # appends: the codes stay as they are
            if list(right.cat.categories) != known + extra:  # rare: only recode when needed
                right = right.cat.set_categories(known + extra)
        old_parts[column] = left.reset_index(drop=True)
        new_parts[column] = right.reset_index(drop=True)
    return pd.concat([pd.DataFrame(old_parts), pd.DataFrame(new_parts)], ignore_index=True)


# -- cache --------------------------------------------------------------------------------------


@dataclass
class _Stamp:
    """What the submissions of a version set looked like when a dataset was built."""

    last_id: int
    count: int  # rows with id <= last_id
    latest_correction: int  # newest submission_versions id: every correction adds one
    latest_updated: Any  # newest updated_at / reviewed_at of any submission
    latest_reviewed: Any
    checked_at: float = 0.0  # time.monotonic() of the last updated/reviewed check


@dataclass
class _Entry:
    dataset: Dataset
    stamp: _Stamp


class DatasetCache:
    """Datasets of one application, least recently used dropped first."""

    def __init__(self, size: int = CACHE_ENTRIES) -> None:
        self.size = size
        self.entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self.lock = threading.RLock()
        self.stats = {"hits": 0, "appends": 0, "builds": 0}

    def get(self, key: tuple) -> _Entry | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def put(self, key: tuple, entry: _Entry) -> None:
        self.entries[key] = entry
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def clear(self) -> None:
        self.entries.clear()


def _cache() -> DatasetCache:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.get("birge_dataset_cache")
    if cache is None:
        cache = app.extensions.setdefault(
            "birge_dataset_cache",
            DatasetCache(app.config.get("DATASET_CACHE_ENTRIES", CACHE_ENTRIES)),
        )
    return cache


def invalidate() -> None:
    """Forget every cached dataset of the current application."""
    cache = _cache()
    with cache.lock:
        cache.clear()


def cache_stats() -> dict[str, int]:
    """How often loads were answered from the cache, appended to, or built anew."""
    return dict(_cache().stats)


def _stamp(
    version_ids: Sequence[int], last_id: int | None, previous: _Stamp | None = None
) -> _Stamp:
    """Enough to tell appended, corrected, reviewed and deleted submissions apart.

    Count and newest id come from the instrument-version index, the newest correction from
    the submission_versions key: cheap at any size. The newest updated_at/reviewed_at need a
    scan of the submissions table (seconds for a million rows in SQLite, where each row holds
    its answers); with `previous` they are re-read only every DATASET_FULL_CHECK_SECONDS
    (default 0: always). An index on each column (a migration) would make them instant.
    """
    # Both from the instrument-version index (it holds the ids): no table rows are read.
    counted = func.count(Submission.id)
    if last_id is not None:  # only the rows a cached dataset has seen
        counted = func.sum(case((Submission.id <= last_id, 1), else_=0))
    count, newest = db.session.execute(
        select(counted, func.max(Submission.id)).where(
            Submission.instrument_version_id.in_(version_ids)
        )
    ).one()
    correction = db.session.execute(select(func.max(SubmissionVersion.id))).scalar()
    interval = current_app.config.get("DATASET_FULL_CHECK_SECONDS", 0)
    now = time.monotonic()
    if previous is not None and interval > 0 and now - previous.checked_at < interval:
        updated, reviewed, checked = (
            previous.latest_updated,
            previous.latest_reviewed,
            previous.checked_at,
        )
    else:
        # Two separate maxima so that each could use an index of its own.
        updated = db.session.execute(select(func.max(Submission.updated_at))).scalar()
        reviewed = db.session.execute(select(func.max(Submission.reviewed_at))).scalar()
        checked = now
    return _Stamp(
        last_id=newest or 0,
        count=int(count or 0),
        latest_correction=correction or 0,
        latest_updated=updated,
        latest_reviewed=reviewed,
        checked_at=checked,
    )


# -- loading ------------------------------------------------------------------------------------


def _round_ids(rounds: Iterable[SurveyRound | int | str] | None) -> tuple[int, ...] | None:
    if rounds is None:
        return None
    ids: list[int] = []
    names: list[str] = []
    for item in rounds:
        if isinstance(item, SurveyRound):
            ids.append(item.id)
        elif isinstance(item, int):
            ids.append(item)
        else:
            names.append(str(item))
    if names:
        found = db.session.execute(
            select(SurveyRound.name, SurveyRound.id).where(SurveyRound.name.in_(names))
        ).all()
        missing = set(names) - {name for name, _id in found}
        if missing:
            raise ValueError(f"Unknown survey round(s): {', '.join(sorted(missing))}")
        ids.extend(round_id for _name, round_id in found)
    return tuple(sorted(set(ids)))


def _moment(value: dt.date | dt.datetime | None, *, end: bool) -> dt.datetime | None:
    """A filter bound as a UTC datetime; a date `until` includes that whole day."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value + dt.timedelta(days=1) if end else value, dt.time())
    # Stored times are UTC; an aware bound compares correctly on SQLite and PostgreSQL alike.
    return value.astimezone(dt.UTC) if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def make_filters(
    *,
    rounds: Iterable[SurveyRound | int | str] | None = None,
    review_statuses: Iterable[str] = ("pending", "approved"),
    include_demo: bool = True,
    since: dt.date | dt.datetime | None = None,
    until: dt.date | dt.datetime | None = None,
    districts: Iterable[str] | None = None,
) -> DatasetFilters:
    """Normalised filters (rounds by object, id or name; dates as UTC bounds)."""
    unknown = set(review_statuses) - set(REVIEW_STATUSES)
    if unknown:
        raise ValueError(f"Unknown review status(es): {', '.join(sorted(unknown))}")
    statuses = tuple(sorted(set(review_statuses), key=REVIEW_STATUSES.index))
    return DatasetFilters(
        round_ids=_round_ids(rounds),
        review_statuses=statuses,
        include_demo=include_demo,
        since=_moment(since, end=False),
        until=_moment(until, end=True),
        districts=tuple(sorted(set(districts))) if districts is not None else None,
    )


def _excluded(
    version_ids: Sequence[int],
    filters: DatasetFilters,
    *,
    after_id: int = 0,
    up_to_id: int | None = None,
    known: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Submissions in scope left out, by reason (their review status, else 'demo').

    With `after_id`, only newer rows are counted and added to `known`: an append does not
    rescan the table.
    """
    where = _conditions(version_ids, filters)
    if after_id:
        where.append(Submission.id > after_id)
    if up_to_id is not None:
        where.append(Submission.id <= up_to_id)
    rows = db.session.execute(
        select(Submission.review_status, Submission.is_demo, func.count())
        .where(*where)
        .group_by(Submission.review_status, Submission.is_demo)
    ).all()
    out: dict[str, int] = dict(known or {})
    for status, is_demo, count in rows:
        if status not in filters.review_statuses:
            out[status] = out.get(status, 0) + count
        elif is_demo and not filters.include_demo:
            out["demo"] = out.get("demo", 0) + count
    return out


def _read(
    versions: Sequence[InstrumentVersion],
    specs: Sequence[InstrumentSpec],
    filters: DatasetFilters,
    *,
    after_id: int = 0,
    up_to_id: int | None = None,
    known: Dataset | None = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    version_ids = [v.id for v in versions]
    round_names = dict(
        db.session.execute(
            select(SurveyRound.id, SurveyRound.name).order_by(SurveyRound.starts_on, SurveyRound.id)
        ).all()
    )  # categories in calendar order
    loader = _Loader(specs, {v.id: v.version for v in versions}, round_names, known)
    where = _conditions(version_ids, filters) + _kept(filters)
    if after_id:
        where.append(Submission.id > after_id)
    if up_to_id is not None:
        where.append(Submission.id <= up_to_id)
    statement = select(*_SELECTED).where(*where).order_by(Submission.id)
    # yield_per on the statement, not the connection: Connection.execution_options() changes
    # the session's connection for good (later INSERTs would run in server-side cursors).
    result = db.session.connection().execute(statement.execution_options(yield_per=CHUNK_ROWS))
    for rows in result.partitions():
        loader.add(rows)
    result.close()
    return loader.finish()


def _ordered_versions(versions: Sequence[InstrumentVersion]) -> list[InstrumentVersion]:
    if not versions:
        raise ValueError("load_dataset needs at least one instrument version.")
    unique = {v.id: v for v in versions}
    ordered = sorted(unique.values(), key=lambda v: (v.sequence or 0, v.id))
    instruments = {v.instrument_id for v in ordered}
    if len(instruments) > 1:
        raise ValueError("A dataset combines versions of one instrument only.")
    return ordered


def _descriptions(specs: Sequence[InstrumentSpec]) -> tuple[QuestionDescription, ...]:
    found: dict[str, QuestionDescription] = {}
    for spec in reversed(specs):  # newest wins
        for description in describe(spec):
            found.setdefault(description.name, description)
    return tuple(found.values())


def load_dataset(
    instrument_versions: Sequence[InstrumentVersion],
    *,
    rounds: Iterable[SurveyRound | int | str] | None = None,
    review_statuses: Iterable[str] = ("pending", "approved"),
    include_demo: bool = True,
    since: dt.date | dt.datetime | None = None,
    until: dt.date | dt.datetime | None = None,
    districts: Iterable[str] | None = None,
    use_cache: bool = True,
) -> Dataset:
    """The submissions of these versions (of one instrument) as frames; see the module doc.

    `since`/`until` bound `received_at` (a date `until` includes that day); `rounds` are
    SurveyRound objects, ids or names; `districts` are district codes as stored.
    """
    versions = _ordered_versions(instrument_versions)
    specs = tuple(spec_for(v) for v in versions)
    filters = make_filters(
        rounds=rounds,
        review_statuses=review_statuses,
        include_demo=include_demo,
        since=since,
        until=until,
        districts=districts,
    )
    version_ids = [v.id for v in versions]
    key = (tuple((v.id, v.sha256) for v in versions), filters)
    if not use_cache:
        return _build(versions, specs, filters)[0]
    cache = _cache()
    with cache.lock:
        entry = cache.get(key)
        if entry is not None:
            # Aggregates over the rows the cached dataset has seen, plus the newest id.
            current = _stamp(version_ids, entry.stamp.last_id, entry.stamp)
            if _same_rows(current, entry.stamp):
                if current.last_id <= entry.stamp.last_id:
                    cache.stats["hits"] += 1
                    entry.stamp.checked_at = current.checked_at
                    return entry.dataset
                try:
                    entry = _extend(entry, versions, specs, filters)
                except _Rebuild:
                    pass
                else:
                    cache.stats["appends"] += 1
                    cache.put(key, entry)
                    return entry.dataset
        dataset, stamp = _build(versions, specs, filters)
        cache.stats["builds"] += 1
        cache.put(key, _Entry(dataset, stamp))
        return dataset


def _same_rows(current: _Stamp, seen: _Stamp) -> bool:
    """No seen row was deleted, corrected or reviewed, and no late commit slipped below."""
    return (
        current.count,
        current.latest_correction,
        current.latest_updated,
        current.latest_reviewed,
    ) == (seen.count, seen.latest_correction, seen.latest_updated, seen.latest_reviewed)


def _build(
    versions: Sequence[InstrumentVersion],
    specs: tuple[InstrumentSpec, ...],
    filters: DatasetFilters,
) -> tuple[Dataset, _Stamp]:
    version_ids = [v.id for v in versions]
    # Stamp first, then read up to its id: a change made during the read shows in the next
    # stamp (rebuild), and rows saved during the read are appended next time.
    stamp = _stamp(version_ids, None)
    respondents, repeats = _read(versions, specs, filters, up_to_id=stamp.last_id)
    dataset = Dataset(
        respondents=respondents,
        repeats=repeats,
        excluded=_excluded(version_ids, filters, up_to_id=stamp.last_id),
        descriptions=_descriptions(specs),
        specs=specs,
        filters=filters,
    )
    return dataset, stamp


def _extend(
    entry: _Entry,
    versions: Sequence[InstrumentVersion],
    specs: tuple[InstrumentSpec, ...],
    filters: DatasetFilters,
) -> _Entry:
    """Append the submissions saved since the entry was built."""
    old = entry.dataset
    version_ids = [v.id for v in versions]
    stamp = _stamp(version_ids, None, entry.stamp)
    respondents, repeats = _read(
        versions, specs, filters, after_id=entry.stamp.last_id, up_to_id=stamp.last_id, known=old
    )
    dataset = Dataset(
        respondents=_append(old.respondents, respondents),
        repeats={name: _append(frame, repeats[name]) for name, frame in old.repeats.items()},
        excluded=_excluded(
            version_ids,
            filters,
            after_id=entry.stamp.last_id,
            up_to_id=stamp.last_id,
            known=old.excluded,
        ),
        descriptions=old.descriptions,
        specs=old.specs,
        filters=filters,
    )
    return _Entry(dataset, stamp)
