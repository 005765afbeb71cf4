"""Zip bombs disguised as XLSForms are refused before any parsing, fast and in little memory."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zipfile

import pytest

from survey.instruments.archive import ArchiveRefused, check_workbook_archive
from survey.instruments.xlsform import InstrumentImportError, load_xlsform
from tests.factories import xlsform_bytes

MB = 1024 * 1024
SURVEY = [["type", "name", "label"], ["text", "a", "A"]]


def bomb(inflated_mb: int = 256) -> bytes:
    """A valid-looking .xlsx whose worksheet inflates to inflated_mb megabytes of XML."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        source = zipfile.ZipFile(io.BytesIO(xlsform_bytes(SURVEY)))
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                archive.writestr(info.filename, source.read(info))
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            block = b"<row>" + b" " * (MB - 11) + b"</row>"
            for _ in range(inflated_mb):
                sheet.write(block)
    return out.getvalue()


def lying_bomb() -> bytes:
    """The same bomb with its directory rewritten to declare tiny sizes."""
    data = bytearray(bomb(64))
    position = data.find(b"PK\x01\x02")
    while position != -1:
        # Central directory: uncompressed size at offset 24 (4 bytes), zip64 aside.
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        name = bytes(data[position + 46 : position + 46 + name_length])
        if name == b"xl/worksheets/sheet1.xml":
            struct.pack_into("<I", data, position + 24, 1000)
        position = data.find(b"PK\x01\x02", position + 4)
    return bytes(data)


@pytest.fixture(scope="module")
def big_bomb() -> bytes:
    return bomb(256)


def measure(call) -> tuple[float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        call()
    finally:
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return elapsed, peak


def test_a_zip_bomb_is_refused_quickly(big_bomb) -> None:
    assert len(big_bomb) < 5 * MB  # fits under the upload limit

    def load() -> None:
        with pytest.raises(InstrumentImportError, match=r"more than 30 MB|compressed"):
            load_xlsform(big_bomb, "bomb.xlsx")

    elapsed, peak = measure(load)
    assert elapsed < 2 and peak < 100 * MB


def test_an_archive_lying_about_its_sizes_is_stopped_while_inflating() -> None:
    data = lying_bomb()
    refused = []

    def check() -> None:
        try:
            check_workbook_archive(data)
        except ArchiveRefused as error:
            refused.append(str(error))

    elapsed, peak = measure(check)
    assert refused and ("more than 30 MB" in refused[0] or "damaged" in refused[0])
    assert elapsed < 2 and peak < 100 * MB


def test_too_many_entries_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for index in range(500):
            archive.writestr(f"x/{index}.xml", b"<a/>")
    with pytest.raises(ArchiveRefused, match="500 parts"):
        check_workbook_archive(out.getvalue())


def test_a_real_xlsform_passes() -> None:
    check_workbook_archive(xlsform_bytes(SURVEY))


def test_the_upload_page_refuses_a_bomb(client, auth, big_bomb) -> None:
    auth.login("admin")
    started = time.perf_counter()
    response = client.post(
        "/admin/instruments/",
        data={"xlsform": (io.BytesIO(big_bomb), "bomb.xlsx")},
        content_type="multipart/form-data",
    )
    assert time.perf_counter() - started < 5
    assert response.status_code in {200, 422}
    assert "30 MB" in response.text or "compressed" in response.text
