"""ODK functions in a whole form: the importer checks their targets, and the server's rules give
them repeat positions, every entry's answers, the choice lists and their labels."""

from __future__ import annotations

import datetime as dt

import pytest

from survey.instruments import piping
from survey.instruments.rules import evaluate_answers, text_context
from survey.instruments.xlsform import InstrumentImportError, load_xlsform
from tests.factories import xlsform_bytes

SURVEY = [
    ["type", "name", "label", "calculation", "constraint", "constraint_message", "relevant"],
    ["select_one fruit", "favourite", "Favourite fruit of ${who}"],
    ["text", "who", "Who answers?"],
    ["calculate", "favourite_label", "", "jr:choice-name(${favourite}, '${favourite}')"],
    ["calculate", "colour", "", "instance('fruit')/root/item[name = ${favourite}]/colour"],
    ["calculate", "reds", "", "count(instance('fruit')/root/item[colour = 'red'])"],
    ["begin_repeat", "member", "Member"],
    ["calculate", "number", "", "position(..)"],
    ["integer", "member_age", "Age of member <output value=\"position(..)\"/>", "",
     ". < 130", "${who}: member ${number} cannot be ${member_age}"],
    ["end_repeat"],
    ["calculate", "adults", "", "count(${member_age}[. >= 18])"],
    ["calculate", "second_age", "", "indexed-repeat(${member_age}, ${member}, 2)"],
    ["calculate", "oldest", "", "max(${member_age})"],
    ["calculate", "stamp", "", "format-date(date('2024-03-01'), '%e %b %Y')"],
    ["note", "summary", "${who}: ${adults} adults; favourite ${favourite_label}"],
    ["text", "hidden", "Never asked", "", "", "", "FALSE"],
]  # fmt: skip
CHOICES = [
    ["list_name", "name", "label", "colour"],
    ["fruit", "apple", "Apple", "red"],
    ["fruit", "banana", "Banana", "yellow"],
    ["fruit", "cherry", "Cherry", "red"],
]


@pytest.fixture(scope="module")
def spec():
    return load_xlsform(xlsform_bytes(SURVEY, CHOICES)).spec


def test_repeat_positions_entries_and_choice_lists(spec) -> None:
    raw = {
        "favourite": "banana",
        "who": "Ann",
        "hidden": "ignored",
        "member": [{"member_age": 40}, {"member_age": 12}, {"member_age": 70}],
    }
    outcome = evaluate_answers(spec, raw)
    assert outcome.errors == {}
    answers = outcome.answers
    assert [e["number"] for e in answers["member"]] == [1, 2, 3]
    assert answers["adults"] == 2
    assert answers["second_age"] == 12
    assert answers["oldest"] == 70
    assert answers["favourite_label"] == "Banana"
    assert answers["colour"] == "yellow"
    assert answers["reds"] == 2
    assert answers["stamp"] == "1 Mar 2024"
    assert "hidden" not in answers  # relevant FALSE: never relevant, as in ODK


def test_messages_show_the_answers(spec) -> None:
    raw = {"who": "Ann", "member": [{"member_age": 40}, {"member_age": 200}]}
    outcome = evaluate_answers(spec, raw)
    assert outcome.errors == {"member-1-member_age": ["Ann: member 2 cannot be 200"]}


def test_texts_are_filled_from_the_answers_and_entries(spec) -> None:
    answers = evaluate_answers(
        spec, {"who": "Ann", "favourite": "apple", "member": [{"member_age": 30}]}
    ).answers
    top = text_context(spec, answers, "default", dt.date(2024, 3, 1))
    summary = spec.questions_by_name["summary"]
    assert piping.fill(spec.label(summary.labels, "default"), top) == (
        "Ann: 1 adults; favourite Apple"
    )
    age = spec.questions_by_name["member_age"]
    entry = text_context(spec, answers, "default", top.today, "member", 0)
    assert piping.fill(spec.label(age.labels, "default"), entry) == "Age of member 1"


@pytest.mark.parametrize(
    ("calculation", "fragment"),
    [
        ("instance('nolist')/root/item/label", "instance('nolist') reads a choice list that is"),
        ("jr:choice-name('a', '${who}')", "jr:choice-name() needs a select question, and 'who'"),
        ("indexed-repeat(${who}, ${who}, 1, ${who})", "for each repeat level"),
    ],
)
def test_refusals_name_the_cell(calculation: str, fragment: str) -> None:
    rows = [
        ["type", "name", "label", "calculation"],
        ["text", "who", "Who?", ""],
        ["calculate", "c", "", calculation],
    ]
    with pytest.raises(InstrumentImportError) as caught:
        load_xlsform(xlsform_bytes(rows, CHOICES))
    assert any(
        "Sheet 'survey', row 3, column 'calculation'" in p and fragment in p
        for p in caught.value.problems
    ), caught.value.problems


def test_demo_answers_follow_positions_entries_and_choice_lists(spec) -> None:
    """The demo walker gives these expressions the same context as the rules (not memoised)."""
    import random

    from survey.demo.walker import DemoProfile, generate_answers

    class Everything(DemoProfile):
        skip_optional = 0.0
        dnk = 0.0
        pnta = 0.0

        def entries(self, repeat, state) -> int:
            return 3

    answers = generate_answers(spec, random.Random(4), profile=Everything())
    assert [e["number"] for e in answers["member"]] == [1, 2, 3]
    assert answers["second_age"] == answers["member"][1]["member_age"]
    assert (
        answers["favourite_label"]
        == {"apple": "Apple", "banana": "Banana", "cherry": "Cherry"}[answers["favourite"]]
    )
    assert evaluate_answers(spec, answers).answers == answers


@pytest.mark.parametrize(
    ("label", "fragment"),
    [
        ('Next year: <output value="${who} +"/>', "column 'label': Unexpected end of expression"),
        ("<output value='/data/nobody'/>", "'nobody' is not the name of a question"),
        ("<output value=\"instance('x')/root/item/label\"/>", "instance('x') reads a choice list"),
    ],
)
def test_outputs_in_labels_are_checked(label: str, fragment: str) -> None:
    rows = [["type", "name", "label"], ["text", "who", "Who?"], ["note", "n", label]]
    with pytest.raises(InstrumentImportError) as caught:
        load_xlsform(xlsform_bytes(rows, CHOICES))
    assert any("row 3" in p and fragment in p for p in caught.value.problems), caught.value.problems


def test_bare_names_import_with_a_warning_and_read_as_empty() -> None:
    rows = [
        ["type", "name", "label", "relevant", "calculation"],
        ["integer", "age", "Age", "", ""],
        ["text", "never", "Never asked", "FALSE", ""],
        ["calculate", "c", "", "", "concat(null, 'x')"],
        ["text", "adult", "Adult?", "age > 17", ""],
    ]
    imported = load_xlsform(xlsform_bytes(rows))
    warnings = " ".join(imported.warnings)
    assert "row 3, column 'relevant': 'FALSE' without ${…} is read as ODK reads it" in warnings
    assert "row 4, column 'calculation': 'null' without ${…}" in warnings
    assert "Write ${age} for the answer of a question" in warnings
    outcome = evaluate_answers(imported.spec, {"age": 40, "never": "x", "adult": "y"})
    assert outcome.answers == {"age": 40, "c": "x"}
