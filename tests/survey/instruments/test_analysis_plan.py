"""The analysis sheet of an XLSForm: read into a plan, or refused with its sheet, row, column."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from survey.instruments.analysis_plan import build_plan, sector_labels
from survey.instruments.services import DEFAULT_INSTRUMENT
from survey.instruments.xlsform import InstrumentImportError, load_xlsform
from tests.factories import xlsform_bytes

SURVEY = [
    ["type", "name", "label"],
    ["select_one yn", "unmet", "Unmet need?"],
    ["select_one sex", "sex", "Sex"],
    ["select_multiple cond", "conditions", "Conditions"],
    ["integer", "age", "Age"],
]
CHOICES = [
    ["list_name", "name", "label"],
    ["yn", "yes", "Yes"],
    ["yn", "no", "No"],
    ["yn", "dnk", "Don't know"],
    ["sex", "female", "Female"],
    ["sex", "male", "Male"],
    ["cond", "cancer", "Cancer"],
    ["cond", "none", "None"],
]


def with_plan(analysis: list[list[str]], severity: list[list[str]] | None = None) -> bytes:
    workbook = load_workbook(io.BytesIO(xlsform_bytes(SURVEY, CHOICES)))
    sheet = workbook.create_sheet("analysis")
    for row in analysis:
        sheet.append(row)
    if severity:
        rules = workbook.create_sheet("severity")
        for row in severity:
            rules.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


HEAD = ["id", "type", "label::English (en)", "numerator", "answered", "column", "disaggregations"]


def test_plan_is_read() -> None:
    data = with_plan(
        [
            HEAD,
            ["unmet", "proportion", "Unmet need", "unmet in (yes)", "unmet", "", "sex"],
            ["cancer", "proportion", "Cancer", "conditions in (cancer)", "conditions", "", ""],
            ["age", "mean", "Mean age", "", "", "age", "sex"],
            ["health", "severity", "Health severity", "", "", "health", ""],
        ],
        [
            ["sector", "score", "condition", "label::English (en)"],
            ["health", "3", "unmet in (yes)", "Health"],
        ],
    )
    spec = load_xlsform(data).spec
    plan, problems = build_plan(spec)
    assert problems == []
    assert [i.id for i in plan.indicators] == ["unmet", "cancer", "age", "health"]
    assert plan.indicators[0].labels == {"en": "Unmet need"}
    assert plan.indicators[0].numerator == {"column": "unmet", "in": ["yes"]}
    assert plan.severity_rules["health"][0][0] == 3
    assert sector_labels(spec) == {"health": {"en": "Health"}}


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        (
            ["x", "proportion", "X", "nothere in (yes)", "", "", ""],
            "uses 'nothere', which is not a question",
        ),
        (
            ["x", "proportion", "X", "unmet in (yes", "", "", ""],
            "Sheet 'analysis', row 2, column 'numerator'",
        ),
        (
            ["x", "pie", "X", "", "", "", ""],
            "Sheet 'analysis', row 2: Indicator 'x': unknown kind 'pie'",
        ),
        (["x", "mean", "X", "", "", "age", "region"], "uses 'region', which is not a question"),
        (["x", "severity", "X", "", "", "housing", ""], "no severity rules for sector 'housing'"),
    ],
)
def test_bad_plans_are_refused(row: list[str], fragment: str) -> None:
    with pytest.raises(InstrumentImportError) as caught:
        load_xlsform(with_plan([HEAD, row]))
    assert any(fragment in p for p in caught.value.problems), caught.value.problems


NESTED_SURVEY = [
    ["type", "name", "label"],
    ["integer", "size", "Household size"],
    ["begin_repeat", "member", "Member"],
    ["integer", "age", "Age"],
    ["begin_repeat", "illness", "Illness"],
    ["select_one yn", "treated", "Treated?"],
    ["end_repeat", "", ""],
    ["end_repeat", "", ""],
]


def test_a_repeat_inside_the_roster_is_a_unit_and_other_units_are_refused() -> None:
    workbook = load_workbook(io.BytesIO(xlsform_bytes(NESTED_SURVEY, CHOICES)))
    sheet = workbook.create_sheet("analysis")
    for row in (
        ["id", "type", "numerator", "answered", "unit"],
        ["treated", "proportion", "treated in (yes)", "treated", "illness"],
        ["ages", "proportion", "age > 60", "age", "member"],
        ["visits", "proportion", "treated in (yes)", "treated", "visit"],
        ["old", "proportion", "age > 60", "treated", "illness"],
    ):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(InstrumentImportError) as caught:
        load_xlsform(buffer.getvalue())
    assert caught.value.problems == [
        "Sheet 'analysis', row 4, column 'unit': indicator 'visits' has unit 'visit': use "
        "respondent, member, household or the name of a repeat of this form.",
        "Sheet 'analysis', row 5: indicator 'old' counts entries of 'illness' but uses 'age', "
        "which is not a question of that repeat.",
    ]


def test_bad_severity_rules_are_refused() -> None:
    with pytest.raises(InstrumentImportError) as caught:
        load_xlsform(
            with_plan(
                [HEAD],
                [["sector", "score", "condition"], ["health", "9", "unmet in (yes)"]],
            )
        )
    assert caught.value.problems == [
        "Sheet 'severity', row 2, column 'score': use a whole number from 1 to 5."
    ]


def test_forms_without_a_plan_get_automatic_tables() -> None:
    plan, problems = build_plan(load_xlsform(xlsform_bytes(SURVEY, CHOICES)).spec)
    assert problems == []
    assert {i.column for i in plan.indicators} >= {"unmet", "sex", "conditions"}


def test_default_instrument_plan() -> None:
    spec = load_xlsform(DEFAULT_INSTRUMENT.read_bytes()).spec
    plan, problems = build_plan(spec)
    assert problems == []
    ids = {i.id for i in plan.indicators}
    assert {
        "certificate_held",
        "status_gap_g1",
        "unmet_need",
        "wg_disability",
        "phq4_positive",
    } <= ids
    assert {"top_needs", "severity_overall_in_need", "basic_needs_unmet"} <= ids
    assert set(plan.severity_rules) == {"health", "livelihood", "status"}
    for indicator in plan.indicators:
        assert set(indicator.labels) == {"en", "ru", "kk"}, indicator.id


def test_design_settings_give_a_design_based_plan() -> None:
    survey = [*SURVEY, ["decimal", "design_weight", "Weight"], ["text", "village", "Village"]]
    settings = {
        "form_id": "designed",
        "version": "1",
        "analysis_weight": "design_weight",
        "analysis_cluster": "village",
    }
    spec = load_xlsform(xlsform_bytes(survey, CHOICES, settings)).spec
    plan, problems = build_plan(spec)
    assert not problems
    assert plan.design is not None
    assert (plan.design.weight, plan.design.strata, plan.design.cluster) == (
        "design_weight",
        None,
        "village",
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"analysis_weight": "nowhere"}, "column 'analysis_weight': 'nowhere' is not a question"),
        ({"analysis_strata": "sex"}, "analysis_strata and analysis_cluster need analysis_weight"),
    ],
)
def test_bad_design_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(InstrumentImportError) as error:
        load_xlsform(xlsform_bytes(SURVEY, CHOICES, {"form_id": "f", "version": "1", **settings}))
    assert any(message in problem for problem in error.value.problems), error.value.problems


def test_plan_problems_in_the_admins_language(app) -> None:
    """Problems of the analysis and severity sheets are shown on the admin's import page."""
    from flask_babel import force_locale

    bad = with_plan([HEAD], [["sector", "score", "condition"], ["health", "9", "unmet in (yes)"]])
    with app.test_request_context(), force_locale("ru"), pytest.raises(InstrumentImportError) as ru:
        load_xlsform(bad)
    assert ru.value.problems == [
        "Лист «severity», строка 2, столбец «score»: укажите целое число от 1 до 5."
    ]
