"""Server-side sessions, lockout under concurrency, safe redirects, two-factor login."""

from __future__ import annotations

import datetime as dt
import threading

import pyotp
import pytest
from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine

from survey.extensions import db
from survey.users import services
from survey.users.models import AuditEntry, LoginCounter, User, UserSession
from tests.factories import PASSWORD


def cookie_of(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie: str, path: str = "/submissions"):
    """A request from another machine carrying a copied session cookie."""
    thief = app.extensions["test_peer"].test_client()
    thief.set_cookie("session", cookie)
    return thief.get(path)


def test_the_cookie_holds_only_a_random_id(client, auth) -> None:
    auth.login("volunteer")
    with client.session_transaction() as session:
        token = session["sid"]
    assert len(token) >= 40
    stored = db.session.execute(select(UserSession.token_sha256)).scalars().all()
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_a_copied_cookie_is_refused_after_logout(app, client, auth) -> None:
    auth.login("volunteer")
    cookie = cookie_of(client)
    assert replay(app, cookie).status_code == 200
    auth.logout()
    response = replay(app, cookie)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("change", ["password", "reset", "role", "disable"])
def test_account_changes_end_every_session(app, client, auth, create_user, change) -> None:
    auth.login("coordinator")
    coordinator_cookie = cookie_of(client)
    victim = create_user("vol", "volunteer")
    other = app.extensions["test_peer"].test_client()
    assert other.post("/login", data={"username": "vol", "password": PASSWORD}).status_code == 302
    cookie = cookie_of(other)
    if change == "password":
        new = "another-long-secret"
        ok = other.post("/account/password", data={"current": PASSWORD, "new": new, "confirm": new})
        assert ok.status_code == 302
        assert other.get("/submissions").status_code == 200  # the changing browser stays in
    elif change == "reset":
        client.post(f"/admin/users/{victim.id}", data={"role": "volunteer", "reset_password": "1"})
    elif change == "role":
        auth.logout()
        auth.login("admin")
        client.post(f"/admin/users/{victim.id}", data={"role": "advocate", "active": "y"})
    else:
        client.post(f"/admin/users/{victim.id}", data={"role": "volunteer"})
    assert replay(app, cookie).status_code == 302
    if change != "role":
        assert replay(app, coordinator_cookie).status_code == 200  # others are untouched


def test_absolute_lifetime_ends_a_busy_session(app, client, auth) -> None:
    auth.login("volunteer")
    db.session.execute(
        update(UserSession).values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=15))
    )
    db.session.commit()
    response = client.get("/submissions")
    assert response.status_code == 302
    assert "maximum length" in client.get("/login").text


def test_a_request_commits_only_what_it_writes_of_its_session(app, client, auth) -> None:
    """The touch and the end of an idle session are stored; a request that only read its
    session row commits nothing."""
    auth.login("volunteer")
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    db.session.execute(update(UserSession).values(last_seen_at=an_hour_ago))
    db.session.commit()
    commits: list[object] = []

    def count(connection) -> None:
        commits.append(connection)

    event.listen(Engine, "commit", count)
    try:
        assert client.get("/submissions").status_code == 200  # touches: last seen an hour ago
        touched = len(commits)
        assert client.get("/submissions").status_code == 200  # seen a moment ago: reads only
        assert len(commits) == touched >= 1
    finally:
        event.remove(Engine, "commit", count)
    db.session.expire_all()
    seen = db.session.execute(select(UserSession.last_seen_at)).scalar_one()
    assert dt.datetime.now(dt.UTC) - seen.replace(tzinfo=dt.UTC) < dt.timedelta(minutes=1)
    db.session.execute(
        update(UserSession).values(last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=4))
    )
    db.session.commit()
    assert client.get("/submissions").status_code == 302  # idle: the end is stored at once
    db.session.expire_all()
    assert db.session.execute(select(UserSession.ended_at)).scalar_one() is not None


