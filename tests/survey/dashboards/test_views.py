"""Dashboard pages for coordinators and advocates: content, suppression, filters, bad input."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select, update

from reports.analysis import AnalysisPlan, Indicator
from survey.collection.models import Refusal, Submission
from survey.dashboards import estimates, filters
from survey.dashboards.filters import Selection
from survey.dashboards.models import DistrictTarget
from survey.demo import write_demo_data
from survey.extensions import db
from survey.users.models import AuditEntry

PAGES = ["/dashboard/", "/dashboard/needs", "/dashboard/indicators", "/dashboard/questions"]
# The pages cut from the advocates' publication (the others send advocates there)
PUBLIC_PAGES = ["/dashboard/needs", "/dashboard/indicators"]
SMALL = {"1", "2", "3", "4"}


class Cells(HTMLParser):
    """Texts of the table cells of a page, with their classes."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[set[str], str]] = []
        self._open: list[tuple[set[str], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"td", "th"}:
            self._open.append((set((dict(attrs).get("class") or "").split()), []))

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"} and self._open:
            classes, parts = self._open.pop()
            self.cells.append((classes, "".join(parts).strip()))

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][1].append(data)


def cells(html: str, kind: str | None = None) -> list[str]:
    """Texts of the table cells (only those with class `kind` when given)."""
    parser = Cells()
    parser.feed(html)
    return [text for classes, text in parser.cells if kind is None or kind in classes]


def assert_no_nan(html: str) -> None:
    """No NaN, inf or None printed as a number anywhere on the page."""
    text = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    for word in ("NaN", "nan%", "inf%", ">nan<", ">None<", "None%"):
        assert word not in text, word


@pytest.fixture
def demo(default_instrument, survey_round) -> Any:
    """Three hundred demo interviews of the default instrument."""
    write_demo_data(default_instrument, survey_round, 300, seed=11)
    return default_instrument


@pytest.mark.parametrize("n", [0, 1, 4, 5])
def test_pages_render_for_few_submissions(client, auth, default_instrument, survey_round, n):
    write_demo_data(default_instrument, survey_round, n, seed=3)
    for role in ("coordinator", "advocate"):
        auth.login(role)
        urls = PAGES + (["/dashboard/quality"] if role == "coordinator" else [])
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (role, url)
            assert_no_nan(response.text)
            if role == "advocate" and url not in PUBLIC_PAGES:
                assert "Indicators and Needs pages" in response.text
                continue
            if n == 0:
                assert "No submissions yet for this questionnaire." in response.text
            if role == "advocate":
                assert not SMALL & set(cells(response.text, "count")), (role, url)
        auth.logout()


@pytest.mark.sqlite_only
def test_pages_render_for_a_few_hundred(client, auth, demo) -> None:
    for role in ("coordinator", "advocate", "admin"):
        auth.login(role)
        pages = PUBLIC_PAGES if role == "advocate" else PAGES
        # Coordinators leave demo data out unless asked; advocates' figures always hold them
        demo_too = "" if role == "advocate" else "demo=include"
        for url in [*pages, "/dashboard/indicators?by=sex", "/dashboard/needs?by=generation"]:
            response = client.get(f"{url}{'&' if '?' in url else '?'}{demo_too}")
            assert response.status_code == 200, (role, url)
            assert_no_nan(response.text)
            assert "<svg" in response.text
            assert "Table view" in response.text
        auth.logout()


@pytest.mark.sqlite_only
def test_advocates_see_no_small_counts_coordinators_do(client, auth, demo) -> None:
    urls = ["/dashboard/needs?by=district", "/dashboard/indicators?by=district"]
    auth.login("advocate")
    hidden = 0
    for url in urls:
        html = client.get(url).text
        counts = cells(html, "count")
        assert counts, url
        assert not SMALL & set(counts), url
        hidden += html.count('class="num count suppressed"')
    assert hidden > 0  # the data have small cells: they are there, hidden
    auth.logout()
    auth.login("coordinator")
    seen = set()
    for url in urls:
        seen |= set(cells(client.get(url + "&demo=include").text, "count"))
    assert seen & SMALL  # exact counts, small ones included


def test_advocate_overview_hides_per_volunteer_counts(client, auth, demo) -> None:
    auth.login("advocate")
    html = client.get("/dashboard/").text
    assert "Submissions per volunteer" not in html
    assert "Data quality" not in html
    auth.logout()
    auth.login("coordinator")
    html = client.get("/dashboard/?demo=include").text
    assert "Submissions per volunteer" in html
    assert "Data quality" in html


