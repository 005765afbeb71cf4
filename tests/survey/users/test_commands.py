"""`survey users …` and `survey audit`."""

from __future__ import annotations

from sqlalchemy import select

from survey.cli import main
from survey.extensions import db
from survey.users.models import User


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


def test_users_list_disable_set_role(runner, create_user) -> None:
    create_user("aida", "volunteer")
    create_user("boss", "admin")
    listing = runner.invoke(main, ["users", "list"])
    assert "aida\tvolunteer\tactive" in listing.output
    assert runner.invoke(main, ["users", "disable", "aida"]).exit_code == 0
    assert runner.invoke(main, ["users", "set-role", "aida", "coordinator"]).exit_code == 0
    db.session.expire_all()
    aida = db.session.execute(select(User).where(User.username == "aida")).scalar_one()
    assert (aida.role, aida.active) == ("coordinator", False)
    last_admin = runner.invoke(main, ["users", "disable", "boss"])
    assert last_admin.exit_code == 1 and "last active administrator" in last_admin.output
    unknown = runner.invoke(main, ["users", "disable", "nobody"])
    assert unknown.exit_code == 1 and "No account named 'nobody'" in unknown.output
    bad_role = runner.invoke(main, ["users", "set-role", "aida", "king"])
    assert bad_role.exit_code == 2
    reset = runner.invoke(
        main, ["users", "reset-password", "aida", "--password-stdin"], input="aaaaaaaaaaaa\n"
    )
    assert reset.exit_code == 1 and "too easy to guess" in reset.output


def test_audit_command(runner, client, create_user) -> None:
    create_user("aida", "volunteer")
    client.post("/login", data={"username": "aida", "password": "wrong"})
    output = runner.invoke(main, ["audit", "--since", "2000-01-01"]).output
    assert "\tlogin_failed\t" in output and "known_account=True" in output
    assert "aida" not in output  # a failed name is kept only as a keyed hash
    assert runner.invoke(main, ["audit", "--action", "login"]).output == ""
    assert runner.invoke(main, ["audit", "--since", "yesterday"]).exit_code == 2


def test_the_last_admin_keeps_the_role_from_the_cli(runner, create_user) -> None:
    create_user("boss", "admin")
    demoted = runner.invoke(main, ["users", "set-role", "boss", "coordinator"])
    assert demoted.exit_code == 1 and "cannot give up the role" in demoted.output
    assert "Traceback" not in demoted.output
    disabled = runner.invoke(main, ["users", "disable", "boss"])
    assert disabled.exit_code == 1 and "cannot be disabled" in disabled.output
    create_user("second", "admin")
    assert runner.invoke(main, ["users", "set-role", "boss", "coordinator"]).exit_code == 0
