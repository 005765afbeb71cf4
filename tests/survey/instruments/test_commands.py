"""`survey instruments import` and `survey instruments list`."""

from __future__ import annotations

from survey.cli import main
from tests.factories import xlsform_bytes


def test_instruments_import_and_list(runner, tmp_path) -> None:
    path = tmp_path / "form.xlsx"
    path.write_bytes(xlsform_bytes([["type", "name", "label"], ["text", "a", "A"]]))
    result = runner.invoke(main, ["instruments", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported test_form version 1." in result.output
    again = runner.invoke(main, ["instruments", "import", str(path)])
    assert again.exit_code != 0
    assert "already imported from this very file" in again.output
    listing = runner.invoke(main, ["instruments", "list"])
    assert "test_form\tTest form\tversions: 1" in listing.output


def test_instruments_import_reports_problems(runner, tmp_path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(xlsform_bytes([["type", "name", "label"], ["gpx", "g", "G"]]))
    result = runner.invoke(main, ["instruments", "import", str(path)])
    assert result.exit_code == 1
    assert "Sheet 'survey', row 2, column 'type'" in result.output
    assert "Traceback" not in result.output
    missing = runner.invoke(main, ["instruments", "import", str(tmp_path / "nope.xlsx")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_instruments_import_prints_facts_plainly_and_only_warnings_as_warnings(
    runner, tmp_path
) -> None:
    path = tmp_path / "form.xlsx"
    rows = [["type", "name", "label", "appearance"], ["text", "a", "A", "sparkle"]]
    path.write_bytes(xlsform_bytes(rows))
    result = runner.invoke(main, ["instruments", "import", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    facts = [line for line in lines if "Intake rules" in line or "Free text (a)" in line]
    assert len(facts) == 2 and not any(line.startswith("warning:") for line in facts), lines
    assert any(line.startswith("warning:") and "'sparkle'" in line for line in lines), lines
