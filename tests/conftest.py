"""Fixtures: the app on SQLite (and PostgreSQL when SURVEY_TEST_DATABASE_URL is set), clients,
logins, and factories for users, instruments, rounds and submissions."""

from __future__ import annotations

import os

# One BLAS thread per test process, set before numpy loads OpenBLAS (which reads this once):
# `make test` already runs one process per core, and OpenBLAS's threads on the small matrices
# of the suppression audit (scipy's null_space, 50 × 90) then only wait for each other: on the
# busy 2-core machine 104 of them took 0.46 s with two threads and 0.04 s with one.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import copy
import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, make_url, text

from survey import create_app
from survey.extensions import db
from tests.factories import PASSWORD, xlsform_bytes

# Real-browser fixtures (browser, live_server) for every test module that asks for them.
pytest_plugins = ["tests.browser_support"]

# Property tests judge results, not speed: on CI's two busy cores an example may take longer
# than hypothesis' 200 ms deadline, which would fail a correct test at random.
settings.register_profile("birge", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("birge")

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "survey" / "migrations")
POSTGRES_URL = os.environ.get("SURVEY_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-not-for-production",
    "WTF_CSRF_ENABLED": False,
    "RATELIMIT_ENABLED": False,
    # Two-factor login is required for admins in production; tests of it switch it on.
    "TWO_FACTOR_REQUIRED_ROLES": [],
    # Production's argon2 cost is close to a second per hash on a busy CI core, paid at every
    # login of every test; the cost itself is tested in tests/survey/users/test_accounts.py.
    "PASSWORD_HASH_COST": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
    # Demo interviews give the advocates' tests their volume; the default (not published) is
    # tested on its own.
    "PUBLISH_DEMO": True,
    # Reviews and corrections show in the next load, not after the production delay.
    "DATASET_FULL_CHECK_SECONDS": 0,
}


def _app_for(url: str, instance: Path, **extra: Any) -> Flask:
    return create_app({**BASE_CONFIG, "DATABASE_URL": url, **extra}, instance_path=str(instance))


TRANSLATIONS = Path(__file__).resolve().parent.parent / "survey" / "translations"


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs() -> None:
    """Compile each .po to the .mo Flask-Babel reads, when missing or older than the .po.

    (The Makefile does this at install time; tests must not depend on having run it.)
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=po.parent.parent.name)
        temporary = mo.with_suffix(f".mo.{os.getpid()}.tmp")
        with temporary.open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=True)
        temporary.replace(mo)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run `sqlite_only` tests once: their subject (what a reader can infer from published
    figures, say) is the same on every database, and each takes minutes. Browser tests too:
    their live server is SQLite only (tests/browser_support.py), so a PostgreSQL copy would
    only set up a database to skip."""
    keep, dropped = [], []
    for item in items:
        backend = getattr(getattr(item, "callspec", None), "params", {}).get("app")
        once = item.get_closest_marker("sqlite_only") or item.get_closest_marker("browser")
        if backend == "postgresql" and once:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database built once by the migrations; each test gets a copy."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "survey.sqlite3"
    app = _app_for(f"sqlite:///{path}", folder / "instance")
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        db.engine.dispose()
    return path


def _worker_database(url: str) -> str:
    """The database of this pytest-xdist worker: `<name>_gw0`, ... created beside `url`'s."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The PostgreSQL test database (one per xdist worker), emptied and migrated once."""
    assert POSTGRES_URL
    url = _worker_database(POSTGRES_URL)
    app = _app_for(url, tmp_path_factory.mktemp("pg-instance"))
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        upgrade(directory=MIGRATIONS)
        db.engine.dispose()
    return url


def _empty_postgres() -> None:
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def _peer_of(application: Flask) -> Flask:
    """The same app under another identity, so that each request pushes its own app context.

    A shallow copy shares configuration, routes, extensions and database engine: building a
    second app costs a tenth of a second (Werkzeug compiles every route), paid by every test.
    """
    peer = copy.copy(application)
    # Flask-SQLAlchemy finds an app's engines by the app object itself.
    db._app_engines[peer] = db._app_engines[application]
    return peer


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The application on a fresh database, with an app context pushed for the test."""
    extra = getattr(request, "param_config", {})
    if request.param == "sqlite":
        path = tmp_path / "survey.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
    marker = request.node.get_closest_marker("app_config")
    if marker:
        extra = {**extra, **marker.args[0]}
    application = _app_for(url, tmp_path / "instance", **extra)
    # Requests are served by a twin app on the same database: Flask reuses an app context that
    # is already pushed for the same app, which would share `g` (login, locale) across requests.
    application.extensions["test_peer"] = _peer_of(application)
    with application.app_context():
        if request.param == "postgresql":
            _empty_postgres()
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (served by the twin app, so each request has its own context)."""
    return app.extensions["test_peer"].test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    """A CLI runner bound to the app."""
    return app.test_cli_runner()


@pytest.fixture
def create_user(app: Flask) -> Callable[..., Any]:
    """Factory: create_user('vol1', 'volunteer') → User (password PASSWORD)."""
    from survey.users.services import create_user as make

    def factory(username: str = "volunteer", role: str = "volunteer", password: str = PASSWORD):
        user = make(username, password, role)
        db.session.commit()
        return user

    return factory


class Auth:
    """Log the test client in and out."""

    def __init__(self, client: FlaskClient, create_user: Callable[..., Any]) -> None:
        self.client = client
        self.create_user = create_user

    def login(self, role: str = "volunteer", username: str | None = None) -> Any:
        """Create (if needed) and log in a user with this role."""
        from survey.users.services import find_user

        username = username or role
        user = find_user(username) or self.create_user(username, role)
        response = self.client.post("/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302, response.text
        return user

    def logout(self) -> None:
        """Log out."""
        self.client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient, create_user: Callable[..., Any]) -> Auth:
    """Login helper: auth.login('coordinator')."""
    return Auth(client, create_user)


@pytest.fixture
def make_xlsform() -> Callable[..., bytes]:
    """Factory: make_xlsform(survey_rows, choices_rows, settings) → .xlsx bytes."""
    return xlsform_bytes


@pytest.fixture
def create_instrument(app: Flask) -> Callable[..., Any]:
    """Factory: import XLSForm bytes (or rows) and return the InstrumentVersion."""
    from survey.instruments.services import import_instrument

    def factory(data: bytes | None = None, *, keep: tuple[str, ...] = (), **rows: Any):
        # Tests build later versions freely; the confirmation itself is tested on its own.
        version, _warnings = import_instrument(
            data or xlsform_bytes(**rows), "test.xlsx", keep=keep, confirm_changes=True
        )
        db.session.commit()
        return version

    return factory


_default_cache: dict[str, Any] = {}


@pytest.fixture
def default_instrument(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shipped needs-assessment instrument, imported (pyxform runs once per session)."""
    from survey.instruments import services, xlsform

    if "form" not in _default_cache:
        _default_cache["form"] = xlsform.load_xlsform(services.DEFAULT_INSTRUMENT.read_bytes())
    cached = _default_cache["form"]
    monkeypatch.setattr(
        services,
        "load_xlsform",
        lambda data, filename="", attachments=None, **_options: xlsform.ImportedForm(
            cached.spec, cached.xform, []
        ),
    )
    version = services.import_default_instrument()
    db.session.commit()
    return version


@pytest.fixture
def survey_round(app: Flask) -> Any:
    """A survey round open today."""
    from survey.collection.rounds import create_round

    today = dt.date.today()
    result = create_round(
        "Test round", today - dt.timedelta(days=30), today + dt.timedelta(days=30)
    )
    db.session.commit()
    return result
