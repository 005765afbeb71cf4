"""The data-quality page: durations and suspected duplicates."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from survey.collection.models import Submission
from survey.dashboards.pages.quality import quality_page
from survey.extensions import db
from tests.survey.dashboards.helpers import request_for


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
        page = quality_page(request_for(demo))
    assert page.duplicates is not None
    assert any(f"#{ids[0]}" in row[2].text for row in page.duplicates.rows)
    assert page.duration_outliers is not None
    assert any(row[0].submission_id == copy.id for row in page.duration_outliers.rows)
    stats = dict(page.duration_stats)
    assert stats["Shorter than 10 minutes"] == "1"
