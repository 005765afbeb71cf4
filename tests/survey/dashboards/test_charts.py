"""Dashboard charts: safe for the Content-Security-Policy, labels kept literal."""

from __future__ import annotations

from reports.charts import Bar
from survey.dashboards.charts import make_chart
from survey.dashboards.page_models import Table
from survey.dashboards.pages.needs import needs_page
from tests.survey.dashboards.helpers import request_for


def test_charts_survive_the_content_security_policy(app, demo) -> None:
    with app.test_request_context("/?lang=en"):
        page = needs_page(request_for(demo))
    svg = page.rankings[0].svg
    assert svg.startswith("<svg") and "<title" in svg and "<desc" in svg
    assert " style=" not in svg and "<style" not in svg
    assert 'fill="#2f4b7c"' in svg  # the bars keep their colour as an attribute


def test_chart_labels_keep_dollar_signs(app) -> None:
    table = Table("t", ("a",), ())
    with app.test_request_context("/"):
        chart = make_chart([Bar("Costs $5 and $6", 0.5)], title="T", description="D", table=table)
    assert "Costs $5 and $6" in chart.svg
