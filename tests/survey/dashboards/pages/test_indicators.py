"""The indicators page model."""

from __future__ import annotations

import re

from survey.dashboards.pages.indicators import indicators_page
from tests.survey.dashboards.helpers import request_for


def test_indicators_page_model(app, demo) -> None:
    with app.test_request_context("/?lang=en"):
        page = indicators_page(request_for(demo, by="sex", indicator="unmet_need"))
    assert page.chart is not None and page.chart.title.startswith("Unmet need")
    labels = [row[0].text for row in page.chart.table.rows]
    assert labels[0] == "All" and {"Female", "Male"} <= set(labels)
    texts = [cell.text for row in page.table.rows for cell in row]
    assert not any(re.search(r"nan|None", text) for text in texts)
    assert page.summary.unweighted
