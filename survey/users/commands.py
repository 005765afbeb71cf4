"""`survey users …` (accounts) and `survey audit` (the audit log)."""

from __future__ import annotations

import datetime as dt
import sys

import click
from flask.cli import with_appcontext

from survey.extensions import db


def _user_or_fail(username: str):  # type: ignore[no-untyped-def]
    from survey.users.services import find_user

    user = find_user(username)
    if user is None:
        raise click.ClickException(f"No account named {username!r}.")
    return user


@click.group("users")
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


@users_group.command("list")
@with_appcontext
def users_list() -> None:
    """List accounts."""
    from survey.users.services import list_users

    for user in list_users():
        status = "active" if user.active else "disabled"
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
        click.echo(f"{user.username}\t{user.role}\t{status}\tlast login: {last}")


@users_group.command("disable")
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


@users_group.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(["volunteer", "coordinator", "advocate", "admin"]))
@with_appcontext
def users_set_role(username: str, role: str) -> None:
    """Give an account another role."""
    from survey.users.services import AccountError, record_audit, set_role

    user = _user_or_fail(username)
    before = user.role
    try:
        set_role(user, role)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
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
