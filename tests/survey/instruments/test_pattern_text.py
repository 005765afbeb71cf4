"""Text drawn from regex() constraints (pattern_text), checked with the server's own regex()."""

from __future__ import annotations

from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.instruments.expressions import regex_matches
from survey.instruments.pattern_text import (
    REPEAT_CAP,
    asks_for_phone_number,
    constraint_patterns,
    text_matching,
)
from survey.instruments.registry import clean_text
from survey.instruments.spec import Question

pytestmark = pytest.mark.sqlite_only

# Every regex() pattern of the corpus (grep regex( in tests/survey/instruments/corpus) that the
# server accepts; two more are refused at import ('{3}+', '\-'), so no answer can match them.
CORPUS_PATTERNS = {
    # pyxform/bug_example_xls/UCL_Biomass_Plot_Form.xlsx (a phone number)
    r"^(([0-9]{1})*[- .(]*([0-9]{3})[- .)]*[0-9]{3}[- .]*[0-9]{4})+$",
    # odk-web-forms/philsa-disaster-incidence-v20240917.xlsx
    r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-zA-Z]{2,4}$",
    r"^[A-Za-z]{0,6}$",
    r"^\(?[0-9]{3}\)?-?[0-9]{3}-?[0-9]{4}$",
    # pyxform/example_xls/xlsform_spec_test.xlsx and three more pyxform examples
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,4}",
    # reach/cleaningtools_form.xlsx
    r"^[0]{1}[0-9]{10}$",
    # unhcr-koboloader/XLSform_template.xlsx
    r"^[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]$",
}
# Constructs the translation to RE2 makes (\s as a class, '.' without line ends, \u escapes).
SYNTAX_PATTERNS = {r"^\S+\s\S+$", r"^.{3}$", r"^\u0430+[0-9]?$", r"^(?:ab|cd)*x\b", r"\\x{2}"}


@settings(max_examples=200, deadline=None)
@given(pattern=st.sampled_from(sorted(CORPUS_PATTERNS | SYNTAX_PATTERNS)), seed=st.integers())
def test_drawn_text_matches_the_pattern_as_the_server_checks_it(pattern: str, seed: int) -> None:
    text = text_matching((pattern,), Random(seed))
    assert text is not None
    assert regex_matches(text, pattern)
    assert clean_text(text) == text  # the web form stores it as drawn


@given(seed=st.integers())
def test_every_pattern_of_a_constraint_is_matched(seed: int) -> None:
    patterns = (r"^[0-9a-f]{2,8}$", r"^[0-9]")
    text = text_matching(patterns, Random(seed))
    assert text is not None and all(regex_matches(text, p) for p in patterns)


def test_open_repetitions_are_capped() -> None:
    rng = Random(3)
    lengths = {len(text_matching((r"^a+$",), rng) or "") for _ in range(200)}
    assert lengths == set(range(1, 2 + REPEAT_CAP))
    assert text_matching((r"^a{5}b*$",), Random(1), cap=0) == "aaaaa"


def test_no_text_rather_than_a_wrong_one() -> None:
    assert text_matching((r"^(?=a)a$",), Random(1)) is None  # refused at import: a lookahead
    assert text_matching((r"^\s+$",), Random(1)) is None  # the form would trim it to nothing
    assert text_matching((r"^[0-9]+$", r"^[a-z]+$"), Random(1)) is None  # contradictory
    assert text_matching((), Random(1)) is None


def question(constraint: str, name: str = "code", label: str = "Code") -> Question:
    return Question(name=name, type="text", labels={"en": label}, constraint=constraint)


def test_constraint_patterns_are_regex_calls_on_the_answer_or_its_and_terms() -> None:
    assert constraint_patterns(question("regex(., '^a$')")) == ("^a$",)
    assert constraint_patterns(
        question("string-length(.) < 9 and regex(${code}, '^b') and regex(., 'c$')")
    ) == ("^b", "c$")
    assert constraint_patterns(question("regex(., '^a$') or . = 'x'")) == ()
    assert constraint_patterns(question("regex(${other}, '^a$')")) == ()
    assert constraint_patterns(Question(name="n", type="integer", constraint="regex(., '1')")) == ()


@pytest.mark.parametrize(
    ("q", "asks"),
    [
        (question("", "leader_number", "Your Phone Number"), True),
        (question("", "tel_no", ""), True),
        (question("", "q1", "Ұялы телефон нөмірі"), True),
        (question("", "hotel", "Hotel name"), False),
        (question("regex(., '^[0]{1}[0-9]{10}$')", "x", "Number"), True),
        (question("regex(., '^\\(?[0-9]{3}\\)?-?[0-9]{3}-?[0-9]{4}$')", "x", "Contact"), True),
        (question("regex(., '^[0-9]+$')", "x", "Count"), False),
        (question("regex(., '^[A-Z]{3}-[0-9]{7}$')", "x", "Code"), False),
    ],
)
def test_questions_that_ask_for_a_phone_number(q: Question, asks: bool) -> None:
    assert asks_for_phone_number(q) is asks
