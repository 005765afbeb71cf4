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


def test_papers_filed_before_the_public_column_keep_who_may_read_them(tmp_path) -> None:
    # Advocates may open only papers cut from their publication; the flag moved from each
    # paper's snapshot to a column, filled from the snapshots when the database is upgraded.
    import json

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from tests.conftest import MIGRATIONS, _app_for

    app = _app_for(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path / "instance")
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="a4c9e1f07b52")
        with db.engine.begin() as connection:
            for number, snapshot in enumerate([{"public": True}, {"public": False}, {}], 1):
                connection.execute(
                    sa.text(
                        "INSERT INTO generated_reports (id, created_at, settings, snapshot, "
                        "pdf_sha256, language, word_count) VALUES (:id, '2026-01-01', '{}', "
                        ":snapshot, '', 'en', 0)"
                    ),
                    {"id": number, "snapshot": json.dumps(snapshot)},
                )
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT id, public FROM generated_reports"))
            assert sorted(tuple(row) for row in rows) == [(1, 1), (2, 0), (3, 0)]
        db.engine.dispose()
