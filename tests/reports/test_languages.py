"""The languages, defined once."""

from __future__ import annotations


def test_the_language_type_names_every_language() -> None:
    from typing import get_args

    from reports import languages

    assert set(get_args(languages.Language)) == set(languages.LANGUAGES)
    assert set(languages.LANGUAGE_NAMES) == set(languages.LANGUAGES)
    assert languages.PAPER_LANGUAGES == ("en", "ru", "kk")
