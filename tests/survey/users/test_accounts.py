"""Accounts: passwords, lockout, idle timeout, account pages, audit log."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from survey.extensions import db
from survey.users import services
from survey.users.models import AuditEntry, LoginCounter, User, UserSession
from tests.factories import PASSWORD


def actions() -> list[str]:
    return list(db.session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars())


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short", "at least 10 characters"),
        ("password123", "too easy to guess"),
        ("qwertyuiop", "too easy to guess"),
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("my-name-is-dana!", "too easy to guess"),
    ],
)
def test_weak_passwords_are_refused(app, password, fragment) -> None:
    with pytest.raises(services.AccountError, match=fragment):
        services.create_user("dana", password)


def test_lockout_after_repeated_failures(client, create_user) -> None:
    create_user("aida", "volunteer")
    for _ in range(services.MAX_FAILED_LOGINS - 1):
        response = client.post("/login", data={"username": "aida", "password": "wrong"})
        assert "Wrong username or password." in response.text
    locked = client.post("/login", data={"username": "aida", "password": "wrong"})
    assert "Too many failed attempts. Try again after" in locked.text
    still = client.post("/login", data={"username": "aida", "password": PASSWORD})
    assert still.status_code == 200 and "Too many failed attempts" in still.text
    db.session.execute(
        update(LoginCounter).values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    db.session.commit()
    assert client.post("/login", data={"username": "aida", "password": PASSWORD}).status_code == 302
    assert actions().count("login_failed") == services.MAX_FAILED_LOGINS + 1
    assert actions()[-1] == "login"


def test_unknown_user_and_disabled_user(client, create_user) -> None:
    create_user("gone", "volunteer")
    user = services.find_user("gone")
    user.active = False
    db.session.commit()
    for name in ("gone", "nobody"):
        response = client.post("/login", data={"username": name, "password": PASSWORD})
        assert "Wrong username or password." in response.text


def test_password_change(client, auth) -> None:
    auth.login("volunteer")
    wrong = client.post(
        "/account/password",
        data={"current": "nope", "new": "a-new-long-secret", "confirm": "a-new-long-secret"},
    )
    assert "The current password is wrong." in wrong.text
    differ = client.post(
        "/account/password", data={"current": PASSWORD, "new": "a-new-long-secret", "confirm": "x"}
    )
    assert "The two passwords differ." in differ.text
    ok = client.post(
        "/account/password",
        data={"current": PASSWORD, "new": "a-new-long-secret", "confirm": "a-new-long-secret"},
    )
    assert ok.status_code == 302
    auth.logout()
    relog = client.post("/login", data={"username": "volunteer", "password": "a-new-long-secret"})
    assert relog.status_code == 302


def test_idle_session_is_ended(client, auth) -> None:
    auth.login("volunteer")
    assert client.get("/submissions").status_code == 200
    db.session.execute(
        update(UserSession).values(last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=4))
    )
    db.session.commit()
    response = client.get("/submissions")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "without activity" in client.get("/login").text


def test_admin_creates_and_manages_accounts(client, auth) -> None:
    auth.login("admin")
    created = client.post("/admin/users", data={"username": "coord", "role": "coordinator"})
    assert created.status_code == 200
    password = re.search(r'class="generated-password" lang="en">([^<]+)<', created.text).group(1)
    user = services.find_user("coord")
    assert user.role == "coordinator"
    changed = client.post(f"/admin/users/{user.id}", data={"role": "advocate", "active": "y"})
    assert changed.status_code == 302
    disabled = client.post(f"/admin/users/{user.id}", data={"role": "advocate"})
    assert disabled.status_code == 302
    db.session.expire_all()
    assert (user.role, user.active) == ("advocate", False)
    reset = client.post(f"/admin/users/{user.id}", data={"role": "advocate", "reset_password": "1"})
    assert "shown only once" in reset.text
    assert password not in reset.text
    assert actions()[-4:] == ["user_created", "user_changed", "user_changed", "password_reset"]
    me = services.find_user("admin")
    last_admin = client.post(f"/admin/users/{me.id}", data={"role": "admin"})
    assert "The last active administrator cannot be disabled." in last_admin.text


def test_coordinator_manages_only_volunteers(client, auth, create_user) -> None:
    other = create_user("advocate1", "advocate")
    auth.login("coordinator")
    page = client.get("/admin/users")
    assert 'value="admin"' not in page.text and "advocate1" not in page.text
    assert client.get(f"/admin/users/{other.id}").status_code == 404
    forged = client.post("/admin/users", data={"username": "boss", "role": "admin"})
    assert forged.status_code == 422
    assert services.find_user("boss") is None
    ok = client.post("/admin/users", data={"username": "vol2", "role": "volunteer"})
    assert ok.status_code == 200 and services.find_user("vol2").role == "volunteer"


def test_audit_page_filters(client, auth, create_user) -> None:
    auth.login("admin")
    client.post("/login", data={"username": "x", "password": "y"})
    page = client.get("/audit?action=login")
    assert page.status_code == 200
    assert "login_failed" not in page.text.split("<table>")[-1]
    everything = client.get("/audit")
    assert "login" in everything.text
    none = client.get("/audit?since=2999-01-01")
    assert "No entry matches these filters." in none.text
    bad = client.get("/audit?since=notadate&page=-3")
    assert bad.status_code == 200


def test_audit_entries_never_hold_passwords(client, create_user) -> None:
    create_user("aida", "volunteer")
    client.post("/login", data={"username": "aida", "password": "secret-typo-123"})
    rows = db.session.execute(select(AuditEntry)).scalars().all()
    assert rows and all("secret-typo" not in repr((r.target, r.details)) for r in rows)


def test_users_table_has_no_plain_passwords(app, create_user) -> None:
    create_user("aida", "volunteer")
    stored = db.session.execute(select(User.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_production_hashes_at_argon2s_default_cost() -> None:
    from argon2 import PasswordHasher

    from survey import config

    default = PasswordHasher()
    assert {
        "time_cost": default.time_cost,
        "memory_cost": default.memory_cost,
        "parallelism": default.parallelism,
    } == config.PASSWORD_HASH_COST


@pytest.mark.sqlite_only
@pytest.mark.app_config(
    {"PASSWORD_HASH_COST": {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}}
)
def test_a_cheaper_stored_hash_is_upgraded_at_the_next_login(app, client) -> None:
    user = User(username="aida", role="volunteer", password_hash=_cheap_hash(PASSWORD))
    db.session.add(user)
    db.session.commit()
    assert client.post("/login", data={"username": "aida", "password": PASSWORD}).status_code == 302
    db.session.expire_all()
    stored = db.session.execute(select(User.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert services.password_matches(db.session.get(User, user.id), PASSWORD)


def _cheap_hash(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(password)


def test_audit_page_speaks_words_not_codes(client, auth) -> None:
    client.post("/login", data={"username": "nobody", "password": "wrong-password"})
    auth.login("admin")
    table = client.get("/audit").text.split("<table>")[-1]
    assert "Failed login" in table and "login_failed" not in table
    assert "locked: no" in table and "False" not in table
