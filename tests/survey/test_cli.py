"""The `survey` command."""

from __future__ import annotations

from sqlalchemy import func, select

from survey.cli import main
from survey.collection.models import SurveyRound
from survey.extensions import db
from survey.instruments.models import InstrumentVersion
from survey.users.models import User
from tests.factories import xlsform_bytes


def test_init_is_idempotent(runner, monkeypatch) -> None:
    monkeypatch.setenv("SURVEY_ADMIN_PASSWORD", "Tobyl-Ertis-5529")
    first = runner.invoke(main, ["init"])
    assert first.exit_code == 0, first.output
    assert "Loaded the default instrument" in first.output
    assert "SURVEY_ADMIN_PASSWORD" in first.output
    second = runner.invoke(main, ["init"])
    assert second.exit_code == 0, second.output
    assert "Loaded" not in second.output
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(InstrumentVersion)).scalar() == 1
    assert db.session.execute(select(func.count()).select_from(SurveyRound)).scalar() == 1
    assert db.session.execute(select(User.role)).scalars().all() == ["admin"]


def test_init_prints_a_generated_password_once(runner, app, monkeypatch) -> None:
    from pathlib import Path

    monkeypatch.delenv("SURVEY_ADMIN_PASSWORD", raising=False)
    result = runner.invoke(main, ["init"])
    assert "password:" in result.output
    assert (Path(app.instance_path) / "first-login.txt").exists()


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
    path.write_bytes(xlsform_bytes([["type", "name", "label"], ["geopoint", "g", "G"]]))
    result = runner.invoke(main, ["instruments", "import", str(path)])
    assert result.exit_code == 1
    assert "Sheet 'survey', row 2, column 'type'" in result.output
    assert "Traceback" not in result.output
    missing = runner.invoke(main, ["instruments", "import", str(tmp_path / "nope.xlsx")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_rounds(runner) -> None:
    ok = runner.invoke(main, ["rounds", "add", "2026", "--starts", "2026-01-01"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(
        main, ["rounds", "add", "x", "--starts", "2026-05-01", "--ends", "2026-01-01"]
    )
    assert bad.exit_code == 1 and "cannot end before it starts" in bad.output
    dup = runner.invoke(main, ["rounds", "add", "2026", "--starts", "2026-01-01"])
    assert "already exists" in dup.output
    assert "2026\t2026-01-01" in runner.invoke(main, ["rounds", "list"]).output


def test_users_create(runner) -> None:
    ok = runner.invoke(
        main,
        ["users", "create", "dana", "--role", "coordinator", "--password-stdin"],
        input="a-good-long-password\n",
    )
    assert ok.exit_code == 0, ok.output
    short = runner.invoke(main, ["users", "create", "erlan", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    role = runner.invoke(main, ["users", "create", "x", "--role", "king", "--password-stdin"])
    assert role.exit_code == 2
