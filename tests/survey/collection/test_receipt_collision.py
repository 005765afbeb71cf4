"""Issue 12: a receipt code issued on a device while offline that another interview already
holds. The server used to give the interview a new code silently, so the code the respondent
held withdrew someone else's answers, or nothing. Now the interview is stored under the
respondent's code (scoped: `CODE/2`), the volunteer is told, and withdrawal by that code asks
the coordinator which of the interviews holding it is the respondent's."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from survey.collection import services
from survey.collection.models import Submission
from survey.extensions import db
from survey.users.models import AuditEntry
from tests.survey.collection.test_review import ANSWERS, version  # noqa: F401 - the fixture

HELD = "ACDE-FHJK-MNPQ"


@pytest.fixture
def colliding(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every instanceID derives the same device code: a SHA-256 collision, made certain."""
    monkeypatch.setattr(services, "device_receipt_code", lambda _instance_id: HELD)
    return HELD


def send_from_device(client: Any, version: Any, **changes: str) -> dict[str, Any]:  # noqa: F811
    """What offline.js posts when the queue is sent: the device's code with the answers."""
    data = {
        **ANSWERS,
        **changes,
        "_instance_id": f"uuid:{uuid.uuid4()}",
        "_receipt_code": HELD,
    }
    response = client.post(
        f"/collect/v/{version.id}", data=data, headers={"Accept": "application/json"}
    )
    assert response.status_code == 201, response.text
    return {**response.get_json(), "instance_id": data["_instance_id"]}


def stored(instance_id: str) -> Submission:
    return db.session.execute(
        select(Submission).where(Submission.instance_id == instance_id)
    ).scalar_one()


def count() -> int:
    return db.session.execute(select(func.count()).select_from(Submission)).scalar_one()


def test_a_colliding_device_code_keeps_working_and_is_not_silent(
    client: Any,
    auth: Any,
    version: Any,  # noqa: F811
    colliding: str,
) -> None:
    auth.login("volunteer")
    first = send_from_device(client, version)
    assert first["status"] == "saved" and first["receipt_code"] == HELD
    second = send_from_device(client, version, district="urzhar")
    assert second["status"] == "saved"
    # The code the respondent holds, not a new one they never saw.
    assert second["receipt_code"] == HELD
    assert second["message"] and HELD in second["message"]
    assert stored(second["instance_id"]).receipt_code == f"{HELD}/2"
    # The volunteer sees it on the next page, whatever the device did with the JSON.
    home = client.get("/")
    assert HELD in home.text and "another interview" in home.text
    assert f"{HELD}/2" not in client.get("/submissions").text  # the volunteer lists the held code
    shared = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "receipt_code_shared")
    ).scalar_one()
    assert HELD not in str(shared.details)  # the audit never keeps a receipt code
    auth.logout()

    # Withdrawal by the code: both interviews holding it are shown; one must be chosen.
    auth.login("coordinator")
    found = client.post("/withdrawal", data={"receipt_code": HELD.lower()})
    assert found.status_code == 200
    assert "2 interviews hold this receipt code" in found.text
    assert "Semey" in found.text and "Urzhar" in found.text
    unchosen = client.post("/withdrawal", data={"receipt_code": HELD, "confirm": "y"})
    assert unchosen.status_code == 422 and count() == 2
    target = stored(second["instance_id"]).id
    deleted = client.post(
        "/withdrawal",
        data={"receipt_code": HELD, "confirm": "y", "submission": str(target)},
    )
    assert deleted.status_code == 302
    db.session.expire_all()
    assert [s.instance_id for s in db.session.execute(select(Submission)).scalars()] == [
        first["instance_id"]
    ]
    # The remaining holder is found alone again, as any code.
    alone = client.post("/withdrawal", data={"receipt_code": HELD})
    assert "Submission found" in alone.text


def test_a_third_holder_gets_the_next_scope(
    client: Any,
    auth: Any,
    version: Any,  # noqa: F811
    colliding: str,
) -> None:
    auth.login("volunteer")
    answers = [send_from_device(client, version) for _ in range(3)]
    codes = [stored(a["instance_id"]).receipt_code for a in answers]
    assert codes == [HELD, f"{HELD}/2", f"{HELD}/3"]
    assert {a["receipt_code"] for a in answers} == {HELD}


def test_a_shared_code_is_found_by_the_held_code_and_by_its_scope(
    client: Any,
    auth: Any,
    version: Any,  # noqa: F811
    colliding: str,
) -> None:
    auth.login("volunteer")
    send_from_device(client, version)
    second = send_from_device(client, version, district="urzhar")
    send_from_device(client, version, district="urzhar")  # a third holder: /3 is not /2
    auth.logout()
    auth.login("coordinator")

    # The respondent's code finds every interview holding it, the queue's scoped code just one.
    held = client.get("/review", query_string={"status": "all", "q": HELD.lower()})
    assert "3 submissions" in held.text and f"{HELD}/3" in held.text
    scoped = client.get("/review", query_string={"status": "all", "q": f" {HELD}/2 "})
    assert "1 submission" in scoped.text and f"{HELD}/2" in scoped.text
    loose = client.get("/review", query_string={"status": "all", "q": "acdefhjkmnpq/2"})
    assert "1 submission" in loose.text
    # A code that only begins like the held one is not one of its scopes.
    assert (
        "0 submissions" in client.get("/review", query_string={"status": "all", "q": HELD[:9]}).text
    )

    # Withdrawal by the scoped code names the one interview; no choice to make.
    found = client.post("/withdrawal", data={"receipt_code": f"{HELD.lower()}/2"})
    assert found.status_code == 200 and "Submission found" in found.text
    deleted = client.post("/withdrawal", data={"receipt_code": f"{HELD}/2", "confirm": "y"})
    assert deleted.status_code == 302
    db.session.expire_all()
    assert (
        db.session.execute(
            select(Submission.receipt_code).where(Submission.instance_id == second["instance_id"])
        ).first()
        is None
    )
    assert count() == 2


def test_a_random_code_already_held_is_drawn_again(
    client: Any,
    auth: Any,
    version: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a device code the server draws one; a code another interview holds is never
    reused (the check is read together with the instanceID's look-ups)."""
    auth.login("volunteer")
    draws = iter([HELD, HELD, "BCDF-GHJK-LMNP"])
    monkeypatch.setattr(services, "new_receipt_code", lambda: next(draws, "CDFG-HJKM-NPQR"))
    first = send_from_device(client, version, _receipt_code="")
    second = send_from_device(client, version, _receipt_code="")
    assert stored(first["instance_id"]).receipt_code == HELD
    assert stored(second["instance_id"]).receipt_code == "BCDF-GHJK-LMNP"
    again = client.post(
        f"/collect/v/{version.id}",
        data={**ANSWERS, "_instance_id": second["instance_id"]},
        headers={"Accept": "application/json"},
    )
    assert again.get_json()["status"] == "duplicate" and count() == 2
