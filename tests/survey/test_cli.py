"""The `survey` command: one registry of Birge's commands."""

from __future__ import annotations

from survey.cli import main


def test_help_lists_birge_commands_only() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    listed = {
        line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()
    }
    assert {"init", "serve", "users", "audit", "instruments", "rounds", "demo-data"} <= listed
    assert {"export", "indicators", "report", "backup", "restore"} <= listed
    assert not listed & {"run", "shell", "routes", "limiter"}
    for option in ("--app", "--debug", "--env-file", "--version"):
        assert option not in result.output
    for group in ("users", "instruments", "rounds", "serve", "init"):
        assert CliRunner().invoke(main, [group, "--help"]).exit_code == 0, group


def test_commands_run_outside_a_test_app(tmp_path, monkeypatch) -> None:
    """The console script builds its own app from SURVEY_* settings, as `make run` does."""
    from click.testing import CliRunner

    monkeypatch.setenv("SURVEY_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("SURVEY_ADMIN_PASSWORD", "Tobyl-Ertis-5529")
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    assert "The database is ready." in result.output
    listing = CliRunner().invoke(main, ["rounds", "list"])
    assert listing.exit_code == 0 and listing.output.strip(), listing.output


def test_commands_start_without_loading_pyxform(tmp_path) -> None:
    """pyxform (a quarter of a CPU-second) is loaded by the commands that read a workbook
    only: `survey report`, `export` and the web workers start without it."""
    import subprocess
    import sys

    code = (
        "import sys; import survey.cli; from survey import create_app; "
        "create_app({'SECRET_KEY': 'x', 'DATABASE_URL': 'sqlite://'}, "
        f"instance_path={str(tmp_path)!r}); "
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'pyxform'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
