"""Structure of imported forms (issue 9, part 3): groups at any depth, groups inside repeats,
names unique per group (as pyxform wants), and pyxform's `loop`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from survey.instruments.spec import InstrumentSpec, Repeat
from survey.instruments.xlsform import InstrumentImportError, load_xlsform
from tests.factories import xlsform_bytes

CORPUS = Path(__file__).parent / "corpus"

NESTED = [
    ["type", "name", "label", "relevant"],
    ["begin_group", "household", "Household", ""],
    ["text", "village", "Village", ""],
    ["begin_group", "dwelling", "Dwelling", "${village} != 'none'"],
    ["integer", "rooms", "Rooms", ""],
    ["begin_group", "water", "Water", "${rooms} > 0"],
    ["text", "kind", "Kind of water point", "${rooms} != 7"],
    ["end_group", "", "", ""],
    ["end_group", "", "", ""],
    ["begin_repeat", "member", "Member", ""],
    ["text", "mname", "First name", ""],
    ["begin_group", "health", "Health", "${rooms} > 1"],
    ["integer", "age", "Age", ""],
    ["text", "kind", "Kind of clinic", ""],
    ["end_group", "", "", ""],
    ["end_repeat", "", "", ""],
    ["end_group", "", "", ""],
]


@pytest.fixture(scope="module")
def nested(app_context) -> InstrumentSpec:
    return load_xlsform(xlsform_bytes(NESTED)).spec


@pytest.fixture(scope="module")
def app_context():
    from survey import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.test_request_context():
        yield app


def test_groups_nest_and_their_relevant_reaches_every_question(nested) -> None:
    (section,) = nested.sections
    assert section.name == "household"
    assert [g.name for g in nested.groups] == ["dwelling", "water", "health"]
    water = nested.groups_by_name["water"]
    assert (water.parent, water.section, water.repeat) == ("dwelling", "household", None)
    assert water.path == "household/dwelling/water"
    assert [g.name for g in nested.group_chain("water")] == ["dwelling", "water"]
    kind = nested.questions_by_name["kind"]
    assert kind.group == "water"
    assert kind.path == "household/dwelling/water/kind"
    assert kind.relevant == "((${village} != 'none') and (${rooms} > 0)) and (${rooms} != 7)"
    assert nested.questions_by_name["rooms"].relevant == "${village} != 'none'"
    assert nested.questions_by_name["village"].relevant is None


def test_a_group_inside_a_repeat_stays_in_the_repeat(nested) -> None:
    member = nested.repeats_by_name["member"]
    assert isinstance(member, Repeat)
    assert member.path == "household/member"
    assert [q.name for q in member.questions] == ["mname", "age", "health_kind"]
    age = nested.questions_by_name["age"]
    assert (age.repeat, age.group, age.path) == ("member", "health", "household/member/health/age")
    assert age.relevant == "${rooms} > 1"
    assert nested.groups_by_name["health"].repeat == "member"


def test_a_name_used_in_two_groups_gets_a_key_per_group(nested) -> None:
    first, second = nested.questions_by_name["kind"], nested.questions_by_name["health_kind"]
    assert first.path.endswith("water/kind") and second.path.endswith("health/kind")
    assert (first.row, second.row) == (7, 14)
    assert second.labels == {"en": "Kind of clinic"}


def test_structure_survives_storage(nested) -> None:
    again = InstrumentSpec.from_json(nested.to_json())
    assert again.groups_by_name["water"].path == "household/dwelling/water"
    assert again.questions_by_name["health_kind"].path == "household/member/health/kind"
    assert again.questions_by_name["health_kind"].group == "health"
    assert again.repeats_by_name["member"].path == "household/member"


def test_a_name_twice_in_one_group_is_refused_once_in_the_admins_words(app_context) -> None:
    rows = [
        ["type", "name", "label"],
        ["begin_group", "g", "G"],
        ["text", "a", "A"],
        ["begin_group", "inner", "Inner"],
        ["text", "a", "In the inner group: allowed"],
        ["end_group", "", ""],
        ["text", "a", "Twice in g"],
        ["end_group", "", ""],
    ]
    with pytest.raises(InstrumentImportError) as caught:
        load_xlsform(xlsform_bytes(rows))
    assert caught.value.problems == [
        "Sheet 'survey', row 7, column 'name': the name 'a' is already used on row 3. Every "
        "question, group and repeat needs its own name."
    ]


def test_a_repeat_inside_a_group_inside_a_repeat_belongs_to_the_outer_repeat(app_context) -> None:
    rows = [
        ["type", "name", "label"],
        ["begin_repeat", "outer", "Outer"],
        ["text", "a", "A"],
        ["begin_group", "g", "G"],
        ["begin_repeat", "inner", "Inner"],
        ["text", "b", "B"],
        ["end_repeat", "", ""],
        ["end_group", "", ""],
        ["end_repeat", "", ""],
    ]
    spec = load_xlsform(xlsform_bytes(rows)).spec
    inner = spec.repeats_by_name["inner"]
    assert (inner.repeat, inner.group, inner.path, inner.after) == (
        "outer",
        "g",
        "outer/g/inner",
        1,
    )
    assert [r.name for r in spec.repeats_by_name["outer"].repeats] == ["inner"]
    assert spec.questions_by_name["b"].repeat == "inner"


@pytest.mark.parametrize("form", ["simple_loop.xls", "loop.xlsx"])
def test_loop_is_expanded_as_pyxform_expands_it(app_context, form) -> None:
    imported = load_xlsform((CORPUS / "pyxform/example_xls" / form).read_bytes(), form)
    spec = imported.spec
    bound = re.findall(r'<bind nodeset="/data/([^"]+)"', imported.xform)
    # Every question sits where pyxform's XForm puts it, each with its own key.
    assert [q.path for q in spec.iter_questions()] == [p for p in bound if p != "meta/instanceID"]
    keys = [q.name for q in spec.iter_questions()]
    assert len(set(keys)) == len(keys)
    looped = [q for q in spec.iter_questions() if q.group]
    assert len(looped) >= 2
    assert all(spec.groups_by_name[q.group].labels for q in looped)
    if form == "loop.xlsx":  # its label names the choice: %(label)s filled in per group
        assert len({spec.label(q.labels, "en") for q in looped}) == len(looped)


def test_the_analysis_plan_reads_questions_in_nested_groups(app_context) -> None:
    import io

    from openpyxl import load_workbook

    from survey.instruments.analysis_plan import build_plan

    workbook = load_workbook(io.BytesIO(xlsform_bytes(NESTED)))
    sheet = workbook.create_sheet("analysis")
    for row in (
        ["id", "type", "label::English (en)", "column", "unit", "disaggregations"],
        ["rooms", "mean", "Rooms", "rooms", "respondent", "village"],
        ["age", "mean", "Age of members", "age", "member", ""],
        ["clinic", "frequency", "Kind of clinic", "health_kind", "member", ""],
    ):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    spec = load_xlsform(buffer.getvalue()).spec
    plan, problems = build_plan(spec)
    assert problems == []
    assert [(i.id, i.unit) for i in plan.indicators] == [
        ("rooms", "respondent"),
        ("age", "member"),
        ("clinic", "member"),
    ]
