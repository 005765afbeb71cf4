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
from survey.dashboards.publication import (
    Publication,
    filter_variable,
    public_scope,
    publication,
)
from survey.datasets.columns import RESPONDENT_PREFIX
from survey.datasets.dataset import Dataset
from survey.extensions import db
from survey.i18n import current_language
from survey.instruments.models import Instrument
from survey.users.models import User


def page_summary(
    dataset: Dataset,
    selection: Selection,
    role: str,
    k: int,
    *,
    problems: Iterable[str] = (),
    request: PageRequest | None = None,
) -> Summary:
    """Counts, exclusions, the representativeness notice and the empty-data message.

    Advocates (with `request`) get the respondent count of the publication: the same figure,
    hidden or not, on every page, and nothing about other statuses or demo data.
    """
    n = len(selection.respondents)
    if role == PUBLIC and request is not None:
        return _public_summary(dataset, request)
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
    elif n == 0 and selection.excluded.get("demo"):
        empty = _(
            "Only demo data match these filters, and they are left out: choose “Include demo "
            "data” under Filters to see them."
        )
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


def _public_summary(dataset: Dataset, request: PageRequest) -> Summary:
    """The summary of an advocate's view, from the publication only."""
    found = advocate_publication(request, dataset)
    variable, value = filter_variable(request.filters)
    count = found.respondents(variable, value)
    plan, plan_problems = estimates.plan_of(dataset.spec)
    weighted = plan.weight is not None or any(i.weight for i in plan.indicators)
    empty = None
    if len(dataset.respondents) == 0:
        empty = _("No submissions yet for this questionnaire.")
    elif count == 0 and not public_scope()[1] and dataset.respondents["_demo"].any():
        # Depends only on whether demo interviews exist, never on how many real ones do
        empty = _(
            "No published interviews match these filters. Demo data are never published on "
            "these pages: figures appear once real interviews are collected."
        )
    elif count == 0:
        # A published zero: hidden counts (1..k-1 and complements) never say "no submissions"
        empty = _("No submissions match these filters. Widen the filters to see results.")
    notes = ()
    if found.waiting:
        notes = (
            _(
                "Figures are refreshed when every group has received at least %(k)d new "
                "interviews, so that no one can be singled out by comparing two days.",
                k=request.k,
            ),
        )
    return Summary(
        analysed=MARKER if count is None else format_count(count, current_language()),
        analysed_count=-1 if count is None else int(count),
        excluded=(),
        demo=MARKER,
        demo_count=0,
        unweighted=not weighted,
        empty=empty,
        problems=tuple(dict.fromkeys([*plan_problems, *map(translate_problem, found.problems)])),
        notes=notes,
        role=PUBLIC,
        k=request.k,
    )


def view_is_empty(request: PageRequest, dataset: Dataset, selection: Selection) -> bool:
    """Whether a page has nothing to show (advocates: the publication's count is a zero)."""
    if request.role == PUBLIC:
        found = advocate_publication(request, dataset)
        return found.respondents(*filter_variable(request.filters)) == 0
    return len(selection.respondents) == 0


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
    if request.role == PUBLIC:
        return advocate_estimates(request, dataset)
    table, problems = plan_estimates(request, dataset, selection)
    key = ("published", version_key(request.instrument), request.filters, request.by)
    key += (request.role, request.k)
    try:
        published = page_cache().get(key, dataset, lambda: publish(table, request.role, request.k))
    except AnalysisError as error:
        raise DashboardError(translate_problem(str(error))) from error
    return table, published, problems


def advocate_publication(request: PageRequest, dataset: Dataset) -> Publication:
    """The advocates' cube for the request's instrument and round."""
    try:
        return publication(request.instrument, dataset, request.filters.round_id, request.k)
    except AnalysisError as error:
        raise DashboardError(translate_problem(str(error))) from error


def advocate_estimates(
    request: PageRequest, dataset: Dataset
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(original, published, problems) of an advocate's view, cut from the publication."""
    found = advocate_publication(request, dataset)
    variable, value = filter_variable(request.filters)
    original, published = found.view(variable, value, request.by)
    return original, published, list(found.problems)


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
