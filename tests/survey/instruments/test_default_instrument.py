"""The default instrument: a trilingual (kk/ru/en) XLSForm built from CSV sources."""

from __future__ import annotations

import csv
import re
import shutil
import unicodedata
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pyxform.xls2xform import convert

from survey.instruments.default import build as build_module

INSTRUMENT_DIR = Path(build_module.__file__).resolve().parent
XLSX = INSTRUMENT_DIR / "birge_needs_assessment.xlsx"
LANGUAGES = ("Kazakh (kk)", "Russian (ru)", "English (en)")
TRANSLATED = ("label", "hint", "constraint_message", "required_message")
SECTION_RELEVANT = "${consent} = 'yes' and ${age} >= 18"
SECTIONS = [
    "interview",
    "consent_section",
    "respondent",
    "exposure",
    "status_benefits",
    "household",
    "health_care",
    "functioning",
    "wellbeing",
    "socio_economic",
    "environment",
    "priorities",
    "closing",
]

SUPPORTED_TYPES = {
    "text",
    "integer",
    "decimal",
    "date",
    "note",
    "calculate",
    "acknowledge",
    "begin_group",
    "end_group",
    "begin_repeat",
    "end_repeat",
}
SURVEY_COLUMNS = {
    "type",
    "name",
    "required",
    "relevant",
    "constraint",
    "calculation",
    "default",
    "appearance",
    "choice_filter",
    "repeat_count",
} | {f"{column}::{language}" for column in TRANSLATED for language in LANGUAGES}
APPEARANCES = {"", "minimal", "multiline", "field-list"}
FUNCTIONS = {
    "selected",
    "count-selected",
    "count",  # of repeat entries: the household roster check
    "selected-at",
    "regex",
    "not",
    "if",
    "coalesce",
    "concat",
    "string-length",
    "int",
    "number",
    "round",
    "today",
    "date",
    "true",
    "false",
    "contains",
    "min",
    "max",
}
QUESTION_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
CHOICE_CODE = re.compile(r"[a-z0-9]+(_[a-z0-9]+)*")
CYRILLIC = re.compile(r"[\u0400-\u04FF]")
LATIN = re.compile(r"[A-Za-z]")
KAZAKH_ONLY_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
ZONES = {"extreme", "maximum", "increased", "minimal", "preferential"}


def read_csv(name: str) -> list[dict[str, str]]:
    with (INSTRUMENT_DIR / name).open(encoding="utf-8", newline="") as fh:
        return [{k: v or "" for k, v in row.items()} for row in csv.DictReader(fh)]


def sheet_values(path: Path) -> dict[str, list[list[str]]]:
    """Cell values of every sheet, empty cells as "", trailing empty cells dropped."""
    wb = load_workbook(path, read_only=True)
    try:
        out = {}
        for ws in wb.worksheets:
            rows = []
            for row in ws.iter_rows(values_only=True):
                values = ["" if v is None else str(v) for v in row]
                while values and values[-1] == "":
                    values.pop()
                rows.append(values)
            out[ws.title] = rows
        return out
    finally:
        wb.close()


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    header = rows[0]
    return [
        dict(zip(header, row + [""] * (len(header) - len(row)), strict=True)) for row in rows[1:]
    ]


@pytest.fixture(scope="module")
def xlsx_sheets() -> dict[str, list[list[str]]]:
    return sheet_values(XLSX)


@pytest.fixture(scope="module")
def survey(xlsx_sheets) -> list[dict[str, str]]:
    return as_dicts(xlsx_sheets["survey"])


@pytest.fixture(scope="module")
def choices(xlsx_sheets) -> list[dict[str, str]]:
    return as_dicts(xlsx_sheets["choices"])


@pytest.fixture(scope="module")
def settlements() -> list[dict[str, str]]:
    return read_csv("settlements.csv")


def questions(survey):
    return [row for row in survey if row["name"]]


def by_name(survey, name):
    return next(row for row in survey if row["name"] == name)


def list_of(choices, list_name):
    return [row for row in choices if row["list_name"] == list_name]


def translated_cells(rows):
    """(row number, column, text) of every non-empty Kazakh or Russian cell."""
    for index, row in enumerate(rows, start=2):
        for column, value in row.items():
            if value and (column.endswith(("(kk)", "(ru)")) or column in ("name_kk", "name_ru")):
                yield index, column, value


# ------------------------------------------------------------------------------ pyxform


