"""The interview form reads WTForms' own messages once per language, and gives the same
translations Flask-WTF would read again on every request."""

from __future__ import annotations

import pytest
from flask_wtf.i18n import translations as flask_wtf_translations

from survey.collection.forms import SubmissionForm

MESSAGES = ["Not a valid integer value.", "This field is required.", "Invalid CSRF token."]


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_wtforms_messages_follow_the_request_language(app, language) -> None:
    seen = []
    for _ in range(2):
        with app.test_request_context(f"/?lang={language}", headers={"Accept-Language": language}):
            app.preprocess_request()  # remembers ?lang= as a page view does
            form = SubmissionForm(meta={"csrf": False})
            ours = form.meta.get_translations(form)
            seen.append(ours)
            for message in MESSAGES:
                assert ours.gettext(message) == flask_wtf_translations.gettext(message)
            if language == "ru":
                assert ours.gettext(MESSAGES[0]) == "Неверное целое число."
    assert seen[0] is seen[1]  # read once


def test_outside_a_request_the_messages_stay_in_english(app) -> None:
    form = SubmissionForm(meta={"csrf": False})
    translations = form.meta.get_translations(form)
    assert translations.gettext(MESSAGES[0]) == MESSAGES[0]
