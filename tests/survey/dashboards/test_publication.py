"""The advocates' publication: the views they may combine, and the rule against differencing."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.collection.review import review_submission
from survey.dashboards.publication import refresh_allowed
from survey.demo import write_demo_data
from survey.extensions import db

ANALYSED = re.compile(r"Submissions analysed: ([^<]+)</strong>")


def _analysed(html: str) -> str:
    match = ANALYSED.search(html)
    assert match, html[:2000]
    return match.group(1).strip()


def test_advocates_choose_one_filter_or_one_disaggregation(client, auth, demo) -> None:
    auth.login("advocate")
    response = client.get("/dashboard/indicators?sex=female&by=district")
    assert response.status_code == 400
    assert "one filter or one disaggregation" in response.text
    assert client.get("/dashboard/indicators?sex=female").status_code == 200
    assert client.get("/dashboard/indicators?by=district").status_code == 200
    auth.logout()
    auth.login("coordinator")  # coordinators keep every combination
    assert client.get("/dashboard/indicators?sex=female&by=district").status_code == 200


def test_advocates_cannot_choose_statuses_demo_or_versions(client, auth, demo) -> None:
    auth.login("advocate")
    for query in ("status=rejected", "status=pending", "demo=exclude", "version=1"):
        response = client.get(f"/dashboard/indicators?{query}")
        assert response.status_code == 400, query
        assert response.headers["Content-Type"].startswith("text/html")
    response = client.get("/dashboard/indicators.csv?status=rejected")
    assert not response.headers["Content-Type"].startswith("text/csv")


def test_figures_wait_for_k_new_interviews(
    app, client, auth, create_user, default_instrument, survey_round
):
    write_demo_data(default_instrument, survey_round, 60, seed=3)
    auth.login("advocate")
    before = _analysed(client.get("/dashboard/indicators").text)
    assert before == "60"
    write_demo_data(default_instrument, survey_round, 2, seed=4)
    html = client.get("/dashboard/indicators").text
    assert _analysed(html) == "60"  # two new interviews would be singled out by a difference
    assert "at least 5 new interviews" in html
    # A withdrawn or rejected interview leaves at once
    first = db.session.execute(select(Submission).order_by(Submission.id)).scalars().first()
    coordinator = create_user("reviewer", "coordinator")
    review_submission(first, "rejected", "Duplicate interview", coordinator)
    db.session.commit()
    assert _analysed(client.get("/dashboard/indicators").text) == "59"


def test_a_refresh_needs_k_new_interviews_in_every_changed_group() -> None:
    new = pd.DataFrame({"sex": ["f"] * 5 + ["m"] * 5, "district": ["a"] * 5 + ["b"] * 5})
    assert refresh_allowed(new, ("sex", "district"), 5)
    assert not refresh_allowed(new.iloc[:9], ("sex", "district"), 5)  # only 4 men
    assert not refresh_allowed(new.iloc[:3], ("sex",), 5)
    mixed = new.assign(district=["a"] * 4 + ["b"] * 6)
    assert not refresh_allowed(mixed, ("sex", "district"), 5)
    assert refresh_allowed(new.iloc[:0], ("sex",), 5)


@pytest.mark.app_config({"PUBLISH_DEMO": False})
def test_demo_interviews_are_published_only_where_the_settings_say_so(
    client, auth, default_instrument, survey_round
) -> None:
    write_demo_data(default_instrument, survey_round, 60, seed=3)
    auth.login("advocate")
    html = client.get("/dashboard/indicators").text
    assert _analysed(html) == "0"
    assert "Demo data are never published on these pages" in html
    csv = client.get("/dashboard/indicators.csv").text
    assert not re.search(r"\d\.\d", csv)  # no estimate at all


@pytest.mark.app_config({"PUBLISH_PENDING": False})
def test_pending_interviews_stay_out_of_the_publication_where_the_settings_say_so(
    client, auth, create_user, default_instrument, survey_round
) -> None:
    write_demo_data(default_instrument, survey_round, 60, seed=3)
    coordinator = create_user("reviewer", "coordinator")
    submissions = db.session.execute(select(Submission).order_by(Submission.id)).scalars().all()
    assert {s.review_status for s in submissions} == {"pending"}
    for submission in submissions[:30]:
        review_submission(submission, "approved", "", coordinator)
    db.session.commit()
    auth.login("advocate")
    assert _analysed(client.get("/dashboard/indicators").text) == "30"
