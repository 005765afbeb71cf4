"""`survey users …`, `survey audit`, `survey backup` and `survey restore`."""

from __future__ import annotations

import sqlite3

from sqlalchemy import select

from survey.cli import main
from survey.extensions import db
from survey.users.models import User


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
    assert "\tlogin_failed\taida" in output
    assert runner.invoke(main, ["audit", "--action", "login"]).output == ""
    assert runner.invoke(main, ["audit", "--since", "yesterday"]).exit_code == 2


def test_backup_and_restore_round_trip(runner, create_user, tmp_path) -> None:
    create_user("aida", "volunteer")
    out = tmp_path / "backup.db"
    made = runner.invoke(main, ["backup", str(out)])
    assert made.exit_code == 0, made.output
    assert runner.invoke(main, ["backup", str(out)]).exit_code == 1  # never overwrite
    create_user("later", "volunteer")
    db.session.remove()
    restored = runner.invoke(main, ["restore", str(out), "--yes"])
    assert restored.exit_code == 0, restored.output
    db.session.remove()
    names = set(db.session.execute(select(User.username)).scalars())
    assert names == {"aida"}
    assert "kept in" in restored.output


def test_restore_refuses_bad_files(runner, tmp_path, app) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    foreign = tmp_path / "foreign.db"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE notes (x)")
    connection.commit()
    connection.close()
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello")
    is_sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    for path, message in [
        (corrupt, "damaged" if is_sqlite else "comes from a sqlite database"),
        (foreign, "not a Birge one" if is_sqlite else "comes from a sqlite database"),
        (junk, "is not a Birge backup"),
    ]:
        result = runner.invoke(main, ["restore", str(path), "--yes"])
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert "Traceback" not in result.output