def test_xlsx_converts_with_pyxform_without_warnings():
    warnings: list[str] = []
    result = convert(xlsform=str(XLSX), warnings=warnings)
    assert warnings == []
    for language in LANGUAGES:
        assert f'<translation lang="{language}"' in result.xform
    assert 'default="true()"' in result.xform  # English (en) is the default language
    assert "birge_needs_assessment" in result.xform


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="ODK Validate needs Java")
def test_xlsx_passes_odk_validate():
    warnings: list[str] = []
    convert(xlsform=str(XLSX), validate=True, warnings=warnings)
    assert warnings == []


def test_settings():
    (settings,) = read_csv("settings.csv")
    assert settings["form_id"] == "birge_needs_assessment"
    assert settings["version"] == "2025.1"
    assert settings["default_language"] == "English (en)"
    assert settings["form_title"].isascii()
    assert settings["form_title"]


# ------------------------------------------------------------------------------ build


def test_built_xlsx_equals_what_build_produces_from_the_csvs(tmp_path, xlsx_sheets):
    rebuilt = build_module.build(tmp_path / "rebuilt.xlsx")
    assert sheet_values(rebuilt) == xlsx_sheets
    assert list(xlsx_sheets) == ["survey", "choices", "settings", "analysis", "severity"]


def test_xlsx_sheets_carry_the_csv_rows(xlsx_sheets):
    for sheet in ("survey", "settings"):
        with (INSTRUMENT_DIR / f"{sheet}.csv").open(encoding="utf-8", newline="") as fh:
            csv_rows = list(csv.reader(fh))
        expected = [list(row) for row in csv_rows]
        for row in expected:
            while row and row[-1] == "":
                row.pop()
        assert xlsx_sheets[sheet] == expected
    choice_rows = read_csv("choices.csv")
    assert len(as_dicts(xlsx_sheets["choices"])) > len(choice_rows)


def test_build_is_reproducible(tmp_path):
    first = build_module.build(tmp_path / "a.xlsx").read_bytes()
    second = build_module.build(tmp_path / "b.xlsx").read_bytes()
    assert first == second


def test_build_rejects_a_settlement_in_an_unknown_district(tmp_path):
    for name in ("survey.csv", "choices.csv", "settings.csv", "settlements.csv"):
        shutil.copy(INSTRUMENT_DIR / name, tmp_path / name)
    with (tmp_path / "settlements.csv").open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerow(
            ["nowhere", "no_such_district", "abai", "Ешқайда", "Нигде", "Nowhere", "", "yes"]
        )
    with pytest.raises(ValueError, match="unknown district"):
        build_module.build(tmp_path / "out.xlsx", source_dir=tmp_path)


# ------------------------------------------------------------------------------ languages


def test_every_translated_column_is_present_in_all_three_languages(survey, choices):
    for sheet, rows in (("survey", survey), ("choices", choices)):
        for index, row in enumerate(rows, start=2):
            for column in TRANSLATED:
                present = [bool(row.get(f"{column}::{lang}", "").strip()) for lang in LANGUAGES]
                assert all(present) or not any(present), (sheet, index, column, row["name"])


def test_every_question_choice_and_group_has_a_label(survey, choices):
    for row in survey:
        if row["type"] in ("calculate", "end_group", "end_repeat"):
            assert not row["label::English (en)"], row["name"]
            continue
        assert row["label::English (en)"], row["name"]
    for row in choices:
        assert row["label::English (en)"], (row["list_name"], row["name"])


def test_no_label_without_language(xlsx_sheets):
    for sheet in ("survey", "choices"):
        header = xlsx_sheets[sheet][0]
        assert "label" not in header
        assert "hint" not in header
        for column in header:
            if "::" in column:
                assert column.split("::", 1)[1] in LANGUAGES, column


def test_no_latin_letters_inside_cyrillic_words(survey, choices, settlements):
    for sheet, rows in (("survey", survey), ("choices", choices), ("settlements", settlements)):
        for index, column, value in translated_cells(rows):
            for word in re.findall(r"\w+", value):
                mixed = CYRILLIC.search(word) and LATIN.search(word)
                assert not mixed, (sheet, index, column, word)


def test_kazakh_and_russian_texts_are_not_mixed_up(survey, choices, settlements):
    for sheet, rows in (("survey", survey), ("choices", choices), ("settlements", settlements)):
        for index, column, value in translated_cells(rows):
            if column.endswith("(ru)") or column == "name_ru":
                assert not set(value) & KAZAKH_ONLY_LETTERS, (sheet, index, column, value)
            assert not LATIN.search(value), (sheet, index, column, value)
        for index, row in enumerate(rows, start=2):
            for column, value in row.items():
                if column.endswith("(en)") or column == "name_en":
                    assert not CYRILLIC.search(value), (sheet, index, column, value)


