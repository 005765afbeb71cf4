"""Microdata exports (CSV, XLSX, SPSS .sav) of a Dataset, de-identified by default.

De-identification (DOMAIN.md §6), applied unless `deidentify=False`:
- free-text questions are dropped;
- a settlement (any select_one whose choices are filtered by the district question) is
  generalised to its district and dropped; the exact age becomes an age band (`age` →
  `age_band`, 18–39/40–59/60–74/75+; roster ages `*_age` → `*_age_band` with 0–17 added);
- `household_size` is top-coded at 8 ("8 or more"), dates and the receipt time are reduced to the
  month, the duration to whole minutes; the volunteer and the start time are dropped;
- the submission id is replaced by `_record`, a random number that links roster rows to their
  respondent and says nothing about the order of entry; rows are written in `_record` order;
- k-anonymity (k=5) is checked over the quasi-identifiers present (district, sex, age band,
  generation, zone, disability, certificate status, household size); at-risk records get
  those values blanked by local suppression (reports.anonymization), with the answers a blanked
  derived value is calculated from (e.g. the Washington Group items behind `wg_disability`);
  records still at risk are dropped, with their roster rows. Roster rows are checked the same
  way over their own characteristics and the household's (suppressed) district.
  The counts go into the ExportReport, the `about` sheet/file and the audit log.

Every text cell, label and header is neutralised against spreadsheet formulas. Select_multiple
questions are 0/1 columns `<question>/<code>` (blank = not answered). CSV files are UTF-8 with a
byte-order mark (so Excel shows Kazakh and Russian), written in chunks of rows. Tables:
`respondents`, one per repeat (`member` for the household roster), `codebook`, `about`.
In SPSS files names are sanitised (≤ 64 bytes, ASCII letters, digits and `_`, starting with a
letter, unique ignoring case): the codebook maps each column to its `spss_name` and each code to
its `spss_value` (a list of integer codes keeps its numbers; others are numbered 1…n in choice
order); `dnk` and `pnta` become 98/99 (or 998/999…) declared as user-missing.

Limits, said plainly: k-anonymity is checked per table, so a household's whole roster (linked by
`_record`) can still be distinctive, and the number of roster rows reveals a suppressed
household size. XLSX is written by xlsxwriter at some 100,000 cells a second: prefer CSV or SPSS
for large surveys (and the `survey export` command over the web page, whose request would
outlast a server timeout).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import re
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from reports.anonymization import (
    DEFAULT_AGE_BANDS,
    KAnonymityReport,
    generalise,
    k_anonymity,
    neutralise_formula,
    suppress_at_risk,
    top_code,
)
from survey.datasets.dataset import (
    MULTIPLE_SEPARATOR,
    RESPONDENT_PREFIX,
    Dataset,
)

FORMATS = ("csv", "xlsx", "sav")
LANGUAGES = ("kk", "ru", "en")
DEFAULT_K = 5
QUASI_IDENTIFIERS = (
    "district",
    "sex",
    "age_band",
    "generation",
    "zone_self_reported",
    "wg_disability",
    "certificate_status",
    "household_size",
)
# Which quasi-identifiers local suppression blanks first: the least used disaggregations first,
# so district, sex and age band (the standard breakdowns) survive most often.
SUPPRESSION_ORDER = (
    "household_size",
    "zone_self_reported",
    "certificate_status",
    "wg_disability",
    "generation",
    "age_band",
    "district",
    "sex",
)
MEMBER_QUASI_IDENTIFIERS = (
    "member_sex",
    "member_age_band",
    "member_generation",
    "member_certificate",
    "member_wg_disability",
)
MEMBER_AGE_BANDS = ((0, 17), *DEFAULT_AGE_BANDS)
HOUSEHOLD_SIZE_TOP = 8
SPECIAL_CODES = ("dnk", "pnta")
CHUNK_ROWS = 20_000
XLSX_MAX_ROWS = 1_048_576  # Excel's limit, header included
SPSS_RESERVED = {"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"}
RECORD_KEY = "_record"

PathOrFile = str | os.PathLike[str] | IO[bytes]

_TEXTS: dict[str, dict[str, str]] = {
    "chosen": {"en": "chosen", "ru": "выбрано", "kk": "таңдалған"},
    "not_chosen": {"en": "not chosen", "ru": "не выбрано", "kk": "таңдалмаған"},
    "record": {
        "en": "Record (random key linking roster rows to their respondent)",
        "ru": "Запись (случайный ключ, связывающий членов семьи с респондентом)",
        "kk": "Жазба (отбасы мүшелерін респондентпен байланыстыратын кездейсоқ кілт)",
    },
    "received_month": {
        "en": "Month received (UTC)",
        "ru": "Месяц получения (UTC)",
        "kk": "Алынған айы (UTC)",
    },
}


class ExportError(ValueError):
    """An export that cannot be made as asked (a message for the person who asked)."""


# -- reports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisclosureCheck:
    """k-anonymity of one table, before and after suppression."""

    table: str
    quasi_identifiers: tuple[str, ...]
    k: int
    records: int
    records_at_risk: int  # before suppression
    records_suppressed: int = 0
    values_blanked: int = 0
    records_dropped: int = 0
    blanked_by_column: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportReport:
    """What an export contains and what disclosure control did (no answers: safe to audit)."""

    format: str
    deidentified: bool
    labels: bool
    language: str
    rows: Mapping[str, int]
    columns: Mapping[str, int]
    dropped_columns: tuple[str, ...]
    checks: tuple[DisclosureCheck, ...]

    @property
    def records_at_risk(self) -> int:
        """Respondent records at risk before suppression."""
        return next((c.records_at_risk for c in self.checks if c.table == "respondents"), 0)

    @property
    def records_suppressed(self) -> int:
        """Records (all tables) with a value blanked or dropped."""
        return sum(c.records_suppressed for c in self.checks)

    def audit_details(self) -> dict[str, Any]:
        """Counts for the audit log."""
        return {
            "format": self.format,
            "deidentified": self.deidentified,
            "labels": self.labels,
            "language": self.language,
            "rows": dict(self.rows),
            "k_anonymity": {
                c.table: {
                    "k": c.k,
                    "at_risk": c.records_at_risk,
                    "suppressed": c.records_suppressed,
                    "values_blanked": c.values_blanked,
                    "dropped": c.records_dropped,
                }
                for c in self.checks
            },
        }


@dataclass(frozen=True)
class PreparedExport:
    """Tables ready to write: de-identified (or not), codes kept, labels looked up."""

    tables: Mapping[str, pd.DataFrame]
    column_labels: Mapping[str, str]
    value_labels: Mapping[str, Mapping[str, str]]
    types: Mapping[str, str]  # column → question type (or 'metadata')
    notes: Mapping[str, str]  # column → what de-identification did to it
    report: ExportReport
    about: tuple[tuple[str, str], ...]
    title: str


# -- de-identification --------------------------------------------------------------------------


_REFERENCE = re.compile(r"\$\{(\w+)\}")


def _calculation_sources(dataset: Dataset, name: str) -> set[str]:
    """Questions a calculate depends on, directly or through other calculates."""
    questions = {}
    for spec in dataset.specs:
        questions.update(spec.questions_by_name)
    seen: set[str] = set()
    todo = [name]
    while todo:
        question = questions.get(todo.pop())
        if question is None or question.type != "calculate" or not question.calculation:
            continue
        for ref in _REFERENCE.findall(question.calculation):
            if ref not in seen:
                seen.add(ref)
                todo.append(ref)
    return seen


def _linked_columns(
    dataset: Dataset, frame: pd.DataFrame, quasi_identifiers: Sequence[str]
) -> dict[str, list[str]]:
    """For each derived quasi-identifier, the columns its value could be recomputed from."""
    linked: dict[str, list[str]] = {}
    for qi in quasi_identifiers:
        columns: list[str] = []
        for source in sorted(_calculation_sources(dataset, qi)):
            if source in quasi_identifiers:
                continue
            prefix = source + MULTIPLE_SEPARATOR
            columns += [c for c in frame.columns if c == source or c.startswith(prefix)]
        if columns:
            linked[qi] = columns
    return linked


def _settlement_columns(dataset: Dataset) -> dict[str, dict[str, str]]:
    """select_one questions finer than the district: code → district code."""
    out: dict[str, dict[str, str]] = {}
    for spec in dataset.specs:
        district = spec.intake.district_question
        for question in spec.iter_questions():
            if question.type != "select_one" or question.repeat is not None:
                continue
            choices = spec.choices.get(question.choice_list or "", ())
            mapping = {c.name: c.filters[district] for c in choices if district in c.filters}
            if mapping and question.name != district:
                out.setdefault(question.name, {}).update(mapping)
    return out


def _text_columns(dataset: Dataset) -> set[str]:
    return {d.name for d in dataset.descriptions if d.measure == "text"}


def _date_columns(dataset: Dataset) -> set[str]:
    return {d.name for d in dataset.descriptions if d.measure == "date"}


def _month(series: pd.Series) -> pd.Series:
    """Dates reduced to 'YYYY-MM' (a categorical); vectorised, as strftime is slow."""
    values = series
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    months = values.to_numpy().astype("datetime64[M]")
    missing = np.isnat(months)
    text = np.datetime_as_string(months, unit="M")
    categories, codes = np.unique(text[~missing], return_inverse=True)
    all_codes = np.full(len(months), -1, dtype=np.int32)
    all_codes[~missing] = codes
    return pd.Series(
        pd.Categorical.from_codes(all_codes, categories=categories.tolist()),
        index=series.index,
        name=series.name,
    )


def _deidentify_respondents(
    dataset: Dataset, k: int
) -> tuple[pd.DataFrame, DisclosureCheck, dict[str, str], list[str]]:
    frame = dataset.respondents
    notes: dict[str, str] = {}
    spec = dataset.spec
    dropped = sorted(c for c in _text_columns(dataset) if c in frame.columns)
    frame = frame.drop(columns=dropped)
    district = spec.intake.district_question
    for column, mapping in _settlement_columns(dataset).items():
        if column in frame.columns:
            frame = generalise(
                frame,
                settlement_to_district=mapping,
                settlement_column=column,
                district_column=district,
                age_column=None,
            )
            dropped.append(column)
    age = spec.intake.age_question
    if age in frame.columns:
        frame = generalise(frame, age_column=age)
        dropped.append(age)
        notes[f"{age}_band"] = "age in bands (exact age dropped)"
    if "household_size" in frame.columns:
        frame["household_size"] = top_code(frame["household_size"], HOUSEHOLD_SIZE_TOP)
        notes["household_size"] = f"top-coded: {HOUSEHOLD_SIZE_TOP} = {HOUSEHOLD_SIZE_TOP} or more"
    for column in sorted(_date_columns(dataset)):
        if column in frame.columns:
            frame[column] = _month(frame[column])
            notes[column] = "month only (YYYY-MM)"
    frame = frame.drop(columns=[c for c in ("_volunteer", "_started_at") if c in frame.columns])
    dropped += ["_volunteer", "_started_at"]
    if "_received_at" in frame.columns:
        frame.insert(
            frame.columns.get_loc("_received_at"), "_received_month", _month(frame["_received_at"])
        )
        frame = frame.drop(columns=["_received_at"])
        notes["_received_month"] = "month only (YYYY-MM)"
    if "_duration_min" in frame.columns:
        frame["_duration_min"] = frame["_duration_min"].round(0)
        notes["_duration_min"] = "whole minutes"
    district_qi = district if district in frame.columns else "_district"
    names = {"district": district_qi}
    qis = [names.get(q, q) for q in QUASI_IDENTIFIERS if names.get(q, q) in frame.columns]
    linked = _linked_columns(dataset, frame, qis)
    if district_qi != "_district" and "_district" in frame.columns:
        linked.setdefault(district_qi, []).append("_district")  # the same value, twice
    rank = {name: i for i, name in enumerate(SUPPRESSION_ORDER)}
    order = sorted(qis, key=lambda q: rank.get("district" if q == district_qi else q, -1))
    frame, check = _suppress(frame, "respondents", qis, k, linked, order=order)
    for qi in qis:
        notes.setdefault(qi, "")
        notes[qi] = "; ".join(filter(None, [notes[qi], "quasi-identifier: blank if suppressed"]))
    return frame, check, notes, dropped


def _suppress(
    frame: pd.DataFrame,
    table: str,
    qis: Sequence[str],
    k: int,
    linked: Mapping[str, Sequence[str]],
    order: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, DisclosureCheck]:
    before: KAnonymityReport = k_anonymity(frame, qis, k)
    if before.n_at_risk == 0:
        return frame, DisclosureCheck(table, tuple(qis), k, len(frame), 0)
    result = suppress_at_risk(frame, before, qis, order=order, linked=linked)
    return result.frame, DisclosureCheck(
        table=table,
        quasi_identifiers=tuple(qis),
        k=k,
        records=len(frame),
        records_at_risk=before.n_at_risk,
        records_suppressed=result.n_records_suppressed,
        values_blanked=result.n_values_blanked,
        records_dropped=result.n_records_dropped,
        blanked_by_column=dict(result.blanked_by_column),
    )


def _deidentify_repeat(
    dataset: Dataset,
    name: str,
    frame: pd.DataFrame,
    respondents: pd.DataFrame,
    k: int,
) -> tuple[pd.DataFrame, DisclosureCheck, dict[str, str], list[str]]:
    notes: dict[str, str] = {}
    dropped = sorted(c for c in _text_columns(dataset) if c in frame.columns)
    frame = frame.drop(columns=dropped)
    # Keep rows of respondents still exported; their context columns take the suppressed values.
    kept = respondents.set_index("_submission_id")
    frame = frame[frame["_submission_id"].isin(kept.index)].reset_index(drop=True)
    for column in frame.columns:
        source = column.removeprefix(RESPONDENT_PREFIX)
        if (column.startswith(RESPONDENT_PREFIX) or column.startswith("_")) and column not in {
            "_submission_id",
            "_index",
        }:
            if source in kept.columns:
                frame[column] = kept[source].reindex(frame["_submission_id"]).array
            elif column in kept.columns:
                frame[column] = kept[column].reindex(frame["_submission_id"]).array
            else:
                frame = frame.drop(columns=[column])
    for column in [c for c in frame.columns if c == "age" or c.endswith("_age")]:
        if pd.api.types.is_numeric_dtype(frame[column].dtype):
            frame = generalise(frame, age_column=column, age_bands=MEMBER_AGE_BANDS)
            dropped.append(column)
            notes[f"{column}_band"] = "age in bands (exact age dropped)"
    for column in sorted(_date_columns(dataset)):
        if column in frame.columns:
            frame[column] = _month(frame[column])
            notes[column] = "month only (YYYY-MM)"
    own = [q for q in MEMBER_QUASI_IDENTIFIERS if q in frame.columns]
    context = ["_district"] if "_district" in frame.columns else []
    linked = _linked_columns(dataset, frame, own)
    # The household's values are fixed by the respondents table: only the roster's own
    # characteristics are blanked; a row still at risk is dropped.
    frame, check = _suppress(frame, name, context + own, k, linked, order=own)
    for qi in own:
        notes[qi] = "quasi-identifier: blank if suppressed"
    return frame, check, notes, dropped


def _record_keys(respondents: pd.DataFrame) -> pd.Series:
    """Random keys 1…n: they link tables without revealing ids or the order of entry."""
    order = np.arange(1, len(respondents) + 1)
    rng = np.random.default_rng(secrets.randbits(64))
    rng.shuffle(order)
    return pd.Series(order, index=respondents["_submission_id"].to_numpy())


def _with_record_key(frame: pd.DataFrame, keys: pd.Series, by: list[str]) -> pd.DataFrame:
    record = keys.reindex(frame["_submission_id"].to_numpy()).to_numpy()
    out = frame.drop(columns=["_submission_id"])
    out.insert(0, RECORD_KEY, record)
    return out.sort_values(by).reset_index(drop=True)


# -- preparing --------------------------------------------------------------------------------


def _types(dataset: Dataset) -> dict[str, str]:
    types: dict[str, str] = {}
    for spec in dataset.specs:
        for question in spec.iter_questions():
            types[question.name] = question.type
    return types


def prepare_export(
    dataset: Dataset,
    *,
    fmt: str = "csv",
    labels: bool = False,
    language: str = "en",
    deidentify: bool = True,
    k: int = DEFAULT_K,
) -> PreparedExport:
    """The tables of an export, de-identified unless told otherwise, with its report."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    if language not in LANGUAGES:
        raise ExportError(f"Unknown language {language!r}: choose one of {', '.join(LANGUAGES)}.")
    if k < 2:
        raise ExportError("k must be at least 2.")
    notes: dict[str, str] = {}
    tables: dict[str, pd.DataFrame] = {}
    checks: list[DisclosureCheck] = []
    dropped: list[str] = []
    if deidentify:
        respondents, check, more, gone = _deidentify_respondents(dataset, k)
        checks.append(check)
        notes.update(more)
        dropped += gone
        keys = _record_keys(respondents)
        for name, frame in dataset.repeats.items():
            part, check, more, gone = _deidentify_repeat(dataset, name, frame, respondents, k)
            checks.append(check)
            notes.update(more)
            dropped += gone
            tables[name] = _with_record_key(part, keys, [RECORD_KEY, "_index"])
        tables = {"respondents": _with_record_key(respondents, keys, [RECORD_KEY]), **tables}
        notes[RECORD_KEY] = "random key; not the submission id"
    else:
        tables["respondents"] = dataset.respondents
        tables.update(dataset.repeats)
        present = [q for q in QUASI_IDENTIFIERS if q in dataset.respondents.columns]
        report = k_anonymity(dataset.respondents, present, k)
        # Reported, not acted on: identified data is for the team only.
        checks.append(
            DisclosureCheck(
                "respondents", tuple(present), k, len(dataset.respondents), report.n_at_risk
            )
        )
    column_labels = dataset.column_labels(language)
    column_labels[RECORD_KEY] = _TEXTS["record"][language]
    column_labels["_received_month"] = _TEXTS["received_month"][language]
    for table in tables.values():
        for column in table.columns:
            if column.endswith("_age_band") or column == "age_band":
                base = column.removesuffix("_band")
                column_labels.setdefault(column, column_labels.get(base, column))
    value_labels = dataset.value_labels(language)
    types = _types(dataset)
    report = ExportReport(
        format=fmt,
        deidentified=deidentify,
        labels=labels,
        language=language,
        rows={name: len(frame) for name, frame in tables.items()},
        columns={name: frame.shape[1] for name, frame in tables.items()},
        dropped_columns=tuple(dict.fromkeys(dropped)),
        checks=tuple(checks),
    )
    about = _about(dataset, report, k)
    return PreparedExport(
        tables=tables,
        column_labels=column_labels,
        value_labels=value_labels,
        types=types,
        notes=notes,
        report=report,
        about=about,
        title=dataset.spec.title,
    )


