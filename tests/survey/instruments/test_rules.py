"""The server's rules: relevance, calculations, required, choices, constraints, repeats."""

from __future__ import annotations

import datetime as dt

import pytest

from survey.instruments.rules import evaluate_answers, evaluation_order
from survey.instruments.xlsform import load_xlsform
from tests.factories import xlsform_bytes

CHOICES = [
    ["list_name", "name", "label", "region"],
    ["yn", "yes", "Yes", ""],
    ["yn", "no", "No", ""],
    ["region", "north", "North", ""],
    ["region", "south", "South", ""],
    ["district", "n1", "N1", "north"],
    ["district", "s1", "S1", "south"],
    ["fruit", "apple", "Apple", ""],
    ["fruit", "pear", "Pear", ""],
]
SURVEY = [
    [
        "type",
        "name",
        "label",
        "required",
        "relevant",
        "constraint",
        "constraint_message",
        "calculation",
        "choice_filter",
        "repeat_count",
        "required_message",
    ],
    ["begin_group", "s1", "One", "", "", "", "", "", "", "", ""],
    ["select_one yn", "consent", "Consent", "yes", "", "", "", "", "", "", "Say yes or no"],
    [
        "integer",
        "age",
        "Age",
        "yes",
        "${consent} = 'yes'",
        ". >= 18",
        "Adults only",
        "",
        "",
        "",
        "",
    ],
    ["calculate", "later_double", "", "", "", "", "", "${later} * 2", "", "", ""],
    ["end_group", "", "", "", "", "", "", "", "", "", ""],
    ["begin_group", "s2", "Two", "", "${consent} = 'yes'", "", "", "", "", "", ""],
    ["select_one region", "region", "Region", "", "", "", "", "", "", "", ""],
    [
        "select_one district",
        "district",
        "District",
        "",
        "",
        "",
        "",
        "",
        "region = ${region}",
        "",
        "",
    ],
    ["select_multiple fruit", "fruits", "Fruits", "", "", "", "", "", "", "", ""],
    ["integer", "later", "Later", "", "", "", "", "", "", "", ""],
    ["integer", "n", "How many", "", "", "", "", "", "", "", ""],
    ["begin_repeat", "member", "Member", "", "", "", "", "", "", "${n}", ""],
    ["integer", "member_age", "Age", "yes", "", ". < 130", "", "", "", "", ""],
    ["text", "member_note", "Note", "", "${member_age} > 60", "", "", "", "", "", ""],
    ["end_repeat", "", "", "", "", "", "", "", "", "", ""],
    [
        "calculate",
        "members_over_60",
        "",
        "",
        "",
        "",
        "",
        "count-selected(${fruits}) + count(${member})",
        "",
        "",
        "",
    ],
    ["end_group", "", "", "", "", "", "", "", "", "", ""],
]


@pytest.fixture(scope="module")
def spec():
    return load_xlsform(xlsform_bytes(SURVEY, CHOICES)).spec


def test_valid_answers_are_kept_and_calculations_recomputed(spec) -> None:
    raw = {
        "consent": "yes",
        "age": 70,
        "region": "north",
        "district": "n1",
        "fruits": ["apple", "pear"],
        "later": 4,
        "n": 2,
        "member": [{"member_age": 80, "member_note": "ok"}, {"member_age": 30}],
        "later_double": 999,  # forged: recomputed
    }
    outcome = evaluate_answers(spec, raw)
    assert outcome.errors == {}
    assert outcome.answers["later_double"] == 8  # depends on a later question
    assert outcome.answers["members_over_60"] == 4
    assert outcome.answers["member"] == [
        {"member_age": 80, "member_note": "ok"},
        {"member_age": 30},
    ]


def test_non_relevant_values_are_dropped(spec) -> None:
    outcome = evaluate_answers(
        spec, {"consent": "no", "age": 12, "region": "north", "member": [{"member_age": 3}]}
    )
    assert outcome.errors == {}
    assert outcome.answers == {"consent": "no"}


def test_note_inside_repeat_relevance_uses_sibling(spec) -> None:
    outcome = evaluate_answers(
        spec,
        {"consent": "yes", "age": 40, "n": 1, "member": [{"member_age": 20, "member_note": "x"}]},
    )
    assert outcome.answers["member"] == [{"member_age": 20}]


def test_required_and_constraint_messages(spec) -> None:
    outcome = evaluate_answers(spec, {"age": 12})
    assert outcome.errors == {"consent": ["Say yes or no"]}
    outcome = evaluate_answers(spec, {"consent": "yes", "age": 12})
    assert outcome.errors == {"age": ["Adults only"]}


def test_choice_filter_and_forged_codes(spec) -> None:
    base = {"consent": "yes", "age": 30, "region": "north"}
    assert evaluate_answers(spec, {**base, "district": "s1"}).errors == {
        "district": ["Choose one of the options shown."]
    }
    assert evaluate_answers(spec, {**base, "fruits": ["apple", "banana"]}).errors == {
        "fruits": ["Choose one of the options shown."]
    }


def test_repeat_count_sets_entries_and_keys(spec) -> None:
    outcome = evaluate_answers(spec, {"consent": "yes", "age": 30, "n": 2, "member": []})
    assert outcome.repeat_counts == {"member": 2}
    assert set(outcome.errors) == {"member-0-member_age", "member-1-member_age"}
    outcome = evaluate_answers(
        spec,
        {"consent": "yes", "age": 30, "n": 1, "member": [{"member_age": 1}, {"member_age": 2}]},
    )
    assert outcome.answers["member"] == [{"member_age": 1}]


def test_type_errors_only_count_when_relevant(spec) -> None:
    outcome = evaluate_answers(spec, {"consent": "no"}, type_errors={"age": "Not a number"})
    assert outcome.errors == {}
    outcome = evaluate_answers(spec, {"consent": "yes"}, type_errors={"age": "Not a number"})
    assert outcome.errors == {"age": ["Not a number"]}


def test_dates_compare_with_today() -> None:
    spec = load_xlsform(
        xlsform_bytes(
            [["type", "name", "label", "constraint"], ["date", "visit", "Visit", ". <= today()"]]
        )
    ).spec
    today = dt.date(2025, 3, 5)
    assert evaluate_answers(spec, {"visit": "2025-03-05"}, today=today).errors == {}
    assert evaluate_answers(spec, {"visit": "2025-03-06"}, today=today).errors == {
        "visit": ["This answer is not allowed."]
    }


def test_evaluation_order_puts_inputs_first(spec) -> None:
    names = [node.name for node in evaluation_order(spec)]
    assert names.index("later") < names.index("later_double")
    assert names.index("s1") < names.index("consent")
