"""The questions page: the frequencies (or mean and median) of one question, overall and by
group.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from flask_babel import gettext as _

from reports.analysis import AnalysisError, automatic_plan
from survey.dashboards.charts import describe_bars, make_chart
from survey.dashboards.estimates import (
    ci_heading,
    estimate_rows,
    publish,
    run_estimates,
    translate_problem,
)
from survey.dashboards.filters import DashboardError, Selection
from survey.dashboards.labels import SPECIAL, Labels, category_label, group_text
from survey.dashboards.options import analysable
from survey.dashboards.page_models import Cell, QuestionsPage, Summary, Table
from survey.dashboards.pages.common import PageRequest, cached_page, one_group_notice, page_summary
from survey.datasets.dataset import Dataset
from survey.datasets.labels import derived_label


def questions_page(request: PageRequest) -> QuestionsPage:
    """The frequencies (or mean and median) of one question, overall and by group."""

    def build(dataset: Dataset, selection: Selection) -> QuestionsPage:
        labels = Labels(dataset, request.language)
        summary = page_summary(dataset, selection, request.role, request.k)
        descriptions = {d.name: d for d in analysable(dataset)}
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
        if description.repeat is not None and description.repeat in dataset.repeats:
            # A question of another repeat than the roster (a repeat inside a repeat, say) is
            # tabulated over the entries of its own table, one row per entry.
            entries = dataset.repeats[description.repeat]
            chosen = np.isin(
                entries["_submission_id"].to_numpy(),
                selection.respondents["_submission_id"].to_numpy(),
            )
            selection = replace(selection, members=entries[chosen])
        by = (request.by,) if request.by else ()
        original, problems = run_estimates(selection, plan, dataset.spec, by)
        try:
            published = publish(original, request.role, request.k)
        except AnalysisError as error:
            raise DashboardError(translate_problem(str(error))) from error
        summary = replace(summary, problems=tuple(map(translate_problem, problems)))
        keep = ~((original["group_var"] != "") & (original["n"] == 0)).to_numpy()
        unused = original["category"].isin(list(SPECIAL)) & (original["count"] == 0)
        keep = keep & ~unused.to_numpy()
        original, published = original[keep], published[keep]
        title = labels.text(description.labels, derived_label(name))
        indicators = {i.id: i for i in plan.indicators}
        language = request.language
        rows, bars, chart_rows = [], [], []
        for row in estimate_rows(original, published):
            indicator = indicators[row.original["indicator"]]
            category = str(row.original.get("category") or "")
            if indicator.kind in {"mean", "median"}:
                answer = _("Mean") if indicator.kind == "mean" else _("Median")
            else:
                answer = category_label(indicator, category, labels)
            group = group_text(row.original["group_var"], row.original["group"], labels)
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
                ci_heading(),
                _("n"),
            ),
            rows=tuple(rows),
        )
        percent = description.measure != "numeric"
        chart = make_chart(
            bars,
            title=title,
            description=describe_bars(bars, language, percent=percent),
            table=replace(table, rows=tuple(chart_rows)),
            percent=percent,
        )
        return QuestionsPage(summary, chart, table, one_group_notice(original, request.by, labels))

    return cached_page(request, "questions", build, request.question)


def replace_summary_empty(summary: Summary, message: str) -> QuestionsPage:
    """A questions page that only says why there is nothing to show."""
    return QuestionsPage(replace(summary, empty=message), None, None, None)
