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


@pytest.mark.sqlite_only  # the subject is the kept file, not the database
def test_the_same_paper_on_the_same_data_is_read_from_its_kept_file(
    runner: Any, tmp_path: Path, default_instrument: Any, survey_round: Any, monkeypatch: Any
) -> None:
    """Charts and layout are paid once per settings and data state; the bytes are the same."""
    from survey.reporting import services

    write_demo_data(default_instrument, survey_round, 30, seed=7)
    renders = []
    render = services.render_with_pages

    def counted(content: Any) -> tuple[bytes, int]:
        renders.append(content)
        return render(content)

    monkeypatch.setattr(services, "render_with_pages", counted)
    first = run(runner, tmp_path, GOOD)
    assert first.exit_code == 0, first.output
    pdf = (tmp_path / "paper.pdf").read_bytes()
    second = run(runner, tmp_path, GOOD)
    assert second.exit_code == 0, second.output
    assert len(renders) == 1
    assert (tmp_path / "paper.pdf").read_bytes() == pdf
    reports = db.session.execute(select(GeneratedReport).order_by(GeneratedReport.id)).scalars()
    first_report, second_report = reports.all()
    assert first_report.pdf_sha256 == second_report.pdf_sha256
    assert first_report.snapshot == second_report.snapshot
    # The history's check renders again (render_pdf), and the bytes agree with the kept ones.
    assert services.regenerate(second_report) == (pdf, True)
    # Other settings, and the same settings on other data, are rendered.
    assert run(runner, tmp_path, GOOD + 'language = "ru"\n').exit_code == 0
    assert len(renders) == 2
    write_demo_data(default_instrument, survey_round, 5, seed=8)
    assert run(runner, tmp_path, GOOD).exit_code == 0
    assert len(renders) == 3
    assert (tmp_path / "paper.pdf").read_bytes() != pdf


@pytest.mark.sqlite_only  # the subject is the kept file, not the database
def test_papers_are_not_kept_when_switched_off(
    app: Any, runner: Any, tmp_path: Path, default_instrument: Any, survey_round: Any
) -> None:
    from survey.reporting import kept

    app.config["REPORT_KEPT_PAPERS"] = False
    write_demo_data(default_instrument, survey_round, 30, seed=7)
    assert run(runner, tmp_path, GOOD).exit_code == 0
    assert not list(kept.folder().glob("*"))


def test_the_analysis_of_a_data_state_is_kept_for_the_next_process(
    app: Any, runner: Any, tmp_path: Path, default_instrument: Any, survey_round: Any, monkeypatch
) -> None:
    """A new process (the in-memory analyses forgotten) reads the analysis kept beside the
    snapshot; another data state, or other answer filters, are analysed again."""
    from survey.reporting import snapshot

    write_demo_data(default_instrument, survey_round, 30, seed=7)
    runs = []
    run_plan = snapshot.run_plan

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return run_plan(*args, **kwargs)

    monkeypatch.setattr(snapshot, "run_plan", counted)

    def new_process_paper(toml: str) -> GeneratedReport:
        app.extensions.get("birge_report_analyses", {}).clear()
        assert run(runner, tmp_path, toml).exit_code == 0
        query = select(GeneratedReport).order_by(GeneratedReport.id.desc()).limit(1)
        return db.session.execute(query).scalar_one()

    first = new_process_paper(GOOD)
    assert len(runs) == 1
    second = new_process_paper(GOOD + 'symbol = "TPNW/MSP/2025/NGO/9"\n')
    assert len(runs) == 1  # other words, same data: the kept analysis
    assert second.snapshot == first.snapshot
    new_process_paper(GOOD + 'sexes = ["female"]\n')
    assert len(runs) == 2
    write_demo_data(default_instrument, survey_round, 5, seed=8)
    third = new_process_paper(GOOD)
    assert len(runs) == 3
    assert third.snapshot["data"]["respondents"] != first.snapshot["data"]["respondents"]
    app.config["REPORT_KEPT_PAPERS"] = False
    new_process_paper(GOOD)
    assert len(runs) == 4


@pytest.mark.sqlite_only  # the subject is the kept charts, not the database
def test_charts_of_the_same_data_are_read_by_the_next_process(
    app: Any, runner: Any, tmp_path: Path, default_instrument: Any, survey_round: Any, monkeypatch
) -> None:
    from survey.reporting import content, services

    write_demo_data(default_instrument, survey_round, 30, seed=7)
    draws = []
    draw = content.bar_chart_svg

    def counted(*args: Any, **kwargs: Any) -> str:
        draws.append(1)
        return draw(*args, **kwargs)

    monkeypatch.setattr(content, "bar_chart_svg", counted)
    content._chart.cache_clear()  # a new process
    assert run(runner, tmp_path, GOOD).exit_code == 0
    drawn = len(draws)
    assert drawn > 0
    content._chart.cache_clear()
    assert run(runner, tmp_path, GOOD + 'symbol = "TPNW/MSP/2025/NGO/9"\n').exit_code == 0
    assert len(draws) == drawn  # other words, same data: every chart read from its kept file
    report = db.session.execute(
        select(GeneratedReport).order_by(GeneratedReport.id.desc()).limit(1)
    ).scalar_one()
    app.config["REPORT_KEPT_PAPERS"] = False
    content._chart.cache_clear()
    assert services.regenerate(report)[1]  # drawn afresh, the same bytes
    assert len(draws) == 2 * drawn