def test_texts_are_nfc_normalised_and_trimmed(survey, choices, settlements):
    for rows in (survey, choices, settlements):
        for row in rows:
            for value in row.values():
                assert unicodedata.normalize("NFC", value) == value
                assert value == value.strip()


# ------------------------------------------------------------------------------ codes


def test_question_names_are_unique_snake_case_ascii(survey):
    names = [row["name"] for row in questions(survey)]
    assert len(names) == len(set(names))
    for name in names:
        assert QUESTION_NAME.fullmatch(name), name


def test_choice_codes_are_snake_case_ascii_and_unique_per_list(choices):
    seen = set()
    for row in choices:
        assert QUESTION_NAME.fullmatch(row["list_name"]), row["list_name"]
        assert CHOICE_CODE.fullmatch(row["name"]), (row["list_name"], row["name"])
        key = (row["list_name"], row["name"])
        assert key not in seen, key
        seen.add(key)


def test_select_questions_use_defined_lists(survey, choices):
    defined = {row["list_name"] for row in choices}
    used = set()
    for row in survey:
        parts = row["type"].split()
        if parts[0] in ("select_one", "select_multiple"):
            assert len(parts) == 2, f"{row['name']}: or_other and other suffixes are not used"
            assert parts[1] in defined, row["name"]
            used.add(parts[1])
    assert defined == used, f"unused lists: {defined - used}"


# ------------------------------------------------------------------------------ structure


def test_only_supported_types_columns_and_appearances(survey, xlsx_sheets):
    assert set(xlsx_sheets["survey"][0]) <= SURVEY_COLUMNS
    for row in survey:
        base = row["type"].split()[0]
        assert base in SUPPORTED_TYPES | {"select_one", "select_multiple"}, row["type"]
        assert row["appearance"] in APPEARANCES, row["name"]
        assert row["required"] in ("", "yes"), row["name"]
        assert not row["default"] or "$" not in row["default"], row["name"]


def test_sections_are_labelled_top_level_groups_with_one_roster_repeat(survey):
    depth = 0
    sections, repeats, stack = [], [], []
    for row in survey:
        kind = row["type"]
        if kind == "begin_group":
            assert not stack, f"nested group {row['name']}"
            sections.append(row["name"])
            assert all(row[f"label::{lang}"] for lang in LANGUAGES), row["name"]
            stack.append("group")
        elif kind == "begin_repeat":
            assert stack == ["group"], "the repeat sits directly inside a top-level group"
            repeats.append(row["name"])
            stack.append("repeat")
        elif kind in ("end_group", "end_repeat"):
            assert stack.pop() == kind.removeprefix("end_")
        else:
            assert stack, f"{row['name']} is outside any section"
        depth = max(depth, len(stack))
    assert not stack
    assert sections == SECTIONS
    assert repeats == ["member"]
    assert depth == 2


def test_household_roster_repeat(survey):
    names = [row["name"] for row in survey]
    start, stop = names.index("member"), names.index("", names.index("member"))
    inside = survey[start + 1 : stop]
    assert survey[stop]["type"] == "end_repeat"
    assert not by_name(survey, "member").get("repeat_count")
    assert {row["name"] for row in inside} >= {
        "relationship",
        "member_sex",
        "member_age",
        "member_generation",
        "member_certificate",
        "member_wg_seeing",
        "member_wg_hearing",
        "member_wg_walking",
        "member_wg_cognition",
        "member_wg_selfcare",
        "member_wg_communication",
        "member_wg_disability",
        "member_disability_group",
        "member_conditions",
        "member_unmet_need",
        "member_school",
    }
    for row in inside:
        if row["name"].startswith("member_wg_") and row["type"] != "calculate":
            assert row["relevant"] == "${member_age} >= 18"
    assert by_name(survey, "member_school")["relevant"] == (
        "${member_age} >= 6 and ${member_age} <= 17"
    )
    size = by_name(survey, "household_size")
    assert size["type"] == "integer"
    assert size["constraint"] == ". >= 1 and . <= 30"