def _about(dataset: Dataset, report: ExportReport, k: int) -> tuple[tuple[str, str], ...]:
    filters = dataset.filters
    rows: list[tuple[str, str]] = [
        ("instrument", f"{dataset.spec.form_id}: {dataset.spec.title}"),
        ("versions", ", ".join(s.version for s in dataset.specs)),
        ("generated_at_utc", dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("deidentified", "yes" if report.deidentified else "NO: identified data, keep private"),
        ("values", "labels" if report.labels else "codes"),
        ("language", report.language),
        ("review_statuses", ", ".join(filters.review_statuses)),
        ("include_demo", "yes" if filters.include_demo else "no"),
        ("excluded", ", ".join(f"{r}: {n}" for r, n in sorted(dataset.excluded.items())) or "none"),
    ]
    for name, count in report.rows.items():
        rows.append((f"rows_{name}", str(count)))
    if report.dropped_columns:
        rows.append(("dropped_columns", ", ".join(report.dropped_columns)))
    for check in report.checks:
        rows += [
            (f"k_anonymity_{check.table}", f"k={k} over {', '.join(check.quasi_identifiers)}"),
            (f"records_at_risk_{check.table}", str(check.records_at_risk)),
            (f"records_suppressed_{check.table}", str(check.records_suppressed)),
            (f"values_blanked_{check.table}", str(check.values_blanked)),
            (f"records_dropped_{check.table}", str(check.records_dropped)),
        ]
    return tuple(rows)


# -- cells ------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    """A CSV field (RFC 4180): quoted when it holds a comma, quote or line break."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


class _Column:
    """How one column's values become CSV text and spreadsheet values, a slice at a time."""

    def __init__(self, series: pd.Series, labels: Mapping[str, str] | None) -> None:
        self.series = series
        dtype = series.dtype
        self.kind = "text"
        if isinstance(dtype, pd.CategoricalDtype):
            self.kind = "category"
            self.codes = series.cat.codes.to_numpy()
            names = [str(labels.get(c, c)) if labels else str(c) for c in series.cat.categories]
            shown = [neutralise_formula(n) for n in names]
            self.csv_lut = np.array([*(_quote(n) for n in shown), ""], dtype=object)
            self.xlsx_lut = np.array([*shown, None], dtype=object)
        elif pd.api.types.is_bool_dtype(dtype):
            self.kind = "flag"
        elif isinstance(dtype, pd.DatetimeTZDtype):
            self.kind = "timestamp"
            self.values = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        elif pd.api.types.is_datetime64_dtype(dtype):
            self.kind = "date"
            self.values = series.to_numpy().astype("datetime64[D]")
        elif pd.api.types.is_numeric_dtype(dtype):
            self.kind = "number"
            self.values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            finite = self.values[np.isfinite(self.values)]
            self.integral = bool(np.all(finite == np.floor(finite))) and (
                not len(finite) or float(np.abs(finite).max()) < 2**53
            )

    def _flags(self, start: int, stop: int) -> np.ndarray:
        part = self.series.iloc[start:stop]
        if part.dtype == bool:
            return part.to_numpy().astype(np.int8)
        return part.to_numpy(dtype=np.int8, na_value=2)

    def csv(self, start: int, stop: int) -> list[str]:
        if self.kind == "category":
            return self.csv_lut[self.codes[start:stop]].tolist()
        if self.kind == "flag":
            return _FLAG_CSV[self._flags(start, stop)].tolist()
        if self.kind == "number":
            values = self.values[start:stop]
            finite = np.isfinite(values)
            out = np.full(len(values), "", dtype=object)
            if self.integral:
                out[finite] = list(map(str, values[finite].astype(np.int64).tolist()))
            else:
                out[finite] = list(map(repr, values[finite].tolist()))
            return out.tolist()
        if self.kind == "timestamp":
            text = np.datetime_as_string(self.values[start:stop], unit="s")
            return [("" if t == "NaT" else t + "Z") for t in text.tolist()]
        if self.kind == "date":
            text = np.datetime_as_string(self.values[start:stop], unit="D")
            return [("" if t == "NaT" else t) for t in text.tolist()]
        values = self.series.iloc[start:stop].tolist()
        return [
            "" if v is None or v is pd.NA or v != v else _quote(str(neutralise_formula(str(v))))
            for v in values
        ]

    def xlsx(self, start: int, stop: int) -> list[Any]:
        if self.kind == "category":
            return self.xlsx_lut[self.codes[start:stop]].tolist()
        if self.kind == "flag":
            return _FLAG_XLSX[self._flags(start, stop)].tolist()
        if self.kind == "number":
            values = self.values[start:stop]
            out = np.full(len(values), None, dtype=object)
            finite = np.isfinite(values)
            if self.integral:
                out[finite] = values[finite].astype(np.int64).tolist()
            else:
                out[finite] = values[finite].tolist()
            return out.tolist()
        if self.kind == "timestamp":
            return [t or None for t in self.csv(start, stop)]
        if self.kind == "date":
            return self.values[start:stop].tolist()  # datetime.date, None for NaT
        values = self.series.iloc[start:stop].tolist()
        return [
            None if v is None or v is pd.NA or v != v else neutralise_formula(str(v))
            for v in values
        ]


_FLAG_CSV = np.array(["0", "1", ""], dtype=object)
_FLAG_XLSX = np.array([0, 1, None], dtype=object)


def _columns(prepared: PreparedExport, table: str, labels: bool) -> list[_Column]:
    frame = prepared.tables[table]
    return [
        _Column(frame[c], prepared.value_labels.get(c) if labels else None) for c in frame.columns
    ]


# -- targets ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _binary(target: PathOrFile) -> Iterator[IO[bytes]]:
    if isinstance(target, str | os.PathLike):
        with open(target, "wb") as handle:
            yield handle
    else:
        yield target


def _prepared(
    source: Dataset | PreparedExport, fmt: str, options: Mapping[str, Any]
) -> PreparedExport:
    if isinstance(source, PreparedExport):
        if options:
            raise TypeError("Options go to prepare_export() when passing a PreparedExport.")
        return replace(source, report=replace(source.report, format=fmt))
    return prepare_export(source, fmt=fmt, **options)


# -- CSV ----------------------------------------------------------------------------------------


def write_csv_table(
    prepared: PreparedExport, table: str, out: PathOrFile, *, chunk_rows: int = CHUNK_ROWS
) -> int:
    """One table as UTF-8 CSV (with BOM), written chunk by chunk; returns the rows written."""
    frame = prepared.tables[table]
    columns = _columns(prepared, table, prepared.report.labels)
    header = ",".join(_quote(str(neutralise_formula(c))) for c in frame.columns)
    with _binary(out) as handle:
        handle.write(("\ufeff" + header + "\r\n").encode("utf-8"))
        for start in range(0, len(frame), chunk_rows):
            stop = min(start + chunk_rows, len(frame))
            cells = [column.csv(start, stop) for column in columns]
            lines = map(",".join, zip(*cells, strict=True))
            handle.write(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return len(frame)


def _write_rows_csv(rows: Sequence[Sequence[Any]], out: PathOrFile) -> None:
    """A small table (codebook, about) as CSV, every cell neutralised."""
    text = io.StringIO()
    text.write("\ufeff")
    writer = csv.writer(text, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise_formula(v) if isinstance(v, str) else v for v in row])
    with _binary(out) as handle:
        handle.write(text.getvalue().encode("utf-8"))


def export_csv(
    source: Dataset | PreparedExport,
    out: PathOrFile,
    *,
    repeat_outs: Mapping[str, PathOrFile] | None = None,
    codebook_out: PathOrFile | None = None,
    about_out: PathOrFile | None = None,
    **options: Any,
) -> ExportReport:
    """Respondents as CSV to `out`; repeats (`{'member': path}`), codebook and about if given.

    Options: labels, language, deidentify, k (see prepare_export).
    """
    prepared = _prepared(source, "csv", options)
    write_csv_table(prepared, "respondents", out)
    for name, target in (repeat_outs or {}).items():
        if name not in prepared.tables:
            raise ExportError(f"This instrument has no repeat {name!r}.")
        write_csv_table(prepared, name, target)
    if codebook_out is not None:
        _write_rows_csv(codebook_rows(prepared), codebook_out)
    if about_out is not None:
        _write_rows_csv([("item", "value"), *prepared.about], about_out)
    return prepared.report


# -- codebook ---------------------------------------------------------------------------------


CODEBOOK_HEADER = ("table", "column", "label", "type", "code", "code_label", "note")
SAV_CODEBOOK_HEADER = (*CODEBOOK_HEADER, "spss_name", "spss_value")


def _column_type(prepared: PreparedExport, column: str, series: pd.Series) -> str:
    if column.startswith("_"):
        return "metadata"
    base = column.removeprefix(RESPONDENT_PREFIX)
    if MULTIPLE_SEPARATOR in base:
        return "select_multiple (0/1)"
    if base.endswith("_band") and base not in prepared.types:
        return "age band"
    return prepared.types.get(base, str(series.dtype))


def codebook_rows(
    prepared: PreparedExport, sav: Mapping[str, _SavColumn] | None = None
) -> list[tuple[Any, ...]]:
    """Header, then for every column a row, then one row per code of its categories."""
    rows: list[tuple[Any, ...]] = [SAV_CODEBOOK_HEADER if sav is not None else CODEBOOK_HEADER]
    for table, frame in prepared.tables.items():
        for column in frame.columns:
            series = frame[column]
            spss = sav.get(f"{table}:{column}") if sav is not None else None
            extra: tuple[Any, ...] = (spss.name, "") if spss is not None else ()
            label = prepared.column_labels.get(column, "")
            kind = _column_type(prepared, column, series)
            rows.append(
                (table, column, label, kind, "", "", prepared.notes.get(column, ""), *extra)
            )
            if isinstance(series.dtype, pd.CategoricalDtype):
                labels = prepared.value_labels.get(column, {})
                for category in series.cat.categories:
                    code = str(category)
                    value = spss.values.get(code, "") if spss is not None else None
                    more: tuple[Any, ...] = (spss.name, value) if spss is not None else ()
                    rows.append((table, column, "", "", code, labels.get(code, ""), "", *more))
            elif kind == "select_multiple (0/1)":
                for code, key in (("1", "chosen"), ("0", "not_chosen")):
                    more = (spss.name, int(code)) if spss is not None else ()
                    text = _TEXTS[key][prepared.report.language]
                    rows.append((table, column, "", "", code, text, "", *more))
    return rows


# -- XLSX ---------------------------------------------------------------------------------------


def _sheet_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "sheet"
    candidate, number = base, 2
    while candidate.lower() in taken:
        suffix = f" ({number})"
        candidate = base[: 31 - len(suffix)] + suffix
        number += 1
    taken.add(candidate.lower())
    return candidate


def export_xlsx(source: Dataset | PreparedExport, out: PathOrFile, **options: Any) -> ExportReport:
    """One workbook: respondents, a sheet per repeat, codebook and about (constant memory).

    A table longer than Excel's 1,048,575 rows continues on sheets named '<table> (2)', ….
    """
    import xlsxwriter

    prepared = _prepared(source, "xlsx", options)
    workbook = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            # Text stays text: no formulas, links or numbers made from what people typed.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "default_date_format": "yyyy-mm-dd",
        },
    )
    taken: set[str] = set()
    bold = workbook.add_format({"bold": True})
    for table, frame in prepared.tables.items():
        columns = _columns(prepared, table, prepared.report.labels)
        header = [neutralise_formula(str(c)) for c in frame.columns]
        per_sheet = XLSX_MAX_ROWS - 1
        starts = range(0, max(len(frame), 1), per_sheet)
        for first in starts:
            sheet = workbook.add_worksheet(_sheet_name(table, taken))
            sheet.write_row(0, 0, header, bold)
            sheet.freeze_panes(1, 0)
            last = min(first + per_sheet, len(frame))
            row_number = 1
            for start in range(first, last, CHUNK_ROWS):
                stop = min(start + CHUNK_ROWS, last)
                cells = [column.xlsx(start, stop) for column in columns]
                for values in zip(*cells, strict=True):
                    sheet.write_row(row_number, 0, values)
                    row_number += 1
    for name, rows in (
        ("codebook", codebook_rows(prepared)),
        ("about", [("item", "value"), *prepared.about]),
    ):
        sheet = workbook.add_worksheet(_sheet_name(name, taken))
        for number, row in enumerate(rows):
            values = [neutralise_formula(v) if isinstance(v, str) else v for v in row]
            sheet.write_row(number, 0, values, bold if number == 0 else None)
    workbook.close()
    return prepared.report


