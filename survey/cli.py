"""The `survey` command: set up, serve, import instruments, manage rounds and users, demo data."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from survey import create_app
from survey.extensions import db


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=True)
def main() -> None:
    """Birge needs-assessment system."""


def _upgrade_database() -> None:
    from flask_migrate import upgrade

    upgrade(directory=str(Path(__file__).parent / "migrations"))


@main.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database, load the default instrument, first round and admin."""
    from survey.collection.models import SurveyRound
    from survey.collection.rounds import create_round
    from survey.instruments.services import import_default_instrument
    from survey.users.models import Role, User
    from survey.users.services import create_user, generate_password

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
        create_user("admin", password, Role.ADMIN)
        if os.environ.get("SURVEY_ADMIN_PASSWORD"):
            click.echo(
                "Created the admin account 'admin' with the password from SURVEY_ADMIN_PASSWORD."
            )
        else:
            click.echo("Created the admin account. Write this down, it is shown only once:")
            click.echo(f"    username: admin    password: {password}")
            (Path(current_app.instance_path) / "first-login.txt").write_text(
                f"username: admin\npassword: {password}\n"
                "Delete this file after your first login and change the password.\n"
            )
    db.session.commit()
    click.echo("The database is ready.")


@main.command("serve")
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


@main.group("instruments")
def instruments_group() -> None:
    """Import and list instruments (XLSForms)."""


@instruments_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def instruments_import(path: Path) -> None:
    """Import an XLSForm as a new version of its form_id."""
    from survey.instruments.services import import_instrument
    from survey.instruments.xlsform import InstrumentImportError

    try:
        version, warnings = import_instrument(path.read_bytes(), path.name)
    except InstrumentImportError as error:
        db.session.rollback()
        raise click.ClickException(
            "The file was not imported:\n  " + "\n  ".join(error.problems)
        ) from None
    db.session.commit()
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"Imported {version.instrument.form_id} version {version.version}.")


@instruments_group.command("list")
@with_appcontext
def instruments_list() -> None:
    """List instruments and their versions."""
    from survey.instruments.services import list_instruments

    instruments = list_instruments()
    if not instruments:
        click.echo("No instrument yet. Run 'survey init' or 'survey instruments import FILE'.")
    for instrument in instruments:
        versions = ", ".join(v.version for v in instrument.versions)
        click.echo(f"{instrument.form_id}\t{instrument.title}\tversions: {versions}")


@main.group("rounds")
def rounds_group() -> None:
    """Survey rounds (campaigns)."""


@rounds_group.command("add")
@click.argument("name")
@click.option("--starts", "starts_on", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--ends", "ends_on", type=click.DateTime(["%Y-%m-%d"]))
@with_appcontext
def rounds_add(name: str, starts_on: dt.datetime, ends_on: dt.datetime | None) -> None:
    """Add a survey round."""
    from survey.collection.rounds import RoundError, create_round

    try:
        create_round(name, starts_on.date(), ends_on.date() if ends_on else None)
    except RoundError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Added round {name}.")


@rounds_group.command("list")
@with_appcontext
def rounds_list() -> None:
    """List survey rounds."""
    from survey.collection.rounds import list_rounds

    for survey_round in list_rounds():
        click.echo(f"{survey_round.name}\t{survey_round.starts_on}\t{survey_round.ends_on or ''}")


@main.group("users")
def users_group() -> None:
    """Accounts."""


@users_group.command("create")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(["volunteer", "coordinator", "advocate", "admin"]),
    default="volunteer",
    show_default=True,
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_create(username: str, role: str, password_stdin: bool) -> None:
    """Create an account (the password is asked for, or read from standard input)."""
    from survey.users.services import AccountError, create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        create_user(username, password, role)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created {role} {username}.")


@users_group.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_reset_password(username: str, password_stdin: bool) -> None:
    """Set a new password for an account."""
    from survey.users.services import AccountError, find_user, record_audit, set_password

    user = find_user(username)
    if user is None:
        raise click.ClickException(f"No account named {username!r}.")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        set_password(user, password)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    record_audit("password_reset", target=username, details={"via": "cli"})
    db.session.commit()
    click.echo(f"Password of {username} changed.")


def _register_maintenance_commands() -> None:
    from survey.maintenance_commands import (
        audit_command,
        backup_command,
        restore_command,
        users_disable,
        users_list,
        users_set_role,
    )

    for command in (users_list, users_disable, users_set_role):
        users_group.add_command(command)
    for command in (audit_command, backup_command, restore_command):
        main.add_command(command)
    from survey.dashboards.commands import indicators_command
    from survey.datasets.commands import export_command
    from survey.reporting.commands import report_command

    for command in (export_command, indicators_command, report_command):
        main.add_command(command)


_register_maintenance_commands()


@main.command("demo-data")
@click.option(
    "--n", "count", required=True, type=click.IntRange(1, 2_000_000), help="How many to add."
)
@click.option("--seed", required=True, type=int, help="The same seed gives the same data.")
@click.option("--form-id", default="birge_needs_assessment", show_default=True)
@click.option("--round", "round_name", help="Round name (default: the current round).")
@with_appcontext
def demo_data_command(count: int, seed: int, form_id: str, round_name: str | None) -> None:
    """Add synthetic demo submissions (marked is_demo) made with the instrument's latest version."""
    import time

    from survey.collection.models import SurveyRound
    from survey.collection.rounds import current_round
    from survey.demo import DemoDataError, write_demo_data
    from survey.instruments.services import find_instrument, latest_version

    instrument = find_instrument(form_id)
    version = latest_version(instrument) if instrument is not None else None
    if version is None:
        raise click.ClickException(
            f"No instrument with form id {form_id!r}. See 'survey instruments list'."
        )
    if round_name is not None:
        survey_round = db.session.execute(
            select(SurveyRound).where(SurveyRound.name == round_name)
        ).scalar_one_or_none()
        if survey_round is None:
            raise click.ClickException(
                f"No survey round named {round_name!r}. See 'survey rounds list'."
            )
    else:
        survey_round = current_round()
        if survey_round is None:
            raise click.ClickException("No survey round has started. Add one: 'survey rounds add'.")
    started = time.perf_counter()
    try:
        written = write_demo_data(version, survey_round, count, seed)
    except DemoDataError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    elapsed = time.perf_counter() - started
    already = count - written
    click.echo(
        f"Wrote {written} demo submissions ({form_id} {version.version}, round "
        f"{survey_round.name}) in {elapsed:.1f} s"
        + (f"; {already} from this seed were already stored." if already else ".")
    )
