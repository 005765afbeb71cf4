"""The indicators page: every indicator of the plan with its CI and n, chapter by chapter, and one
chosen indicator charted.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from flask_babel import gettext as _

from reports.analysis import Indicator
from survey.dashboards import estimates
from survey.dashboards.charts import describe_bars, make_chart
from survey.dashboards.estimates import (
    SHARE_KINDS,
    ci_heading,
    ci_level,
    estimate_rows,
    translate_problem,
)
from survey.dashboards.filters import Selection
from survey.dashboards.labels import SPECIAL, Labels, category_label, chapter_label, group_text
from survey.dashboards.options import default_indicator
from survey.dashboards.page_models import Cell, Chart, IndicatorsPage, Table
from survey.dashboards.pages.common import (
    PageRequest,
    cached_page,
    one_group_notice,
    page_summary,
    published_estimates,
    view_is_empty,
)
from survey.datasets.dataset import Dataset
from survey.instruments.spec import InstrumentSpec


def indicators_page(request: PageRequest) -> IndicatorsPage:
    """The indicator table (all indicators except rankings) and the chosen indicator's chart."""

    def build(dataset: Dataset, selection: Selection) -> IndicatorsPage:
        labels = Labels(dataset, request.language)
        plan, _problems = estimates.plan_of(dataset.spec)
        if view_is_empty(request, dataset, selection):
            return IndicatorsPage(
                page_summary(dataset, selection, request.role, request.k, request=request),
                None,
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
        return IndicatorsPage(summary, chart, table, one_group_notice(original, request.by, labels))

    return cached_page(request, "indicators", build, request.indicator)


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
    for row in estimate_rows(original, published):
        indicator = indicators[row.original["indicator"]]
        if indicator.chapter != chapter:
            chapter = indicator.chapter
            sections.append((len(rows), chapter_label(chapter or "", spec, labels)))
        text = labels.text(indicator.labels, indicator.id)
        category = str(row.original.get("category") or "")
        if category:
            text = f"{text}: {category_label(indicator, category, labels)}"
        # One link per indicator: repeating it on every group's row only weighs the page down.
        link = indicator.id if indicator.id != linked else None
        linked = indicator.id
        rows.append(
            (
                Cell(text, "label", indicator=link),
                Cell(group_text(row.original["group_var"], row.original["group"], labels)),
                row.estimate_cell(indicator.kind, language),
                row.interval_cell(indicator.kind, language),
                row.count_cell("n", language),
                row.count_cell("dnk", language),
                row.count_cell("pnta", language),
            )
        )
    group_head = labels.column(request.by) if request.by else _("Group")
    return Table(
        caption=_("Indicators with %(level)s confidence intervals", level=ci_level(language)),
        head=(
            _("Indicator"),
            group_head,
            _("Estimate"),
            ci_heading(),
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
    for row in estimate_rows(original[mine], published[mine]):
        parts = []
        if row.original["group_var"]:
            parts.append(group_text(row.original["group_var"], row.original["group"], labels))
        category = str(row.original.get("category") or "")
        if category:
            parts.append(category_label(indicator, category, labels))
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
            ci_heading(),
            _("n"),
        ),
        rows=tuple(rows),
    )
    return make_chart(
        bars,
        title=title,
        description=describe_bars(bars, language, percent=percent),
        table=table,
        percent=percent,
    )
