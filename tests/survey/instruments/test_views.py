"""The admin's instruments page: upload, refusals listed, roles."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from survey.extensions import db
from survey.instruments.models import InstrumentVersion
from tests.factories import xlsform_bytes


def upload(client, data: bytes, name: str = "form.xlsx"):
    return client.post(
        "/admin/instruments/",
        data={"xlsform": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def versions() -> int:
    return db.session.execute(select(func.count()).select_from(InstrumentVersion)).scalar_one()


def test_admin_imports_versions(client, auth) -> None:
    auth.login("admin")
    form = xlsform_bytes([["type", "name", "label"], ["text", "a", "A"]])
    response = upload(client, form)
    assert response.status_code == 302
    page = client.get("/admin/instruments/")
    assert "Imported Test form, version 1." in page.text
    newer = xlsform_bytes(
        [["type", "name", "label"], ["text", "a", "A2"]], settings={"version": "2"}
    )
    assert upload(client, newer).status_code == 302
    assert versions() == 2


def test_problems_are_listed(client, auth) -> None:
    auth.login("admin")
    bad = xlsform_bytes([["type", "name", "label"], ["gpx", "where", "Where"]])
    response = upload(client, bad)
    assert response.status_code == 422
    assert "Sheet &#39;survey&#39;, row 2, column &#39;type&#39;" in response.text
    assert versions() == 0
    corrupt = upload(client, b"garbage", "form.xlsx")
    assert corrupt.status_code == 422 and "is not an Excel workbook" in corrupt.text
    wrong_type = upload(client, b"a,b", "form.csv")
    assert wrong_type.status_code == 422 and "Only .xlsx and .xls workbooks" in wrong_type.text


@pytest.mark.app_config({"MAX_CONTENT_LENGTH": 10_000})
def test_oversized_upload_is_refused(client, auth) -> None:
    auth.login("admin")
    response = upload(client, b"x" * 20_000)
    assert response.status_code == 413
    assert "too large" in response.text


@pytest.mark.parametrize("role", ["volunteer", "coordinator", "advocate"])
def test_only_admins(client, auth, role) -> None:
    auth.login(role)
    assert client.get("/admin/instruments/").status_code == 403
    assert client.get("/admin/rounds").status_code == 403


def test_rounds_page(client, auth) -> None:
    auth.login("admin")
    ok = client.post("/admin/rounds", data={"name": "2026", "starts_on": "2026-01-01"})
    assert ok.status_code == 302
    bad = client.post(
        "/admin/rounds", data={"name": "2027", "starts_on": "2027-05-01", "ends_on": "2027-01-01"}
    )
    assert "cannot end before it starts" in bad.text
    assert "2026" in client.get("/admin/rounds").text
