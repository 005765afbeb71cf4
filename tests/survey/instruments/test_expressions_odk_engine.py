"""randomize() and decimal-time() give what ODK's own form engine gives (tests/odk_engine.py):
the same order for the same seed, the same fraction of the day for the same time."""

from __future__ import annotations

import math
import os

import pytest
from defusedxml import ElementTree
from pyxform.xls2xform import convert

from survey.instruments import expressions as ex
from tests.factories import xlsform_bytes
from tests.odk_engine import engine_missing, fill_form

LETTERS = "ABCDEFGHIJ"
# Not here: a seed of ±Infinity, cast by JavaRosa (ODK Collect) through Java's double-to-long
# (2^63 as a double, seed 2) but by ODK Web Forms through an exact BigInt (2^63 - 1, seed 1);
# this follows JavaRosa. Nor a string literal seed, which Web Forms reads differently from
# number('x'); JavaRosa and this read both as NaN, seed 0.
SEEDS = ["42", "-42", "1", "0", "11111111", "3000000000.7", "-0.5", "number('x')", "2147483647"]
TIMES = ["12:00", "12:00:00", "00:00:00", "23:59:59.999", "06:30:00.5", "18:00:00.000+00:00"]
TIMES += ["24:00:00", "noon", "2024-01-01T06:00:00.000+00:00", ""]


@pytest.fixture(autouse=True)
def _engine_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = engine_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"ODK's engine must run in CI: {missing}")
        pytest.skip(missing)
    monkeypatch.setenv("TZ", "UTC")  # ODK reads a time in the device's zone: UTC here


def test_randomize_and_decimal_time_agree_with_odks_engine() -> None:
    items = "instance('letters')/root/item/name"
    calculations = {f"r{i}": f"join('', randomize({items}, {s}))" for i, s in enumerate(SEEDS)}
    calculations |= {f"t{i}": f"decimal-time('{t}')" for i, t in enumerate(TIMES)}
    survey = [["type", "name", "label", "calculation"], ["select_one letters", "pick", "Pick", ""]]
    survey += [["calculate", name, "", text] for name, text in calculations.items()]
    choices = [["list_name", "name", "label"]] + [["letters", c, c] for c in LETTERS]
    workbook = xlsform_bytes(survey=survey, choices=choices, settings={"form_id": "shuffle"})
    xform = convert(xlsform=workbook, file_type=".xlsx", form_name="data").xform
    result = fill_form(xform, answers={"/data/pick": "A"})
    assert result["status"] == "ok", result
    submission = ElementTree.fromstring(result["submission_xml"])
    odk = {child.tag: child.text or "" for child in submission}

    rows = [{"name": c, "label": c} for c in LETTERS]
    context = ex.EvalContext(lookup=lambda _name: None, choice_rows=lambda _list: rows)
    for name, text in calculations.items():
        ours = ex.evaluate(ex.parse(text), context)
        if isinstance(ours, float):
            expected = float(odk[name]) if odk[name] else math.nan
            assert ours == pytest.approx(expected, rel=1e-12, nan_ok=True), (text, odk[name])
        else:
            assert ours == odk[name], (text, odk[name])
