"""Dashboard page models as plain values, built from the dataset bridge and the analysis plan.

Every page starts from one `load_dataset` call per instrument (all versions, every review status,
demo data included) and narrows it in pandas, so changing a filter never reloads the database.
The page models hold only strings, numbers and the generated SVG: templates never see a
DataFrame or an ORM object.

Disclosure control (DOMAIN.md §6): advocates ("public" outputs) get estimate tables through
`apply_to_estimates` and count tables through `suppress_small_cells` + `suppressed_view`, with
k = SUPPRESSION_K; coordinators and admins ("full") see exact counts on screen. Every export of
aggregates is built as a public output, whoever asks for it.

Page models are cached per (page, instrument versions, filters, role kind, language, k, page
options) and tied to the Dataset object they were computed from by a weak reference: the dataset
cache hands out a new object whenever submissions are added, corrected, reviewed or deleted, and
that alone invalidates the pages built on the old one.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from reports.analysis import (
    AnalysisError,
    AnalysisPlan,
    Indicator,
    apply_to_estimates,
    automatic_plan,
    frequencies,
    run_plan,
    suppress_small_cells,
    suppressed_view,
)
from reports.analysis.suppression import DEFAULT_MARKER, SUPPRESSED
from reports.charts import Bar, bar_chart_svg, csp_safe_svg
from reports.formatting import (
    DASH,
    format_confidence,
    format_count,
    format_interval,
    format_number,
    format_share,
    is_missing,
)
from reports.instrument import QuestionDescription
from survey.collection.models import Refusal, SurveyRound
from survey.collection.services import current_round
from survey.dashboards.models import DistrictTarget
from survey.datasets.dataset import (
    MULTIPLE_SEPARATOR,
    RESPONDENT_PREFIX,
    REVIEW_STATUSES,
    Dataset,
    load_dataset,
)
from survey.extensions import db
from survey.i18n import current_language, format_date
from survey.instruments.analysis_plan import build_plan, sector_labels
from survey.instruments.models import Instrument
from survey.instruments.services import list_instruments
from survey.instruments.spec import InstrumentSpec
from survey.users.models import User
from survey.users.services import record_audit

FULL = "full"  # coordinators and admins: exact counts on screen
PUBLIC = "public"  # advocates, and every export: suppressed
MARKER = DEFAULT_MARKER
DEFAULT_STATUSES = ("pending", "approved")
STANDARD_DISAGGREGATIONS = (
    "sex",
    "age_band",
    "generation",
    "zone_self_reported",
    "district",
    "urban_rural",
    "wg_disability",
    "certificate_status",
)
FILTER_QUESTIONS = ("sex", "age_band", "generation")
SHARE_KINDS = frozenset({"proportion", "frequency", "multiple", "ranking", "severity"})
SPECIAL = ("dnk", "pnta")
PAGE_CACHE_ENTRIES = 128
CHART_WIDTH_INCHES = 4.4  # about 420 px: still legible when a phone scales it down
MAX_CHART_BARS = 30
DAYS_CHARTED = 14
SHORT_INTERVIEW_MINUTES = 10.0  # the default instrument takes 25–35 minutes (DOMAIN.md §4)
LONG_INTERVIEW_MINUTES = 180.0
LISTED_SUBMISSIONS = 50
DURATION_BANDS = ((0, 10), (10, 20), (20, 30), (30, 40), (40, 60), (60, 120), (120, math.inf))
BATTERY_SIZE = 3  # questions sharing a choice list in a section, checked for straight-lining

# Names of derived (calculated) variables, which carry no label in the XLSForm.
DERIVED_COLUMNS: Mapping[str, Any] = {
    "age_band": _l("Age group"),
    "generation": _l("Generation"),
    "wg_disability": _l("Disability (Washington Group)"),
    "phq4_positive": _l("Positive PHQ-4 screen"),
    "_district": _l("District"),
}
DERIVED_VALUES: Mapping[str, Any] = {
    "g1": _l("G1: exposed themselves"),
    "g2": _l("G2: child of an exposed person"),
    "g3": _l("G3: grandchild of an exposed person"),
    "none": _l("No connection to the tests"),
    "yes": _l("Yes"),
    "no": _l("No"),
    "True": _l("Yes"),
    "False": _l("No"),
    "dnk": _l("Don't know"),
    "pnta": _l("Prefer not to answer"),
}
CHAPTERS: Mapping[str, Any] = {
    "profile": _l("Profile of respondents"),
    "status": _l("Legal status and benefits"),
    "health": _l("Health"),
    "disability": _l("Functioning and disability"),
    "psychosocial": _l("Psychological well-being"),
    "socioeconomic": _l("Socio-economic inclusion"),
    "environment": _l("Environment"),
    "intergenerational": _l("Intergenerational impacts"),
    "priorities": _l("Priorities and law reform"),
    "severity": _l("Severity (JIAF-inspired)"),
}
STATUS_LABELS: Mapping[str, Any] = {
    "pending": _l("Pending"),
    "approved": _l("Approved"),
    "on_hold": _l("On hold"),
    "rejected": _l("Rejected"),
    "demo": _l("Demo data"),
}
REFUSAL_LABELS: Mapping[str, Any] = {
    "no_consent": _l("Did not consent"),
    "under_age": _l("Under 18"),
}
SEVERITY_MEASURES: Mapping[str, Any] = {
    "in_need": _l("in need (3 or more)"),
    "acute": _l("acute need (4 or more)"),
}


class DashboardError(ValueError):
    """A problem the person looking at the dashboard can act on (message already translated)."""


# -- page models -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One table cell: its text and what it is (count cells are checked for small numbers)."""

    text: str
    kind: str = "text"  # text | label | count | number | interval
    suppressed: bool = False
    indicative: bool = False
    submission_id: int | None = None
    indicator: str | None = None


@dataclass(frozen=True)
class Table:
    """A table with a caption; the first cell of each row labels it."""

    caption: str
    head: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    sections: tuple[tuple[int, str], ...] = ()  # (row index, heading) rows inserted before

    @property
    def has_suppressed(self) -> bool:
        """Whether any cell is hidden (the legend is then shown)."""
        return any(cell.suppressed for row in self.rows for cell in row)

    @property
    def has_dash(self) -> bool:
        """Whether any cell shows the no-data dash."""
        return any(cell.text == DASH for row in self.rows for cell in row)

    @property
    def has_indicative(self) -> bool:
        """Whether any estimate rests on fewer than 30 answers."""
        return any(cell.indicative for row in self.rows for cell in row)

    def section_at(self, index: int) -> str | None:
        """The heading to show before row `index`, if any."""
        return dict(self.sections).get(index)


@dataclass(frozen=True)
class Chart:
    """A generated SVG chart (safe markup) and the table that shows the same numbers."""

    svg: str
    title: str
    description: str
    table: Table


@dataclass(frozen=True)
class Summary:
    """What every page says about the data it shows."""

    analysed: str
    analysed_count: int
    excluded: tuple[tuple[str, str], ...]
    demo: str
    demo_count: int
    unweighted: bool
    empty: str | None
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    role: str
    k: int


@dataclass(frozen=True)
class OverviewPage:
    """Progress of the fieldwork."""

    summary: Summary
    headline: tuple[tuple[str, str], ...]
    districts: Chart | None
    progress: Chart | None
    days: Chart | None
    volunteers: Table | None
    refusals: Table | None
    targets: tuple[tuple[str, str, int | None], ...]


@dataclass(frozen=True)
class NeedsPage:
    """Ranked needs and JIAF-inspired severity."""

    summary: Summary
    rankings: tuple[Chart, ...]
    severity: Chart | None
    one_group: str | None


@dataclass(frozen=True)
class IndicatorsPage:
    """Every indicator of the plan with its CI and n, and one chosen indicator charted."""

    summary: Summary
    chart: Chart | None
    table: Table | None
    one_group: str | None


@dataclass(frozen=True)
class QuestionsPage:
    """Frequencies of one question."""

    summary: Summary
    chart: Chart | None
    table: Table | None
    one_group: str | None


@dataclass(frozen=True)
class QualityPage:
    """Data-quality checks for coordinators."""

    summary: Summary
    durations: Chart | None
    duration_stats: tuple[tuple[str, str], ...]
    duration_outliers: Table | None
    nonresponse: Table | None
    straightlining: Table | None
    duplicates: Table | None
    volunteers: Table | None


# -- filters ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters, validated (codes as stored; None = no filter)."""

    round_id: int | None = None
    version: str | None = None
    district: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    sex: str | None = None
    age_band: str | None = None
    generation: str | None = None
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    include_demo: bool = True

    @property
    def by_respondent(self) -> bool:
        """Whether a filter on respondents' answers is set (refusals cannot follow it)."""
        return any(getattr(self, name) for name in FILTER_QUESTIONS)


@dataclass(frozen=True)
class FilterOptions:
    """Choices for the filter form: (value, label) pairs in the page language."""

    instruments: tuple[tuple[str, str], ...]
    versions: tuple[tuple[str, str], ...]
    rounds: tuple[tuple[str, str], ...]
    default_round: str
    districts: tuple[tuple[str, str], ...]
    answers: Mapping[str, tuple[tuple[str, str], ...]]
    disaggregations: tuple[tuple[str, str], ...]
    indicators: tuple[tuple[str, str], ...]
    questions: tuple[tuple[str, str], ...]
    default_indicator: str = ""


def dashboard_instruments() -> list[Instrument]:
    """Instruments that have at least one version."""
    return [instrument for instrument in list_instruments() if instrument.versions]


def choose_instrument(form_id: str | None) -> Instrument | None:
    """The instrument asked for, else the first one; None when no instrument exists.

    Raises DashboardError for a form_id that is not known.
    """
    known = dashboard_instruments()
    if not known:
        return None
    if not form_id:
        return known[0]
    found = next((i for i in known if i.form_id == form_id), None)
    if found is None:
        raise DashboardError(_("Unknown questionnaire: choose one from the list."))
    return found


def round_names() -> dict[int, str]:
    """Survey round id → name."""
    return dict(db.session.execute(select(SurveyRound.id, SurveyRound.name)).all())


