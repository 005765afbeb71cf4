"""Microdata exports (CSV, XLSX, SPSS .sav) of a Dataset, de-identified by default.

De-identification (DOMAIN.md §6), applied unless `deidentify=False`:
- free-text questions are dropped;
- a settlement (any select_one whose choices are filtered by the district question) is
  generalised to its district and dropped; the exact age becomes an age band (`age` →
  `age_band`, 18–39/40–59/60–74/75+; roster ages `*_age` → `*_age_band` with 0–17 added);
- dates and the receipt time are reduced to the month, the duration to whole minutes; the
  volunteer and the start time are dropped;
- the submission id is replaced by `_record`, a random number that links roster rows to their
  respondent and says nothing about the order of entry; rows are written in `_record` order;
- then the instrument's disclosure rules (`disclosure.json` beside the default instrument, or
  rules built from the default quasi-identifiers) are applied by `reports.anonymization`
  with the household as the unit: global recoding (e.g. household size top-coded), then local
  suppression by importance, with the roster's size and composition as quasi-identifiers and
  values that reveal each other blanked together; roster rows cut from their household lose
  `_record`, `_index` and the respondent's values beside them. Risk (sample uniques, individual
  and global risk) and information loss per column go into the ExportReport, the `about`
  sheet/file and the audit log; a file above the rules' global risk is refused.

Every text cell, label and header is neutralised against spreadsheet formulas. Select_multiple
questions are 0/1 columns `<question>/<code>` (blank = not answered). CSV files are UTF-8 with a
byte-order mark (so Excel shows Kazakh and Russian), written in chunks of rows. Tables:
`respondents`, one per repeat (`member` for the household roster), `codebook`, `about`.
In SPSS files names are sanitised (≤ 64 bytes, ASCII letters, digits and `_`, starting with a
letter, unique ignoring case): the codebook maps each column to its `spss_name` and each code to
its `spss_value` (a list of integer codes keeps its numbers; others are numbered 1…n in choice
order); `dnk` and `pnta` become 98/99 (or 998/999…) declared as user-missing.

Limits, said plainly (docs/microdata.md): answers that are not quasi-identifiers are kept as
given, and the rules name the derivations they know of. XLSX is written by xlsxwriter at some
100,000 cells a second: prefer CSV or SPSS for large surveys (and the `survey export` command
over the web page, whose request would outlast a server timeout).

One module past 600 lines because it is one procedure: `prepare_export` runs the steps above in
order over one dataset (drop, generalise, recode, suppress, check, key), and the result types it
fills; what the export then says about them is worded in `export_texts`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import force_locale

from reports.anonymization import DEFAULT_AGE_BANDS, generalise, k_anonymity
from reports.anonymization.engine import anonymise
from reports.anonymization.result import AnonymisationResult, Verdict
from reports.anonymization.rules import DisclosureRules, RulesError, load_rules, parse_rules
from reports.languages import LANGUAGES
from survey.datasets.columns import MULTIPLE_SEPARATOR, RESPONDENT_PREFIX
from survey.datasets.dataset import Dataset
from survey.datasets.export_texts import (
    _derived_column_labels,
    _label_merged_codes,
    _metadata_value_labels,
    about_items,
)
from survey.instruments.services import DEFAULT_INSTRUMENT

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


DEFAULT_RULES_FILE = DEFAULT_INSTRUMENT.with_name("disclosure.json")


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
class DisclosureSummary:
    """What anonymisation did, without the data: risk, information loss, verdict."""

    k: int
    max_global_risk: float
    risk_basis: str  # how population frequencies were estimated
    risk_before: Any  # reports.anonymization.risk.RiskMeasures
    risk_after: Any
    member_risk_after: Any
    losses: tuple[Any, ...]  # reports.anonymization.result.ColumnLoss
    recodings: tuple[str, ...]
    households_dropped: int
    members_dropped: int
    rosters_unlinked: int
    key_variables: tuple[str, ...]
    key_variables_kept_together: float
    verdict: Verdict
    quasi_identifiers: tuple[str, ...] = ()  # the respondents' (household's)
    member_quasi_identifiers: tuple[str, ...] = ()
    # risk_basis's parts, so the about file can say it in the export's language
    weight: str | None = None
    sampling_fraction: float | None = None
    # reports.anonymization.rules.Recoding: `recodings` is English, the about file words these
    applied_recodings: tuple[Any, ...] = ()

    @property
    def global_risk(self) -> float:
        """The larger global risk of the respondents and the roster."""
        member = self.member_risk_after.global_risk if self.member_risk_after else 0.0
        return max(self.risk_after.global_risk, member)

    def key_losses(self) -> list[Any]:
        """The losses of the key variables, in the rules' order."""
        by_name = {(x.table, x.column): x for x in self.losses}
        keys = [("respondents", c) for c in self.key_variables]
        return [by_name[key] for key in keys if key in by_name]


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
    disclosure: DisclosureSummary | None = None

    @property
    def publishable(self) -> bool:
        """False when the disclosure rules refuse the file (an identified export is the
        administrator's own decision and is not judged here)."""
        return self.disclosure is None or self.disclosure.verdict.publishable

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
            **(
                {
                    "global_risk": round(self.disclosure.global_risk, 6),
                    "publishable": self.disclosure.verdict.publishable,
                    "kept_share": {
                        f"{x.table}.{x.column}": round(x.kept_share, 4)
                        for x in self.disclosure.key_losses()
                    },
                }
                if self.disclosure is not None
                else {}
            ),
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
    # The distinct months as text, in the text's order; each row's code from its month's.
    distinct, codes = np.unique(months[~missing].view(np.int64), return_inverse=True)
    text = np.datetime_as_string(distinct.view("datetime64[M]"), unit="M")
    order = np.argsort(text, kind="stable")
    categories = text[order]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    all_codes = np.full(len(months), -1, dtype=np.int32)
    all_codes[~missing] = rank[codes.reshape(-1)]
    return pd.Series(
        pd.Categorical.from_codes(all_codes, categories=categories.tolist()),
        index=series.index,
        name=series.name,
    )


