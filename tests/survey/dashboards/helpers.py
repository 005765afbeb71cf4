"""What the dashboard service tests share: a page request."""

from __future__ import annotations

from survey.dashboards.estimates import FULL
from survey.dashboards.filters import Filters
from survey.dashboards.pages import PageRequest


def request_for(instrument, *, role=FULL, language="en", **kwargs):
    filters = kwargs.pop("filters", Filters())
    return PageRequest(
        instrument=instrument.instrument,
        filters=filters,
        role=role,
        language=language,
        k=5,
        **kwargs,
    )