# -- SPSS -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SavColumn:
    """A column's SPSS name and, for categoricals, code → number."""

    name: str
    values: Mapping[str, int] = field(default_factory=dict)
    missing: tuple[int, ...] = ()


def spss_name(column: str, taken: set[str]) -> str:
    """A valid, unique SPSS variable name for a column (see the module doc)."""
    ascii_name = column.encode("ascii", "replace").decode("ascii")
    name = re.sub(r"[^A-Za-z0-9_]", "_", ascii_name)
    if name.startswith("_"):
        name = "meta" + name  # `_round` → `meta_round`: SPSS names begin with a letter
    if not name or not name[0].isalpha():
        name = "v" + name
    name = name.rstrip("_") or "v"
    if name.upper() in SPSS_RESERVED:
        name += "_v"
    name = name[:64]
    candidate, number = name, 2
    while candidate.upper() in taken:
        suffix = f"_{number}"
        candidate = name[: 64 - len(suffix)] + suffix
        number += 1
    taken.add(candidate.upper())
    return candidate


def _sav_values(categories: Sequence[str]) -> tuple[dict[str, int], tuple[int, ...]]:
    """Numbers for codes: integer codes keep theirs, others 1…n; dnk/pnta user-missing."""
    plain = [c for c in categories if c not in SPECIAL_CODES]
    if plain and all(re.fullmatch(r"-?\d{1,9}", c) for c in plain):
        values = {c: int(c) for c in plain}
    else:
        values = {c: i for i, c in enumerate(plain, start=1)}
    top = max([*values.values(), 0])
    missing: list[int] = []
    base = 98
    while base <= top + 1:
        base = base * 10 + 8  # 98 → 998 → 9998: above every real code
    for offset, code in enumerate(SPECIAL_CODES):  # dnk is always …8, pnta …9
        if code in categories:
            values[code] = base + offset
            missing.append(base + offset)
    return values, tuple(missing)