class Labels:
    """Labels of columns and codes in one language, with fallbacks for derived variables."""

    def __init__(self, dataset: Dataset, language: str) -> None:
        self.language = language
        self.spec = dataset.spec
        self.columns = dataset.column_labels(language)
        self.values = dataset.value_labels(language)

    def column(self, name: str) -> str:
        """A column's label ("Respondent: Sex" for roster context columns)."""
        if name.startswith(RESPONDENT_PREFIX):
            inner = name.removeprefix(RESPONDENT_PREFIX)
            return _("Respondent: %(label)s", label=self.column(inner))
        label = self.columns.get(name)
        if name in DERIVED_COLUMNS and (label is None or label == name):
            return str(DERIVED_COLUMNS[name])
        return label or name

    def value(self, column: str, code: Any) -> str:
        """A code's label in a column; derived codes and special answers get UI labels."""
        text = str(code)
        mapping = self.values.get(column)
        if mapping is None and column.startswith(RESPONDENT_PREFIX):
            mapping = self.values.get(column.removeprefix(RESPONDENT_PREFIX))
        if mapping and text in mapping:
            return mapping[text]
        if text in DERIVED_VALUES:
            return str(DERIVED_VALUES[text])
        band = re.fullmatch(r"(\d+)_(\d+)", text)
        if band:
            return f"{band.group(1)}–{band.group(2)}"
        plus = re.fullmatch(r"(\d+)_plus", text)
        if plus:
            return f"{plus.group(1)}+"
        return text

    def text(self, labels: Mapping[str, str], fallback: str) -> str:
        """A label mapping (language → text) in this language."""
        return self.spec.label(labels, self.language) or fallback


def _settlement_like(spec: InstrumentSpec) -> set[str]:
    """select_one questions finer than the district: never tabulated (DOMAIN.md §6)."""
    district = spec.intake.district_question
    names = set()
    for question in spec.iter_questions():
        choices = spec.choices.get(question.choice_list or "", ())
        if question.name != district and any(district in c.filters for c in choices):
            names.add(question.name)
    return names


@functools.lru_cache(maxsize=32)
def plan_of(spec: InstrumentSpec) -> tuple[AnalysisPlan, tuple[str, ...]]:
    """The instrument's analysis plan and the problems found building it (cached per spec)."""
    plan, problems = build_plan(spec)
    return plan, tuple(problems)


def _analysable(dataset: Dataset) -> list[QuestionDescription]:
    """Questions the frequencies page may show: choices and numbers, never text or settlements."""
    hidden = _settlement_like(dataset.spec)
    return [
        d
        for d in dataset.descriptions
        if d.measure in {"categorical", "multiple", "numeric"} and d.name not in hidden
    ]


def filter_options(instrument: Instrument, dataset: Dataset, language: str) -> FilterOptions:
    """Everything the filter form offers for this instrument, labelled in `language` (cached)."""
    rounds = round_names()
    current = current_round()
    key = (
        "options",
        _version_key(instrument),
        language,
        tuple(sorted(rounds.items())),
        current.id if current is not None else None,
    )
    return page_cache().get(
        key, dataset, lambda: _filter_options(instrument, dataset, language, rounds, current)
    )


def _filter_options(
    instrument: Instrument,
    dataset: Dataset,
    language: str,
    rounds: Mapping[int, str],
    current: SurveyRound | None,
) -> FilterOptions:
    """Build the filter options (see filter_options)."""
    labels = Labels(dataset, language)
    spec = dataset.spec
    district_question = spec.questions_by_name.get(spec.intake.district_question)
    districts: list[tuple[str, str]] = []
    if district_question is not None:
        districts = [
            (choice.name, labels.text(choice.labels, choice.name))
            for choice in spec.choices.get(district_question.choice_list or "", ())
        ]
    seen = {code for code, _label in districts}
    if "_district" in dataset.respondents.columns:
        for code in dataset.respondents["_district"].dropna().unique():
            if str(code) not in seen:
                districts.append((str(code), labels.value("_district", code)))
                seen.add(str(code))
    answers: dict[str, tuple[tuple[str, str], ...]] = {}
    for name in FILTER_QUESTIONS:
        if name in dataset.respondents.columns:
            answers[name] = tuple(
                (str(code), labels.value(name, code)) for code in _codes(dataset, name)
            )
    plan, _problems = plan_of(spec)
    wanted = list(STANDARD_DISAGGREGATIONS)
    for indicator in plan.indicators:
        wanted += [n for n in indicator.disaggregations if indicator.unit == "respondent"]
    hidden = _settlement_like(spec)
    disaggregations = tuple(
        (name, labels.column(name))
        for name in dict.fromkeys(wanted)
        if name in dataset.respondents.columns and name not in hidden
    )
    indicators = tuple(
        (indicator.id, labels.text(indicator.labels, indicator.id))
        for indicator in plan.indicators
        if indicator.kind != "ranking"
    )
    questions = tuple(
        (d.name, labels.text(d.labels, str(DERIVED_COLUMNS.get(d.name, d.name))))
        for d in _analysable(dataset)
    )
    return FilterOptions(
        instruments=tuple((i.form_id, i.title) for i in dashboard_instruments()),
        versions=tuple((v.version, v.version) for v in reversed(instrument.versions)),
        rounds=tuple((str(i), name) for i, name in sorted(rounds.items(), reverse=True)),
        default_round=str(current.id) if current is not None else "all",
        districts=tuple(districts),
        answers=answers,
        disaggregations=disaggregations,
        indicators=indicators,
        questions=questions,
        default_indicator=default_indicator(plan),
    )


def default_indicator(plan: AnalysisPlan) -> str:
    """The indicator charted when none is chosen: the plan's first proportion."""
    shown = [i for i in plan.indicators if i.kind != "ranking"]
    first = next((i for i in shown if i.kind == "proportion"), shown[0] if shown else None)
    return first.id if first is not None else ""


def _codes(dataset: Dataset, column: str) -> list[str]:
    """Codes of a categorical column: its categories, else the values seen, dnk/pnta last."""
    series = dataset.respondents[column]
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = [str(c) for c in series.cat.categories]
    else:
        codes = sorted({str(v) for v in series.dropna().unique()})
    return [c for c in codes if c not in SPECIAL] + [c for c in codes if c in SPECIAL]


# -- the data in view ------------------------------------------------------------------------------


def instrument_dataset(instrument: Instrument) -> Dataset:
    """All submissions of an instrument (every version and status, demo data included).

    One dataset per instrument serves every filter: changing a filter narrows it in pandas
    instead of building a new one from the database.
    """
    return load_dataset(
        list(instrument.versions), review_statuses=REVIEW_STATUSES, include_demo=True
    )


@dataclass(frozen=True)
class Selection:
    """The respondents and roster rows a page analyses, and what the filters left out."""

    respondents: pd.DataFrame
    members: pd.DataFrame
    excluded: Mapping[str, int]
    demo: int


def _equals(series: pd.Series, value: str) -> np.ndarray:
    """Rows whose value (as text) is `value`, NaN-safe and fast for categoricals."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = [str(c) for c in series.cat.categories]
        if value not in categories:
            return np.zeros(len(series), dtype=bool)
        return series.cat.codes.to_numpy() == categories.index(value)
    return series.astype("string").eq(value).fillna(False).to_numpy(dtype=bool)


def select_rows(dataset: Dataset, filters: Filters) -> Selection:
    """Narrow the dataset to the filters; counts of what review status and demo left out."""
    frame = dataset.respondents
    scope = np.ones(len(frame), dtype=bool)
    if filters.round_id is not None:
        scope &= _equals(frame["_round"], round_names().get(filters.round_id, ""))
    if filters.version:
        scope &= _equals(frame["_version"], filters.version)
    if filters.district:
        scope &= _equals(frame["_district"], filters.district)
    if filters.since is not None:
        start = pd.Timestamp(filters.since, tz="UTC")
        scope &= (frame["_received_at"] >= start).to_numpy(dtype=bool)
    if filters.until is not None:
        end = pd.Timestamp(filters.until + dt.timedelta(days=1), tz="UTC")
        scope &= (frame["_received_at"] < end).to_numpy(dtype=bool)
    for name in FILTER_QUESTIONS:
        value = getattr(filters, name)
        if value:
            scope &= _equals(frame[name], value) if name in frame.columns else False
    status = frame["_review_status"].astype(object).isin(filters.statuses).to_numpy(dtype=bool)
    demo = frame["_demo"].to_numpy(dtype=bool)
    kept = scope & status & (filters.include_demo | ~demo)
    excluded: dict[str, int] = {}
    left_out = scope & ~status
    if left_out.any():
        counts = frame.loc[left_out, "_review_status"].astype(object).value_counts()
        excluded = {str(k): int(v) for k, v in counts.items() if v}
    if not filters.include_demo and (scope & status & demo).any():
        excluded["demo"] = int((scope & status & demo).sum())
    members = dataset.members
    if kept.all():
        respondents = frame
    else:
        respondents = frame[kept]
        if len(members):
            ids = respondents["_submission_id"].to_numpy()
            members = members[np.isin(members["_submission_id"].to_numpy(), ids)]
    return Selection(respondents, members, excluded, int((kept & demo).sum()))


def _summary(
    dataset: Dataset, selection: Selection, role: str, k: int, *, problems: Iterable[str] = ()
) -> Summary:
    """Counts, exclusions, the representativeness notice and the empty-data message."""
    n = len(selection.respondents)
    excluded = tuple(
        (str(STATUS_LABELS.get(reason, reason)), _public_count(count, role, k))
        for reason, count in sorted(selection.excluded.items(), key=lambda item: item[0])
    )
    plan, plan_problems = plan_of(dataset.spec)
    weighted = plan.weight is not None or any(i.weight for i in plan.indicators)
    empty = None
    if len(dataset.respondents) == 0:
        empty = _("No submissions yet for this questionnaire.")
    elif n == 0:
        empty = _("No submissions match these filters. Widen the filters to see results.")
    return Summary(
        analysed=_public_count(n, role, k),
        analysed_count=n,
        excluded=excluded,
        demo=_public_count(selection.demo, role, k),
        demo_count=selection.demo,
        unweighted=not weighted,
        empty=empty,
        problems=tuple(dict.fromkeys([*plan_problems, *problems])),
        notes=(),
        role=role,
        k=k,
    )


def _public_count(value: int, role: str, k: int) -> str:
    """A headline count: hidden for advocates when it is 1..k-1."""
    if role == PUBLIC and 0 < value < k:
        return MARKER
    return format_count(value, _language())


def _language() -> str:
    """The language of the current request."""
    return current_language()


# -- the page cache --------------------------------------------------------------------------------


class PageCache:
    """Built pages of one application, each valid while its Dataset object is the current one."""

    def __init__(self, size: int = PAGE_CACHE_ENTRIES) -> None:
        self.size = size
        self.entries: OrderedDict[Hashable, tuple[weakref.ref, Any]] = OrderedDict()
        self.lock = threading.Lock()
        self.stats = {"hits": 0, "builds": 0}

    def get(self, key: Hashable, dataset: Dataset, build: Callable[[], Any]) -> Any:
        """The cached value for key when it was built from this dataset, else build it."""
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None and entry[0]() is dataset:
                self.entries.move_to_end(key)
                self.stats["hits"] += 1
                return entry[1]
        # Built outside the lock: other pages are served meanwhile.
        value = build()
        with self.lock:
            self.stats["builds"] += 1
            self.entries[key] = (weakref.ref(dataset), value)
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every page."""
        with self.lock:
            self.entries.clear()


