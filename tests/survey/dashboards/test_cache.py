"""The page cache: a page is rebuilt only when the data change."""

from __future__ import annotations

from survey.dashboards.cache import page_cache
from survey.dashboards.pages.indicators import indicators_page
from survey.demo import write_demo_data
from tests.survey.dashboards.helpers import request_for


def test_pages_are_cached_until_the_data_change(app, demo, survey_round) -> None:
    cache = page_cache()
    with app.test_request_context("/?lang=en"):
        first = indicators_page(request_for(demo))
        builds = cache.stats["builds"]
        again = indicators_page(request_for(demo))
        assert again is first and cache.stats["builds"] == builds
        russian = indicators_page(request_for(demo, language="ru"))
        assert russian is not first
        write_demo_data(demo, survey_round, 5, seed=77)
        fresh = indicators_page(request_for(demo))
    assert fresh is not first
    assert fresh.summary.analysed_count == 205
