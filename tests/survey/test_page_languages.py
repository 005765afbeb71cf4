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
CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


def english_phrases() -> list[str]:
    """The catalogue's English texts long enough to be unmistakably interface text."""
    with (CATALOG / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="ru")
    phrases = []
    for message in catalog:
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
    phrases = english_phrases()
    # A questionnaire's form_id names it, like a username: not a code to translate.
    names = {default_instrument.instrument.form_id}
    findings = []
    for role, paths in site.items():
        auth.login(role, role)
        client.get(f"/?lang={language}")
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (role, path)
            text = visible_text(response.text)
            english = [p for p in phrases if p in text]
            codes = sorted(set(CODE.findall(text)) - names)
            if english or codes:
                findings.append(f"{language} {role} {path}: {english[:5]} {codes[:8]}")
        auth.logout()
    assert findings == [], "\n".join(findings)
