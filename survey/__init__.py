"""Birge: needs assessment for communities affected by nuclear testing."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(
    test_config: Mapping[str, Any] | None = None, instance_path: str | None = None
) -> Flask:
    """Build the application: config, extensions, blueprints. Nothing runs at import time."""
    instance_path = instance_path or os.environ.get("SURVEY_INSTANCE_PATH") or None
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
    )
    app.config.from_object("survey.config")
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("SURVEY")
    if test_config:
        app.config.from_mapping(test_config)
    if app.config.get("PRIVATE_FILES", True):
        # The instance folder holds every answer (database, backups, reports, exports): files
        # this process creates are for its own user only (0600 files, 0700 folders).
        os.umask(0o077)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True, mode=0o700)
    _configure_database(app)
    _configure_secret_key(app)

    from survey import errors, security
    from survey.extensions import babel, csrf, db, limiter, login_manager, migrate
    from survey.i18n import select_locale

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    security.init_app(app)
    errors.init_app(app)

    from survey.collection.blueprint import bp as collection_bp
    from survey.collection.offline_views import bp as offline_bp
    from survey.collection.openrosa_views import bp as openrosa_bp
    from survey.dashboards.views import bp as dashboards_bp
    from survey.datasets.views import bp as exports_bp
    from survey.instruments.views import bp as instruments_bp
    from survey.reporting.views import bp as reporting_bp
    from survey.users.views import bp as users_bp

    app.register_blueprint(users_bp)
    app.register_blueprint(instruments_bp)
    app.register_blueprint(collection_bp)
    app.register_blueprint(dashboards_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(openrosa_bp)
    # The same OpenRosa routes for phones configured with a device token instead of a password.
    app.register_blueprint(openrosa_bp, name="openrosa_key", url_prefix="/key/<token>")
    app.register_blueprint(offline_bp)
    app.register_blueprint(reporting_bp)

    from survey.i18n import init_app as init_i18n

    init_i18n(app)
    return app


def _configure_database(app: Flask) -> None:
    url = app.config.get("DATABASE_URL") or app.config.get("SQLALCHEMY_DATABASE_URI")
    if not url:
        path = Path(app.instance_path) / "survey.sqlite3"
        if not path.exists():
            # Created 0600 before SQLite opens it; its -wal and -shm files take the same mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        url = "sqlite:///" + str(path)
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})


def _configure_secret_key(app: Flask) -> None:
    """Use the configured key, else one generated once and kept in the instance folder."""
    if app.config.get("SECRET_KEY"):
        if (
            app.config["SECRET_KEY"] in {"dev", "change-me", "secret"}
            and not app.debug
            and not (app.testing)
        ):
            raise RuntimeError("Refusing to start with a well-known SECRET_KEY. Set a random one.")
        return
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    app.config["SECRET_KEY"] = key_file.read_text().strip()
