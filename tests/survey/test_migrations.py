"""Every schema change is a migration: the migrated database matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from survey.extensions import db


def test_models_and_migrations_agree(app) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_sqlite_pragmas(app) -> None:
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_migrating_leaves_other_loggers_enabled(tmp_path) -> None:
    # Alembic's logging set-up disabled every logger that existed before it, WeasyPrint's among
    # them, so its warnings about refused resources vanished after `survey init`.
    import logging

    from flask_migrate import upgrade

    from tests.conftest import MIGRATIONS, _app_for

    weasyprint = logging.getLogger("weasyprint")
    app = _app_for(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path / "instance")
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        db.engine.dispose()
    assert not weasyprint.disabled