def test_demo_data_are_left_out_unless_asked_for(client, auth, demo) -> None:
    auth.login("coordinator")  # advocates always see the publication (demo data included)
    html = client.get("/dashboard/").text
    assert "Only demo data match these filters, and they are left out" in html
    assert "Demo data 300" in html  # stated as left out
    assert "Include demo data (synthetic, not survey results)" in html  # the toggle
    html = client.get("/dashboard/?demo=include").text
    assert "Submissions analysed: 300" in html
    assert "Includes 300 demo submissions" in html
    assert "demo=include" in html  # links between pages keep the choice


def test_excluded_submissions_are_stated(client, auth, demo) -> None:
    ids = list(db.session.execute(select(Submission.id).order_by(Submission.id)).scalars())
    db.session.execute(
        update(Submission).where(Submission.id.in_(ids[:7])).values(review_status="rejected")
    )
    db.session.execute(
        update(Submission).where(Submission.id.in_(ids[7:9])).values(review_status="on_hold")
    )
    db.session.commit()
    auth.login("coordinator")
    html = client.get("/dashboard/indicators?demo=include").text
    assert "Submissions analysed: 291" in html
    assert "On hold 2, Rejected 7" in html
    auth.logout()
    auth.login("advocate")
    html = client.get("/dashboard/indicators").text
    # Advocates learn nothing about other statuses: no count to difference
    assert "Rejected" not in html and "On hold" not in html


def test_filter_that_matches_nothing(client, auth, demo) -> None:
    auth.login("coordinator")
    for url in (
        "/dashboard/indicators?date_from=2099-01-01",
        "/dashboard/?district=abroad&sex=male&age_band=18_39&generation=g3",
        "/dashboard/quality?date_to=2000-01-01",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "No submissions match these filters." in response.text
        assert_no_nan(response.text)


def test_filter_changes_the_numbers(client, auth, demo) -> None:
    auth.login("coordinator")
    everyone = client.get("/dashboard/indicators?survey_round=all&demo=include").text
    women = client.get("/dashboard/indicators?survey_round=all&sex=female&demo=include").text
    total = int(re.search(r"Submissions analysed: (\d+)", everyone).group(1))
    female = int(re.search(r"Submissions analysed: (\d+)", women).group(1))
    assert 0 < female < total
    assert cells(everyone, "num") != cells(women, "num")


def test_one_group_disaggregation(client, auth, demo) -> None:
    auth.login("coordinator")  # advocates may not filter and disaggregate at once
    response = client.get("/dashboard/indicators?sex=female&by=sex&demo=include")
    assert response.status_code == 200
    assert "Only one group of" in response.text
    assert_no_nan(response.text)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("district=atlantis", "Unknown district"),
        ("date_from=2025-13-45", "Enter a date as dd.mm.yyyy"),
        ("date_from=yesterday", "Enter a date as dd.mm.yyyy"),
        ("date_from=2025-03-01&date_to=2025-01-01", "The end date is before the start date."),
        ("indicator=no_such_indicator", "Unknown indicator"),
        ("by=settlement", "Unknown disaggregation"),
        ("survey_round=999", "Unknown survey round"),
        ("survey_round=abc", "Unknown survey round"),
        ("question=no_such_question", "Unknown question"),
        ("sex=unicorn", "Unknown answer"),
        ("status=deleted", "Unknown review status"),
        ("instrument=nope", "Unknown questionnaire"),
    ],
)
def test_bad_query_values(client, auth, demo, query, message) -> None:
    auth.login("coordinator")
    page = "questions" if "question=" in query else "indicators"
    response = client.get(f"/dashboard/{page}?{query}")
    assert response.status_code == 400
    assert message in response.text
    assert 'role="alert"' in response.text


def test_local_date_format_is_accepted(client, auth, demo) -> None:
    auth.login("coordinator")
    response = client.get("/dashboard/?date_from=01.01.2000&date_to=31.12.2099&demo=include")
    assert response.status_code == 200
    assert "Submissions analysed: 300" in response.text


def test_translated_labels(client, auth, demo) -> None:
    auth.login("advocate")
    kazakh = client.get("/dashboard/indicators?lang=kk").text
    assert "Полигон куәлігі бар (қағаз немесе цифрлық)" in kazakh
    assert '<html lang="kk">' in kazakh
    russian = client.get("/dashboard/indicators?lang=ru").text
    assert "Имеют удостоверение полигона (бумажное или цифровое)" in russian
    assert re.search(r"\d+,\d\s%", russian)  # decimal comma, a space before %
    english = client.get("/dashboard/needs?lang=en").text
    assert "Medical care" in english


def test_volunteers_are_refused(client, auth, demo) -> None:
    auth.login("volunteer")
    for url in [*PAGES, "/dashboard/quality", "/dashboard/indicators.csv"]:
        assert client.get(url).status_code == 403, url
    assert client.post("/dashboard/targets").status_code == 403


