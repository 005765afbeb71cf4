"""The needs page: ranked needs for advocates."""

from __future__ import annotations

import pytest

from survey.dashboards.estimates import PUBLIC
from survey.dashboards.pages.needs import needs_page
from survey.demo import write_demo_data
from tests.survey.dashboards.helpers import request_for


@pytest.mark.sqlite_only
def test_public_ranking_puts_hidden_needs_last(app, default_instrument, survey_round) -> None:
    write_demo_data(default_instrument, survey_round, 40, seed=8)
    with app.test_request_context("/?lang=en"):
        page = needs_page(request_for(default_instrument, role=PUBLIC))
    rows = page.rankings[0].table.rows
    hidden = [row[2].suppressed or row[3].suppressed for row in rows]
    assert hidden == sorted(hidden)  # visible first, then the hidden ones
    assert all(row[1].text == "x" for row, gone in zip(rows, hidden, strict=True) if gone)
