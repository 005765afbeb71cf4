"""The overview page: counts hidden for advocates with complements, alike on every page."""

from __future__ import annotations

from flask_babel import force_locale

from survey.dashboards.estimates import FULL, PUBLIC
from survey.dashboards.filters import instrument_dataset
from survey.dashboards.labels import Labels
from survey.dashboards.pages.indicators import indicators_page
from survey.dashboards.pages.overview import _count_table, _district_options
from survey.dashboards.publication import publication
from survey.demo import write_demo_data
from tests.survey.dashboards.helpers import request_for


def test_count_tables_hide_small_counts_with_a_complement(app) -> None:
    with force_locale("en"):
        texts, hidden, total = _count_table(
            [("a", "A", 3), ("b", "B", 40), ("c", "C", 50)], PUBLIC, 5
        )
    assert texts["a"] == "x" and hidden["a"]
    assert sum(hidden.values()) >= 2  # 3 = 93 − 40 − 50 unless a second cell is hidden
    assert total == "93"
    with force_locale("en"):
        texts, hidden, _total = _count_table([("a", "A", 3), ("b", "B", 40)], FULL, 5)
    assert texts == {"a": "3", "b": "40"} and not any(hidden.values())


def test_district_counts_hidden_alike_on_every_page(
    app, client, auth, default_instrument, survey_round
) -> None:
    """Advocates get district counts from the publication only, hidden as its respondent
    counts are; the overview's own count tables are not shown to them."""
    write_demo_data(default_instrument, survey_round, 120, seed=4)
    with app.test_request_context("/?lang=en"):
        public = request_for(default_instrument, role=PUBLIC)
        dataset = instrument_dataset(default_instrument.instrument)
        labels = dict(_district_options(dataset, Labels(dataset, "en")))
        indicators = indicators_page(public)
        found = publication(default_instrument.instrument, dataset, None, 5)
    population = found.cube.population
    hidden_overview = {
        labels[code]
        for code in population.loc[
            (population["group_var"] == "district") & population["hidden"], "group"
        ]
    }
    auth.login("advocate")
    html = client.get("/dashboard/").text
    assert "Submissions by district" not in html and "Refusals recorded" not in html
    hidden_plan = {
        row[0].text.split(": ", 1)[1]
        for row in indicators.table.rows
        if row[0].text.startswith("Respondents by district") and row[2].suppressed
    }
    assert hidden_overview  # 120 interviews over 26 districts: some are small
    assert hidden_overview == hidden_plan
    assert hidden_overview <= set(labels.values())
