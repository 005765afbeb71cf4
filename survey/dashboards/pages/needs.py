"""The needs page: ranked needs (rank-weighted points, share naming each in the top 3) and the
JIAF-inspired severity per sector.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from flask_babel import gettext as _

from reports.analysis import Indicator
from reports.charts import Bar
from reports.formatting import DASH, format_number
from survey.dashboards import estimates
from survey.dashboards.charts import describe_bars, make_chart
from survey.dashboards.estimates import (
    MARKER,
    PUBLIC,
    EstimateRow,
    ci_heading,
    estimate_rows,
    translate_problem,
)
from survey.dashboards.filters import Selection
from survey.dashboards.labels import SEVERITY_MEASURES, Labels, category_label, group_text
from survey.dashboards.page_models import Cell, Chart, NeedsPage, Table
from survey.dashboards.pages.common import (
    PageRequest,
    cached_page,
    one_group_notice,
    page_summary,
    published_estimates,
    view_is_empty,
)
from survey.datasets.dataset import Dataset
from survey.instruments.analysis_plan import sector_labels


def needs_page(request: PageRequest) -> NeedsPage:
    """Ranked needs (rank-weighted points, % naming each in the top 3) and severity."""

    def build(dataset: Dataset, selection: Selection) -> NeedsPage:
        labels = Labels(dataset, request.language)
        plan, _problems = estimates.plan_of(dataset.spec)
        if view_is_empty(request, dataset, selection):
            return NeedsPage(
                page_summary(dataset, selection, request.role, request.k, request=request),
                (),
                None,
                None,
            )
        original, published, problems = published_estimates(request, dataset, selection)
        summary = page_summary(
            dataset,
            selection,
            request.role,
            request.k,
            problems=map(translate_problem, problems),
            request=request,
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
        return NeedsPage(
            summary, tuple(rankings), chart, one_group_notice(original, request.by, labels)
        )

    return cached_page(request, "needs", build)


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
    by_group: dict[tuple[str, str], list[EstimateRow]] = {}
    for row in estimate_rows(original, published):
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
            need = category_label(indicator, str(row.original["category"]), labels)
            rank_text = MARKER if row.hidden and request.role == PUBLIC else str(rank := rank + 1)
            points = (
                Cell(MARKER, "number", suppressed=True)
                if row.hidden
                else Cell(format_number(row.published.get("points"), language, 0), "number")
            )
            rows.append(
                (
                    Cell(group_text(group_var, group, labels)),
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
            ci_heading(),
            _("Respondents naming it"),
            _("n"),
        ),
        rows=tuple(rows),
    )
    return make_chart(
        bars,
        title=_("%(title)s: share naming each need in their top 3", title=title),
        description=describe_bars(bars, language, percent=True),
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
        groups: dict[tuple[str, str], dict[str, EstimateRow]] = {}
        for row in estimate_rows(original[mine], published[mine]):
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
                    Cell(group_text(group_var, group, labels)),
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
            ci_heading(),
            str(SEVERITY_MEASURES["acute"]),
            ci_heading(),
            _("n"),
        ),
        rows=tuple(rows),
    )
    return make_chart(
        bars,
        title=_("Share in need (severity 3 or more), by sector"),
        description=describe_bars(bars, language, percent=True),
        table=table,
    )
