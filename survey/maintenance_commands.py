"""`survey users …`, `survey audit`, `survey backup`, `survey restore` (registered in cli.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from survey.extensions import db


def _user_or_fail(username: str):  # type: ignore[no-untyped-def]
    from survey.users.services import find_user

    user = find_user(username)
    if user is None:
        raise click.ClickException(f"No account named {username!r}.")
    return user


@click.command("list")
@with_appcontext
def users_list() -> None:
    """List accounts."""
    from survey.users.services import list_users

    for user in list_users():
        status = "active" if user.active else "disabled"
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
        click.echo(f"{user.username}\t{user.role}\t{status}\tlast login: {last}")


@click.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Re-enable the account instead.")
@with_appcontext
def users_disable(username: str, enable: bool) -> None:
    """Disable (or re-enable) an account."""
    from survey.users.services import AccountError, record_audit, set_active

    user = _user_or_fail(username)
    try:
        set_active(user, enable)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    record_audit("user_changed", target=username, details={"active": enable, "via": "cli"})
    db.session.commit()
    click.echo(f"{username} is {'enabled' if enable else 'disabled'}.")


@click.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(["volunteer", "coordinator", "advocate", "admin"]))
@with_appcontext
def users_set_role(username: str, role: str) -> None:
    """Give an account another role."""
    from survey.users.services import record_audit, set_role

    user = _user_or_fail(username)
    before = user.role
    set_role(user, role)
    record_audit("user_changed", target=username, details={"role": [before, role], "via": "cli"})
    db.session.commit()
    click.echo(f"{username} is now {role}.")


@click.command("audit")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this day (UTC).")
@click.option("--action", help="Only this action, e.g. login_failed.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100000))
@with_appcontext
def audit_command(since: dt.datetime | None, action: str | None, limit: int) -> None:
    """Print the audit log, oldest first, tab-separated."""
    from survey.users.services import audit_entries

    start = since.replace(tzinfo=dt.UTC) if since else None
    entries = audit_entries(since=start, action=action, limit=limit)
    for entry in reversed(entries):
        details = "; ".join(f"{k}={v}" for k, v in (entry.details or {}).items())
        click.echo(
            "\t".join(
                [
                    entry.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    entry.username or "-",
                    entry.action,
                    entry.target or "",
                    details,
                ]
            )
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
    record_audit("backup_restored", target=backup_file.name)
    db.session.commit()
    click.echo(f"Restored {backup_file}.")
    if safety:
        click.echo(f"The data before the restore is kept in {safety}.")