def test_my_sessions_and_log_out_everywhere(app, client, auth) -> None:
    auth.login("volunteer")
    other = app.extensions["test_peer"].test_client()
    other.post("/login", data={"username": "volunteer", "password": PASSWORD})
    page = client.get("/account/sessions")
    assert page.status_code == 200 and page.text.count("<tr>") == 3  # header + two sessions
    assert "this browser" in page.text
    done = client.post("/account/sessions", data={"everywhere": "1"})
    assert done.status_code == 302
    assert other.get("/submissions").status_code == 302
    assert client.get("/submissions").status_code == 302


def test_sixteen_parallel_wrong_passwords_lock_the_account(app, create_user) -> None:
    create_user("target", "volunteer")
    attempts = 16
    clients = [app.extensions["test_peer"].test_client() for _ in range(attempts)]
    barrier = threading.Barrier(attempts)
    texts: list[str] = [""] * attempts

    def guess(index: int) -> None:
        barrier.wait()
        response = clients[index].post(
            "/login", data={"username": "target", "password": f"guess-{index}"}
        )
        texts[index] = response.text

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    checked = sum("Wrong username or password." in t for t in texts)
    refused = sum("Too many failed attempts" in t for t in texts)
    assert checked + refused == attempts
    assert refused >= attempts - services.MAX_FAILED_LOGINS + 1
    counted = db.session.execute(select(LoginCounter.count)).scalar_one()
    assert counted >= services.MAX_FAILED_LOGINS  # no failure was lost to a race
    late = app.extensions["test_peer"].test_client()
    right = late.post("/login", data={"username": "target", "password": PASSWORD})
    assert right.status_code == 200 and "Too many failed attempts" in right.text


def test_parallel_correct_logins_are_not_locked_out(app, create_user) -> None:
    create_user("busy", "volunteer")
    attempts = 8
    clients = [app.extensions["test_peer"].test_client() for _ in range(attempts)]
    barrier = threading.Barrier(attempts)
    codes: list[int] = [0] * attempts

    def log_in(index: int) -> None:
        barrier.wait()
        codes[index] = (
            clients[index]
            .post("/login", data={"username": "busy", "password": PASSWORD})
            .status_code
        )

    threads = [threading.Thread(target=log_in, args=(i,)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert codes == [302] * attempts


def test_unknown_and_real_accounts_get_the_same_answers(client, create_user) -> None:
    create_user("real", "volunteer")
    answers = {}
    for name in ("real", "ghost"):
        answers[name] = [
            client.post("/login", data={"username": name, "password": "wrong"}).text
            for _ in range(services.MAX_FAILED_LOGINS)
        ]
    for real, ghost in zip(answers["real"], answers["ghost"], strict=True):
        assert ("Too many" in real) == ("Too many" in ghost)
    assert "Too many failed attempts" in answers["ghost"][-1]


def test_failed_usernames_are_not_stored_as_typed(client, create_user) -> None:
    create_user("real", "volunteer")
    client.post("/login", data={"username": "my-secret-password", "password": "x"})
    client.post("/login", data={"username": "real", "password": "x"})
    entries = (
        db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "login_failed").order_by(AuditEntry.id)
        )
        .scalars()
        .all()
    )
    text = repr([(e.username, e.target, e.details) for e in entries])
    assert "my-secret-password" not in text
    assert [e.details["known_account"] for e in entries] == [False, True]
    assert entries[0].details["name_hash"] != entries[1].details["name_hash"]


@pytest.mark.app_config({"RATELIMIT_ENABLED": True, "LOGIN_ATTEMPTS_PER_MINUTE": 3})
def test_login_rate_limit_is_shared_by_workers(app) -> None:
    # Two apps on one database stand for two worker processes.
    from survey import create_app

    second = create_app(
        {**app.config, "SQLALCHEMY_ENGINE_OPTIONS": {}}, instance_path=app.instance_path
    )
    codes = []
    for index in range(4):
        worker = app.extensions["test_peer"] if index % 2 else second
        response = worker.test_client().post("/login", data={"username": "a", "password": "b"})
        codes.append(response.status_code)
    assert codes == [200, 200, 200, 429]
    with second.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "/%0d%0a/x",
        "//x",
        "/\\x",
        "\\\\x",
        "https://x",
        "http:/x",
        "javascript:alert(1)",
        "/%2F%2Fx",
    ],
)
def test_next_stays_on_this_site(client, create_user, target) -> None:
    create_user("v", "volunteer")
    response = client.post(f"/login?next={target}", data={"username": "v", "password": PASSWORD})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "evil" not in location and "\r" not in location and "\n" not in location
    if target != "/%2F%2Fx":
        assert location == "/"


