"""`survey init`, `survey serve`, `survey backup`, `survey restore`: the application as a whole."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from survey import create_app
from survey.extensions import db


def _upgrade_database() -> None:
    from flask_migrate import upgrade

    upgrade(directory=str(Path(__file__).parent / "migrations"))


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database, load the default instrument, first round and admin."""
    from survey.backup import create_private_file
    from survey.collection.models import SurveyRound
    from survey.collection.rounds import create_round
    from survey.instruments.services import import_default_instrument
    from survey.users.models import Role, User
    from survey.users.services import (
        AccountError,
        check_password_strength,
        create_user,
        generate_password,
    )

    chosen = os.environ.get("SURVEY_ADMIN_PASSWORD")
    if chosen:  # refused before anything is written, not half-way through
        try:
            check_password_strength(chosen, "admin")
        except AccountError as error:
            raise click.ClickException(
                f"SURVEY_ADMIN_PASSWORD is not usable: {error} Or leave "
                "the variable unset to have a password generated and printed once."
            ) from error
    _upgrade_database()
    version = import_default_instrument()
    if version is not None:
        click.echo(f"Loaded the default instrument: {version.title}, version {version.version}.")
    if db.session.execute(select(SurveyRound)).first() is None:
        today = dt.date.today()
        create_round(str(today.year), dt.date(today.year, 1, 1), dt.date(today.year, 12, 31))
        click.echo(f"Created the first survey round, {today.year}.")
    if db.session.execute(select(User).where(User.role == Role.ADMIN.value)).first() is None:
        password = os.environ.get("SURVEY_ADMIN_PASSWORD") or generate_password()
        create_user(
            "admin", password, Role.ADMIN, generated=not os.environ.get("SURVEY_ADMIN_PASSWORD")
        )
        if os.environ.get("SURVEY_ADMIN_PASSWORD"):
            click.echo(
                "Created the admin account 'admin' with the password from SURVEY_ADMIN_PASSWORD."
            )
        else:
            click.echo("Created the admin account. Write this down, it is shown only once:")
            click.echo(f"    username: admin    password: {password}")
            first_login = Path(current_app.instance_path) / "first-login.txt"
            create_private_file(first_login)
            first_login.write_text(
                f"username: admin\npassword: {password}\n"
                "Delete this file after your first login and change the password.\n"
            )
    db.session.commit()
    click.echo("The database is ready.")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 32))
def serve_command(host: str, port: int, workers: int) -> None:
    """Serve the app with gunicorn (a production WSGI server)."""
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which(
        "gunicorn"
    )
    if gunicorn is None:
        raise click.ClickException("gunicorn is not installed; run 'make run' to install it.")
    app = create_app()
    first_login = Path(app.instance_path) / "first-login.txt"
    click.echo(f"\n  Birge is running at http://{host}:{port}/")
    if first_login.exists():
        click.echo(f"  Log in with the account in {first_login}")
    else:
        click.echo(
            "  Log in as 'admin' with the password printed by the first 'make run' "
            "(or set one: survey users reset-password admin)."
        )
    click.echo("  Press Ctrl+C to stop.\n")
    os.execv(  # noqa: S606 - replaces this process with the server
        gunicorn,
        [
            gunicorn,
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--threads",
            "4",
            "--access-logfile",
            "-",
            "survey.wsgi:app",
        ],
    )


@click.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(out: Path) -> None:
    """Write a consistent backup of the database to OUT (safe while the app runs)."""
    from survey.backup import BackupError, backup
    from survey.users.services import record_audit

    if out.exists():
        raise click.ClickException(f"{out} exists; choose a new file name.")
    try:
        kind = backup(current_app.config["SQLALCHEMY_DATABASE_URI"], out)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    record_audit("backup_made", target=out.name, details={"kind": kind})
    db.session.commit()
    click.echo(f"Backup written to {out} ({kind}, {out.stat().st_size} bytes).")


@click.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(backup_file: Path, yes: bool) -> None:
    """Verify BACKUP_FILE and replace the database with it (a safety copy is kept)."""
    from survey.backup import BackupError, restore, verify
    from survey.users.services import record_audit

    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        verify(backup_file, "sqlite" if url.startswith("sqlite") else "postgresql")
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    if not yes:
        click.confirm("Replace ALL current data with this backup?", abort=True)
    db.session.remove()
    db.engine.dispose()
    try:
        safety = restore(url, backup_file, Path(current_app.instance_path) / "backups")
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    try:
        from survey.datasets.snapshot import new_epoch

        new_epoch()  # numbers of changes may repeat with other contents: snapshots rebuild
    except SQLAlchemyError:  # a backup from before the snapshot existed: migrate first
        db.session.rollback()
    record_audit("backup_restored", target=backup_file.name)
    db.session.commit()
    click.echo(f"Restored {backup_file}.")
    if safety:
        click.echo(f"The data before the restore is kept in {safety}.")
