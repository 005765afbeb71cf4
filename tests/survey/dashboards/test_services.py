"""Dashboard services: number formatting, row selection, suppression per role, the page cache."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest
from flask_babel import force_locale
from sqlalchemy import select, update

from reports.analysis import AnalysisPlan, Indicator
from survey.collection.models import Submission
from survey.dashboards import services
from survey.demo import write_demo_data
from survey.extensions import db


@pytest.fixture
def demo(default_instrument, survey_round):
    """Two hundred demo interviews of the default instrument."""
    write_demo_data(default_instrument, survey_round, 200, seed=5)
    return default_instrument


def request_for(instrument, *, role=services.FULL, language="en", **kwargs):
    filters = kwargs.pop("filters", services.Filters())
    return services.PageRequest(
        instrument=instrument.instrument,
        filters=filters,
        role=role,
        language=language,
        k=5,
        **kwargs,
    )


def test_select_rows_filters_and_counts_what_is_left_out(app, demo) -> None:
    ids = list(db.session.execute(select(Submission.id).order_by(Submission.id)).scalars())
    db.session.execute(
        update(Submission).where(Submission.id.in_(ids[:3])).values(review_status="rejected")
    )
    db.session.commit()
    dataset = services.instrument_dataset(demo.instrument)
    everything = services.select_rows(dataset, services.Filters())
    assert len(everything.respondents) == 197
    assert everything.excluded == {"rejected": 3}
    assert everything.demo == 197
    women = services.select_rows(dataset, services.Filters(sex="female"))
    assert set(women.respondents["sex"].astype(str)) == {"female"}
    assert set(women.members["_submission_id"]) <= set(women.respondents["_submission_id"])
    no_demo = services.select_rows(dataset, services.Filters(include_demo=False))
    assert len(no_demo.respondents) == 0 and no_demo.excluded["demo"] == 197
    later = services.select_rows(dataset, services.Filters(since=dt.date(2999, 1, 1)))
    assert len(later.respondents) == 0
    district = str(everything.respondents["_district"].iloc[0])
    one = services.select_rows(dataset, services.Filters(district=district))
    assert set(one.respondents["_district"].astype(str)) == {district}
    with_rejected = services.select_rows(
        dataset, services.Filters(statuses=("pending", "approved", "rejected"))
    )
    assert len(with_rejected.respondents) == 200 and with_rejected.excluded == {}


def test_publish_hides_small_cells_for_advocates_only(app, demo) -> None:
    dataset = services.instrument_dataset(demo.instrument)
    selection = services.select_rows(dataset, services.Filters())
    plan, _problems = services.plan_of(dataset.spec)
    table, problems = services.run_estimates(selection, plan, dataset.spec, ("district",))
    assert not problems
    full = services.publish(table, services.FULL, 5)
    public = services.publish(table, services.PUBLIC, 5)
    assert not full[services.SUPPRESSED].any()
    assert public[services.SUPPRESSED].any()
    for column in ("n", "count", "dnk", "pnta"):
        shown = public[column].dropna()
        assert not ((shown >= 1) & (shown < 5)).any(), column
    assert ((table["n"] >= 1) & (table["n"] < 5)).any()  # there were small cells to hide


def test_roster_indicators_follow_the_respondent_disaggregation(app, demo) -> None:
    dataset = services.instrument_dataset(demo.instrument)
    selection = services.select_rows(dataset, services.Filters())
    plan, _problems = services.plan_of(dataset.spec)
    table, _problems = services.run_estimates(selection, plan, dataset.spec, ("sex", "district"))
    roster = table[table["indicator"] == "member_chronic"]
    assert {"", "respondent.sex", "_district"} == set(roster["group_var"])
    assert list(table["indicator"].drop_duplicates()) == [
        i.id for i in plan.indicators if i.id in set(table["indicator"])
    ]


def test_bad_weights_become_problems_not_errors(app, demo) -> None:
    dataset = services.instrument_dataset(demo.instrument)
    selection = services.select_rows(dataset, services.Filters())
    size = len(selection.respondents)
    for weights in (np.zeros(size), np.where(np.arange(size) % 2, 1.0, -1.0)):
        weighted = services.Selection(
            selection.respondents.assign(w=weights),
            selection.members,
            selection.excluded,
            selection.demo,
        )
        plan = AnalysisPlan(
            (
                Indicator(
                    "x", {"en": "X"}, "proportion", numerator={"column": "sex", "in": ["male"]}
                ),
            ),
            weight="w",
        )
        table, problems = services.run_estimates(weighted, plan, dataset.spec, None)
        assert len(table) == 0
        assert problems and "weights must not" in problems[0]


def test_count_tables_hide_small_counts_with_a_complement(app) -> None:
    with force_locale("en"):
        texts, hidden, total = services._count_table(
            [("a", "A", 3), ("b", "B", 40), ("c", "C", 50)], services.PUBLIC, 5
        )
    assert texts["a"] == "x" and hidden["a"]
    assert sum(hidden.values()) >= 2  # 3 = 93 − 40 − 50 unless a second cell is hidden
    assert total == "93"
    with force_locale("en"):
        texts, hidden, _total = services._count_table(
            [("a", "A", 3), ("b", "B", 40)], services.FULL, 5
        )
    assert texts == {"a": "3", "b": "40"} and not any(hidden.values())


def test_charts_survive_the_content_security_policy(app, demo) -> None:
    with app.test_request_context("/?lang=en"):
        page = services.needs_page(request_for(demo))
    svg = page.rankings[0].svg
    assert svg.startswith("<svg") and "<title" in svg and "<desc" in svg
    assert " style=" not in svg and "<style" not in svg
    assert 'fill="#2f4b7c"' in svg  # the bars keep their colour as an attribute


def test_chart_labels_keep_dollar_signs(app) -> None:
    table = services.Table("t", ("a",), ())
    with app.test_request_context("/"):
        chart = services.make_chart(
            [services.Bar("Costs $5 and $6", 0.5)], title="T", description="D", table=table
        )
    assert "Costs $5 and $6" in chart.svg


def test_pages_are_cached_until_the_data_change(app, demo, survey_round) -> None:
    cache = services.page_cache()
    with app.test_request_context("/?lang=en"):
        first = services.indicators_page(request_for(demo))
        builds = cache.stats["builds"]
        again = services.indicators_page(request_for(demo))
        assert again is first and cache.stats["builds"] == builds
        russian = services.indicators_page(request_for(demo, language="ru"))
        assert russian is not first
        write_demo_data(demo, survey_round, 5, seed=77)
        fresh = services.indicators_page(request_for(demo))
    assert fresh is not first
    assert fresh.summary.analysed_count == 205


def test_indicators_page_model(app, demo) -> None:
    with app.test_request_context("/?lang=en"):
        page = services.indicators_page(request_for(demo, by="sex", indicator="unmet_need"))
    assert page.chart is not None and page.chart.title.startswith("Unmet need")
    labels = [row[0].text for row in page.chart.table.rows]
    assert labels[0] == "All" and {"Female", "Male"} <= set(labels)
    texts = [cell.text for row in page.table.rows for cell in row]
    assert not any(re.search(r"nan|None", text) for text in texts)
    assert page.summary.unweighted


def test_public_ranking_puts_hidden_needs_last(app, default_instrument, survey_round) -> None:
    write_demo_data(default_instrument, survey_round, 40, seed=8)
    with app.test_request_context("/?lang=en"):
        page = services.needs_page(request_for(default_instrument, role=services.PUBLIC))
    rows = page.rankings[0].table.rows
    hidden = [row[2].suppressed or row[3].suppressed for row in rows]
    assert hidden == sorted(hidden)  # visible first, then the hidden ones
    assert all(row[1].text == "x" for row, gone in zip(rows, hidden, strict=True) if gone)


def test_durations_and_duplicates(app, demo) -> None:
    ids = list(db.session.execute(select(Submission.id).order_by(Submission.id)).scalars())
    first = db.session.get(Submission, ids[0])
    copy = Submission(
        instance_id="uuid:copy",
        receipt_code="COPY0001",
        instrument_version_id=first.instrument_version_id,
        round_id=first.round_id,
        answers=dict(first.answers),
        answers_sha256=first.answers_sha256,
        language=first.language,
        district=first.district,
        started_at=first.started_at,
        ended_at=first.started_at + dt.timedelta(minutes=4),
        is_demo=True,
    )
    db.session.add(copy)
    db.session.commit()
    with app.test_request_context("/?lang=en"):
        page = services.quality_page(request_for(demo))
    assert page.duplicates is not None
    assert any(f"#{ids[0]}" in row[2].text for row in page.duplicates.rows)
    assert page.duration_outliers is not None
    assert any(row[0].submission_id == copy.id for row in page.duration_outliers.rows)
    stats = dict(page.duration_stats)
    assert stats["Shorter than 10 minutes"] == "1"


def test_district_counts_hidden_alike_on_every_page(app, default_instrument, survey_round) -> None:
    """The overview hides the same districts as the plan's district frequency table."""
    write_demo_data(default_instrument, survey_round, 120, seed=4)
    with app.test_request_context("/?lang=en"):
        public = request_for(default_instrument, role=services.PUBLIC)
        overview = services.overview_page(public)
        dataset = services.instrument_dataset(default_instrument.instrument)
        labels = dict(services._district_options(dataset, services.Labels(dataset, "en")))
        indicators = services.indicators_page(public)
    hidden_overview = {row[0].text for row in overview.districts.table.rows if row[1].suppressed}
    hidden_plan = {
        row[0].text.split(": ", 1)[1]
        for row in indicators.table.rows
        if row[0].text.startswith("Respondents by district") and row[2].suppressed
    }
    assert hidden_overview  # 120 interviews over 26 districts: some are small
    assert hidden_overview == hidden_plan
    assert hidden_overview <= set(labels.values())