def default_rules_raw(dataset: Dataset) -> dict[str, Any]:
    """The rules of an instrument without a disclosure.json: the quasi-identifiers it has of the
    default ones, the household size top-coded, the district question as the place."""
    # Imported forms declare their district question or have none (issue 9: no silent rules).
    district = dataset.spec.intake.district_question

    def placed(names: Iterable[str]) -> list[str]:
        return [district if q == "district" else q for q in names if q != "district" or district]

    members = list(MEMBER_QUASI_IDENTIFIERS)
    member: dict[str, Any] = {
        "table": "member",
        "key": "_submission_id",
        "quasi_identifiers": members,
    }
    blank_together: dict[str, list[str]] = {"household_size": ["@roster"]}
    if district:
        member |= {"context": {"_district": district}, "unlinked_context": ["_district"]}
        blank_together = {district: ["_district"], **blank_together}
    return {
        "k": DEFAULT_K,
        "max_global_risk": 0.03,
        "sampling_fraction": 0.01,
        "household": placed(QUASI_IDENTIFIERS),
        "member": member,
        "importance": [*placed(reversed(SUPPRESSION_ORDER)), *members, "roster"],
        "blank_together": blank_together,
        "recodings": [
            {"column": "household_size", "top_code": HOUSEHOLD_SIZE_TOP, "when": "always"}
        ],
        "key_variables": placed(["district", "sex", "age_band", "generation"]),
    }


