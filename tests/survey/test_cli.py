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


def test_a_command_loads_its_own_module_and_no_migration_tool(tmp_path) -> None:
    """Alembic (through Flask-Migrate) and the other commands' modules are imported by the
    command that needs them: `survey report` starts without them; `survey db` still finds the
    migrations."""
    import subprocess
    import sys

    code = (
        "import sys; from survey.cli import main; from survey import create_app; "
        "create_app({'SECRET_KEY': 'x', 'DATABASE_URL': 'sqlite://'}, "
        f"instance_path={str(tmp_path)!r}); "
        "main.get_command(None, 'report'); "
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'alembic', 'flask_migrate'}),"
        " 'survey.demo.commands' in sys.modules, 'survey.datasets.commands' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]", "False", "False"]


def test_migration_commands_find_the_migrations(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "SURVEY_INSTANCE_PATH": str(tmp_path / "instance"),
        "SURVEY_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SURVEY_SECRET_KEY": "x" * 32,
    }
    done = subprocess.run(
        [sys.executable, "-c", "from survey.cli import main; main()", "db", "heads"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "(head)" in done.stdout  # Alembic prints to the process's own stdout


def test_commands_and_workers_use_one_blas_thread_unless_told_otherwise() -> None:
    """Set before numpy loads: the command and each web worker use one core's worth."""
    import os
    import subprocess
    import sys

    script = (
        "import {module}, numpy, os; "
        "print(os.environ['OPENBLAS_NUM_THREADS'], numpy.__name__ in __import__('sys').modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    for module in ("survey.cli", "survey.wsgi"):
        code = script.format(module=module)
        default = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert default.stdout.split() == ["1", "True"], default.stderr
        chosen = subprocess.run(
            [sys.executable, "-c", code],
            env={**env, "OPENBLAS_NUM_THREADS": "4"},
            capture_output=True,
            text=True,
            check=True,
        )
        assert chosen.stdout.split()[0] == "4"
