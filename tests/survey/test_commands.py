"""`survey init`, `survey backup` and `survey restore`."""

from __future__ import annotations

import os
import sqlite3

import pytest
from sqlalchemy import func, select

from survey.cli import main
from survey.collection.models import SurveyRound
from survey.extensions import db
from survey.instruments.models import InstrumentVersion
from survey.users.models import User


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


def test_init_refuses_a_weak_admin_password_before_writing_anything(runner, monkeypatch) -> None:
    monkeypatch.setenv("SURVEY_ADMIN_PASSWORD", "password1")
    result = runner.invoke(main, ["init"])
    assert result.exit_code == 1
    assert "SURVEY_ADMIN_PASSWORD is not usable" in result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    assert db.session.execute(select(func.count()).select_from(User)).scalar() == 0
    assert db.session.execute(select(func.count()).select_from(InstrumentVersion)).scalar() == 0


def test_init_prints_a_generated_password_once(runner, app, monkeypatch) -> None:
    from pathlib import Path

    monkeypatch.delenv("SURVEY_ADMIN_PASSWORD", raising=False)
    result = runner.invoke(main, ["init"])
    assert "password:" in result.output
    assert (Path(app.instance_path) / "first-login.txt").exists()


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


def test_backups_and_the_database_are_private(runner, app, create_user, tmp_path) -> None:
    import stat

    create_user("aida", "volunteer")
    out = tmp_path / "private" / "backup.db"
    assert runner.invoke(main, ["backup", str(out)]).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700


def test_a_new_instance_folder_is_private(tmp_path) -> None:
    import stat

    from survey import create_app

    instance = tmp_path / "fresh-instance"
    fresh = create_app({"TESTING": True}, instance_path=str(instance))
    database = instance / "survey.sqlite3"
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600
    with fresh.app_context():
        db.engine.dispose()


@pytest.mark.skipif(not os.environ.get("SURVEY_TEST_DATABASE_URL"), reason="needs PostgreSQL")
def test_restore_of_a_postgresql_dump_into_an_empty_database(app, create_user, tmp_path) -> None:
    from sqlalchemy import create_engine, text

    from survey.backup import backup, restore

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        pytest.skip("a PostgreSQL dump")
    create_user("aida", "volunteer")
    dump = tmp_path / "pg.dump"
    assert backup(url, dump) == "postgresql"
    empty = url.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1] + "_2"
    server = create_engine(url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        name = url.rsplit("/", 1)[1] + "_2"
        if not connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).scalar():
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    engine = create_engine(empty)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    safety = restore(empty, dump, tmp_path / "safety")
    assert safety is None  # nothing to keep from an empty database
    with engine.connect() as connection:
        names = connection.execute(text("SELECT username FROM users")).scalars().all()
    engine.dispose()
    assert names == ["aida"]
