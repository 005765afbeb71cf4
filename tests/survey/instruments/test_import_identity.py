"""Issue 9: instrument identity, intake rules by declaration, identifying data at import."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook

from survey.collection.services import answers_on_arrival, coarsened_location, refusal_reason
from survey.instruments.services import VersionChangesNeedConfirmation, import_instrument
from survey.instruments.xlsform import form_id_from_filename, load_xlsform
from tests.factories import xlsform_bytes


def workbook_without_settings(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_form_without_form_id_takes_its_id_from_the_file_name(app) -> None:
    rows = [["type", "name", "label"], ["text", "a", "A"]]
    first, _ = import_instrument(workbook_without_settings(rows), "household survey.xlsx")
    second, _ = import_instrument(workbook_without_settings(rows), "water_points.xls.xlsx")
    assert first.instrument.form_id == "household_survey"
    assert second.instrument.form_id == "water_points.xls"
    assert first.instrument_id != second.instrument_id
    assert form_id_from_filename("C:\\forms\\Needs 2024.xlsx") == "Needs_2024"


def test_formula_cells_are_read_from_their_cached_values_without_re_saving() -> None:
    # A workbook without 'version' used to be re-saved, which drops the cached formula results.
    from openpyxl import load_workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    sheet.append(["type", "name", "label"])
    sheet.append(["text", "a", '=CONCATENATE("Ag","e")'])
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    # openpyxl writes no cached value: put one in, as Excel would have.
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b'<c r="C2"><f>', b'<c r="C2" t="str"><f>').replace(
                    b"</f><v /></c>", b"</f><v>Age</v></c>"
                )
            target.writestr(item, content)
    data = out.getvalue()
    assert load_workbook(io.BytesIO(data), data_only=True).active["C2"].value == "Age"
    imported = load_xlsform(data, "formulas.xlsx")
    assert imported.spec.questions_by_name["a"].labels == {"en": "Age"}
    assert any("no 'version'" in w for w in imported.warnings)


def test_intake_rules_apply_only_where_declared() -> None:
    survey = [
        ["type", "name", "label"],
        ["select_one yn", "consent", "Consent"],
        ["integer", "age", "Age"],
    ]
    choices = [["list_name", "name", "label"], ["yn", "1", "Yes"], ["yn", "0", "No"]]
    undeclared = load_xlsform(xlsform_bytes(survey, choices)).spec
    assert refusal_reason(undeclared, {"consent": "1", "age": 12}) is None
    declared = load_xlsform(
        xlsform_bytes(
            survey,
            choices,
            {"consent_question": "consent", "consent_value": "1", "age_question": "age"},
        )
    ).spec
    assert refusal_reason(declared, {"consent": "1", "age": 40}) is None
    assert refusal_reason(declared, {"consent": "0"}) == "no_consent"
    assert refusal_reason(declared, {"consent": "1", "age": 12}) == "under_age"


def test_import_summary_names_rules_and_identifying_questions(app) -> None:
    survey = [
        ["type", "name", "label"],
        ["start", "start", ""],
        ["deviceid", "deviceid", ""],
        ["text", "remarks", "Remarks"],
        ["geopoint", "where", "Where"],
    ]
    _version, summary = import_instrument(xlsform_bytes(survey), "f.xlsx")
    text = " ".join(summary)
    assert "Intake rules: none" in text
    assert "Free text (remarks)" in text
    assert "Locations (where): coarsened on arrival" in text
    assert "(deviceid): not stored" in text


def test_identifying_data_coarsened_or_dropped_unless_confirmed(app) -> None:
    survey = [
        ["type", "name", "label"],
        ["start", "start", ""],
        ["deviceid", "deviceid", ""],
        ["geopoint", "where", "Where"],
    ]
    answers = {"deviceid": "collect:abc", "where": "50.41234 80.23456 210 4.5"}
    version, _ = import_instrument(xlsform_bytes(survey), "f.xlsx")
    from survey.instruments.services import spec_for

    spec = spec_for(version)
    started = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)
    stored = answers_on_arrival(spec, answers, source="web", started_at=started, ended_at=None)
    assert stored == {"where": "50.41 80.23 0 0", "start": "2025-03-01T09:30:00+00:00"}
    kept, _ = import_instrument(
        xlsform_bytes(survey, settings={"form_id": "kept"}),
        "f.xlsx",
        keep=["precise_location", "device_ids"],
    )
    stored = answers_on_arrival(
        spec_for(kept), answers, source="openrosa", started_at=None, ended_at=None
    )
    assert stored == answers
    assert coarsened_location("50.415 80.2; 50.42 80.3") == "50.42 80.2 0 0; 50.42 80.3 0 0"


def test_new_version_that_removes_or_retypes_questions_says_so(app) -> None:
    first = [["type", "name", "label"], ["text", "a", "A"], ["text", "b", "B"]]
    import_instrument(xlsform_bytes(first), "f.xlsx")
    second = [["type", "name", "label"], ["integer", "a", "A"]]
    newer = xlsform_bytes(second, settings={"version": "2"})
    with pytest.raises(VersionChangesNeedConfirmation) as caught:
        import_instrument(newer, "f.xlsx")
    text = " ".join(caught.value.problems)
    assert "'b' is removed" in text and "'a' changes type from text to integer" in text
    version, _ = import_instrument(newer, "f.xlsx", confirm_changes=True)
    assert version.version == "2"