def disclosure_rules(dataset: Dataset, k: int | None = None) -> DisclosureRules:
    """The instrument's disclosure rules (its disclosure.json, or the defaults), validated, with
    the answers each derived quasi-identifier is calculated from blanked with it."""
    try:
        if dataset.spec.form_id == DEFAULT_INSTRUMENT.stem and DEFAULT_RULES_FILE.exists():
            rules = load_rules(DEFAULT_RULES_FILE)
        else:
            rules = parse_rules(default_rules_raw(dataset))
    except RulesError as error:
        raise ExportError(f"The disclosure rules cannot be used: {error}") from None
    together = {name: list(patterns) for name, patterns in rules.blank_together.items()}
    columns = list(dataset.respondents.columns)
    for frame in dataset.repeats.values():
        columns += list(frame.columns)
    qis = [*rules.household, *(rules.member.quasi_identifiers if rules.member else ())]
    for qi, sources in _linked_columns(dataset, pd.DataFrame(columns=columns), qis).items():
        together[qi] = list(dict.fromkeys([*together.get(qi, []), *sources]))
    return replace(
        rules,
        k=rules.k if k is None else k,
        blank_together={name: tuple(patterns) for name, patterns in together.items()},
    )


def _parents(dataset: Dataset, rules: DisclosureRules) -> dict[str, dict[str, str]]:
    """For each hierarchy child (a select_one), its codes mapped to the parent's codes, read from
    the choice filters (district → region)."""
    out: dict[str, dict[str, str]] = {}
    for child, parent in rules.hierarchy.items():
        for spec in dataset.specs:
            question = spec.questions_by_name.get(child)
            if question is None or not question.choice_list:
                continue
            for choice in spec.choices.get(question.choice_list, ()):
                if parent in choice.filters:
                    out.setdefault(child, {})[choice.name] = choice.filters[parent]
    return out


def _deidentify_respondents(dataset: Dataset) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """Free text dropped, settlement → district, age → band, dates → month (no suppression)."""
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
    return frame, notes, dropped


