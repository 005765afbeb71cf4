"""Every route, every role: the outcome matches the role table in the README."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from flask import Flask

from survey.users.access import ANONYMOUS, allowed_roles
from tests.factories import PASSWORD

README = Path(__file__).resolve().parents[2] / "README.md"
ROLES = ["anonymous", "volunteer", "coordinator", "advocate", "admin"]


def readme_table() -> dict[str, set[str]]:
    """Route → roles allowed, from the README's 'Who may open what' table."""
    text = README.read_text(encoding="utf-8").split("### Who may open what", 1)[1]
    table: dict[str, set[str]] = {}
    for line in text.splitlines():
        match = re.match(r"\| `([^`]+)` \|(.*)\|\s*$", line)
        if match:
            cells = [c.strip() for c in match.group(2).split("|")]
            table[match.group(1)] = {role for role, cell in zip(ROLES, cells, strict=True) if cell}
    return table


def routes(app: Flask) -> dict[str, tuple[str, frozenset[str] | None, set[str]]]:
    out = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        out[rule.rule] = (rule.endpoint, allowed_roles(view), set(rule.methods or ()))
    return out


def uses_basic_auth(app: Flask, endpoint: str) -> bool:
    """Whether a route authenticates each request with HTTP Basic (the OpenRosa routes)."""
    return getattr(app.view_functions[endpoint], "auth", None) == "basic"


def test_every_route_declares_access_and_is_documented(app) -> None:
    table = readme_table()
    found = routes(app)
    assert set(found) == set(table), "README role table and registered routes differ"
    for rule, (endpoint, declared, _methods) in found.items():
        assert declared is not None, f"{endpoint} does not declare who may open it"
        assert set(declared) == table[rule], rule


@pytest.fixture
def world(app, create_user, create_instrument, survey_round):
    """One object of each kind, owned by the volunteer, so every URL can be filled in."""
    from sqlalchemy import select

    from survey.collection.models import Submission
    from survey.extensions import db

    users = {role: create_user(role, role) for role in ROLES[1:]}
    version = create_instrument(
        survey=[["type", "name", "label"], ["text", "a", "A"]], settings={"form_id": "f"}
    )
    client = app.extensions["test_peer"].test_client()
    client.post("/login", data={"username": "volunteer", "password": PASSWORD})
    instance = f"uuid:{uuid.uuid4()}"
    saved = client.post(f"/collect/v/{version.id}", data={"a": "x", "_instance_id": instance})
    assert saved.status_code == 302
    submission = db.session.execute(select(Submission)).scalar_one()
    return {
        "form_id": "f",
        "version": version.version,
        "version_id": version.id,
        "submission_id": submission.id,
        "instance_id": instance,
        "user_id": users["volunteer"].id,
        "device_id": 1,
        "token": "not-a-device-token",
        "filename": "itemsets.csv",  # also a file name no submission has
    }


@pytest.mark.sqlite_only
def test_route_role_outcomes(app, world) -> None:
    table = readme_table()
    for role in ROLES:
        client = app.extensions["test_peer"].test_client()
        if role != ANONYMOUS:
            logged = client.post("/login", data={"username": role, "password": PASSWORD})
            assert logged.status_code == 302
        for rule, (endpoint, _declared, methods) in sorted(routes(app).items()):
            if rule == "/logout":
                continue  # would end this client's session; covered by the users tests
            url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(world[m.group(1)]), rule)
            if uses_basic_auth(app, endpoint) and "<token>" in rule:
                # Device-token routes: only the token counts (tests/survey/users/test_devices.py).
                send = client.get if "GET" in methods else client.post
                assert send(url, base_url="https://localhost").status_code == 401, url
                continue
            if uses_basic_auth(app, endpoint):
                check_basic_route(client, role, url, methods, role in table[rule])
                continue
            response = client.get(url) if "GET" in methods else client.post(url)
            allowed = role in table[rule]
            where = f"{role} {url} → {response.status_code}"
            assert response.status_code < 500, where
            if allowed:
                assert response.status_code != 403, where
                if role != ANONYMOUS and rule != "/login":
                    assert "/login" not in response.headers.get("Location", ""), where
            elif role == ANONYMOUS:
                assert response.status_code == 302, where
                assert "/login" in response.headers["Location"], where
            else:
                assert response.status_code == 403, where


def check_basic_route(client, role: str, url: str, methods: set[str], allowed: bool) -> None:
    """A Basic-auth route: a browser session counts for nothing; the credentials decide."""
    send = client.get if "GET" in methods else client.post
    # Basic is accepted over HTTPS only; the session cookie of `client` is sent all the same.
    session_only = send(url, base_url="https://localhost")
    where = f"{role} (session) {url} → {session_only.status_code}"
    assert session_only.status_code == 401, where
    assert session_only.headers["WWW-Authenticate"] == 'Basic realm="Birge"', where
    if role == ANONYMOUS:
        return
    response = send(url, base_url="https://localhost", auth=(role, PASSWORD))
    where = f"{role} (basic) {url} → {response.status_code}"
    assert response.status_code < 500, where
    if allowed:
        assert response.status_code not in {401, 403}, where
    else:
        assert response.status_code == 403, where
