"""The app factory, configuration precedence, security headers and error pages."""

from __future__ import annotations

import pytest

from survey import create_app


def test_instance_folder_and_generated_secret(tmp_path) -> None:
    instance = tmp_path / "inst"
    app = create_app({"TESTING": True}, instance_path=str(instance))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'survey.sqlite3'}"
    key = (instance / "secret_key").read_text()
    assert len(key) == 64 and app.config["SECRET_KEY"] == key
    again = create_app({"TESTING": True}, instance_path=str(instance))
    assert again.config["SECRET_KEY"] == key


def test_environment_overrides_instance_config(tmp_path, monkeypatch) -> None:
    (tmp_path / "config.py").write_text("SUPPRESSION_K = 7\nLANGUAGES = ['en']\n")
    monkeypatch.setenv("SURVEY_SUPPRESSION_K", "10")
    app = create_app({"TESTING": True}, instance_path=str(tmp_path))
    assert app.config["SUPPRESSION_K"] == 10
    assert app.config["LANGUAGES"] == ["en"]


def test_production_refuses_a_well_known_secret(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="well-known SECRET_KEY"):
        create_app({"SECRET_KEY": "dev"}, instance_path=str(tmp_path))


def test_postgres_urls_use_psycopg(tmp_path) -> None:
    app = create_app(
        {"TESTING": True, "DATABASE_URL": "postgres://u@h/db"}, instance_path=str(tmp_path)
    )
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_security_headers(client) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_error_pages_are_friendly(client) -> None:
    response = client.get("/no/such/page?lang=en")
    assert response.status_code == 404
    assert "This page does not exist." in response.text
    assert "Traceback" not in response.text


def test_login_and_logout(client, create_user) -> None:
    create_user("aigerim", "volunteer")
    wrong = client.post("/login", data={"username": "aigerim", "password": "nope"})
    assert wrong.status_code == 200 and "Wrong username or password." in wrong.text
    from tests.factories import PASSWORD

    ok = client.post("/login?next=/submissions", data={"username": "aigerim", "password": PASSWORD})
    assert ok.status_code == 302 and ok.headers["Location"] == "/submissions"
    evil = client.post("/login?next=//evil.example", data={"username": "x", "password": "y"})
    assert evil.status_code == 302  # already logged in: back home, never off-site
    assert "evil" not in evil.headers["Location"]
    client.post("/logout")
    assert client.get("/").status_code == 302


@pytest.mark.app_config({"WTF_CSRF_ENABLED": True})
def test_csrf_is_required_on_forms(client, create_user) -> None:
    create_user("aigerim", "volunteer")
    from tests.factories import PASSWORD

    response = client.post("/login", data={"username": "aigerim", "password": PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.text or "sent twice" in response.text
