"""Report settings: the one check shared by the form, the TOML file and the history."""

from __future__ import annotations

import datetime as dt
import re
import string

import pytest

from survey.reporting import sentences
from survey.reporting.content import as_list
from survey.reporting.settings import (
    DEFAULT_REVIEW_STATUSES,
    ReportSettings,
    SettingsError,
    settings_from_mapping,
)

MINIMAL = {"title": "Needs of survivors", "submitted_by": "Coalition"}


def test_minimal_settings_take_defaults() -> None:
    settings = settings_from_mapping(MINIMAL, today=dt.date(2025, 3, 3))
    assert settings.date == dt.date(2025, 3, 3)
    assert settings.language == "en" and settings.paper_size == "A4"
    assert settings.review_statuses == DEFAULT_REVIEW_STATUSES
    assert settings.is_draft and not settings.include_demo and not settings.include_annex


@pytest.mark.parametrize(
    "symbol",
    ["TPNW/MSP/2025/NGO/23", "A/CONF.229/2017/NGO/1", "tpnw/msp/2026/wp/4", "CCW/MSP/2024-1/2"],
)
def test_well_formed_symbols(symbol: str) -> None:
    assert settings_from_mapping({**MINIMAL, "symbol": symbol}).symbol == symbol


@pytest.mark.parametrize(
    "symbol",
    ["TPNW", "TPNW//MSP", "TPNW/MSP/", "/TPNW/MSP", "TPNW MSP/2025", "<b>/x", "TPNW/MSP\n/2025"],
)
def test_malformed_symbols_are_refused_with_an_example(symbol: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from_mapping({**MINIMAL, "symbol": symbol})
    assert "symbol" in caught.value.problems
    assert "TPNW/MSP/2025/NGO/23" in str(caught.value.problems["symbol"])


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from_mapping(
            {
                "language": "de",
                "paper_size": "A3",
                "date": "3 March",
                "review_statuses": ["published"],
                "max_quotes": 99,
                "include_annex": "perhaps",
                "districts": ["semey city"],
                "colour": "blue",
            }
        )
    assert set(caught.value.problems) == {
        "title",
        "submitted_by",
        "language",
        "paper_size",
        "date",
        "review_statuses",
        "max_quotes",
        "include_annex",
        "districts",
        "colour",
    }
    assert "not a report setting" in str(caught.value.problems["colour"])


def test_defaults_fill_only_missing_keys() -> None:
    settings = settings_from_mapping(
        {"title": "T"}, defaults={"submitted_by": "Configured", "title": "ignored"}
    )
    assert (settings.title, settings.submitted_by) == ("T", "Configured")


def test_json_round_trip() -> None:
    settings = settings_from_mapping(
        {
            **MINIMAL,
            "symbol": "TPNW/MSP/2025/NGO/23",
            "date": dt.date(2025, 3, 3),
            "language": "kk",
            "rounds": ["2025"],
            "generations": "g1, g2",
            "introduction": "Line one.\n\nLine two.",
        }
    )
    assert settings.generations == ("g1", "g2")
    assert ReportSettings.from_json(settings.to_json()) == settings


def test_lines_become_lettered_items_unless_already_a_list() -> None:
    assert as_list("Fund screening\n\nShare data\n") == "- Fund screening\n- Share data"
    listed = "- one;\n- two."
    assert as_list(listed) == listed
    assert as_list("1. one\n2. two") == "1. one\n2. two"


def test_russian_genitive_after_numbers() -> None:
    texts = sentences.TEXT["ru"]
    assert sentences.russian_units("units.respondent", 21, texts).startswith("респондента,")
    assert sentences.russian_units("units.respondent", 11, texts).startswith("респондентов,")
    assert sentences.russian_units("units.respondent", 473, texts).startswith("респондентов,")


def test_every_language_has_every_sentence_with_the_same_placeholders() -> None:
    english = sentences.TEXT["en"]
    for language in ("ru", "kk"):
        texts = sentences.TEXT[language]
        assert set(english) - set(texts) == set(), language
        for key, text in texts.items():
            allowed = set(_fields(english.get(key, ""))) | {"respondents"}
            assert set(_fields(text)) <= allowed, (language, key)


def test_kazakh_text_uses_the_cyrillic_letter_i() -> None:
    meetings = [texts["kk"] for _last_day, texts in sentences.MEETINGS]
    for table in (sentences.TEXT["kk"], *_kazakh_labels(), *meetings, sentences.NEXT_MEETING["kk"]):
        for text in table.values():
            assert not re.search(r"[iI]", re.sub(r"\{\w+\}|JIAF", "", text)), text


def _kazakh_labels() -> list[dict[str, str]]:
    groups = [
        {code: labels["kk"] for code, labels in codes.items()}
        for codes in sentences.GROUPS.values()
    ]
    return [*groups, {k: v["kk"] for k, v in sentences.THEMES.items()}]


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]
