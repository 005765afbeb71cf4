"""XLSForm import: every supported feature, and refusals that name sheet, row and column."""

from __future__ import annotations

import pytest

from survey.instruments.languages import language_code
from survey.instruments.xlsform import InstrumentImportError, load_xlsform
from tests.factories import xlsform_bytes as xlsform

HEADER = ["type", "name", "label::English (en)", "label::Russian (ru)", "hint::English (en)"]
YES_NO = [
    ["list_name", "name", "label::English (en)", "label::Russian (ru)", "region"],
    ["yn", "yes", "Yes", "Да", ""],
    ["yn", "no", "No", "Нет", ""],
    ["fruit", "apple", "Apple", "Яблоко", ""],
    ["fruit", "pear", "Pear", "Груша", ""],
    ["region", "north", "North", "Север", ""],
    ["region", "south", "South", "Юг", ""],
    ["district", "n1", "N1", "С1", "north"],
    ["district", "s1", "S1", "Ю1", "south"],
]


def problems_of(data: bytes) -> list[str]:
    with pytest.raises(InstrumentImportError) as caught:
        load_xlsform(data)
    return caught.value.problems


def test_every_supported_feature_imports() -> None:
    survey = [
        [
            "type",
            "name",
            "label::English (en)",
            "label::Russian (ru)",
            "hint::English (en)",
            "hint::Russian (ru)",
            "required",
            "required_message::English (en)",
            "relevant",
            "constraint",
            "constraint_message::English (en)",
            "calculation",
            "default",
            "appearance",
            "choice_filter",
            "repeat_count",
        ],
        [
            "begin_group",
            "intro",
            "Intro",
            "Введение",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "field-list",
            "",
            "",
        ],
        [
            "note",
            "welcome",
            "Welcome",
            "Добро пожаловать",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "select_one yn",
            "consent",
            "Consent?",
            "Согласие?",
            "Ask",
            "Спросите",
            "yes",
            "Answer!",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "integer",
            "age",
            "Age",
            "Возраст",
            "",
            "",
            "yes",
            "",
            "${consent} = 'yes'",
            ". >= 18 and . <= 110",
            "18 to 110",
            "",
            "",
            "",
            "",
            "",
        ],
        ["decimal", "weight", "Weight", "Вес", "", "", "", "", "", ". > 0", "", "", "", "", "", ""],
        [
            "date",
            "visit",
            "Visit",
            "Визит",
            "",
            "",
            "",
            "",
            "",
            ". <= today()",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "text",
            "comment",
            "Comment",
            "Комментарий",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "multiline",
            "",
            "",
        ],
        [
            "acknowledge",
            "ack",
            "Understood",
            "Понятно",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        ["end_group", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""],
        ["begin_group", "place", "Place", "Место", "", "", "", "", "", "", "", "", "", "", "", ""],
        [
            "select_one region",
            "region",
            "Region",
            "Регион",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "north",
            "minimal",
            "",
            "",
        ],
        [
            "select_one district",
            "district",
            "District",
            "Район",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "region = ${region}",
            "",
        ],
        [
            "select_multiple fruit or_other",
            "fruits",
            "Fruits",
            "Фрукты",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "calculate",
            "double_age",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "${age} * 2",
            "",
            "",
            "",
            "",
        ],
        [
            "integer",
            "n_members",
            "Members",
            "Члены",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "begin_repeat",
            "member",
            "Member",
            "Член",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "${n_members}",
        ],
        [
            "text",
            "member_relation",
            "Relation",
            "Родство",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "integer",
            "member_age",
            "Age",
            "Возраст",
            "",
            "",
            "",
            "",
            "${member_relation} != ''",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        ["end_repeat", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""],
        ["end_group", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""],
    ]
    imported = load_xlsform(
        xlsform(survey, YES_NO, {"default_language": "English (en)", "version": "2025.1"})
    )
    spec = imported.spec
    assert "<h:html" in imported.xform
    assert spec.form_id == "test_form" and spec.version == "2025.1"
    assert spec.languages == ("en", "ru")
    assert [s.name for s in spec.sections] == ["intro", "place"]
    assert spec.sections[0].appearance == "field-list"
    q = spec.questions_by_name
    assert q["consent"].required and q["consent"].required_messages == {"en": "Answer!"}
    assert q["consent"].hints == {"en": "Ask", "ru": "Спросите"}
    assert q["age"].relevant == "${consent} = 'yes'"
    assert q["age"].constraint_messages == {"en": "18 to 110"}
    assert q["comment"].appearance == "multiline"
    assert q["region"].appearance == "minimal" and q["region"].default == "north"
    assert q["district"].choice_filter == "region = ${region}"
    assert q["fruits"].type == "select_multiple"
    assert [c.name for c in spec.choices["fruit"]] == ["apple", "pear", "other"]
    assert q["fruits_other"].type == "text" and q["fruits_other"].labels["ru"] == "Укажите другое"
    assert q["double_age"].calculation == "${age} * 2"
    assert q["ack"].type == "acknowledge" and q["welcome"].type == "note"
    repeat = spec.repeats_by_name["member"]
    assert repeat.section == "place" and [x.name for x in repeat.questions] == [
        "member_relation",
        "member_age",
    ]
    assert repeat.repeat_count is not None
    assert q["member_age"].repeat == "member"
    assert spec.choices["district"][0].filters["region"] == "north"
    assert spec.label(q["age"].labels, "kk") == "Age"  # falls back to the default language


def test_spec_survives_json_round_trip() -> None:
    from survey.instruments.spec import InstrumentSpec

    data = xlsform(
        [HEADER, ["select_one yn", "consent", "Consent", "Согласие", ""]],
        YES_NO,
    )
    spec = load_xlsform(data).spec
    again = InstrumentSpec.from_json(spec.to_json())
    assert again.to_json() == spec.to_json()


@pytest.mark.parametrize(
    ("name", "expected"),
    [("English (en)", "en"), ("Kazakh (kk)", "kk"), ("Russian", "ru"), ("Қазақша", "kk")],
)
def test_language_codes(name: str, expected: str) -> None:
    assert language_code(name) == expected


@pytest.mark.parametrize(
    ("rows", "choices", "fragment"),
    [
        (
            [["type", "name", "label"], ["text", "a", "A"], ["background-audio", "rec", ""]],
            None,
            "background audio recording and OpenStreetMap questions ('rec' (row 3))",
        ),
        (
            [
                ["type", "name", "label"],
                ["text", "a", "A"],
                ["select_one_from_file x.csv", "b", "B"],
            ],
            None,
            "Sheet 'survey', row 3, column 'type': the choices of 'b' come from the file",
        ),
        (
            [["type", "name", "label"], ["text", "a", "A"], ["gpx", "b", "B"]],
            None,
            "Sheet 'survey', row 3, column 'type': the question type 'gpx' is not an XLSForm type",
        ),
        (
            [["type", "name", "label", "label"], ["text", "a", "A", "B"]],
            None,
            "Sheet 'survey', row 1: Duplicate column header: label",
        ),
        (
            [["type", "name", "label", "default"], ["text", "d", "D", "${last-saved#nope}"]],
            None,
            "Sheet 'survey', row 2: On the 'survey' sheet, the 'default' value is invalid",
        ),
        (
            [
                ["type", "name", "label"],
                ["begin_group", "g", "G"],
                ["text", "a", "A"],
                ["text", "b", "B"],
                ["text", "a", "C"],
                ["end_group", "", ""],
                ["text", "a", "D"],
            ],
            None,
            "Sheet 'survey', row 5, column 'name': the name 'a' is already used on row 3",
        ),
        (
            [["type", "name", "label"], ["text", "a", "A"], ["text", "a", "B"]],
            None,
            "row 3, column 'name': the name 'a' is already used on row 2",
        ),
        (
            [["type", "name", "label"], ["select_one nolist", "a", "A"]],
            [["list_name", "name", "label"], ["yn", "yes", "Yes"]],
            "Sheet 'survey', row 2: List name not in choices sheet: nolist",
        ),
        (
            [["type", "name", "label", "relevant"], ["text", "a", "A", "${a} = '1' and"]],
            None,
            "Sheet 'survey', row 2, column 'relevant':",
        ),
        (
            [["type", "name", "label", "constraint"], ["integer", "a", "A", "foo(.) > 1"]],
            None,
            "Sheet 'survey', row 2, column 'constraint':",
        ),
        (
            [
                ["type", "name", "label", "calculation"],
                ["calculate", "a", "", "${b} + 1"],
                ["calculate", "b", "", "${a} + 1"],
                ["text", "c", "C", ""],
            ],
            None,
            "circular reference between 'a' (row 2) → 'b' (row 3) → 'a' (row 2)",
        ),
        (
            [["type", "name", "label", "relevant"], ["text", "a", "A", "${a} = 'x'"]],
            None,
            "circular reference",
        ),
        (
            [["type", "name", "label"], ["begin_group", "g", "G"], ["text", "a", "A"]],
            None,
            "Sheet 'survey', row 2: Unmatched 'begin_group'",
        ),
    ],
)
def test_refusals_name_the_cell(rows: list, choices: list | None, fragment: str) -> None:
    problems = problems_of(xlsform(rows, choices))
    assert any(fragment in p for p in problems), problems


def test_encrypted_form_is_refused_with_the_reason() -> None:
    problems = problems_of(
        xlsform([["type", "name", "label"], ["text", "a", "A"]], None, {"public_key": "abc"})
    )
    assert len(problems) == 1
    assert problems[0].startswith("Sheet 'settings', column 'public_key': this form is encrypted.")


def test_empty_unsupported_column_is_harmless() -> None:
    spec = load_xlsform(
        xlsform([["type", "name", "label", "media::image"], ["text", "a", "A", None]])
    )
    assert spec.spec.questions_by_name["a"].type == "text"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "The file is empty."),
        (b"not a workbook at all", "is not an Excel workbook (.xlsx or .xls)"),
        (b"PK\x03\x04broken zip", "is not an Excel workbook"),
    ],
)
def test_corrupt_files_are_refused(data: bytes, fragment: str) -> None:
    problems = problems_of(data)
    assert any(fragment in p for p in problems), problems


