"""The ODK engine harness (tests/odk/fill.mjs through tests/odk_engine.py) on forms made here.

These check the harness itself: that given answers land where they are named (repeats too), that
generated answers respect the form's constraints and choices, that form attachments and uploads
go through, and that a broken form or an unknown question is reported rather than ignored.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from defusedxml import ElementTree
from pyxform.xls2xform import convert

from tests.factories import xlsform_bytes
from tests.odk_engine import engine_missing, fill_batch, fill_form


@pytest.fixture(autouse=True)
def _engine_installed() -> None:
    missing = engine_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"ODK's engine must run in CI: {missing}")
        pytest.skip(missing)


def xform(survey: list[list[str]], choices: list[list[str]] | None = None, **settings: str) -> str:
    """pyxform's XForm for a small workbook built here."""
    data = xlsform_bytes(survey=survey, choices=choices, settings=settings or None)
    return convert(xlsform=data, file_type=".xlsx", form_name="data").xform


HOUSEHOLD = xform(
    [
        ["type", "name", "label", "constraint", "relevant", "required"],
        ["integer", "size", "Household size", ". >= 1 and . <= 20", "", "yes"],
        ["select_one yn", "has_water", "Water?", "", "", "yes"],
        ["begin_repeat", "member", "Member", "", "", ""],
        ["integer", "age", "Age", ". >= 18", "", "yes"],
        ["begin_repeat", "visit", "Visit", "", "", ""],
        ["date", "when", "When", ". <= today()", "", ""],
        ["end_repeat", "", "", "", "", ""],
        ["end_repeat", "", "", "", "", ""],
        ["text", "source", "Source", "", "${has_water} = 'yes'", "yes"],
        ["geopoint", "where", "Where", "", "", ""],
        ["image", "photo", "Photo", "", "", ""],
    ],
    [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]],
    form_id="household",
    version="1",
)


def answers_in(xml: str) -> dict[str, str]:
    """Element path (positions of repeats included) → text, from a submission."""
    found: dict[str, str] = {}

    def walk(element: ElementTree.Element, path: str) -> None:
        counts: dict[str, int] = {}
        for child in element:
            counts[child.tag] = counts.get(child.tag, 0) + 1
            child_path = f"{path}/{child.tag}[{counts[child.tag]}]"
            if len(child):
                walk(child, child_path)
            elif child.text:
                found[child_path] = child.text

    root = ElementTree.fromstring(xml)
    walk(root, f"/{root.tag}")
    return found


def test_given_answers_land_where_they_are_named_with_repeats_added() -> None:
    result = fill_form(
        HOUSEHOLD,
        answers={
            "/data/size": 3,
            "/data/has_water": "yes",
            "/data/member[1]/age": 40,
            "/data/member[2]/age": 35,
            "/data/member[2]/visit[2]/when": "2024-05-01",
            "/data/source": "well",
        },
    )
    assert result["status"] == "ok", result["errors"]
    submission = answers_in(result["submission_xml"])
    assert submission["/data/size[1]"] == "3"
    assert submission["/data/member[1]/age[1]"] == "40"
    assert submission["/data/member[2]/age[1]"] == "35"
    assert submission["/data/member[2]/visit[2]/when[1]"] == "2024-05-01"
    assert submission["/data/source[1]"] == "well"
    assert result["values"]["/data/member[2]/visit[2]/when"] == "2024-05-01"


def test_a_violated_constraint_and_a_missing_required_answer_are_reported() -> None:
    result = fill_form(HOUSEHOLD, answers={"/data/size": 40, "/data/has_water": "yes"})
    assert result["status"] == "invalid"
    assert any(w.startswith("/data/size: constraint") for w in result["warnings"])
    assert any("/data/source: required" in error for error in result["errors"])
    # The submission is still serialised, as ODK clients do for a draft.
    assert "<size>40</size>" in result["submission_xml"]


def test_an_unknown_question_is_an_error_not_silence() -> None:
    result = fill_form(HOUSEHOLD, answers={"/data/size": 2, "/data/nonsense": "x"})
    assert "/data/nonsense: no such question in the form" in result["errors"]


def test_generated_answers_respect_constraints_choices_and_fill_nested_repeats() -> None:
    result = fill_form(HOUSEHOLD, repeats=2)
    assert result["status"] == "ok", result["errors"]
    values = result["values"]
    assert 1 <= int(values["/data/size"]) <= 20
    assert int(values["/data/member[1]/age"]) >= 18
    assert values["/data/has_water"] in ("yes", "no")
    assert "/data/member[2]/visit[2]/when" in values
    assert len(values["/data/where"].split()) == 4
    (photo,) = result["attachments"]
    assert photo["type"] == "image/png"
    assert base64.b64decode(photo["base64"]).startswith(b"\x89PNG")
    assert f"<photo>{photo['name']}</photo>" in result["submission_xml"]


def test_form_attachments_are_read_from_the_folder(tmp_path: Path) -> None:
    (tmp_path / "towns.csv").write_text("name,label\nsemey,Semey\nkurchatov,Kurchatov\n")
    form = xform(
        [
            ["type", "name", "label", "required"],
            ["select_one_from_file towns.csv", "town", "Town", "yes"],
        ],
        form_id="towns",
    )
    result = fill_form(form, attachments=tmp_path)
    assert result["status"] == "ok", result["errors"]
    assert result["form_attachments_used"] == ["towns.csv"]
    assert result["values"]["/data/town"] in ("semey", "kurchatov")


def test_a_missing_attachment_fails_the_load_by_default() -> None:
    form = xform(
        [["type", "name", "label"], ["select_one_from_file towns.csv", "town", "Town"]],
        form_id="towns",
    )
    result = fill_form(form)
    assert result["status"] == "load-error"
    assert "towns.csv" in " ".join(result["errors"])
    assert result["form_attachments_missing"] == ["towns.csv"]


def test_a_broken_xform_is_a_load_error_and_a_batch_keeps_going(tmp_path: Path) -> None:
    broken = HOUSEHOLD.replace('constraint=". &gt;= 1', 'constraint="(. &gt;= 1')
    assert broken != HOUSEHOLD
    (tmp_path / "broken.xml").write_text(broken, encoding="utf-8")
    (tmp_path / "household.xml").write_text(HOUSEHOLD, encoding="utf-8")
    results = fill_batch(
        [
            {"form": str(tmp_path / "broken.xml"), "repeats": 1},
            {"form": str(tmp_path / "household.xml"), "repeats": 1},
        ]
    )
    assert [result["status"] for result in results] == ["load-error", "ok"]
    assert "syntax error" in results[0]["errors"][0]
