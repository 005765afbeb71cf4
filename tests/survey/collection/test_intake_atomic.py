"""A submission and its audit entry are stored together or not at all, on every database.

On SQLite, Python's driver opens no transaction for reads; the savepoint that guards the insert
against a concurrent resend then began the transaction itself, and releasing it committed the
submission alone, before its audit entry (and with a second sync to disk)."""

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


def test_a_submission_whose_audit_entry_fails_is_not_stored(
    client: Any,
    auth: Any,
    version: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth.login("volunteer")
    audited = services.record_audit

    def failing(action: str, **kwargs: Any) -> Any:
        if action == "submission_created":
            raise RuntimeError("the disk filled up between the two writes")
        return audited(action, **kwargs)

    monkeypatch.setattr(services, "record_audit", failing)
    data = {**ANSWERS, "_instance_id": f"uuid:{uuid.uuid4()}"}
    try:
        failed = client.post(f"/collect/v/{version.id}", data=data)
    except RuntimeError:
        failed = None
    assert failed is None or failed.status_code != 302  # not acknowledged as saved
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Submission)).scalar_one() == 0

    monkeypatch.setattr(services, "record_audit", audited)  # the volunteer sends it again
    response = client.post(f"/collect/v/{version.id}", data=data)
    assert response.status_code == 302, response.text
    db.session.rollback()
    stored = db.session.execute(select(Submission)).scalar_one()
    assert (
        db.session.execute(select(AuditEntry).where(AuditEntry.target == f"submission {stored.id}"))
        .scalar_one()
        .action
        == "submission_created"
    )