def test_advocates_cannot_open_quality_or_set_targets(client, auth, demo) -> None:
    auth.login("advocate")
    assert client.get("/dashboard/quality").status_code == 403
    assert client.post("/dashboard/targets", data={}).status_code == 403


def test_quality_page(client, auth, demo) -> None:
    auth.login("coordinator")
    html = client.get("/dashboard/quality?demo=include").text
    for heading in ("Interview duration", "Checks per volunteer", "Suspected duplicates"):
        assert heading in html
    assert "Straight-lining" in html and "Item non-response" in html
    assert_no_nan(html)


def test_targets_and_progress(client, auth, demo, survey_round, default_instrument) -> None:
    auth.login("coordinator")
    query = f"?survey_round={survey_round.id}&demo=include"
    html = client.get("/dashboard/" + query).text
    assert "Set interview targets per district" in html
    response = client.post(
        "/dashboard/targets" + query,
        data={
            "instrument": "birge_needs_assessment",
            "survey_round": str(survey_round.id),
            "target-semey_city": "40",
            "target-abroad": "0",
            "target-ayagoz_district": "",
        },
    )
    assert response.status_code == 302
    assert f"survey_round={survey_round.id}" in response.headers["Location"]
    targets = {t.district: t.target for t in db.session.execute(select(DistrictTarget)).scalars()}
    assert targets == {"semey_city": 40, "abroad": 0}
    assert db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "district_targets_changed")
    ).scalar_one()
    html = client.get("/dashboard/" + query).text
    assert "Progress against the target" in html
    assert_no_nan(html)  # a target of 0 divides by zero: shown as a dash
    bad = client.post(
        "/dashboard/targets" + query,
        data={
            "instrument": "birge_needs_assessment",
            "survey_round": str(survey_round.id),
            "target-semey_city": "-3",
        },
        follow_redirects=True,
    )
    assert "enter a whole number from 0 to" in bad.text
    missing = client.post("/dashboard/targets", data={}, follow_redirects=True)
    assert "Choose a questionnaire and a survey round" in missing.text


def test_refusals_are_counted(client, auth, demo, default_instrument, survey_round) -> None:
    for number in range(3):
        db.session.add(
            Refusal(
                instance_id=f"uuid:refusal-{number}",
                instrument_id=default_instrument.instrument_id,
                round_id=survey_round.id,
                district="semey_city",
                day=dt.date.today(),
                reason="no_consent",
            )
        )
    db.session.commit()
    auth.login("coordinator")
    html = client.get("/dashboard/?demo=include").text
    assert "Did not consent" in html
    assert "3" in cells(html, "count")
    auth.logout()
    auth.login("advocate")
    html = client.get("/dashboard/").text
    assert not SMALL & set(cells(html, "count"))


def test_new_submissions_show_up(client, auth, demo, default_instrument, survey_round) -> None:
    auth.login("coordinator")
    url = "/dashboard/?demo=include"
    assert "Submissions analysed: 300" in client.get(url).text
    assert "Submissions analysed: 300" in client.get(url).text  # cached
    write_demo_data(default_instrument, survey_round, 10, seed=99)
    assert "Submissions analysed: 310" in client.get(url).text


def small_form(create_instrument: Any, version: str) -> Any:
    """A one-question instrument (form_id small_form) in the given version."""
    return create_instrument(
        survey=[["type", "name", "label"], ["integer", "age", "Age"]],
        settings={"form_id": "small_form", "form_title": "Small form", "version": version},
    )