def page_cache() -> PageCache:
    """The application's page cache."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.get("birge_dashboard_cache")
    if cache is None:
        cache = app.extensions.setdefault(
            "birge_dashboard_cache",
            PageCache(app.config.get("DASHBOARD_CACHE_ENTRIES", PAGE_CACHE_ENTRIES)),
        )
    return cache


def _version_key(instrument: Instrument) -> tuple:
    """The instrument and its versions as a cache key (a re-import changes it)."""
    return (instrument.id, tuple((v.id, v.sha256) for v in instrument.versions))


# -- estimates -------------------------------------------------------------------------------------


def _member_column(members: pd.DataFrame, name: str, spec: InstrumentSpec) -> str | None:
    """The roster column standing for a respondent disaggregation (their answer, district)."""
    if name in members.columns:
        return name
    if RESPONDENT_PREFIX + name in members.columns:
        return RESPONDENT_PREFIX + name
    if name == spec.intake.district_question and "_district" in members.columns:
        return "_district"
    return None


def run_estimates(
    selection: Selection,
    plan: AnalysisPlan,
    spec: InstrumentSpec,
    by: tuple[str, ...] | None,
) -> tuple[pd.DataFrame, list[str]]:
    """The plan's tidy table; `by` overrides every indicator's disaggregations (None: the plan's).

    Roster indicators are disaggregated by the matching roster column (the respondent's
    answer, or the household's district), so one picker serves both units.
    """
    if not plan.indicators:
        return run_plan(selection.respondents, selection.members, plan).table, []
    if by is None:
        result = run_plan(selection.respondents, selection.members, plan)
        return result.table, list(result.problems)
    member_by = tuple(
        column
        for column in (_member_column(selection.members, name, spec) for name in by)
        if column is not None
    )
    tables, problems = [], []
    for unit, override in (("respondent", by), ("member", member_by)):
        indicators = tuple(i for i in plan.indicators if i.unit == unit)
        if not indicators:
            continue
        result = run_plan(
            selection.respondents,
            selection.members,
            replace(plan, indicators=indicators),
            by_override=override,
        )
        tables.append(result.table)
        problems += result.problems
    order = {indicator.id: position for position, indicator in enumerate(plan.indicators)}
    table = pd.concat(tables, ignore_index=True)
    position = table["indicator"].map(order).to_numpy()
    table = table.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)
    return table, problems


def publish(table: pd.DataFrame, role: str, k: int) -> pd.DataFrame:
    """The table as `role` may see it: advocates' through apply_to_estimates, with a flag."""
    if role == PUBLIC and len(table):
        return apply_to_estimates(table, k=k)
    out = table.copy()
    out[SUPPRESSED] = False
    return out


def _translate_problem(problem: str) -> str:
    """An analysis problem (English, from reports.analysis) with a translated lead."""
    return _("Not computed: %(problem)s", problem=problem)


# -- table helpers ---------------------------------------------------------------------------------


def _ci_level(language: str) -> str:
    """The confidence level as a percentage in the language ("95 %" in Russian)."""
    return format_confidence(0.95, language)


def _ci_heading() -> str:
    # A literal "%" in a message would break %-formatting of translations: pass it in.
    """The heading of confidence-interval columns."""
    return _("%(level)s CI", level=_ci_level(_language()))


def _estimate_text(kind: str, value: Any, language: str) -> str:
    """An estimate as a percentage (shares) or a number (means, medians)."""
    return format_share(value, language) if kind in SHARE_KINDS else format_number(value, language)


@dataclass(frozen=True)
class _Row:
    """One row of a tidy table, original and as published."""

    original: Mapping[str, Any]
    published: Mapping[str, Any]

    @property
    def hidden(self) -> bool:
        """Whether publishing hid this row's estimate."""
        return bool(self.published.get(SUPPRESSED, False))

    def count_cell(self, name: str, language: str) -> Cell:
        """A count: the marker when publishing hid it, a dash when there is none."""
        original, published = self.original.get(name), self.published.get(name)
        if is_missing(original):
            return Cell(DASH, "count")
        if is_missing(published):
            return Cell(MARKER, "count", suppressed=True)
        return Cell(format_count(published, language), "count")

    def estimate_cell(self, kind: str, language: str) -> Cell:
        """The estimate: the marker when hidden, flagged when indicative."""
        if self.hidden:
            return Cell(MARKER, "number", suppressed=True)
        value = self.published.get("estimate")
        indicative = bool(self.original.get("indicative")) and not is_missing(value)
        return Cell(_estimate_text(kind, value, language), "number", indicative=indicative)

    def interval_cell(self, kind: str, language: str) -> Cell:
        """The confidence interval: the marker when hidden."""
        if self.hidden:
            return Cell(MARKER, "interval", suppressed=True)
        return Cell(
            format_interval(
                self.published.get("ci_low"),
                self.published.get("ci_high"),
                language,
                share=kind in SHARE_KINDS,
            ),
            "interval",
        )

    def bar(self, label: str) -> Bar:
        """The row as a chart bar (no value when hidden)."""
        if self.hidden:
            return Bar(label, None)
        estimate = self.published.get("estimate")
        low, high = self.published.get("ci_low"), self.published.get("ci_high")
        return Bar(
            label,
            None if is_missing(estimate) else float(estimate),
            None if is_missing(low) else float(low),
            None if is_missing(high) else float(high),
            "*" if self.original.get("indicative") else "",
        )


def _rows(original: pd.DataFrame, published: pd.DataFrame) -> list[_Row]:
    """The rows of a tidy table, original and published side by side."""
    return [
        _Row(a, b)
        for a, b in zip(original.to_dict("records"), published.to_dict("records"), strict=True)
    ]


def _chart_label(text: str) -> str:
    """Matplotlib reads $…$ as mathematics: keep dollar signs literal."""
    return text.replace("$", r"\$")


def make_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    description: str,
    table: Table,
    percent: bool = True,
) -> Chart | None:
    """An accessible SVG bar chart from reports.charts, with its table view; None without bars."""
    bars = list(bars)[:MAX_CHART_BARS]
    if not bars:
        return None
    if all(bar.estimate is None for bar in bars):
        return Chart("", title, description, table)  # nothing to draw: the page says why
    svg = csp_safe_svg(
        bar_chart_svg(
            [replace(bar, label=_chart_label(bar.label)) for bar in bars],
            title=title,
            description=description,
            percent=percent,
            suppressed_text=_("hidden (small numbers)"),
            width_inches=CHART_WIDTH_INCHES,
        )
    )
    return Chart(svg, title, description, table)


def _describe(bars: Sequence[Bar], language: str, *, percent: bool) -> str:
    """A sentence listing every bar's value, for screen readers."""
    parts = []
    for bar in bars[:MAX_CHART_BARS]:
        if bar.estimate is None:
            value = _("hidden")
        elif percent:
            value = format_share(bar.estimate, language)
            if bar.low is not None and bar.high is not None:
                value += " (" + format_interval(bar.low, bar.high, language, share=True) + ")"
        else:
            value = format_number(bar.estimate, language)
        parts.append(f"{bar.label}: {value}")
    return _("Horizontal bars, one per row of the table.") + " " + "; ".join(parts)


def _one_group(table: pd.DataFrame, by: str | None, labels: Labels) -> str | None:
    """A notice when the disaggregation has fewer than two groups with answers."""
    if not by or not len(table):
        return None
    block = table[table["group_var"].isin([by, RESPONDENT_PREFIX + by])]
    groups = block.loc[block["n"] > 0, "group"].nunique() if len(block) else 0
    if groups >= 2:
        return None
    return _(
        "Only one group of “%(variable)s” is in the selected data: the disaggregation adds "
        "nothing here.",
        variable=labels.column(by),
    )


def _category_label(indicator: Indicator, category: str, labels: Labels) -> str:
    """The label of a category row (an answer, a need, a severity measure)."""
    if indicator.kind == "severity":
        return str(SEVERITY_MEASURES.get(category, category))
    if indicator.kind == "ranking":
        column = indicator.columns[0] if indicator.columns else ""
        return labels.value(column, category)
    column = indicator.column or ""
    if indicator.kind == "multiple":
        description_labels = labels.columns.get(column + MULTIPLE_SEPARATOR + category)
        if description_labels and ": " in description_labels:
            return description_labels.split(": ", 1)[1]
        return labels.value(column, category)
    return labels.value(column, category)


def _group_text(group_var: str, group: str, labels: Labels) -> str:
    """The label of a group ("All" for the overall row)."""
    if group_var == "":
        return _("All")
    if group_var.startswith(RESPONDENT_PREFIX):
        # A roster row grouped by the respondent's answer, not the member's own.
        return _("%(value)s (respondent)", value=labels.value(group_var, group))
    return labels.value(group_var, group)


def _chapter_label(chapter: str, spec: InstrumentSpec, labels: Labels) -> str:
    """A chapter's heading: its section's label, a known chapter, or the code."""
    section = spec.sections_by_name.get(chapter)
    if section is not None:
        return labels.text(section.labels, chapter)
    if chapter in CHAPTERS:
        return str(CHAPTERS[chapter])
    return chapter.replace("_", " ").capitalize() if chapter else _("Other indicators")


# -- the pages -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRequest:
    """Who asks for which page of which instrument, with which filters."""

    instrument: Instrument
    filters: Filters
    role: str
    language: str
    k: int
    by: str | None = None
    indicator: str | None = None
    question: str | None = None
    # The dataset the view already loaded for this request (not part of any cache key).
    dataset: Dataset | None = field(default=None, compare=False, repr=False)

    def key(self, page: str, *extra: Hashable) -> tuple:
        """The cache key of a page of this request."""
        return (
            page,
            _version_key(self.instrument),
            self.filters,
            self.role,
            self.language,
            self.k,
            self.by,
            *extra,
        )


def _estimates(
    request: PageRequest, dataset: Dataset, selection: Selection
) -> tuple[pd.DataFrame, list[str]]:
    """The whole plan for these filters and disaggregation, shared by roles and languages."""
    key = ("estimates", _version_key(request.instrument), request.filters, request.by)

    def build() -> tuple[pd.DataFrame, list[str]]:
        plan, _problems = plan_of(dataset.spec)
        by = (request.by,) if request.by else ()
        return run_estimates(selection, plan, dataset.spec, by)

    return page_cache().get(key, dataset, build)


def _published_estimates(
    request: PageRequest, dataset: Dataset, selection: Selection
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(original, as the role may see it, problems) — the suppression is cached too."""
    table, problems = _estimates(request, dataset, selection)
    key = ("published", _version_key(request.instrument), request.filters, request.by)
    key += (request.role, request.k)
    try:
        published = page_cache().get(key, dataset, lambda: publish(table, request.role, request.k))
    except AnalysisError as error:
        raise DashboardError(_translate_problem(str(error))) from error
    return table, published, problems


def _with_selection(
    request: PageRequest, page: str, build: Callable[[Dataset, Selection], Any], *extra: Hashable
) -> Any:
    """The cached page, built from the filtered dataset when it is missing or stale."""
    dataset = request.dataset or instrument_dataset(request.instrument)
    key = request.key(page, *extra)

    def compute() -> Any:
        return build(dataset, select_rows(dataset, request.filters))

    return page_cache().get(key, dataset, compute)


def indicators_page(request: PageRequest) -> IndicatorsPage:
    """The indicator table (all indicators except rankings) and the chosen indicator's chart."""

    def build(dataset: Dataset, selection: Selection) -> IndicatorsPage:
        labels = Labels(dataset, request.language)
        plan, _problems = plan_of(dataset.spec)
        if len(selection.respondents) == 0:
            return IndicatorsPage(
                _summary(dataset, selection, request.role, request.k), None, None, None
            )
        original, published, problems = _published_estimates(request, dataset, selection)
        summary = _summary(
            dataset, selection, request.role, request.k, problems=map(_translate_problem, problems)
        )
        indicators = {i.id: i for i in plan.indicators if i.kind != "ranking"}
        keep = original["indicator"].isin(list(indicators)).to_numpy()
        # Groups nobody in view belongs to (unused categories) say nothing: leave them out.
        keep = keep & ~((original["group_var"] != "") & (original["n"] == 0)).to_numpy()
        # Don't know / prefer not rows of frequencies: their counts have columns of their own.
        keep = keep & ~original["category"].isin(list(SPECIAL)).to_numpy()
        # A frequency broken down by its own question is 100% on the diagonal: noise.
        own = original["indicator"].map({i.id: i.column or "" for i in plan.indicators})
        keep = keep & ~((original["group_var"] != "") & (original["group_var"] == own)).to_numpy()
        table = _indicator_table(
            original[keep], published[keep], indicators, labels, dataset.spec, request
        )
        chosen = request.indicator or default_indicator(plan)
        chart = None
        if chosen in indicators:
            chart = _indicator_chart(
                indicators[chosen], original[keep], published[keep], labels, request
            )
        return IndicatorsPage(summary, chart, table, _one_group(original, request.by, labels))

    return _with_selection(request, "indicators", build, request.indicator)


def _indicator_table(
    original: pd.DataFrame,
    published: pd.DataFrame,
    indicators: Mapping[str, Indicator],
    labels: Labels,
    spec: InstrumentSpec,
    request: PageRequest,
) -> Table:
    """The table of every indicator (rankings apart), chapter by chapter."""
    language = request.language
    rows: list[tuple[Cell, ...]] = []
    sections: list[tuple[int, str]] = []
    chapter = None
    linked = None
    for row in _rows(original, published):
        indicator = indicators[row.original["indicator"]]
        if indicator.chapter != chapter:
            chapter = indicator.chapter
            sections.append((len(rows), _chapter_label(chapter or "", spec, labels)))
        text = labels.text(indicator.labels, indicator.id)
        category = str(row.original.get("category") or "")
        if category:
            text = f"{text}: {_category_label(indicator, category, labels)}"
        # One link per indicator: repeating it on every group's row only weighs the page down.
        link = indicator.id if indicator.id != linked else None
        linked = indicator.id
        rows.append(
            (
                Cell(text, "label", indicator=link),
                Cell(_group_text(row.original["group_var"], row.original["group"], labels)),
                row.estimate_cell(indicator.kind, language),
                row.interval_cell(indicator.kind, language),
                row.count_cell("n", language),
                row.count_cell("dnk", language),
                row.count_cell("pnta", language),
            )
        )
    group_head = labels.column(request.by) if request.by else _("Group")
    return Table(
        caption=_("Indicators with %(level)s confidence intervals", level=_ci_level(language)),
        head=(
            _("Indicator"),
            group_head,
            _("Estimate"),
            _ci_heading(),
            _("n"),
            _("Don't know"),
            _("Prefer not to answer"),
        ),
        rows=tuple(rows),
        sections=tuple(sections),
    )


def _indicator_chart(
    indicator: Indicator,
    original: pd.DataFrame,
    published: pd.DataFrame,
    labels: Labels,
    request: PageRequest,
) -> Chart | None:
    """The chosen indicator's chart: one bar per group (and category)."""
    language = request.language
    mine = (original["indicator"] == indicator.id).to_numpy()
    mine = mine & ~original["category"].isin(list(SPECIAL)).to_numpy()
    title = labels.text(indicator.labels, indicator.id)
    bars, rows = [], []
    for row in _rows(original[mine], published[mine]):
        parts = []
        if row.original["group_var"]:
            parts.append(_group_text(row.original["group_var"], row.original["group"], labels))
        category = str(row.original.get("category") or "")
        if category:
            parts.append(_category_label(indicator, category, labels))
        label = " · ".join(parts) or _("All")
        bars.append(row.bar(label))
        rows.append(
            (
                Cell(label, "label"),
                row.estimate_cell(indicator.kind, language),
                row.interval_cell(indicator.kind, language),
                row.count_cell("n", language),
            )
        )
    percent = indicator.kind in SHARE_KINDS
    table = Table(
        caption=title,
        head=(
            (request.by and labels.column(request.by)) or _("Group"),
            _("Estimate"),
            _ci_heading(),
            _("n"),
        ),
        rows=tuple(rows),
    )
    return make_chart(
        bars,
        title=title,
        description=_describe(bars, language, percent=percent),
        table=table,
        percent=percent,
    )


def needs_page(request: PageRequest) -> NeedsPage:
    """Ranked needs (rank-weighted points, % naming each in the top 3) and severity."""

    def build(dataset: Dataset, selection: Selection) -> NeedsPage:
        labels = Labels(dataset, request.language)
        plan, _problems = plan_of(dataset.spec)
        if len(selection.respondents) == 0:
            return NeedsPage(_summary(dataset, selection, request.role, request.k), (), None, None)
        original, published, problems = _published_estimates(request, dataset, selection)
        summary = _summary(
            dataset, selection, request.role, request.k, problems=map(_translate_problem, problems)
        )
        rankings = []
        for indicator in plan.indicators:
            if indicator.kind == "ranking":
                mine = (original["indicator"] == indicator.id).to_numpy()
                chart = _ranking_chart(indicator, original[mine], published[mine], labels, request)
                if chart is not None:
                    rankings.append(chart)
        severity = [i for i in plan.indicators if i.kind == "severity"]
        chart = (
            _severity_chart(severity, original, published, labels, request) if severity else None
        )
        return NeedsPage(summary, tuple(rankings), chart, _one_group(original, request.by, labels))

    return _with_selection(request, "needs", build)


def _ranking_chart(
    indicator: Indicator,
    original: pd.DataFrame,
    published: pd.DataFrame,
    labels: Labels,
    request: PageRequest,
) -> Chart | None:
    """A ranked-needs chart (share naming each need) and its table by group."""
    language = request.language
    title = labels.text(indicator.labels, indicator.id)
    rows: list[tuple[Cell, ...]] = []
    bars: list[Bar] = []
    by_group: dict[tuple[str, str], list[_Row]] = {}
    for row in _rows(original, published):
        if row.original["group_var"] and row.original["n"] == 0:
            continue
        by_group.setdefault((row.original["group_var"], row.original["group"]), []).append(row)
    for (group_var, group), group_rows in by_group.items():
        if request.role == PUBLIC:
            # Where a hidden need sits in the order would bound its count: hidden ones go last.
            group_rows = [r for r in group_rows if not r.hidden] + [
                r for r in group_rows if r.hidden
            ]
        rank = 0
        for row in group_rows:
            need = _category_label(indicator, str(row.original["category"]), labels)
            rank_text = MARKER if row.hidden and request.role == PUBLIC else str(rank := rank + 1)
            points = (
                Cell(MARKER, "number", suppressed=True)
                if row.hidden
                else Cell(format_number(row.published.get("points"), language, 0), "number")
            )
            rows.append(
                (
                    Cell(_group_text(group_var, group, labels)),
                    Cell(rank_text, "number", suppressed=row.hidden and request.role == PUBLIC),
                    Cell(need, "label"),
                    points,
                    row.estimate_cell("ranking", language),
                    row.interval_cell("ranking", language),
                    row.count_cell("count", language),
                    row.count_cell("n", language),
                )
            )
            if group_var == "":
                bars.append(row.bar(need))
    table = Table(
        caption=title,
        head=(
            labels.column(request.by) if request.by else _("Group"),
            _("Rank"),
            _("Need"),
            _("Points (3 for 1st, 2 for 2nd, 1 for 3rd)"),
            _("Named in the top 3"),
            _ci_heading(),
            _("Respondents naming it"),
            _("n"),
        ),
        rows=tuple(rows),
    )
    return make_chart(
        bars,
        title=_("%(title)s: share naming each need in their top 3", title=title),
        description=_describe(bars, language, percent=True),
        table=table,
    )


def _severity_chart(
    indicators: Sequence[Indicator],
    original: pd.DataFrame,
    published: pd.DataFrame,
    labels: Labels,
    request: PageRequest,
) -> Chart | None:
    """The share in need per sector, with the acute share in the table."""
    language = request.language
    rows: list[tuple[Cell, ...]] = []
    bars: list[Bar] = []
    sectors = sector_labels(labels.spec)
    for indicator in indicators:
        mine = (original["indicator"] == indicator.id).to_numpy()
        sector = indicator.column or "overall"
        if sector in sectors:
            title = labels.text(sectors[sector], sector)
        elif sector == "overall":
            title = _("All sectors (the highest score)")
        else:
            title = labels.text(indicator.labels, indicator.id)
        groups: dict[tuple[str, str], dict[str, _Row]] = {}
        for row in _rows(original[mine], published[mine]):
            if row.original["group_var"] and row.original["n"] == 0:
                continue
            key = (row.original["group_var"], row.original["group"])
            groups.setdefault(key, {})[str(row.original["category"])] = row
        for (group_var, group), measures in groups.items():
            need, acute = measures.get("in_need"), measures.get("acute")
            if need is None:
                continue
            rows.append(
                (
                    Cell(title, "label"),
                    Cell(_group_text(group_var, group, labels)),
                    need.estimate_cell("severity", language),
                    need.interval_cell("severity", language),
                    acute.estimate_cell("severity", language) if acute else Cell(DASH),
                    acute.interval_cell("severity", language) if acute else Cell(DASH),
                    need.count_cell("n", language),
                )
            )
            if group_var == "":
                bars.append(need.bar(title))
    if not rows:
        return None
    table = Table(
        caption=_("Severity of needs (JIAF-inspired, not an official JIAF analysis)"),
        head=(
            _("Sector"),
            labels.column(request.by) if request.by else _("Group"),
            str(SEVERITY_MEASURES["in_need"]),
            _ci_heading(),
            str(SEVERITY_MEASURES["acute"]),
            _ci_heading(),
            _("n"),
        ),
        rows=tuple(rows),
    )
    return make_chart(
        bars,
        title=_("Share in need (severity 3 or more), by sector"),
        description=_describe(bars, language, percent=True),
        table=table,
    )


def questions_page(request: PageRequest) -> QuestionsPage:
    """The frequencies (or mean and median) of one question, overall and by group."""

    def build(dataset: Dataset, selection: Selection) -> QuestionsPage:
        labels = Labels(dataset, request.language)
        summary = _summary(dataset, selection, request.role, request.k)
        descriptions = {d.name: d for d in _analysable(dataset)}
        if not descriptions:
            return replace_summary_empty(
                summary, _("This questionnaire has no question to tabulate.")
            )
        name = request.question or next(iter(descriptions))
        description = descriptions.get(name)
        if description is None:
            raise DashboardError(_("Unknown question: choose one from the list."))
        if len(selection.respondents) == 0:
            return QuestionsPage(summary, None, None, None)
        plan = automatic_plan([description])
        by = (request.by,) if request.by else ()
        original, problems = run_estimates(selection, plan, dataset.spec, by)
        try:
            published = publish(original, request.role, request.k)
        except AnalysisError as error:
            raise DashboardError(_translate_problem(str(error))) from error
        summary = replace(summary, problems=tuple(map(_translate_problem, problems)))
        keep = ~((original["group_var"] != "") & (original["n"] == 0)).to_numpy()
        unused = original["category"].isin(list(SPECIAL)) & (original["count"] == 0)
        keep = keep & ~unused.to_numpy()
        original, published = original[keep], published[keep]
        title = labels.text(description.labels, str(DERIVED_COLUMNS.get(name, name)))
        indicators = {i.id: i for i in plan.indicators}
        language = request.language
        rows, bars, chart_rows = [], [], []
        for row in _rows(original, published):
            indicator = indicators[row.original["indicator"]]
            category = str(row.original.get("category") or "")
            if indicator.kind in {"mean", "median"}:
                answer = _("Mean") if indicator.kind == "mean" else _("Median")
            else:
                answer = _category_label(indicator, category, labels)
            group = _group_text(row.original["group_var"], row.original["group"], labels)
            rows.append(
                (
                    Cell(answer, "label"),
                    Cell(group),
                    row.count_cell("count", language),
                    row.estimate_cell(indicator.kind, language),
                    row.interval_cell(indicator.kind, language),
                    row.count_cell("n", language),
                )
            )
            if row.original["group_var"] == "" and category not in SPECIAL:
                bars.append(row.bar(answer))
                chart_rows.append(rows[-1])
        table = Table(
            caption=title,
            head=(
                _("Answer"),
                labels.column(request.by) if request.by else _("Group"),
                _("Count"),
                _("Estimate"),
                _ci_heading(),
                _("n"),
            ),
            rows=tuple(rows),
        )
        percent = description.measure != "numeric"
        chart = make_chart(
            bars,
            title=title,
            description=_describe(bars, language, percent=percent),
            table=replace(table, rows=tuple(chart_rows)),
            percent=percent,
        )
        return QuestionsPage(summary, chart, table, _one_group(original, request.by, labels))

    return _with_selection(request, "questions", build, request.question)


def replace_summary_empty(summary: Summary, message: str) -> QuestionsPage:
    """A questions page that only says why there is nothing to show."""
    return QuestionsPage(replace(summary, empty=message), None, None, None)


# -- overview --------------------------------------------------------------------------------------


def targets_for(instrument_id: int, round_id: int | None) -> dict[str, int]:
    """District code → target for one round of an instrument."""
    if round_id is None:
        return {}
    rows = db.session.execute(
        select(DistrictTarget.district, DistrictTarget.target).where(
            DistrictTarget.instrument_id == instrument_id, DistrictTarget.round_id == round_id
        )
    ).all()
    return dict(rows)  # type: ignore[arg-type]


def save_targets(
    instrument: Instrument, round_id: int, targets: Mapping[str, int | None], user: User | None
) -> int:
    """Set (or, with None, remove) district targets; returns how many changed. Flushes only."""
    existing = {
        row.district: row
        for row in db.session.execute(
            select(DistrictTarget).where(
                DistrictTarget.instrument_id == instrument.id, DistrictTarget.round_id == round_id
            )
        ).scalars()
    }
    changed = 0
    for district, target in targets.items():
        row = existing.get(district)
        if target is None:
            if row is not None:
                db.session.delete(row)
                changed += 1
        elif row is None:
            db.session.add(
                DistrictTarget(
                    instrument_id=instrument.id,
                    round_id=round_id,
                    district=district,
                    target=target,
                    updated_by_id=user.id if user is not None else None,
                )
            )
            changed += 1
        elif row.target != target:
            row.target = target
            row.updated_by_id = user.id if user is not None else None
            changed += 1
    db.session.flush()
    if changed:
        record_audit(
            "district_targets_changed",
            user=user,
            target=f"instrument {instrument.form_id}",
            details={"round": round_id, "changed": changed},
        )
    return changed


def _refusals(instrument: Instrument, filters: Filters) -> dict[str, int]:
    """Refusals in view by reason (refusals store only district, day and reason)."""
    where = [Refusal.instrument_id == instrument.id]
    if filters.round_id is not None:
        where.append(Refusal.round_id == filters.round_id)
    if filters.district:
        where.append(Refusal.district == filters.district)
    if filters.since is not None:
        where.append(Refusal.day >= filters.since)
    if filters.until is not None:
        where.append(Refusal.day <= filters.until)
    rows = db.session.execute(
        select(Refusal.reason, func.count()).where(*where).group_by(Refusal.reason)
    ).all()
    return {str(reason): int(count) for reason, count in rows}


def _refusal_stamp(instrument: Instrument) -> tuple:
    """Changes whenever a refusal of the instrument is recorded or removed."""
    return tuple(
        db.session.execute(
            select(func.count(), func.max(Refusal.id)).where(Refusal.instrument_id == instrument.id)
        ).one()
    )


def _count_table(
    labels_and_counts: Sequence[tuple[str, str, int]], role: str, k: int
) -> tuple[dict[str, str], dict[str, bool], str]:
    """Counts (key, label, count) as texts, hidden for advocates (with complements) + total."""
    language = _language()
    keys = [key for key, _label, _count in labels_and_counts]
    counts = [count for _key, _label, count in labels_and_counts]
    total = sum(counts)
    if role != PUBLIC or not keys:
        return (
            {key: format_count(count, language) for key, count in zip(keys, counts, strict=True)},
            dict.fromkeys(keys, False),
            format_count(total, language),
        )
    frame = pd.DataFrame({"count": [*counts, total]}, index=[*keys, "\0total"])
    flagged = suppress_small_cells(frame, k=k, count_columns=["count"], col_total="\0total")
    view = suppressed_view(flagged, k=k, marker=MARKER)
    hidden = flagged["count_suppressed"].to_dict()
    texts = {
        key: MARKER if hidden[key] else format_count(view.at[key, "count"], language)
        for key in keys
    }
    total_text = MARKER if hidden["\0total"] else format_count(total, language)
    return texts, {key: bool(hidden[key]) for key in keys}, total_text


def overview_page(request: PageRequest) -> OverviewPage:
    """Submissions per district (with targets), per day, per volunteer; refusals."""
    targets = targets_for(request.instrument.id, request.filters.round_id)
    refusals = _refusals(request.instrument, request.filters)
    extra = (tuple(sorted(targets.items())), _refusal_stamp(request.instrument))

    def build(dataset: Dataset, selection: Selection) -> OverviewPage:
        labels = Labels(dataset, request.language)
        language = request.language
        summary = _summary(dataset, selection, request.role, request.k)
        if request.filters.by_respondent:
            summary = replace(
                summary,
                notes=(
                    _(
                        "Refusals are counted by district and day only: the sex, age group "
                        "and generation filters do not apply to them."
                    ),
                ),
            )
        frame = selection.respondents
        options = [
            (code, label) for code, label in _district_options(dataset, labels) if code != ""
        ]
        counts = frame["_district"].astype(object).value_counts().to_dict() if len(frame) else {}
        shown = [
            (code, label, int(counts.get(code, 0)))
            for code, label in options
            if counts.get(code, 0) or code in targets
        ]
        headline = [
            (_("Submissions analysed"), summary.analysed),
            (
                _("Districts with submissions"),
                format_count(sum(1 for c in counts.values() if c), language),
            ),
        ]
        refused = sum(refusals.values())
        headline.append((_("Refusals recorded"), _public_count(refused, request.role, request.k)))
        districts, progress = _district_charts(frame, shown, targets, request)
        days = _days_chart(frame, request)
        volunteers = _volunteer_counts(frame, request) if request.role == FULL else None
        refusal_table = _refusal_table(refusals, len(frame), request)
        target_rows: tuple[tuple[str, str, int | None], ...] = ()
        if request.role == FULL and request.filters.round_id is not None:
            target_rows = tuple((code, label, targets.get(code)) for code, label in options)
        return OverviewPage(
            summary=summary,
            headline=tuple(headline),
            districts=districts,
            progress=progress,
            days=days,
            volunteers=volunteers,
            refusals=refusal_table,
            targets=target_rows,
        )

    return _with_selection(request, "overview", build, *extra)


def _district_options(dataset: Dataset, labels: Labels) -> list[tuple[str, str]]:
    """(code, label) of every district: the choice list, then codes only seen in data."""
    spec = dataset.spec
    question = spec.questions_by_name.get(spec.intake.district_question)
    options = []
    if question is not None:
        options = [
            (choice.name, labels.text(choice.labels, choice.name))
            for choice in spec.choices.get(question.choice_list or "", ())
        ]
    known = {code for code, _label in options}
    if len(dataset.respondents):
        for code in dataset.respondents["_district"].dropna().unique():
            if str(code) not in known:
                options.append((str(code), labels.value("_district", code)))
                known.add(str(code))
    return options


def _public_district_counts(
    frame: pd.DataFrame, shown: Sequence[tuple[str, str, int]], k: int
) -> tuple[dict[str, str], dict[str, bool], str]:
    """District counts hidden exactly as the indicators page hides its district frequency.

    The same counts suppressed twice with different complements could be combined to recover
    a hidden one, so the overview runs the very computation of the plan's frequency tables.
    """
    language = _language()
    table = frequencies(frame, "_district")
    published = apply_to_estimates(table, k=k, kind="frequency")
    gone = published["count"].isna().to_numpy() & table["count"].notna().to_numpy()
    hidden_codes = set(table.loc[gone, "category"].astype(str))
    texts = {
        code: MARKER if code in hidden_codes else format_count(count, language)
        for code, _label, count in shown
    }
    total = len(frame)
    total_text = MARKER if 0 < total < k else format_count(total, language)
    return texts, {code: code in hidden_codes for code, _label, _count in shown}, total_text


def _district_charts(
    frame: pd.DataFrame,
    shown: Sequence[tuple[str, str, int]],
    targets: Mapping[str, int],
    request: PageRequest,
) -> tuple[Chart | None, Chart | None]:
    """Submissions by district and, when targets are set, progress against them."""
    if not shown:
        return None, None
    language = request.language
    if request.role == PUBLIC:
        texts, hidden, total_text = _public_district_counts(frame, shown, request.k)
    else:
        texts, hidden, total_text = _count_table(shown, request.role, request.k)
    total = sum(count for _code, _label, count in shown)
    rows, bars, progress_bars = [], [], []
    for code, label, count in shown:
        share = count / total if total else float("nan")
        target = targets.get(code)
        progress = count / target if target else float("nan")
        rows.append(
            (
                Cell(label, "label"),
                Cell(texts[code], "count", suppressed=hidden[code]),
                Cell(
                    MARKER if hidden[code] else format_share(share, language),
                    "number",
                    suppressed=hidden[code],
                ),
                Cell(format_count(target, language) if target is not None else DASH, "number"),
                Cell(
                    MARKER if hidden[code] else format_share(progress, language),
                    "number",
                    suppressed=hidden[code],
                ),
            )
        )
        bars.append(Bar(label, None if hidden[code] or is_missing(share) else share))
        if target:
            estimate = None if hidden[code] else min(progress, 1.0)
            progress_bars.append(Bar(label, estimate, note="+" if progress > 1 else ""))
    rows.append(
        (
            Cell(_("Total"), "label"),
            Cell(total_text, "count", suppressed=total_text == MARKER),
            Cell(format_share(1.0 if total else float("nan"), language), "number"),
            Cell(format_count(sum(targets.values()), language) if targets else DASH, "number"),
            Cell(DASH, "number"),
        )
    )
    table = Table(
        caption=_("Submissions by district"),
        head=(_("District"), _("Submissions"), _("Share"), _("Target"), _("Progress")),
        rows=tuple(rows),
    )
    districts = make_chart(
        bars,
        title=_("Share of submissions by district"),
        description=_describe(bars, language, percent=True),
        table=table,
    )
    progress_chart = None
    if progress_bars:
        progress_chart = make_chart(
            progress_bars,
            title=_("Progress against the target, by district (+ means above the target)"),
            description=_describe(progress_bars, language, percent=True),
            table=table,
        )
    return districts, progress_chart


def _periods(days: np.ndarray, unit: str, language: str) -> list[tuple[str, str, int]]:
    """(key, label, submissions) per day, week (from Monday) or month, in time order."""
    if unit == "week":
        starts = pd.DatetimeIndex(days).to_period("W-SUN").start_time.to_numpy()
        days = starts.astype("datetime64[D]")
    elif unit == "month":
        days = days.astype("datetime64[M]").astype("datetime64[D]")
    values, counts = np.unique(days, return_counts=True)
    out = []
    for value, count in zip(values, counts, strict=True):
        day = dt.date.fromisoformat(str(value))
        if unit == "week":
            label = _("week from %(date)s", date=format_date(day))
        elif unit == "month":
            label = day.strftime("%Y-%m" if language == "en" else "%m.%Y")
        else:
            label = format_date(day)
        out.append((day.isoformat(), label, int(count)))
    return out


PERIOD_CAPTIONS: Mapping[str, Any] = {
    "day": _l("Submissions received per day (UTC)"),
    "week": _l("Submissions received per week (UTC)"),
    "month": _l("Submissions received per month (UTC)"),
}
PERIOD_HEADINGS: Mapping[str, Any] = {"day": _l("Day"), "week": _l("Week"), "month": _l("Month")}


def _days_chart(frame: pd.DataFrame, request: PageRequest) -> Chart | None:
    """Submissions per day; for advocates per week or month when most days would be hidden."""
    if not len(frame):
        return None
    language = request.language
    received = frame["_received_at"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    days = received.astype("datetime64[D]")
    units = ("day", "week", "month") if request.role == PUBLIC else ("day",)
    for unit in units:
        periods = _periods(days, unit, language)
        texts, hidden, total_text = _count_table(periods, request.role, request.k)
        # Coarser periods when more than a third of the cells would be hidden.
        if sum(hidden.values()) * 3 <= len(hidden):
            break
    rows = [
        (Cell(label, "label"), Cell(texts[key], "count", suppressed=hidden[key]))
        for key, label, _count in periods
    ]
    rows.append(
        (Cell(_("Total"), "label"), Cell(total_text, "count", suppressed=total_text == MARKER))
    )
    table = Table(
        caption=str(PERIOD_CAPTIONS[unit]),
        head=(str(PERIOD_HEADINGS[unit]), _("Submissions")),
        rows=tuple(rows),
    )
    recent = periods[-DAYS_CHARTED:]
    bars = [Bar(label, None if hidden[key] else float(count)) for key, label, count in recent]
    title = _("%(caption)s: the most recent (%(n)d)", caption=table.caption, n=len(recent))
    return make_chart(
        bars,
        title=title,
        description=_describe(bars, language, percent=False),
        table=table,
        percent=False,
    )


def _usernames(ids: Iterable[int]) -> dict[int, str]:
    """User id → username for these ids."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    rows = db.session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all()
    return dict(rows)  # type: ignore[arg-type]


def _volunteer_names(frame: pd.DataFrame) -> pd.Series:
    """Each row's volunteer as a display name (demo and deleted accounts named as such)."""
    ids = frame["_volunteer"]
    names = _usernames(ids.dropna().unique())
    unknown = _("Demo data or deleted account")
    return ids.astype(object).map(
        lambda i: unknown if is_missing(i) else names.get(int(i), unknown)
    )


def _volunteer_counts(frame: pd.DataFrame, request: PageRequest) -> Table | None:
    """Submissions, median duration and last day per volunteer (coordinators)."""
    if not len(frame):
        return None
    language = request.language
    names = _volunteer_names(frame)
    data = pd.DataFrame(
        {
            "name": names.to_numpy(),
            "duration": frame["_duration_min"].to_numpy(),
            "received": frame["_received_at"].to_numpy(),
        }
    )
    grouped = data.groupby("name", sort=False)
    summary = pd.DataFrame(
        {
            "count": grouped.size(),
            "median": grouped["duration"].median(),
            "last": grouped["received"].max(),
        }
    ).sort_values(["count"], ascending=False)
    rows = tuple(
        (
            Cell(str(name), "label"),
            Cell(format_count(values["count"], language), "count"),
            Cell(format_number(values["median"], language), "number"),
            Cell(
                format_date(pd.Timestamp(values["last"]).date())
                if not is_missing(values["last"])
                else DASH
            ),
        )
        for name, values in summary.iterrows()
    )
    return Table(
        caption=_("Submissions per volunteer"),
        head=(_("Volunteer"), _("Submissions"), _("Median duration (minutes)"), _("Last received")),
        rows=rows,
    )


def _refusal_table(refusals: Mapping[str, int], submissions: int, request: PageRequest) -> Table:
    """Refusals by reason, their total and the refusal rate."""
    language = request.language
    entries = [
        (reason, str(REFUSAL_LABELS.get(reason, reason)), count)
        for reason, count in sorted(refusals.items())
    ]
    texts, hidden, total_text = _count_table(entries, request.role, request.k)
    rows = [
        (Cell(label, "label"), Cell(texts[key], "count", suppressed=hidden[key]))
        for key, label, _count in entries
    ]
    refused = sum(refusals.values())
    contacts = refused + submissions
    rate = refused / contacts if contacts else float("nan")
    rate_hidden = request.role == PUBLIC and (any(hidden.values()) or 0 < refused < request.k)
    rows.append(
        (Cell(_("Total"), "label"), Cell(total_text, "count", suppressed=total_text == MARKER))
    )
    rows.append(
        (
            Cell(_("Refusal rate (refusals among refusals and submissions)"), "label"),
            Cell(
                MARKER if rate_hidden else format_share(rate, language),
                "number",
                suppressed=rate_hidden,
            ),
        )
    )
    return Table(
        caption=_("Refusals by reason"), head=(_("Reason"), _("Refusals")), rows=tuple(rows)
    )


# -- data quality (coordinators and admins) ------------------------------------------------------


def quality_page(request: PageRequest) -> QualityPage:
    """Interview durations, item non-response, straight-lining and suspected duplicates."""

    def build(dataset: Dataset, selection: Selection) -> QualityPage:
        labels = Labels(dataset, request.language)
        summary = _summary(dataset, selection, request.role, request.k)
        frame = selection.respondents
        if not len(frame):
            return QualityPage(summary, None, (), None, None, None, None, None)
        names = _volunteer_names(frame)
        durations, stats, outliers, short = _durations(frame, names, labels, request)
        nonresponse = _nonresponse(frame, dataset, labels, request)
        straight_table, straight = _straightlining(frame, dataset, labels, request)
        duplicate_table, duplicated = _duplicates(frame, dataset, names, labels, request)
        volunteers = _volunteer_quality(frame, names, short, straight, duplicated, request)
        return QualityPage(
            summary,
            durations,
            stats,
            outliers,
            nonresponse,
            straight_table,
            duplicate_table,
            volunteers,
        )

    return _with_selection(request, "quality", build)


def _durations(
    frame: pd.DataFrame, names: pd.Series, labels: Labels, request: PageRequest
) -> tuple[Chart | None, tuple[tuple[str, str], ...], Table | None, np.ndarray]:
    """Duration chart, summary figures, unusual interviews and the too-short mask."""
    language = request.language
    minutes = frame["_duration_min"].to_numpy(dtype=float)
    known = ~np.isnan(minutes)
    short = known & (minutes < SHORT_INTERVIEW_MINUTES)
    if not known.any():
        return None, ((_("Interviews with a recorded duration"), "0"),), None, short
    q1, median, q3 = np.percentile(minutes[known], [25, 50, 75])
    long_limit = max(LONG_INTERVIEW_MINUTES, q3 + 3 * (q3 - q1))
    long = known & (minutes > long_limit)
    stats = (
        (_("Interviews with a recorded duration"), format_count(int(known.sum()), language)),
        (_("Median duration (minutes)"), format_number(median, language)),
        (
            _("Middle half (minutes)"),
            f"{format_number(q1, language)}–{format_number(q3, language)}",
        ),
        (
            _("Shorter than %(minutes)d minutes", minutes=int(SHORT_INTERVIEW_MINUTES)),
            format_count(int(short.sum()), language),
        ),
        (
            _("Longer than %(minutes)s minutes", minutes=format_number(long_limit, language, 0)),
            format_count(int(long.sum()), language),
        ),
    )
    bars, rows = [], []
    total = int(known.sum())
    for low, high in DURATION_BANDS:
        inside = known & (minutes >= low) & (minutes < high)
        label = f"{low}–{high}" if math.isfinite(high) else f"{low}+"
        share = int(inside.sum()) / total
        bars.append(Bar(label, share))
        rows.append(
            (
                Cell(label, "label"),
                Cell(format_count(int(inside.sum()), language), "count"),
                Cell(format_share(share, language), "number"),
            )
        )
    table = Table(
        caption=_("Interviews by duration (minutes)"),
        head=(_("Minutes"), _("Interviews"), _("Share")),
        rows=tuple(rows),
    )
    chart = make_chart(
        bars,
        title=_("Interview duration"),
        description=_describe(bars, language, percent=True),
        table=table,
    )
    flagged = np.flatnonzero(short | long)
    order = flagged[np.argsort(minutes[flagged], kind="stable")][:LISTED_SUBMISSIONS]
    outlier_rows = tuple(
        (
            Cell(
                f"#{int(frame['_submission_id'].iat[i])}",
                "label",
                submission_id=int(frame["_submission_id"].iat[i]),
            ),
            Cell(str(names.iat[i])),
            Cell(
                labels.value("_district", frame["_district"].iat[i])
                if not is_missing(frame["_district"].iat[i])
                else DASH
            ),
            Cell(format_number(minutes[i], language), "number"),
            Cell(_("too short") if short[i] else _("too long")),
        )
        for i in order
    )
    outliers = None
    if outlier_rows:
        outliers = Table(
            caption=_("Interviews with an unusual duration (first %(n)d)", n=LISTED_SUBMISSIONS),
            head=(_("Submission"), _("Volunteer"), _("District"), _("Minutes"), _("Why")),
            rows=outlier_rows,
        )
    return chart, stats, outliers, short


def _answer_status(frame: pd.DataFrame, name: str, measure: str) -> tuple[int, int, int] | None:
    """(asked, don't know, prefer not to answer) of a question among respondents in view."""
    if measure == "multiple":
        prefix = name + MULTIPLE_SEPARATOR
        columns = [c for c in frame.columns if c.startswith(prefix)]
        if not columns:
            return None
        asked = int(frame[columns[0]].notna().sum())
        dnk = int(frame[prefix + "dnk"].fillna(False).sum()) if prefix + "dnk" in frame else 0
        pnta = int(frame[prefix + "pnta"].fillna(False).sum()) if prefix + "pnta" in frame else 0
        return asked, dnk, pnta
    if name not in frame.columns:
        return None
    series = frame[name]
    asked = int(series.notna().sum())
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = [str(c) for c in series.cat.categories]
        raw = series.cat.codes.to_numpy()
        dnk = int((raw == codes.index("dnk")).sum()) if "dnk" in codes else 0
        pnta = int((raw == codes.index("pnta")).sum()) if "pnta" in codes else 0
        return asked, dnk, pnta
    return asked, 0, 0


def _nonresponse(
    frame: pd.DataFrame, dataset: Dataset, labels: Labels, request: PageRequest
) -> Table | None:
    """Don't know and prefer-not-to-answer shares per question, highest first."""
    language = request.language
    found = []
    for description in dataset.descriptions:
        if description.repeat is not None or description.measure not in {
            "categorical",
            "multiple",
            "numeric",
        }:
            continue
        status = _answer_status(frame, description.name, description.measure)
        if status is None or status[0] == 0:
            continue
        asked, dnk, pnta = status
        found.append((description, asked, dnk, pnta, (dnk + pnta) / asked))
    if not found:
        return None
    found.sort(key=lambda item: -item[4])
    rows = tuple(
        (
            Cell(labels.text(d.labels, str(DERIVED_COLUMNS.get(d.name, d.name))), "label"),
            Cell(format_count(asked, language), "count"),
            Cell(format_count(dnk, language), "count"),
            Cell(format_count(pnta, language), "count"),
            Cell(format_share(rate, language), "number"),
        )
        for d, asked, dnk, pnta, rate in found
    )
    return Table(
        caption=_("Item non-response: “don't know” and “prefer not to answer”, highest first"),
        head=(
            _("Question"),
            _("Answered"),
            _("Don't know"),
            _("Prefer not to answer"),
            _("Non-response"),
        ),
        rows=rows,
    )


def _batteries(spec: InstrumentSpec) -> list[tuple[str, str, list[str]]]:
    """Groups of questions in one section sharing a rating scale (≥ 4 answers, ≥ 3 questions).

    Ranked questions (1st, 2nd, 3rd need) share a list too, but cannot repeat an answer.
    """
    plan, _problems = plan_of(spec)
    ranked = {c for i in plan.indicators if i.kind == "ranking" for c in i.columns}
    groups: dict[tuple[str, str], list[str]] = {}
    for question in spec.iter_questions():
        if question.type != "select_one" or question.repeat is not None or question.name in ranked:
            continue
        choices = [
            c for c in spec.choices.get(question.choice_list or "", ()) if c.name not in SPECIAL
        ]
        if len(choices) < 4:
            continue  # yes/no lists repeat honestly
        groups.setdefault((question.section or "", question.choice_list or ""), []).append(
            question.name
        )
    return [
        (section, name, qs) for (section, name), qs in groups.items() if len(qs) >= BATTERY_SIZE
    ]


def _straightlining(
    frame: pd.DataFrame, dataset: Dataset, labels: Labels, request: PageRequest
) -> tuple[Table | None, np.ndarray]:
    """Per rating scale, how many gave one answer throughout; per row, everywhere."""
    language = request.language
    completed = np.zeros(len(frame), dtype=np.int64)
    identical = np.zeros(len(frame), dtype=np.int64)
    rows = []
    for section, _list_name, questions in _batteries(dataset.spec):
        present = [q for q in questions if q in frame.columns]
        if len(present) < BATTERY_SIZE:
            continue
        codes = np.column_stack(
            [frame[q].astype(object).where(frame[q].notna(), None).to_numpy() for q in present]
        )
        answered = np.all(codes != None, axis=1)  # noqa: E711 - elementwise on an object array
        answered &= ~np.any(np.isin(codes, list(SPECIAL)), axis=1)
        same = answered & np.all(codes == codes[:, :1], axis=1)
        completed += answered
        identical += same
        n_answered = int(answered.sum())
        section_spec = dataset.spec.sections_by_name.get(section)
        title = labels.text(section_spec.labels, section) if section_spec else section
        first = dataset.spec.questions_by_name[present[0]]
        rows.append(
            (
                Cell(f"{title} ({len(present)})", "label"),
                Cell(labels.text(first.labels, first.name)),
                Cell(format_count(n_answered, language), "count"),
                Cell(format_count(int(same.sum()), language), "count"),
                Cell(
                    format_share(same.sum() / n_answered if n_answered else float("nan"), language),
                    "number",
                ),
            )
        )
    # One uniform scale is often honest ("no difficulty" six times); every scale alike is not.
    flagged = (completed >= 2) & (identical == completed)
    if not rows:
        return None, flagged
    table = Table(
        caption=_("Straight-lining: the same answer to every question of a rating scale"),
        head=(
            _("Questions"),
            _("First question"),
            _("Answered them all"),
            _("Same answer to all"),
            _("Share"),
        ),
        rows=tuple(rows),
    )
    return table, flagged


def _duplicates(
    frame: pd.DataFrame, dataset: Dataset, names: pd.Series, labels: Labels, request: PageRequest
) -> tuple[Table | None, np.ndarray]:
    """Identical answers, and one volunteer's interviews of the same person profile on one day."""
    language = request.language
    questions = [
        c for c in frame.columns if not c.startswith("_") and not c.startswith(RESPONDENT_PREFIX)
    ]
    flagged = np.zeros(len(frame), dtype=bool)
    groups: list[tuple[str, np.ndarray]] = []
    if questions:
        hashes = pd.util.hash_pandas_object(frame[questions], index=False).to_numpy()
        same = pd.Series(hashes).duplicated(keep=False).to_numpy()
        flagged |= same
        groups += [(str(_("identical answers")), rows) for rows in _group_rows(hashes, same)]
    spec = dataset.spec
    profile = [name for name in ("sex", spec.intake.age_question) if name in frame.columns]
    if profile:
        day = frame["_received_at"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        keys = pd.DataFrame(
            {
                "volunteer": frame["_volunteer"].fillna(-1).to_numpy(),
                "district": frame["_district"].astype(object).to_numpy(),
                "day": day.astype("datetime64[D]"),
                **{name: frame[name].astype(object).to_numpy() for name in profile},
            }
        )
        known = keys[profile].notna().all(axis=1).to_numpy() & (keys["volunteer"] >= 0).to_numpy()
        hashes = pd.util.hash_pandas_object(keys, index=False).to_numpy()
        same = pd.Series(hashes).duplicated(keep=False).to_numpy() & known & ~flagged
        flagged |= same
        groups += [
            (str(_("same volunteer, day, district, sex and age")), rows)
            for rows in _group_rows(hashes, same)
        ]
    if not groups:
        return None, flagged
    ids = frame["_submission_id"].to_numpy()
    rows = []
    for kind, members in groups[:LISTED_SUBMISSIONS]:
        first = members[0]
        district = frame["_district"].iat[first]
        rows.append(
            (
                Cell(kind, "label"),
                Cell(format_count(len(members), language), "count"),
                Cell(", ".join(f"#{int(ids[i])}" for i in members[:10])),
                Cell(str(names.iat[first])),
                Cell(labels.value("_district", district) if not is_missing(district) else DASH),
            )
        )
    table = Table(
        caption=_(
            "Suspected duplicates: %(submissions)s submissions in %(groups)s groups "
            "(the first %(n)d groups)",
            submissions=format_count(int(flagged.sum()), language),
            groups=format_count(len(groups), language),
            n=LISTED_SUBMISSIONS,
        ),
        head=(_("Why"), _("Submissions"), _("Submission numbers"), _("Volunteer"), _("District")),
        rows=tuple(rows),
    )
    return table, flagged


def _group_rows(hashes: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """Row positions of each group of equal hashes among the masked rows."""
    positions = np.flatnonzero(mask)
    if not len(positions):
        return []
    order = positions[np.argsort(hashes[positions], kind="stable")]
    _values, starts = np.unique(hashes[order], return_index=True)
    return [np.sort(part) for part in np.split(order, starts[1:])]


def _volunteer_quality(
    frame: pd.DataFrame,
    names: pd.Series,
    short: np.ndarray,
    straight: np.ndarray,
    duplicated: np.ndarray,
    request: PageRequest,
) -> Table:
    """The checks summed per volunteer."""
    language = request.language
    data = pd.DataFrame(
        {
            "name": names.to_numpy(),
            "duration": frame["_duration_min"].to_numpy(dtype=float),
            "short": short,
            "straight": straight,
            "duplicate": duplicated,
        }
    )
    grouped = data.groupby("name", sort=False)
    summary = pd.DataFrame(
        {
            "count": grouped.size(),
            "median": grouped["duration"].median(),
            "short": grouped["short"].sum(),
            "straight": grouped["straight"].sum(),
            "duplicate": grouped["duplicate"].sum(),
        }
    ).sort_values("count", ascending=False)
    rows = tuple(
        (
            Cell(str(name), "label"),
            Cell(format_count(v["count"], language), "count"),
            Cell(format_number(v["median"], language), "number"),
            Cell(format_count(v["short"], language), "count"),
            Cell(format_count(v["straight"], language), "count"),
            Cell(format_count(v["duplicate"], language), "count"),
        )
        for name, v in summary.iterrows()
    )
    return Table(
        caption=_("Checks per volunteer"),
        head=(
            _("Volunteer"),
            _("Submissions"),
            _("Median duration (minutes)"),
            _("Too short"),
            _("Same answer throughout every rating scale"),
            _("Suspected duplicates"),
        ),
        rows=rows,
    )


# -- exports of aggregates (always suppressed) ---------------------------------------------------

EXPORT_COLUMNS = (
    "indicator",
    "indicator_label",
    "group_var",
    "group",
    "group_label",
    "category",
    "category_label",
    "estimate",
    "ci_low",
    "ci_high",
    "n",
    "indicative",
    "suppressed",
)
INTERNAL_COLUMNS = ("kind", "theme", "chapter", "count", "dnk", "pnta", "missing", "effective_n")
HXL_TAGS: Mapping[str, str] = {
    "indicator": "#indicator+code",
    "indicator_label": "#indicator+name",
    "group_var": "#meta+group+type",
    "group": "#meta+group+code",
    "group_label": "#meta+group+name",
    "category": "#indicator+category+code",
    "category_label": "#indicator+category+name",
    "estimate": "#indicator+value+num",
    "ci_low": "#indicator+value+ci_low+num",
    "ci_high": "#indicator+value+ci_high+num",
    "n": "#indicator+denominator+num",
    "indicative": "#meta+indicative",
    "suppressed": "#meta+suppressed",
    "kind": "#indicator+type",
    "theme": "#sector+name",
    "chapter": "#meta+chapter",
    "count": "#indicator+numerator+num",
    "dnk": "#indicator+dnk+num",
    "pnta": "#indicator+pnta+num",
    "missing": "#indicator+missing+num",
    "effective_n": "#indicator+effective_n+num",
}


@dataclass(frozen=True)
class IndicatorExport:
    """The analysis plan's results as one suppressed tidy table, and what went wrong."""

    table: pd.DataFrame
    problems: tuple[str, ...]
    respondents: int
    suppressed_rows: int


def indicator_export(
    dataset: Dataset, filters: Filters, *, language: str, k: int, public: bool
) -> IndicatorExport:
    """Every indicator with its own disaggregations, suppressed as for advocates (always).

    public=True keeps the publishable columns only (no numerator, don't know, prefer not to
    answer or missing counts, no effective n); both forms hide the same cells.
    """
    spec = dataset.spec
    plan, plan_problems = plan_of(spec)
    selection = select_rows(dataset, filters)
    original, problems = run_estimates(selection, plan, spec, None)
    published = (
        apply_to_estimates(original, k=k) if len(original) else original.assign(suppressed=False)
    )
    labels = Labels(dataset, language)
    indicators = {i.id: i for i in plan.indicators}
    out = pd.DataFrame(
        {
            "indicator": published["indicator"],
            "indicator_label": [
                labels.text(indicators[i].labels, i) for i in published["indicator"]
            ],
            "group_var": published["group_var"],
            "group": published["group"],
            "group_label": [
                "" if var == "" else labels.value(var, group)
                for var, group in zip(published["group_var"], published["group"], strict=True)
            ],
            "category": published["category"],
            "category_label": [
                _category_label(indicators[i], c, labels) if c else ""
                for i, c in zip(published["indicator"], published["category"], strict=True)
            ],
            "estimate": published["estimate"],
            "ci_low": published["ci_low"],
            "ci_high": published["ci_high"],
            "n": published["n"],
            "indicative": published["indicative"].astype(bool),
            "suppressed": published[SUPPRESSED].astype(bool),
        }
    )
    if not public:
        for name in INTERNAL_COLUMNS:
            out[name] = published[name]
    return IndicatorExport(
        table=out.reset_index(drop=True),
        problems=(*plan_problems, *problems),
        respondents=len(selection.respondents),
        suppressed_rows=int(out["suppressed"].sum()),
    )


def _neutralised(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_indicator_csv(table: pd.DataFrame, handle: Any, *, hxl: bool) -> None:
    """The export as CSV (UTF-8; HXL adds the hashtag row under the header)."""
    import csv

    writer = csv.writer(handle, lineterminator="\n")
    columns = list(table.columns)
    writer.writerow(columns)
    if hxl:
        writer.writerow([HXL_TAGS.get(c, "") for c in columns])
    for record in table.itertuples(index=False, name=None):
        writer.writerow(["" if is_missing(v) else _cell_text(v) for v in record])


def _cell_text(value: Any) -> Any:
    """A value as CSV text (booleans as true/false, whole floats without .0)."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
    return _neutralised(str(value))


def audit_indicator_export(
    instrument: Instrument,
    filters: Filters,
    export: IndicatorExport,
    *,
    public: bool,
    file_format: str,
    user: User | None,
    via: str,
) -> None:
    """Write the export to the audit log (flushes; the caller commits)."""
    record_audit(
        "export_made",
        user=user,
        target=f"indicators {instrument.form_id}",
        details={
            "kind": "indicators",
            "format": file_format,
            "public": public,
            "suppressed": True,
            "rows": len(export.table),
            "suppressed_rows": export.suppressed_rows,
            "respondents": export.respondents,
            "instrument": instrument.form_id,
            "round": filters.round_id if filters.round_id is not None else "all",
            "review_statuses": list(filters.statuses),
            "include_demo": filters.include_demo,
            "via": via,
        },
    )
