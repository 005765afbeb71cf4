"""`survey report`: bad settings files and filters are refused with a clear message.

(The successful run, with a TOML file, is in test_paper.py: it makes the Kazakh paper.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from survey.demo import write_demo_data
from survey.extensions import db
from survey.reporting.commands import report_command
from survey.reporting.models import GeneratedReport

GOOD = 'title = "Needs of survivors"\nsubmitted_by = "Coalition"\ninclude_demo = true\n'


def run(runner: Any, tmp_path: Path, toml: str | None, *extra: str) -> Any:
    """Invoke the command with a settings file holding `toml` (none when None)."""
    args = ["--out", str(tmp_path / "paper.pdf"), *extra]
    if toml is not None:
        settings = tmp_path / "settings.toml"
        settings.write_text(toml, encoding="utf-8")
        args += ["--settings", str(settings)]
    return runner.invoke(report_command, args)


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('symbol = "TPNW//NGO/23"\n' + GOOD, "symbol: Write letters and digits separated by “/”"),
        ('submitted_by = "Coalition"\n', "title: This is required."),
        (GOOD + 'colour = "blue"\n', "colour: This is not a report setting."),
        (GOOD + 'language = "de"\n', "language: Choose one of: en, ru, kk."),
        (GOOD + "date = 2025-13-01\n", "is not valid TOML"),
        (GOOD + 'review_statuses = ["published"]\n', "“published” is not a review status"),
        ("title = 'unclosed\n", "is not valid TOML"),
    ],
)
def test_bad_settings_files_are_refused_clearly(
    runner: Any, tmp_path: Path, toml: str, expected: str
) -> None:
    result = run(runner, tmp_path, toml)
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert not (tmp_path / "paper.pdf").exists()
    assert db.session.execute(select(func.count(GeneratedReport.id))).scalar() == 0


def test_without_a_settings_file_the_organization_is_asked_for(runner: Any, tmp_path: Path) -> None:
    result = run(runner, tmp_path, None, "--lang", "ru")
    assert result.exit_code == 1
    assert "(no --settings file)" in result.output
    assert "title: This is required." in result.output
    assert "submitted_by: This is required." in result.output
    assert "Example settings file" in result.output


def test_a_missing_settings_file_and_a_wrong_language(runner: Any, tmp_path: Path) -> None:
    result = runner.invoke(
        report_command,
        ["--out", str(tmp_path / "x.pdf"), "--settings", str(tmp_path / "none.toml")],
    )
    assert result.exit_code == 1 and "Cannot read" in result.output
    result = runner.invoke(report_command, ["--out", str(tmp_path / "x.pdf"), "--lang", "de"])
    assert result.exit_code == 2 and "'de' is not one of" in result.output


def test_filters_without_data_and_unknown_codes(
    runner: Any, tmp_path: Path, default_instrument: Any, survey_round: Any
) -> None:
    write_demo_data(default_instrument, survey_round, 20, seed=5)
    cases = {
        'districts = ["akkuly_district", "may_district"]\nage_bands = ["18_39"]\n': (
            "Fewer than 5 respondents match these settings, perhaps none"
        ),
        'districts = ["atlantis"]\n': "There is no district “atlantis”.",
        'generations = ["g9"]\n': "“g9” is not an answer to “generation”.",
        'rounds = ["1999"]\n': "Unknown survey round(s): 1999",
    }
    for toml, expected in cases.items():
        result = run(runner, tmp_path, GOOD + toml)
        assert result.exit_code == 1, (toml, result.output)
        assert expected in result.output, (toml, result.output)
    result = run(runner, tmp_path, GOOD.replace("include_demo = true", "include_demo = false"))
    assert "Demo data are left out" in result.output
    assert db.session.execute(select(func.count(GeneratedReport.id))).scalar() == 0