def _deidentify_repeat(
    dataset: Dataset, frame: pd.DataFrame, respondents: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """Rows of exported respondents only, with their (de-identified) values beside them."""
    notes: dict[str, str] = {}
    dropped = sorted(c for c in _text_columns(dataset) if c in frame.columns)
    frame = frame.drop(columns=dropped)
    kept = respondents.set_index("_submission_id")
    frame = frame[frame["_submission_id"].isin(kept.index)].reset_index(drop=True)
    # Each row's respondent, found once (every row has one: the others were left out above).
    where = kept.index.get_indexer(frame["_submission_id"]) if kept.index.is_unique else None

    def beside(values: pd.Series) -> Any:
        if where is None or (where < 0).any():
            return values.reindex(frame["_submission_id"]).array
        return values.array.take(where)

    for column in frame.columns:
        source = column.removeprefix(RESPONDENT_PREFIX)
        if (column.startswith(RESPONDENT_PREFIX) or column.startswith("_")) and column not in {
            "_submission_id",
            "_index",
            "_parent_index",  # links an entry of a repeat inside a repeat to the one holding it
        }:
            if source in kept.columns:
                frame[column] = beside(kept[source])
            elif column in kept.columns:
                frame[column] = beside(kept[column])
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
    return frame, notes, dropped


def _cut_loose(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Roster rows cut from their household say nothing of it: no position in the roster and
    no respondent's values beside them."""
    loose = frame[key].isna().to_numpy()
    if not loose.any():
        return frame
    out = frame.copy()
    for column in out.columns:
        if column in {"_index", "_parent_index"} or column.startswith(RESPONDENT_PREFIX):
            out[column] = _blank_rows(out[column], loose)
    return out


def _inside(dataset: Dataset, table: str, ancestor: str) -> bool:
    """Whether a repeat's table is a repeat inside the `ancestor` repeat, at any depth."""
    return any(
        ancestor in [r.name for r in spec.repeat_chain(table)[:-1]] for spec in dataset.specs
    )


def _rosters_changed(before: pd.DataFrame | None, after: pd.DataFrame | None) -> np.ndarray:
    """The submissions whose roster the engine changed: rows cut loose or dropped."""
    if before is None or after is None:
        return np.array([], dtype="int64")
    counts = before["_submission_id"].value_counts()
    linked = after["_submission_id"].dropna().astype("int64").value_counts()
    kept = linked.reindex(counts.index, fill_value=0)
    return counts.index[(kept < counts).to_numpy()].to_numpy()


def _cut_loose_households(frame: pd.DataFrame, households: np.ndarray) -> pd.DataFrame:
    """Rows of a repeat inside the roster follow the roster: where a household's roster was
    cut or thinned, its rows here are cut loose too, or their positions and number would give
    back the roster's size (`_parent_index` counts the members)."""
    loose = frame["_submission_id"].isin(households).to_numpy()
    if not loose.any():
        return frame
    out = frame.copy()
    out["_submission_id"] = _blank_rows(out["_submission_id"], loose)
    return _cut_loose(out, "_submission_id")


def _blank_rows(series: pd.Series, rows: np.ndarray) -> pd.Series:
    if pd.api.types.is_integer_dtype(series.dtype) and not isinstance(
        series.dtype, pd.api.extensions.ExtensionDtype
    ):
        series = series.astype("Int64")
    return series.mask(rows)


def _summary(result: AnonymisationResult, rules: DisclosureRules) -> DisclosureSummary:
    basis = (
        f"sampling weights ({rules.weight})"
        if rules.weight
        else f"sampling fraction {rules.sampling_fraction:g}"
    )
    return DisclosureSummary(
        k=rules.k,
        max_global_risk=rules.max_global_risk,
        risk_basis=basis,
        risk_before=result.risk_before,
        risk_after=result.risk_after,
        member_risk_after=result.member_risk_after,
        losses=result.losses,
        recodings=result.recodings,
        applied_recodings=result.applied,
        households_dropped=result.households_dropped,
        members_dropped=result.members_dropped,
        rosters_unlinked=result.rosters_unlinked,
        key_variables=tuple(result.key_variables),
        key_variables_kept_together=result.key_variables_kept_together(),
        verdict=result.verdict,
        weight=rules.weight,
        sampling_fraction=rules.sampling_fraction,
        quasi_identifiers=tuple(result.quasi_identifiers.get("respondents", ())),
        member_quasi_identifiers=tuple(
            q for t, qis in result.quasi_identifiers.items() if t != "respondents" for q in qis
        ),
    )


def _checks(result: AnonymisationResult, rules: DisclosureRules) -> list[DisclosureCheck]:
    checks = []
    for table, qis in result.quasi_identifiers.items():
        losses = [x for x in result.losses if x.table == table and x.column in qis]
        if table == "respondents":
            records = result.risk_before.records
            at_risk = result.risk_before.records_below_k
            dropped = result.households_dropped
        elif result.members is not None:
            records = len(result.members) + result.members_dropped
            at_risk = result.member_risk_after.records_below_k if result.member_risk_after else 0
            dropped = result.members_dropped
        else:
            continue
        blanked = {x.column: x.blanked for x in losses if x.blanked}
        checks.append(
            DisclosureCheck(
                table=table,
                quasi_identifiers=tuple(qis),
                k=rules.k,
                records=records,
                records_at_risk=at_risk,
                records_suppressed=max((x.blanked + x.recoded for x in losses), default=0),
                values_blanked=sum(blanked.values()),
                records_dropped=dropped,
                blanked_by_column=blanked,
            )
        )
    return checks


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
    # Rows without a record (cut from their household) go last, in random order: their order
    # of entry would group a household's rows together again.
    shuffle = np.random.default_rng(secrets.randbits(64)).permutation(len(out))
    return out.take(_sort_order(out, by, shuffle)).reset_index(drop=True)


def _sort_order(frame: pd.DataFrame, by: list[str], shuffle: np.ndarray) -> np.ndarray:
    """Positions in the order of the `by` columns (blanks last), then of `shuffle` (a
    permutation: no ties, so there is one such order)."""
    n = len(frame)
    columns = [
        (frame[c].to_numpy(dtype=np.float64, na_value=0.0), frame[c].isna().to_numpy()) for c in by
    ]
    key = _whole_key(columns, n)
    if key is not None:
        return np.argsort(key * n + shuffle)
    keys = [shuffle]
    for numbers, blank in reversed(columns):
        keys += [numbers, blank]
    return np.lexsort(keys)


def _whole_key(columns: list[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray | None:
    """One integer per row that orders the rows as the columns do (blanks last); None unless
    the values are whole numbers (as keys and positions are) of a range small enough."""
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for numbers, blank in columns:
        present = numbers[~blank]
        low = float(present.min()) if len(present) else 0.0
        high = float(present.max()) if len(present) else 0.0
        if max(abs(low), abs(high)) >= 2**52 or not np.all(present == np.floor(present)):
            return None
        size = int(high - low) + 2  # blanks after the largest value
        span *= size
        if span * max(n, 1) >= 2**62:
            return None
        key = key * size + np.where(blank, size - 1, numbers - low).astype(np.int64)
    return key


def _qi_notes(result: AnonymisationResult, rules: DisclosureRules) -> list[tuple[str, str]]:
    notes = []
    for recoding in result.recodings:
        column = recoding.split(":", 1)[0]
        notes.append((column, "recoded: " + recoding.split(":", 1)[1].strip()))
    for qis in result.quasi_identifiers.values():
        notes += [(qi, "quasi-identifier: blank if suppressed") for qi in qis]
    return notes


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
    disclosure: DisclosureSummary | None = None
    merged_codes: Mapping[str, Mapping[str, tuple[str, ...]]] = {}
    if deidentify:
        rules = disclosure_rules(dataset, k)
        respondents, more, gone = _deidentify_respondents(dataset)
        notes.update(more)
        dropped += gone
        member_table = rules.member.table if rules.member else None
        members = None
        if member_table in dataset.repeats:
            members, more, gone = _deidentify_repeat(
                dataset, dataset.repeats[member_table], respondents
            )
            notes.update(more)
            dropped += gone
        result = anonymise(
            respondents,
            members,
            rules,
            parents=_parents(dataset, rules),
            table_names=("respondents", member_table or "member"),
        )
        respondents = result.households
        merged_codes = result.merged_codes
        disclosure = _summary(result, rules)
        checks += _checks(result, rules)
        for note in _qi_notes(result, rules):
            notes[note[0]] = "; ".join(filter(None, [notes.get(note[0], ""), note[1]]))
        keys = _record_keys(respondents)
        broken = _rosters_changed(members, result.members)
        for name, frame in dataset.repeats.items():
            if name == member_table and result.members is not None:
                part = _cut_loose(result.members, "_submission_id")
            else:
                part, more, gone = _deidentify_repeat(dataset, frame, respondents)
                notes.update(more)
                dropped += gone
                if member_table is not None and _inside(dataset, name, member_table):
                    part = _cut_loose_households(part, broken)
            tables[name] = _with_record_key(part, keys, [RECORD_KEY, "_index"])
        tables = {"respondents": _with_record_key(respondents, keys, [RECORD_KEY]), **tables}
        notes[RECORD_KEY] = (
            "random key; not the submission id (blank: a roster row cut from its household)"
        )
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
        disclosure=disclosure,
    )
    with force_locale(language):
        column_labels.update(_derived_column_labels(tables, column_labels, language))
        for column, extra in _metadata_value_labels(tables, dataset).items():
            value_labels[column] = {**extra, **value_labels.get(column, {})}
        value_labels = _label_merged_codes(value_labels, merged_codes)
        about = about_items(
            dataset,
            report,
            k,
            column_labels if labels else None,
            value_labels if labels else None,
        )
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
