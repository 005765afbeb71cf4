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

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reports.anonymization import (
    DEFAULT_AGE_BANDS,
    KAnonymityReport,
    generalise,
    k_anonymity,
    suppress_at_risk,
    top_code,
)
from reports.languages import LANGUAGES
from survey.clock import utcnow
from survey.datasets.columns import MULTIPLE_SEPARATOR, RESPONDENT_PREFIX
from survey.datasets.dataset import Dataset

FORMATS = ("csv", "xlsx", "sav")


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


RECORD_KEY = "_record"


EXPORT_TEXTS: dict[str, dict[str, str]] = {
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
    column_labels[RECORD_KEY] = EXPORT_TEXTS["record"][language]
    column_labels["_received_month"] = EXPORT_TEXTS["received_month"][language]
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
    about = about_items(dataset, report, k)
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


def about_items(dataset: Dataset, report: ExportReport, k: int) -> tuple[tuple[str, str], ...]:
    filters = dataset.filters
    rows: list[tuple[str, str]] = [
        ("instrument", f"{dataset.spec.form_id}: {dataset.spec.title}"),
        ("versions", ", ".join(s.version for s in dataset.specs)),
        ("generated_at_utc", utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")),
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
