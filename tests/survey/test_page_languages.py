"""Kazakh and Russian pages show no English interface text and no raw codes: every string of
the catalogue that a page shows in English, or a snake_case code, is a finding."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from survey.collection.models import Submission
from survey.demo import write_demo_data
from survey.extensions import db
from survey.reporting.sentences import GROUPS

# What a page says in each language does not depend on the database.
pytestmark = pytest.mark.sqlite_only

CATALOG = Path(__file__).resolve().parents[2] / "survey" / "translations" / "ru" / "LC_MESSAGES"
PAGES = {
    "volunteer": ["/", "/submissions", "/account/password"],
    "coordinator": [
        "/",
        "/review",
        "/review?status=all",
        "/withdrawal",
        "/admin/users",
        "/audit",
        "/submissions",
    ],
}
# snake_case, and the codes of a paper's filters: age groups ("18_39") and generations ("g1").
CODE = re.compile(r"\b(?:[a-z]+|\d+)(?:_[a-z0-9]+)+\b|\bg\d\b")
# A single English word or code: status words, True/False, one-word district codes.
WORD = re.compile(r"\b[A-Za-z][a-z]{2,}\b")


def english_phrases() -> list[str]:
    """The catalogue's English texts long enough to be unmistakably interface text."""
    with (CATALOG / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="ru")
    phrases = []
    for message in catalog:
        if message.string == message.id:
            continue  # a name kept in every language (ODK Collect)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for text in ids:
            if text and "%" not in text and "{" not in text and len(text.split()) >= 2:
                phrases.append(text)
    return phrases


def visible_text(page: str) -> str:
    """The text a person sees: no scripts, attributes' values or tags."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(page))


@pytest.fixture
def site(default_instrument: Any, survey_round: Any, create_user: Any) -> dict[str, list[str]]:
    """Demo interviews and an account per role; the pages each role opens."""
    write_demo_data(default_instrument, survey_round, 40, seed=4)
    for role in PAGES:
        create_user(role, role)
    submission = db.session.execute(select(Submission).limit(1)).scalar_one()
    return {
        "volunteer": PAGES["volunteer"],
        "coordinator": PAGES["coordinator"]
        + [f"/review/{submission.id}", f"/submissions/{submission.id}"],
    }


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_kazakh_and_russian_pages_show_no_english_and_no_codes(
    client: Any, auth: Any, site: dict[str, list[str]], default_instrument: Any, language: str
) -> None:
    # A questionnaire's form_id names it, like a username: not a code to translate.
    names = {default_instrument.instrument.form_id, *site}
    findings = []
    for role, paths in site.items():
        auth.login(role, role)
        client.get(f"/?lang={language}")
        findings += findings_on(client, paths, language, role, names)
        auth.logout()
    assert findings == [], "\n".join(findings)


# Names, not interface words: the language menu's own name for English, a paper size, products,
# a link's scheme, file formats, the test round's name.
NAMES_IN_LATIN = {"English", "Letter", "Markdown", "ODK", "Collect", "https", "xlsx", "csv"}
NAMES_IN_LATIN |= {"Test", "round"}
# A UN working paper keeps these in English in every language ("Distr.: General",
# "Original: Russian").
UN_MARKINGS = {"Distr", "General", "Original", "Russian", "Kazakh", "English"}
DASHBOARD_PAGES = [
    "/dashboard/",
    "/dashboard/needs",
    "/dashboard/indicators",
    "/dashboard/questions",
    "/dashboard/quality",
]
REPORT_PAGES = ["/reports/", "/reports/history", "/reports/preview"]
REPORT_FORM = {
    "title": "Доклад",
    "submitted_by": "Қазақ жастары",
    "date": "2026-12-01",
    "paper_size": "A4",
    "review_statuses": ["approved", "pending"],
    "include_demo": "y",
    "max_quotes": "5",
}


def findings_on(
    client: Any, paths: list[str], language: str, who: str, names: set[str]
) -> list[str]:
    """Each page's English catalogue phrases and raw codes, as findings."""
    phrases = english_phrases()
    findings = []
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, (who, path)
        text = visible_text(response.text)
        english = [p for p in phrases if p in text]
        codes = sorted(set(CODE.findall(text)) - names)
        allowed = {*" ".join(names).split(), *NAMES_IN_LATIN}
        if path == "/reports/preview":
            allowed |= UN_MARKINGS
        words = sorted(set(WORD.findall(text)) - allowed)
        if english or codes or words:
            findings.append(f"{language} {who} {path}: {english[:5]} {codes[:8]} {words}")
    return findings


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_dashboards_and_report_pages_show_no_english_and_no_codes(
    client: Any,
    auth: Any,
    site: dict[str, list[str]],  # demo interviews and a coordinator
    create_user: Any,
    default_instrument: Any,
    language: str,
) -> None:
    """The coordinator's dashboards, the quotes to approve, and the report screens: settings,
    the preview of a paper in the page's language, and the history of generated ones: an
    advocate's, cut to one group, and a coordinator's, crossing groups; their filters labelled."""
    create_user("advocate", "advocate")
    names = {default_instrument.instrument.form_id, "coordinator", "advocate"}
    findings = []
    auth.login("advocate", "advocate")
    client.get(f"/?lang={language}")
    for action, filters in (("preview", {}), ("generate", {"age_bands": ["60_74"]})):
        response = client.post(
            "/reports/", data={**REPORT_FORM, **filters, "language": language, "action": action}
        )
        assert response.status_code in (200, 302), form_errors(response.text)
    findings += findings_on(client, REPORT_PAGES, language, "advocate", names)
    auth.logout()
    auth.login("coordinator", "coordinator")
    client.get(f"/?lang={language}")
    crossed = {"generations": ["g1", "g2"], "sexes": ["female"]}
    response = client.post(
        "/reports/", data={**REPORT_FORM, **crossed, "language": language, "action": "generate"}
    )
    assert response.status_code == 302, form_errors(response.text)
    findings += findings_on(
        # The demo interviews are the data here: coordinators leave them out by default.
        client,
        [
            *(f"{path}?demo=include" for path in DASHBOARD_PAGES),
            "/reports/quotes",
            "/reports/history",
        ],
        language,
        "coordinator",
        names,
    )
    history = visible_text(client.get("/reports/history").text)
    # Each filter printed, labelled: the groups as the paper names them, sex as the
    # questionnaire does (choices.csv).
    female = {"kk": "Әйел", "ru": "Женский"}[language]
    for label in (GROUPS["age_band"]["60_74"][language], GROUPS["generation"]["g2"][language]):
        assert label in history
    assert re.search(rf"\b{female}\b", history)
    auth.logout()
    assert findings == [], "\n".join(findings)


def form_errors(page: str) -> list[str]:
    """What a settings page says is wrong, for a failing assertion's message."""
    return re.findall(r'class="error[^"]*"[^>]*>\s*(?:<p>)?([^<]+)', page)
