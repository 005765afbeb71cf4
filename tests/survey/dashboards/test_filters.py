"""The data in view: rows selected by the dashboard's filters."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from survey.collection.models import Submission
from survey.dashboards.filters import Filters, instrument_dataset, select_rows
from survey.extensions import db


def test_select_rows_filters_and_counts_what_is_left_out(app, demo) -> None:
    ids = list(db.session.execute(select(Submission.id).order_by(Submission.id)).scalars())
    db.session.execute(
        update(Submission).where(Submission.id.in_(ids[:3])).values(review_status="rejected")
    )
    db.session.commit()
    dataset = instrument_dataset(demo.instrument)
    everything = select_rows(dataset, Filters())
    assert len(everything.respondents) == 197
    assert everything.excluded == {"rejected": 3}
    assert everything.demo == 197
    women = select_rows(dataset, Filters(sex="female"))
    assert set(women.respondents["sex"].astype(str)) == {"female"}
    assert set(women.members["_submission_id"]) <= set(women.respondents["_submission_id"])
    no_demo = select_rows(dataset, Filters(include_demo=False))
    assert len(no_demo.respondents) == 0 and no_demo.excluded["demo"] == 197
    later = select_rows(dataset, Filters(since=dt.date(2999, 1, 1)))
    assert len(later.respondents) == 0
    district = str(everything.respondents["_district"].iloc[0])
    one = select_rows(dataset, Filters(district=district))
    assert set(one.respondents["_district"].astype(str)) == {district}
    with_rejected = select_rows(dataset, Filters(statuses=("pending", "approved", "rejected")))
    assert len(with_rejected.respondents) == 200 and with_rejected.excluded == {}
