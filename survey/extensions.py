"""Flask extensions, created unbound and bound to the app in create_app()."""

import sqlite3
from functools import cached_property
from typing import Any

from flask import Flask
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep Alembic migrations stable across SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class _MigrationsConfig:
    """What Flask-Migrate keeps in app.extensions["migrate"], its Migrate made on first use."""

    def __init__(self, database: SQLAlchemy, directory: str) -> None:
        self.db = database
        self.directory = directory
        # Flask-Migrate's defaults, read by survey/migrations/env.py
        self.configure_args: dict[str, Any] = {"compare_type": True, "render_as_batch": True}

    @property
    def metadata(self) -> MetaData:
        """The models' metadata (older env.py files read it here)."""
        return self.db.metadata

    @cached_property
    def migrate(self) -> Any:
        """Flask-Migrate's Migrate, imported (with Alembic) by the commands that migrate."""
        from flask_migrate import Migrate

        return Migrate(db=self.db, directory=self.directory, **self.configure_args)


class Migrations:
    """Flask-Migrate bound without importing it: it imports Alembic (a tenth of a CPU-second),
    which only `survey init`, `survey db` and the tests' set-up use, not every web worker and
    command. Its functions (upgrade, …) find what they need in app.extensions["migrate"]."""

    def init_app(self, app: Flask, database: SQLAlchemy, directory: str) -> None:
        """Register the migrations folder and database for Flask-Migrate's functions."""
        app.extensions["migrate"] = _MigrationsConfig(database, str(directory))


db = SQLAlchemy(model_class=Base)
migrate = Migrations()
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
limiter = Limiter(key_func=get_remote_address)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Foreign keys on, WAL for concurrent readers, full sync so a saved answer survives a crash."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@event.listens_for(Engine, "savepoint")
def _sqlite_savepoint_in_a_transaction(connection: Any, _name: str) -> None:
    """On SQLite, open the transaction a savepoint is to sit in.

    Python's sqlite3 driver begins a transaction only before a write; after reads alone a
    SAVEPOINT begins one itself, and its RELEASE then commits at once (a submission apart from
    its audit entry, with a sync of its own). A deferred BEGIN just before starts the
    transaction at the same moment, so locking is as before, and the caller's commit stores
    everything together.
    """
    raw = connection.connection.dbapi_connection
    if isinstance(raw, sqlite3.Connection) and not raw.in_transaction:
        connection.exec_driver_sql("BEGIN")
