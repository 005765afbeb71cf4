"""The columns a dataset has: the conventions (see survey.datasets.dataset) and one builder per
question type that turns answers into a NumPy array chunk by chunk (codes, not strings).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from survey.instruments.spec import InstrumentSpec, Question

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
# In the table of a repeat inside a repeat: the `_index` of the entry holding each entry, in
# the table of the repeat around it (`_index` numbers the entries through the submission).
PARENT_INDEX = "_parent_index"
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


_MISSING = -1


_UNKNOWN = -2


def multiple_column(question: str, code: str) -> str:
    return f"{question}{MULTIPLE_SEPARATOR}{code}"


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
    "hidden": "calculate",
    "range": "number",
    "time": "text",
    "datetime": "text",
    "barcode": "text",
    "geopoint": "text",
    "geotrace": "text",
    "geoshape": "text",
    "rank": "text",
    "start": "text",
    "end": "text",
    "today": "date",
}


# A number as text in the strict sense: Python's float() also reads '40_59' (as 4059), 'nan',
# 'inf' and ' 1 ', and a select code must never become a number (issue 9, part 9).
_NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _number(value: Any) -> float:
    """A stored value as a number; ValueError unless it is one (bool is not)."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value):
        return float(value)
    raise ValueError(value)


def _field_of(spec: InstrumentSpec, question: Question) -> _Field | None:
    kind = _KINDS.get(question.type)
    if kind is None:
        return None  # notes (and unknown types) store nothing
    codes: list[str] = []
    if question.type == "acknowledge":
        codes = ["OK"]
    elif kind in {"category", "multiple"}:
        # allow_choice_duplicates lets a list repeat a code: one category per code.
        codes = list(
            dict.fromkeys(c.name for c in spec.choices.get(question.choice_list or "", ()))
        )
    return _Field(question.name, kind, question.repeat, codes)


def repeat_chains(specs: Sequence[InstrumentSpec]) -> dict[str, list[str]]:
    """Each repeat's name with the repeats around it, outermost first ('household', 'member')."""
    chains: dict[str, list[str]] = {}
    for spec in reversed(specs):  # the newest version's nesting wins
        for repeat in spec.iter_repeats():
            chains.setdefault(repeat.name, [r.name for r in spec.repeat_chain(repeat.name)])
    return chains


def schema(specs: Sequence[InstrumentSpec]) -> tuple[list[_Field], list[str]]:
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


class CategoryBuilder:
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


class _CalculateBuilder(CategoryBuilder):
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
        return calculated_column(self.codes(), self.categories)


def calculated_column(codes: np.ndarray, values: Sequence[Any]) -> Any:
    """A calculate's column from codes into its distinct stored values (-1 = no value):
    float64 when every value is a number, else a category of the values in natural order."""
    numbers = []
    for value in values:
        try:
            numbers.append(_number(value))
        except (TypeError, ValueError):
            break
    else:
        lookup = np.array([*numbers, np.nan], dtype=np.float64)  # -1 → the trailing NaN
        return lookup[codes]
    names = [_as_key(v) or "" for v in values]
    unique = sorted(set(names), key=_natural_key)
    position = {name: i for i, name in enumerate(unique)}
    remap = np.array([*(position[n] for n in names), _MISSING], dtype=np.int32)
    return pd.Categorical.from_codes(remap[codes], dtype=pd.CategoricalDtype(unique, ordered=False))


def _natural_key(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


class MultipleBuilder:
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
            # NumPy reads text with float() ('40_59' → 4059): only true numbers take the fast path.
            if any(isinstance(v, str) for v in values):
                raise TypeError
            part = np.array(values, dtype=np.float64)
        except (TypeError, ValueError):
            part = np.fromiter((_to_float(v) for v in values), dtype=np.float64, count=len(values))
        self.parts.append(part)

    def finish(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.empty(0, dtype=np.float64)


def _to_float(value: Any) -> float:
    try:
        return _number(value) if value not in (None, "") else np.nan
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
        self.cells.extend(
            (base + i, _as_key(v) or "") for i, v in enumerate(values) if v not in (None, "", [])
        )
        self.count += len(values)

    def finish(self) -> Any:
        out = np.full(self.count, None, dtype=object)
        for position, text in self.cells:
            out[position] = text
        return pd.array(out, dtype="string")


def column_builder(spec_field: _Field) -> Any:
    if spec_field.kind == "category":
        return CategoryBuilder(spec_field.codes)
    if spec_field.kind == "multiple":
        return MultipleBuilder(spec_field.codes)
    if spec_field.kind == "number":
        return _NumberBuilder()
    if spec_field.kind == "date":
        return _DateBuilder()
    if spec_field.kind == "calculate":
        return _CalculateBuilder()
    return _TextBuilder()


def finish_fields(
    fields: Sequence[_Field], builders: Mapping[str, Any], columns: dict[str, Any]
) -> None:
    for spec_field in fields:
        built = builders[spec_field.name].finish()
        if spec_field.kind == "multiple":
            for code, values in built.items():
                columns[multiple_column(spec_field.name, code)] = values
        else:
            columns[spec_field.name] = built
