"""What every dashboard page shares: the request, the summary of the data in view, cached
estimates and the cached page itself.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import select

from reports.analysis import AnalysisError
from reports.formatting import format_count, is_missing
from survey.dashboards import estimates
from survey.dashboards import filters as dashboard_filters
from survey.dashboards.cache import page_cache, version_key
from survey.dashboards.estimates import MARKER, PUBLIC, publish, run_estimates, translate_problem
from survey.dashboards.filters import DashboardError, Filters, Selection, instrument_dataset
from survey.dashboards.labels import STATUS_LABELS, Labels
from survey.dashboards.page_models import Summary
from survey.datasets.columns import RESPONDENT_PREFIX
from survey.datasets.dataset import Dataset
from survey.extensions import db
from survey.i18n import current_language
from survey.instruments.models import Instrument
from survey.users.models import User


def page_summary(
    dataset: Dataset, selection: Selection, role: str, k: int, *, problems: Iterable[str] = ()
) -> Summary:
    """Counts, exclusions, the representativeness notice and the empty-data message."""
    n = len(selection.respondents)
    excluded = tuple(
        (str(STATUS_LABELS.get(reason, reason)), public_count(count, role, k))
        for reason, count in sorted(selection.excluded.items(), key=lambda item: item[0])
    )
    plan, plan_problems = estimates.plan_of(dataset.spec)
    weighted = (
        plan.weight is not None or plan.design is not None or any(i.weight for i in plan.indicators)
    )
    empty = None
    if len(dataset.respondents) == 0:
        empty = _("No submissions yet for this questionnaire.")
    elif n == 0:
        empty = _("No submissions match these filters. Widen the filters to see results.")
    return Summary(
        analysed=public_count(n, role, k),
        analysed_count=n,
        excluded=excluded,
        demo=public_count(selection.demo, role, k),
        demo_count=selection.demo,
        unweighted=not weighted,
        empty=empty,
        problems=tuple(dict.fromkeys([*plan_problems, *problems])),
        notes=(),
        role=role,
        k=k,
    )


def public_count(value: int, role: str, k: int) -> str:
    """A headline count: hidden for advocates when it is 1..k-1."""
    if role == PUBLIC and 0 < value < k:
        return MARKER
    return format_count(value, current_language())


def one_group_notice(table: pd.DataFrame, by: str | None, labels: Labels) -> str | None:
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
            version_key(self.instrument),
            self.filters,
            self.role,
            self.language,
            self.k,
            self.by,
            *extra,
        )


def plan_estimates(
    request: PageRequest, dataset: Dataset, selection: Selection
) -> tuple[pd.DataFrame, list[str]]:
    """The whole plan for these filters and disaggregation, shared by roles and languages."""
    key = ("estimates", version_key(request.instrument), request.filters, request.by)

    def build() -> tuple[pd.DataFrame, list[str]]:
        plan, _problems = estimates.plan_of(dataset.spec)
        by = (request.by,) if request.by else ()
        return run_estimates(selection, plan, dataset.spec, by)

    return page_cache().get(key, dataset, build)


def published_estimates(
    request: PageRequest, dataset: Dataset, selection: Selection
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(original, as the role may see it, problems) — the suppression is cached too."""
    table, problems = plan_estimates(request, dataset, selection)
    key = ("published", version_key(request.instrument), request.filters, request.by)
    key += (request.role, request.k)
    try:
        published = page_cache().get(key, dataset, lambda: publish(table, request.role, request.k))
    except AnalysisError as error:
        raise DashboardError(translate_problem(str(error))) from error
    return table, published, problems


def cached_page(
    request: PageRequest, page: str, build: Callable[[Dataset, Selection], Any], *extra: Hashable
) -> Any:
    """The cached page, built from the filtered dataset when it is missing or stale."""
    dataset = request.dataset or instrument_dataset(request.instrument)
    key = request.key(page, *extra)

    def compute() -> Any:
        return build(dataset, dashboard_filters.select_rows(dataset, request.filters))

    return page_cache().get(key, dataset, compute)


def usernames(ids: Iterable[int]) -> dict[int, str]:
    """User id → username for these ids."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    rows = db.session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all()
    return dict(rows)  # type: ignore[arg-type]


def volunteer_names(frame: pd.DataFrame) -> pd.Series:
    """Each row's volunteer as a display name (demo and deleted accounts named as such)."""
    ids = frame["_volunteer"]
    names = usernames(ids.dropna().unique())
    unknown = _("Demo data or deleted account")
    return ids.astype(object).map(
        lambda i: unknown if is_missing(i) else names.get(int(i), unknown)
    )
