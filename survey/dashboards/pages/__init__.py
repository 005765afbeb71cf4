"""One builder per dashboard page: a PageRequest in, a page model (plain values) out."""

from survey.dashboards.pages.common import PageRequest
from survey.dashboards.pages.indicators import indicators_page
from survey.dashboards.pages.needs import needs_page
from survey.dashboards.pages.overview import overview_page
from survey.dashboards.pages.quality import quality_page
from survey.dashboards.pages.questions import questions_page

__all__ = [
    "PageRequest",
    "indicators_page",
    "needs_page",
    "overview_page",
    "quality_page",
    "questions_page",
]