def test_interview_and_consent_conventions(survey):
    assert by_name(survey, "interview_language")["type"] == "select_one interview_language"
    assert by_name(survey, "interview_mode")["type"] == "select_one interview_mode"
    assert by_name(survey, "interview_date")["constraint"] == ". <= today()"
    consent = by_name(survey, "consent")
    assert consent["type"] == "select_one yes_no"
    assert consent["required"] == "yes"
    age = by_name(survey, "age")
    assert age["type"] == "integer"
    assert age["required"] == "yes"
    assert age["relevant"] == "${consent} = 'yes'"
    assert age["constraint"] == ". >= 0 and . <= 120"
    assert "${age} < 18" in by_name(survey, "underage_note")["relevant"]
    assert by_name(survey, "refusal_note")["relevant"] == "${consent} = 'no'"
    for row in survey:
        if row["type"] == "begin_group" and row["name"] not in ("interview", "consent_section"):
            assert row["relevant"] == SECTION_RELEVANT, row["name"]
    forbidden = {"start", "end", "today", "deviceid", "username", "audit", "geopoint"}
    assert not {row["type"] for row in survey} & forbidden


def test_derived_variables(survey, choices):
    assert by_name(survey, "age_band")["type"] == "calculate"
    for code in ("18_39", "40_59", "60_74", "75_plus"):
        assert f"'{code}'" in by_name(survey, "age_band")["calculation"]
    generation = by_name(survey, "generation")["calculation"]
    for code in ("g1", "g2", "g3", "none"):
        assert f"'{code}'" in generation
    for name in ("wg_disability", "member_wg_disability"):
        calc = by_name(survey, name)["calculation"]
        assert calc.count("'a_lot'") == 6
        assert calc.count("'cannot'") == 6
    for name in ("phq4_anxiety", "phq4_depression", "phq4_positive"):
        assert by_name(survey, name)["type"] == "calculate"
    assert [row["name"] for row in list_of(choices, "wg")][:4] == [
        "no_difficulty",
        "some_difficulty",
        "a_lot",
        "cannot",
    ]
    assert [row["name"] for row in list_of(choices, "phq")][:4] == ["0", "1", "2", "3"]


def test_ranked_needs_differ(survey):
    assert by_name(survey, "need_2")["constraint"] == ". != ${need_1}"
    assert by_name(survey, "need_3")["constraint"] == ". != ${need_1} and . != ${need_2}"
    types = {by_name(survey, f"need_{i}")["type"] for i in (1, 2, 3)}
    assert types == {"select_one need"}
    message = by_name(survey, "message_to_states")
    assert message["type"] == "text"
    assert message["appearance"] == "multiline"
    assert not message["required"]
    assert "phone" in message["hint::English (en)"]


def test_sensitive_items_are_optional_and_offer_pnta(survey, choices):
    sensitive = [
        "certificate_status",
        "member_conditions",
        "conditions",
        "repro_outcomes",
        "stigma",
        "income_band",
        "coping_30d",
        "test_site_land_use",
        "phq_nervous",
        "member_wg_seeing",
        "wg_seeing",
    ]
    for name in sensitive:
        row = by_name(survey, name)
        assert not row["required"], name
        codes = {c["name"] for c in list_of(choices, row["type"].split()[1])}
        assert "pnta" in codes, name


def test_expressions_use_only_supported_functions_and_known_names(survey):
    names = {row["name"] for row in questions(survey)}
    for row in survey:
        for column in ("relevant", "constraint", "calculation", "choice_filter"):
            expression = row[column]
            if not expression:
                continue
            without_strings = re.sub(r"'[^']*'", "''", expression)
            for function in re.findall(r"([a-z][a-z0-9-]*)\s*\(", without_strings):
                if function in ("and", "or", "div", "mod"):
                    continue
                assert function in FUNCTIONS, (row["name"], column, function)
            for reference in re.findall(r"\$\{([^}]*)\}", expression):
                assert reference in names, (row["name"], column, reference)
            assert "position(" not in expression
            assert "jr:" not in expression


# ------------------------------------------------------------------------------ places


def test_settlement_reference_data(settlements, choices):
    districts = {row["name"]: row["region"] for row in list_of(choices, "district")}
    codes = [row["settlement"] for row in settlements]
    assert len(codes) == len(set(codes))
    assert 40 <= len(settlements) <= 80
    for row in settlements:
        assert CHOICE_CODE.fullmatch(row["settlement"]), row
        assert row["district"] in districts, row["settlement"]
        assert districts[row["district"]] == row["region"], row["settlement"]
        assert row["zone"] in ZONES | {""}, row["settlement"]
        assert row["verify"] in ("yes", "no"), row["settlement"]
        for column in ("name_kk", "name_ru", "name_en"):
            assert row[column], (row["settlement"], column)
        if row["verify"] == "no":
            assert row["zone"], f"{row['settlement']}: a confirmed row needs a zone"
    abai = {row["district"] for row in settlements if row["region"] == "abai"}
    assert abai == {d for d, region in districts.items() if region == "abai"}