def test_questionnaire_without_submissions(client, auth, create_instrument) -> None:
    small_form(create_instrument, "1")
    auth.login("coordinator")
    for url in [*PAGES, "/dashboard/quality"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "No submissions yet for this questionnaire." in response.text


def test_version_without_submissions(client, auth, create_instrument, survey_round) -> None:
    first = small_form(create_instrument, "1")
    small_form(create_instrument, "2")
    for number in range(6):
        db.session.add(
            Submission(
                instance_id=f"uuid:small-{number}",
                receipt_code=f"SMALL{number:04d}",
                instrument_version_id=first.id,
                round_id=survey_round.id,
                answers={"age": 30 + number},
                answers_sha256="0" * 64,
                language="en",
            )
        )
    db.session.commit()
    auth.login("coordinator")  # versions and the questions page are for coordinators
    html = client.get("/dashboard/questions?question=age").text
    assert "Submissions analysed: 6" in html
    response = client.get("/dashboard/questions?question=age&version=2")
    assert response.status_code == 200
    assert "No submissions match these filters." in response.text
    assert_no_nan(response.text)


def test_plan_naming_a_missing_question(client, auth, demo, monkeypatch) -> None:
    real = estimates.plan_of

    def broken(spec: Any) -> Any:
        plan, problems = real(spec)
        ghost = Indicator(
            "ghost",
            {"en": "Ghost"},
            "proportion",
            numerator={"column": "no_such_question", "in": ["yes"]},
        )
        return AnalysisPlan((*plan.indicators, ghost), plan.severity_rules), problems

    monkeypatch.setattr(estimates, "plan_of", broken)
    auth.login("advocate")
    response = client.get("/dashboard/indicators")
    assert response.status_code == 200
    assert "no_such_question" in response.text
    assert "could not be used" in response.text


@pytest.mark.parametrize("weights", [[0.0], [-1.0, 1.0]])
def test_bad_weights(client, auth, demo, monkeypatch, weights) -> None:
    """A weight column of zeros or with negatives: the indicators are listed as problems."""
    real_plan, real_select = estimates.plan_of, filters.select_rows

    def weighted(spec: Any) -> Any:
        plan, problems = real_plan(spec)
        return AnalysisPlan(plan.indicators, plan.severity_rules, weight="w"), problems

    def with_weights(dataset: Any, filters: Any) -> Any:
        selection = real_select(dataset, filters)
        size = len(selection.respondents)
        column = pd.Series((weights * size)[:size], index=selection.respondents.index)
        return Selection(
            selection.respondents.assign(w=column),
            selection.members,
            selection.excluded,
            selection.demo,
        )

    monkeypatch.setattr(estimates, "plan_of", weighted)
    monkeypatch.setattr(filters, "select_rows", with_weights)
    auth.login("coordinator")
    for url in ("/dashboard/indicators?demo=include", "/dashboard/needs?demo=include"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "weights must not" in response.text.lower(), url
        assert "Not statistically representative" not in response.text
        assert_no_nan(response.text)


def test_csv_download_is_suppressed_and_audited(client, auth, demo) -> None:
    auth.login("coordinator")
    response = client.get("/dashboard/indicators.csv?by=district&demo=include")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    lines = response.text.lstrip("\ufeff").splitlines()
    header = lines[0].split(",")
    assert header[:3] == ["indicator", "indicator_label", "group_var"]
    n = header.index("n")
    for line in lines[1:]:
        values = next(iter(__import__("csv").reader([line])))
        assert values[n] not in SMALL
    entry = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "export_made")
    ).scalar_one()
    assert entry.details["kind"] == "indicators" and entry.details["via"] == "web"


def test_advocates_cannot_include_rejected_submissions(client, auth, demo) -> None:
    auth.login("advocate")
    response = client.get("/dashboard/indicators?status=pending&status=rejected")
    assert response.status_code == 400
    assert "Unknown review status" in response.text
    assert 'value="rejected"' not in client.get("/dashboard/").text
    auth.logout()
    auth.login("coordinator")
    assert client.get("/dashboard/indicators?status=rejected").status_code == 200


def test_advocates_filter_by_round_and_one_characteristic(client, auth, demo) -> None:
    auth.login("advocate")
    dated = client.get("/dashboard/indicators?date_from=2020-01-01")
    assert dated.status_code == 400
    assert "Date ranges are for coordinators" in dated.text
    assert 'id="date_from"' not in client.get("/dashboard/").text
    combined = client.get("/dashboard/indicators?sex=female&age_band=75_plus")
    assert combined.status_code == 400
    assert "Choose one filter or one disaggregation" in combined.text
    assert client.get("/dashboard/indicators?sex=female&by=age_band").status_code == 400
    assert client.get("/dashboard/indicators?sex=female").status_code == 200


def test_plan_problems_follow_each_pages_language(client, auth, demo) -> None:
    """The plan is parsed once per questionnaire, but its problems are worded for each visitor:
    a Kazakh page first must not leave the English and Russian pages in Kazakh."""
    from survey.instruments.models import InstrumentVersion

    version = db.session.get(InstrumentVersion, demo.id)
    bad_row = {"_row": "99", "sector": "health", "score": "9", "condition": "x = 1"}
    definition = dict(version.definition)
    definition["severity_rows"] = [*definition.get("severity_rows", ()), bad_row]
    # A new sha256: the parsed specs are cached per (id, sha256, version) for the process
    db.session.execute(
        update(InstrumentVersion)
        .where(InstrumentVersion.id == demo.id)
        .values(definition=definition, sha256="9" * 64)
    )
    db.session.commit()
    auth.login("coordinator")
    expected = {
        "kk": "«severity» парағы, 99-жол, «score» бағаны: 1-ден 5-ке дейінгі бүтін санды жазыңыз.",
        "en": "Sheet &#39;severity&#39;, row 99, column &#39;score&#39;: use a whole number "
        "from 1 to 5.",
        "ru": "Лист «severity», строка 99, столбец «score»: укажите целое число от 1 до 5.",
    }
    for lang, text in expected.items():
        html = client.get(f"/dashboard/?lang={lang}&demo=include").text
        assert text in html, lang
