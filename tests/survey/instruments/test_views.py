"""The admin's instruments page: upload, refusals listed, roles."""

from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

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
def test_only_the_import_page_takes_uploads_above_the_apps_limit(app, client, auth) -> None:
    auth.login("admin")
    response = upload(client, b"x" * 20_000)
    assert response.status_code == 422 and "is not an Excel workbook" in response.text
    app.extensions["test_peer"].config["WTF_CSRF_ENABLED"] = True  # it reads every body
    elsewhere = client.post("/admin/rounds", data={"name": "y" * 20_000})
    assert elsewhere.status_code == 413
    assert "too large" in elsewhere.text


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


IMPORT_WORDS = {
    "ru": {
        "place": "Лист «survey», строка 3, столбец «name»",
        "duplicate": "имя «a» уже используется в строке 2",
        "corrupt": "не является книгой Excel",
        "again": "уже была импортирована",
        "imported": "Импортирована анкета «Test form», версия 1.",
    },
    "kk": {
        "place": "«survey» парағы, 3-жол, «name» бағаны",
        "duplicate": "«a» атауы 2-жолда қолданылған",
        "corrupt": "Excel кітабы емес",
        "again": "бұрын импортталған",
        "imported": "«Test form» импортталды, нұсқасы: 1.",
    },
}


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_import_problems_and_summary_in_the_admins_language(client, auth, language) -> None:
    """Issue 12: an import error was shown in English on a Russian page."""
    words = IMPORT_WORDS[language]
    auth.login("admin")
    client.get(f"/?lang={language}")
    twice = xlsform_bytes([["type", "name", "label"], ["text", "a", "A"], ["text", "a", "B"]])
    response = upload(client, twice)
    assert response.status_code == 422
    text = html.unescape(response.text)
    assert words["place"] in text and words["duplicate"] in text
    assert "is already used" not in text
    corrupt = html.unescape(upload(client, b"garbage", "form.xlsx").text)
    assert words["corrupt"] in corrupt and "is not an Excel workbook" not in corrupt
    form = xlsform_bytes([["type", "name", "label"], ["text", "a", "A"]])
    assert upload(client, form).status_code == 302
    assert words["imported"] in client.get("/admin/instruments/").text
    again = html.unescape(upload(client, form).text)
    assert words["again"] in again and "was already imported" not in again


def media_package(size: int) -> bytes:
    """A .zip of a small form and an incompressible picture of `size` bytes."""
    import os
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(
            "big.xlsx",
            xlsform_bytes(
                [["type", "name", "label", "media::image"], ["note", "n", "Look", "map.jpg"]],
                settings={"form_id": "big", "version": "1"},
            ),
        )
        archive.writestr("big-media/map.jpg", os.urandom(size))
    return out.getvalue()


def big_upload(client, data: bytes, **fields: str):
    """POST a large package; encoded in memory (the test client would spool it to a temporary
    file it never closes)."""
    boundary, body = encode_multipart(
        {**fields, "xlsform": FileStorage(io.BytesIO(data), filename="big.zip")}
    )
    return client.post(
        "/admin/instruments/",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


@pytest.mark.sqlite_only
def test_a_form_package_above_the_apps_request_limit_imports(app, client, auth) -> None:
    """The import page takes what docs/security.md promises (20 MB a file), with CSRF on: the
    route's limit is raised before CSRFProtect reads the body."""
    auth.login("admin")
    app.extensions["test_peer"].config["WTF_CSRF_ENABLED"] = True
    page = client.get("/admin/instruments/")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    token = token or re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    data = media_package(6 * 1024 * 1024)
    assert len(data) > app.config["MAX_CONTENT_LENGTH"]
    response = big_upload(client, data, csrf_token=token.group(1))
    assert response.status_code == 302, response.text[:2000]
    assert versions() == 1


@pytest.mark.sqlite_only
def test_an_upload_above_the_import_limit_gets_the_form_and_a_message(
    app, client, auth, monkeypatch
) -> None:
    from survey.instruments import views

    monkeypatch.setattr(views, "IMPORT_MAX_BYTES", 6 * 1024 * 1024)
    auth.login("admin")
    response = big_upload(client, media_package(7 * 1024 * 1024))
    assert response.status_code == 413
    text = html.unescape(response.text)
    assert "The upload is larger than 6 MB" in text and "60 MB unpacked" in text
    assert 'name="xlsform"' in text  # the import form, to try again
    assert versions() == 0
    auth.logout()
    auth.login("volunteer")
    app.extensions["test_peer"].config["WTF_CSRF_ENABLED"] = True  # it reads the body first
    refused = big_upload(client, media_package(5 * 1024 * 1024 + 1))
    assert refused.status_code == 413
    assert 'name="xlsform"' not in refused.text  # others get the plain page, not the admin's