def test_kazakh_spellings_of_abai_districts(choices):
    labels = {row["name"]: row["label::Kazakh (kk)"] for row in list_of(choices, "district")}
    assert labels["ayagoz_district"].startswith("Аягөз")
    assert labels["urzhar_district"].startswith("Үржар")
    assert labels["beskaragai_district"].startswith("Бесқарағай")
    assert labels["kokpekti_district"].startswith("Көкпекті")
    assert labels["aksuat_district"].startswith("Ақсуат")
    assert "\u0456" in labels["kokpekti_district"]  # Cyrillic і, not Latin i


def test_region_district_settlement_cascade(survey, choices):
    assert by_name(survey, "district")["choice_filter"] == "region=${region}"
    assert by_name(survey, "settlement")["choice_filter"] == "district=${district}"
    regions = {row["name"] for row in list_of(choices, "region")}
    district_rows = list_of(choices, "district")
    districts = {row["name"] for row in district_rows}
    settlement_rows = list_of(choices, "settlement")
    assert {row["region"] for row in district_rows} == regions
    assert {row["district"] for row in settlement_rows} == districts
    settlement_codes = {row["name"] for row in settlement_rows}
    for district in districts:
        assert f"{district}_other" in settlement_codes
    for row in choices:
        if row["list_name"] != "district":
            assert not row["region"], row
        if row["list_name"] != "settlement":
            assert not row["district"], row


def test_settlement_choices_come_from_the_reference_data(settlements, choices):
    settlement_rows = list_of(choices, "settlement")
    generated = {row["name"]: row for row in settlement_rows}
    for row in settlements:
        choice = generated[row["settlement"]]
        assert choice["district"] == row["district"]
        assert choice["label::Kazakh (kk)"] == row["name_kk"]
        assert choice["label::Russian (ru)"] == row["name_ru"]
        assert choice["label::English (en)"] == row["name_en"]
    assert len(settlement_rows) == len(settlements) + len(list_of(choices, "district"))


# ------------------------------------------------------------------------------ the app


def test_the_apps_importer_accepts_the_instrument():
    xlsform = pytest.importorskip("survey.instruments.xlsform")
    imported = xlsform.load_xlsform(XLSX.read_bytes(), filename=XLSX.name)
    assert imported.warnings == []
    spec = imported.spec
    assert spec.form_id == "birge_needs_assessment"
    assert set(spec.languages) == {"kk", "ru", "en"}
    assert [section.name for section in spec.sections] == SECTIONS
    assert spec.intake.consent_question == "consent"
    assert spec.intake.age_question == "age"
    assert spec.intake.minimum_age == 18
    assert spec.intake.district_question == "district"


@pytest.mark.parametrize(
    ("name", "answers", "expected"),
    [
        ("age_band", {"age": 18}, "18_39"),
        ("age_band", {"age": 59}, "40_59"),
        ("age_band", {"age": 60}, "60_74"),
        ("age_band", {"age": 75}, "75_plus"),
        ("generation", {}, "none"),
        ("generation", {"self_in_territory": "yes"}, "g1"),
        ("generation", {"test_participant": "yes", "mother_in_territory": "yes"}, "g1"),
        ("generation", {"father_in_territory": "yes"}, "g2"),
        ("generation", {"mother_in_territory": "dnk", "grandparents_in_territory": "yes"}, "g3"),
        ("wg_disability", {}, ""),
        ("wg_disability", {"wg_seeing": "some_difficulty"}, "no"),
        ("wg_disability", {"wg_seeing": "no_difficulty", "wg_selfcare": "cannot"}, "yes"),
        ("member_wg_disability", {"member_wg_hearing": "a_lot"}, "yes"),
        ("phq4_anxiety", {"phq_nervous": "1", "phq_worry": "2"}, "3"),
        ("phq4_anxiety", {"phq_nervous": "pnta", "phq_worry": "2"}, ""),
        ("phq4_positive", {"phq4_anxiety": "3"}, "yes"),
        ("phq4_positive", {"phq4_anxiety": "2", "phq4_depression": "0"}, "no"),
        ("phq4_positive", {"phq4_anxiety": "2"}, ""),
    ],
)
def test_derived_variables_evaluate_as_documented(survey, name, answers, expected):
    expressions = pytest.importorskip("survey.instruments.expressions")
    node = expressions.parse(by_name(survey, name)["calculation"])
    context = expressions.EvalContext(lookup=lambda ref: answers.get(ref, ""))
    assert expressions.to_string(expressions.evaluate(node, context)) == expected
