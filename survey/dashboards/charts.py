"""Accessible SVG bar charts for the pages (drawn by reports.charts with presentation attributes
only, so the site's CSP needs no exception), each with the table that shows the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _

from reports.charts import Bar, bar_chart_svg
from reports.formatting import format_count, format_interval, format_number, format_share
from survey.dashboards.page_models import Chart, Table
from survey.i18n import current_language

CHART_WIDTH_INCHES = 4.4  # about 420 px: still legible when a phone scales it down


MAX_CHART_BARS = 30


def make_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    description: str,
    table: Table,
    percent: bool = True,
    whole: bool = False,
) -> Chart | None:
    """An accessible SVG bar chart from reports.charts, with its table view; None without bars.

    Values read as in the interface language's text: counts (`whole`) without decimals.
    """
    bars = list(bars)[:MAX_CHART_BARS]
    if not bars:
        return None
    if all(bar.estimate is None for bar in bars):
        return Chart("", title, description, table)  # nothing to draw: the page says why
    svg = bar_chart_svg(
        bars,
        title=title,
        description=description,
        percent=percent,
        suppressed_text=_("hidden (small numbers)"),
        width_inches=CHART_WIDTH_INCHES,
        language=current_language(),
        whole=whole,
    )
    return Chart(svg, title, description, table)


def describe_bars(bars: Sequence[Bar], language: str, *, percent: bool, whole: bool = False) -> str:
    """A sentence listing every bar's value, for screen readers."""
    parts = []
    for bar in bars[:MAX_CHART_BARS]:
        if bar.estimate is None:
            value = _("hidden")
        elif percent:
            value = format_share(bar.estimate, language)
            if bar.low is not None and bar.high is not None:
                value += " (" + format_interval(bar.low, bar.high, language, share=True) + ")"
        elif whole:
            value = format_count(bar.estimate, language)
        else:
            value = format_number(bar.estimate, language)
        parts.append(f"{bar.label}: {value}")
    return _("Horizontal bars, one per row of the table.") + " " + "; ".join(parts)