def _clip(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut between characters."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def _sav_columns(prepared: PreparedExport) -> dict[str, _SavColumn]:
    out: dict[str, _SavColumn] = {}
    for table, frame in prepared.tables.items():
        taken: set[str] = set()
        for column in frame.columns:
            name = spss_name(column, taken)
            series = frame[column]
            if isinstance(series.dtype, pd.CategoricalDtype):
                values, missing = _sav_values([str(c) for c in series.cat.categories])
                out[f"{table}:{column}"] = _SavColumn(name, values, missing)
            else:
                out[f"{table}:{column}"] = _SavColumn(name)
    return out


def write_sav_table(
    prepared: PreparedExport, table: str, path: PathOrFile, sav: Mapping[str, Any]
) -> int:
    """One table as an SPSS .sav with variable labels, value labels and user-missing codes."""
    if not isinstance(path, str | os.PathLike):
        # pyreadstat writes to a named file only: write one, then copy it into the stream.
        with tempfile.TemporaryDirectory() as folder:
            named = Path(folder) / f"{table}.sav"
            count = write_sav_table(prepared, table, named, sav)
            with named.open("rb") as handle:
                shutil.copyfileobj(handle, path)
        return count
    import pyreadstat

    frame = prepared.tables[table]
    language = prepared.report.language
    data: dict[str, Any] = {}
    variable_labels: dict[str, str] = {}
    value_labels: dict[str, dict[int | float, str]] = {}
    missing_ranges: dict[str, list[Any]] = {}
    measures: dict[str, str] = {}
    formats: dict[str, str] = {}
    for column in frame.columns:
        info: _SavColumn = sav[f"{table}:{column}"]
        series = frame[column]
        name = info.name
        variable_labels[name] = _clip(
            neutralise_formula(prepared.column_labels.get(column, column)), 255
        )
        if isinstance(series.dtype, pd.CategoricalDtype):
            lookup = np.array(
                [*(info.values[str(c)] for c in series.cat.categories), np.nan], dtype=np.float64
            )
            data[name] = lookup[series.cat.codes.to_numpy()]
            labels = prepared.value_labels.get(column, {})
            value_labels[name] = {
                float(number): _clip(neutralise_formula(str(labels.get(code, code))), 120)
                for code, number in info.values.items()
            }
            if info.missing:
                missing_ranges[name] = [float(m) for m in info.missing]
            measures[name] = "nominal"
            formats[name] = "F8.0"
        elif pd.api.types.is_bool_dtype(series.dtype):
            data[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            value_labels[name] = {
                0.0: _TEXTS["not_chosen"][language],
                1.0: _TEXTS["chosen"][language],
            }
            measures[name] = "nominal"
            formats[name] = "F1.0"
        elif isinstance(series.dtype, pd.DatetimeTZDtype):
            data[name] = series.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[s]")
        elif pd.api.types.is_datetime64_dtype(series.dtype):
            data[name] = series.astype("datetime64[s]")
        elif pd.api.types.is_numeric_dtype(series.dtype):
            data[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            measures[name] = "scale"
        else:
            data[name] = [
                "" if v is None or v is pd.NA or v != v else neutralise_formula(str(v))
                for v in series.tolist()
            ]
    out = pd.DataFrame(data)
    pyreadstat.write_sav(
        out,
        os.fspath(path),
        file_label=_clip(prepared.title, 64),
        column_labels=variable_labels,
        variable_value_labels=value_labels,
        missing_ranges=missing_ranges,
        variable_measure=measures,
        variable_format=formats,
        # SPSS keeps notes as 80-byte document lines.
        note=[_clip(f"{k}: {v}", 80) for k, v in prepared.about],
    )
    return len(frame)


def export_sav(
    source: Dataset | PreparedExport,
    out: PathOrFile,
    *,
    repeat_outs: Mapping[str, PathOrFile] | None = None,
    codebook_out: PathOrFile | None = None,
    **options: Any,
) -> ExportReport:
    """Respondents as .sav to `out`; repeats (`{'member': target}`) and codebook CSV if given."""
    prepared = _prepared(source, "sav", options)
    sav = _sav_columns(prepared)
    write_sav_table(prepared, "respondents", out, sav)
    for name, target in (repeat_outs or {}).items():
        if name not in prepared.tables:
            raise ExportError(f"This instrument has no repeat {name!r}.")
        write_sav_table(prepared, name, target, sav)
    if codebook_out is not None:
        _write_rows_csv(codebook_rows(prepared, sav), codebook_out)
    return prepared.report


# -- bundles: what the web page and the CLI hand out --------------------------------------------


BUNDLE_SUFFIX = {"csv": ".zip", "xlsx": ".xlsx", "sav": ".zip"}
MIMETYPES = {
    ".zip": "application/zip",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv",
    ".sav": "application/x-spss-sav",
}


def export_bundle(
    source: Dataset | PreparedExport, fmt: str, out: PathOrFile, **options: Any
) -> ExportReport:
    """The whole export as one file: a workbook (xlsx) or a zip of every table (csv, sav).

    A zip holds `respondents.<ext>`, `<repeat>.<ext>` per repeat, `codebook.csv`, `about.csv`.
    """
    prepared = _prepared(source, fmt, options)
    if fmt == "xlsx":
        return export_xlsx(prepared, out)
    sav = _sav_columns(prepared) if fmt == "sav" else None
    with _binary(out) as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in prepared.tables:
            with archive.open(f"{table}.{fmt}", "w", force_zip64=True) as member:
                if fmt == "csv":
                    write_csv_table(prepared, table, member)
                else:
                    assert sav is not None
                    write_sav_table(prepared, table, member, sav)
        with archive.open("codebook.csv", "w") as member:
            _write_rows_csv(codebook_rows(prepared, sav), member)
        with archive.open("about.csv", "w") as member:
            _write_rows_csv([("item", "value"), *prepared.about], member)
    return prepared.report


def sibling_paths(out: Path, tables: Sequence[str], fmt: str) -> dict[str, Path]:
    """Where each table of a multi-file export goes next to `out` (out holds respondents)."""
    paths = {"respondents": out}
    for table in tables:
        if table != "respondents":
            paths[table] = out.with_name(f"{out.stem}_{table}{out.suffix or '.' + fmt}")
    paths["codebook"] = out.with_name(f"{out.stem}_codebook.csv")
    paths["about"] = out.with_name(f"{out.stem}_about.csv")
    return paths


def export_files(prepared: PreparedExport, fmt: str, out: Path) -> dict[str, Path]:
    """Write an export to `out` (a .zip bundle, a workbook, or a file per table beside it)."""
    prepared = replace(prepared, report=replace(prepared.report, format=fmt))
    if fmt == "xlsx" or out.suffix.lower() == ".zip":
        export_bundle(prepared, fmt, out)
        return {"export": out}
    paths = sibling_paths(out, list(prepared.tables), fmt)
    repeats = {t: paths[t] for t in prepared.tables if t != "respondents"}
    if fmt == "csv":
        export_csv(
            prepared,
            out,
            repeat_outs=repeats,
            codebook_out=paths["codebook"],
            about_out=paths["about"],
        )
    else:
        export_sav(prepared, out, repeat_outs=repeats, codebook_out=paths["codebook"])
        _write_rows_csv([("item", "value"), *prepared.about], paths["about"])
    return paths


# -- aggregate indicators in HXL ----------------------------------------------------------------


HXL_COLUMNS: dict[str, str] = {
    "indicator": "#indicator",
    "group": "#meta+group",
    "group_value": "#meta+value",
    "estimate": "#value+estimate",
    "ci_low": "#value+ci_low",
    "ci_high": "#value+ci_high",
    "n": "#reached",
    "suppressed": "#meta+suppressed",
}


def export_indicators_hxl(
    table: pd.DataFrame,
    path: PathOrFile,
    *,
    columns: Mapping[str, str] | None = None,
) -> int:
    """An already-suppressed indicator table as HXL-tagged CSV; returns the rows written.

    `columns` maps this table's column names to the keys of HXL_COLUMNS when they differ
    (e.g. {'value': 'group_value'}). Refuses a table where a row marked suppressed still
    shows an estimate, interval or n: suppression must happen before publishing.
    """
    renamed = table.rename(columns=dict(columns or {}))
    missing = [c for c in ("indicator", "estimate") if c not in renamed.columns]
    if missing:
        raise ExportError(f"The indicator table lacks {', '.join(missing)}.")
    present = [c for c in HXL_COLUMNS if c in renamed.columns]
    if "suppressed" in renamed.columns:
        hidden = renamed["suppressed"].fillna(False).astype(bool)
        shown = [c for c in ("estimate", "ci_low", "ci_high", "n") if c in renamed.columns]
        leaks = hidden & renamed[shown].notna().any(axis=1)
        if leaks.any():
            raise ExportError(
                f"{int(leaks.sum())} suppressed row(s) still show values: suppress first."
            )
    rows: list[list[Any]] = [present, [HXL_COLUMNS[c] for c in present]]
    for record in renamed[present].itertuples(index=False, name=None):
        rows.append([_hxl_cell(v) for v in record])
    _write_hxl(rows, path)
    return len(renamed)


def _hxl_cell(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, float | np.floating):
        number = float(value)
        # A count stored as float (a column with gaps) is still written as a whole number.
        return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
    return neutralise_formula(str(value))


def _write_hxl(rows: Sequence[Sequence[Any]], path: PathOrFile) -> None:
    # HXL tools read plain UTF-8 (no byte-order mark), so this is not _write_rows_csv.
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerows(rows)
    with _binary(path) as handle:
        handle.write(text.getvalue().encode("utf-8"))


def download_name(form_id: str, fmt: str, deidentified: bool, today: dt.date | None = None) -> str:
    """The file name of a download, e.g. birge_needs_assessment_2025-03-01_deidentified.zip."""
    today = today or dt.date.today()
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", form_id) or "export"
    kind = "deidentified" if deidentified else "IDENTIFIED"
    return f"{safe}_{today.isoformat()}_{kind}{BUNDLE_SUFFIX[fmt]}"