def test_a_workbook_under_the_other_formats_name_is_refused_as_pyxform_refuses_it() -> None:
    """pyxform (so ODK Central and Kobo) opens a workbook by its extension: an .xls saved as
    .xlsx is refused there, and here with the way out (issue 9: refused as pyxform refuses)."""
    from pathlib import Path

    corpus = Path(__file__).parent / "corpus" / "kobocat"
    xls = (corpus / "transportation.xls").read_bytes()
    with pytest.raises(InstrumentImportError) as caught:
        load_xlsform(xls, "needs.xlsx")
    assert caught.value.problems == [
        "'needs.xlsx' is an Excel 97-2003 workbook (.xls) under an .xlsx name, which pyxform, "
        "ODK Central and KoboToolbox refuse. Rename the file to 'needs.xls', or open it and save "
        "it as an Excel Workbook (.xlsx), then import it again."
    ]
    with pytest.raises(InstrumentImportError) as caught:
        load_xlsform(xlsform([["type", "name", "label"], ["text", "a", "A"]]), "needs.xls")
    assert "Rename the file to 'needs.xlsx'" in caught.value.problems[0]
    assert load_xlsform(xls, "needs.xls").spec.sections


def test_workbook_without_survey_sheet() -> None:
    import io

    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.title = "questions"
    workbook.create_sheet("answers")
    buffer = io.BytesIO()
    workbook.save(buffer)
    problems = problems_of(buffer.getvalue())
    assert any("Sheet 'survey'" in p and "survey" in p.lower() for p in problems), problems


def test_intake_settings_are_read() -> None:
    spec = load_xlsform(
        xlsform(
            [["type", "name", "label"], ["integer", "years", "Years"]],
            None,
            {"age_question": "years", "minimum_age": "16"},
        )
    ).spec
    assert spec.intake.age_question == "years" and spec.intake.minimum_age == 16


def test_missing_version_is_generated_into_the_xform() -> None:
    import io

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    sheet.append(["type", "name", "label"])
    sheet.append(["text", "a", "A"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    imported = load_xlsform(buffer.getvalue())
    version = imported.spec.version
    assert len(version) == 14 and version.isdigit()
    assert f'version="{version}"' in imported.xform
    assert any("has no 'version'" in w for w in imported.warnings)