def test_next_keeps_a_path_of_this_site(client, create_user) -> None:
    create_user("v", "volunteer")
    response = client.post(
        "/login?next=/submissions%3Fpage%3D2", data={"username": "v", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/submissions?page=2"


def _enrol(client) -> tuple[str, list[str]]:
    """Turn on two-factor login for the logged-in client; (secret, recovery codes)."""
    page = client.get("/account/two-factor")
    assert "<svg" in page.text
    with client.session_transaction() as session:
        secret = session["totp_setup"]
    done = client.post("/account/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    import re

    codes = re.findall(r"<code>([A-Z0-9]{5}-[A-Z0-9]{5})</code>", done.text)
    assert len(codes) == 8
    return secret, codes


@pytest.mark.app_config({"TWO_FACTOR_REQUIRED_ROLES": ["admin"]})
def test_admins_must_set_up_two_factor_login(client, auth) -> None:
    auth.login("admin")
    forced = client.get("/admin/users")
    assert forced.status_code == 302 and forced.headers["Location"].endswith("/account/two-factor")
    secret, codes = _enrol(client)
    assert client.get("/admin/users").status_code == 200
    user = services.find_user("admin")
    assert user.totp_secret == secret and codes[0] not in repr(user.recovery_code_hashes)
    auth.logout()
    first = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert first.headers["Location"].endswith("/login/code")
    assert client.get("/admin/users").status_code == 302  # not logged in yet
    wrong = client.post("/login/code", data={"code": "000000"})
    assert "not valid" in wrong.text
    ok = client.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 302 and client.get("/admin/users").status_code == 200
    auth.logout()
    client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert client.post("/login/code", data={"code": codes[0].lower()}).status_code == 302
    auth.logout()
    client.post("/login", data={"username": "admin", "password": PASSWORD})
    reused = client.post("/login/code", data={"code": codes[0]})
    assert "not valid" in reused.text  # each recovery code works once


def test_two_factor_is_optional_for_volunteers(client, auth) -> None:
    auth.login("volunteer")
    assert client.get("/submissions").status_code == 200
    secret, _codes = _enrol(client)
    off = client.post(
        "/account/two-factor", data={"password": PASSWORD, "code": pyotp.TOTP(secret).now()}
    )
    assert off.status_code == 302
    db.session.expire_all()
    assert db.session.execute(select(User.totp_secret)).scalars().all() == [None]


def test_generated_password_must_be_changed_at_first_login(client, auth) -> None:
    import re

    auth.login("admin")
    created = client.post("/admin/users", data={"username": "newbie", "role": "volunteer"})
    password = re.search(r'class="generated-password" lang="en">([^<]+)<', created.text).group(1)
    assert not set(password) & set("lI1O0")
    auth.logout()
    client.post("/login", data={"username": "newbie", "password": password})
    forced = client.get("/submissions")
    assert forced.status_code == 302 and forced.headers["Location"].endswith("/account/password")
    new = "my-own-long-secret"
    client.post("/account/password", data={"current": password, "new": new, "confirm": new})
    assert client.get("/submissions").status_code == 200


def test_generated_passwords_avoid_ambiguous_characters() -> None:
    for _ in range(200):
        password = services.generate_password()
        assert not set(password) & set("lI1O0oS5Z2B8")
        assert len(password) == 19


def test_the_last_admin_cannot_demote_itself(client, auth) -> None:
    me = auth.login("admin")
    response = client.post(f"/admin/users/{me.id}", data={"role": "coordinator", "active": "y"})
    assert "cannot give up the role" in response.text
    db.session.expire_all()
    assert services.find_user("admin").role == "admin"
