"""required and read_only given as expressions (issue 9): enforced by the server (rules.py) as ODK
evaluates them, and by the page with the browser's evaluator, which must agree."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest

from survey.instruments import expressions as ex
from survey.instruments.rules import evaluate_answers
from survey.instruments.xlsform import load_xlsform
from tests.factories import xlsform_bytes
from tests.survey.instruments.test_expressions_js import TODAY, assert_agree, node_eval

__all__ = ["node_eval"]  # the fixture, used by name below

pytestmark = pytest.mark.sqlite_only

SURVEY = [
    ["type", "name", "label", "required", "read_only", "calculation", "default"],
    ["select_one yn", "has_phone", "Has a phone?", "yes", "", "", ""],
    ["text", "operator", "Operator", "${has_phone} = 'yes'", "", "", ""],
    ["integer", "age", "Age", "", "", "", ""],
    ["text", "group", "Age group", "", "${age} != ''", "if(${age} < 18, 'child', 'adult')", ""],
    ["text", "source", "Source", "", "yes", "", "survey"],
    ["text", "note_typed", "Typed", "", "", "", ""],
]
CHOICES = [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]]
SETTINGS = {"form_id": "conditions", "version": "1"}


@pytest.fixture
def spec(app):
    return load_xlsform(xlsform_bytes(SURVEY, CHOICES, SETTINGS)).spec


def test_conditions_are_read_as_expressions_without_a_warning(app) -> None:
    imported = load_xlsform(xlsform_bytes(SURVEY, CHOICES, SETTINGS))
    questions = imported.spec.questions_by_name
    assert questions["operator"].required_if == "${has_phone} = 'yes'"
    assert not questions["operator"].required
    assert questions["group"].read_only_if == "${age} != ''"
    assert questions["source"].read_only and questions["source"].read_only_if is None
    assert not [w for w in imported.warnings if "treated as no" in w], imported.warnings


def test_an_expression_our_engine_cannot_read_is_kept_out_with_a_warning(app) -> None:
    # pyxform does not parse expressions; ODK's engine loads such a form and reads the cell
    # only when the question is shown, so it is not refused for it.
    survey = [["type", "name", "label", "required"], ["text", "a", "A", ""]]
    survey.append(["decimal", "b", "B", "${a} ! 'dead'"])
    imported = load_xlsform(xlsform_bytes(survey, None, SETTINGS))
    assert imported.spec.questions_by_name["b"].required_if is None
    assert any(
        "row 3, column 'required'" in w and "'b' is treated as no" in w for w in imported.warnings
    ), imported.warnings


def test_required_holds_only_while_its_expression_does(spec) -> None:
    missing = evaluate_answers(spec, {"has_phone": "yes"})
    assert list(missing.errors) == ["operator"]
    assert evaluate_answers(spec, {"has_phone": "no"}).ok
    assert evaluate_answers(spec, {"has_phone": "yes", "operator": "Beeline"}).ok


def test_a_condition_on_a_later_question_is_evaluated_after_it(app) -> None:
    survey = [
        ["type", "name", "label", "required", "read_only", "calculation"],
        ["text", "reason", "Why not?", "${answer} = 'no'", "", ""],
        ["text", "shown", "Shown", "", "${locked} = 'yes'", "'fixed'"],
        ["select_one yn", "answer", "Answer", "", "", ""],
        ["calculate", "locked", "", "", "", "if(${answer} = 'no', 'yes', 'no')"],
    ]
    spec = load_xlsform(xlsform_bytes(survey, CHOICES, SETTINGS)).spec
    outcome = evaluate_answers(spec, {"answer": "no", "shown": "typed"})
    assert list(outcome.errors) == ["reason"]
    assert outcome.answers["shown"] == "fixed"


def test_a_read_only_question_keeps_the_forms_value_not_a_typed_one(spec) -> None:
    typed = {"has_phone": "no", "age": 12, "group": "typed", "source": "typed"}
    outcome = evaluate_answers(spec, typed)
    assert outcome.ok, outcome.errors
    assert outcome.answers["group"] == "child"  # read-only now: its calculation
    assert outcome.answers["source"] == "survey"  # always read-only: its fixed default
    # Without an age the group is not read-only: the volunteer's answer stands.
    outcome = evaluate_answers(spec, {"has_phone": "no", "group": "elder"})
    assert outcome.answers["group"] == "elder"


def test_the_page_gets_the_conditions_and_the_server_enforces_them(
    client, auth, create_instrument, survey_round
) -> None:
    version = create_instrument(xlsform_bytes(SURVEY, CHOICES, SETTINGS))
    auth.login("volunteer")
    page = client.get(f"/collect/v/{version.id}").text
    model = re.search(r'id="form-model"[^>]*>(.*?)</script>', page, re.S).group(1)
    assert '"requiredIf"' in model and '"readOnlyIf"' in model and '"readOnly": true' in model
    # Without script too, a question that is always read-only cannot be typed in.
    assert re.search(r'<input name="source"[^>]*value="survey"[^>]*readonly>', page)
    data = {"_instance_id": f"uuid:{uuid.uuid4()}", "_started_at": "2025-01-10T09:00:00Z"}
    refused = client.post(f"/collect/v/{version.id}", data={**data, "has_phone": "yes"})
    assert refused.status_code == 422
    assert 'data-error-for="operator"' in refused.text


CONDITION_ANSWERS = [
    {"has_phone": "yes"},
    {"has_phone": "no"},
    {},
    {"age": 12.0},
    {"age": 40.0, "has_phone": "yes"},
]


def test_the_browser_and_the_server_agree_on_the_conditions(spec, node_eval) -> None:
    cases = []
    for question in spec.iter_questions():
        for text in (question.required_if, question.read_only_if):
            if not text:
                continue
            node = ex.parse(text)
            for answers in CONDITION_ANSWERS:
                context = ex.EvalContext(lookup=answers.get, today=dt.date.fromisoformat(TODAY))
                expected = ex.value_to_json(ex.evaluate_bool(node, context))
                case = {
                    "ast": ex.to_json(node),
                    "values": {k: ex.value_to_json(v) for k, v in answers.items()},
                    "today": TODAY,
                }
                cases.append((f"{question.name}: {text} {answers}", case, expected))
    assert len(cases) == 10
    assert_agree(cases, node_eval)


def test_a_conditionally_read_only_question_keeps_what_was_typed(app) -> None:
    # ODK's read_only stops editing, not the value: typed before the condition held, it stays.
    survey = [
        ["type", "name", "label", "read_only", "default"],
        ["select_one yn", "confirmed", "Confirmed?", "", ""],
        ["text", "obs", "Observation", "${confirmed} = 'yes'", ""],
        ["integer", "visits", "Visits", "yes", ""],
        ["date", "seen", "Seen on", "yes", "today()"],
    ]
    spec = load_xlsform(xlsform_bytes(survey, CHOICES, SETTINGS)).spec
    typed = {"confirmed": "yes", "obs": "cracked wall", "visits": 3, "seen": "2026-12-01"}
    outcome = evaluate_answers(spec, typed)
    assert outcome.ok, outcome.errors
    # Always read-only without a default, visits never had a value to keep.
    assert outcome.answers == {"confirmed": "yes", "obs": "cracked wall", "seen": "2026-12-01"}
    assert evaluate_answers(spec, {**typed, "confirmed": "no"}).answers["obs"] == "cracked wall"


READ_ONLY_ANSWERS = [{}, {"age": 9.0}, {"age": 18.0}, {"age": 40.0, "group": "typed"}]


def test_the_browser_and_the_server_agree_on_a_read_only_calculation(spec, node_eval) -> None:
    # form.js shows the calculation of a read-only question, which rules.py stores.
    group = spec.questions_by_name["group"]
    node = ex.parse(group.calculation)
    cases = []
    for answers in READ_ONLY_ANSWERS:
        stored = evaluate_answers(spec, {"has_phone": "no", **answers}).answers.get("group")
        if "age" not in answers:  # not read-only then: what was typed, nothing here
            assert stored is None
            continue
        case = {
            "ast": ex.to_json(node),
            "values": {k: ex.value_to_json(v) for k, v in answers.items()},
            "today": TODAY,
        }
        cases.append((f"group {answers}", case, stored))
    assert [expected for _, _, expected in cases] == ["child", "adult", "adult"]
    assert_agree(cases, node_eval)


def test_a_read_only_calculation_with_once_keeps_the_value_the_page_showed(app) -> None:
    survey = [
        ["type", "name", "label", "read_only", "calculation"],
        ["text", "code", "Code", "yes", "once(uuid())"],
    ]
    spec = load_xlsform(xlsform_bytes(survey, None, SETTINGS)).spec
    assert evaluate_answers(spec, {"code": "shown-on-page"}).answers == {"code": "shown-on-page"}
    assert len(evaluate_answers(spec, {}).answers["code"]) == 36
