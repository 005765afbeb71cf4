"""Checks on an uploaded .xlsx archive before anything parses it (zip bombs).

An .xlsx is a zip file. A small upload can declare, or actually hold, gigabytes of XML: openpyxl
and pyxform would then spend minutes and gigabytes on it. The archive's directory is checked
first (entry count, declared sizes, compression ratio), then every entry is inflated in small
chunks with a running total, so an archive that lies about its sizes is stopped at the same
limits, after at most MAX_TOTAL_BYTES of work.
"""

from __future__ import annotations

import io
import zipfile

from flask_babel import gettext as _

# A large real XLSForm (hundreds of questions, three languages) inflates to a few megabytes.
MAX_ENTRIES = 200
MAX_TOTAL_BYTES = 30 * 1024 * 1024
MAX_ENTRY_BYTES = 20 * 1024 * 1024
# Spreadsheet XML compresses well (10-30x); far beyond that is a bomb. Small entries are exempt.
MAX_RATIO = 150
RATIO_FLOOR_BYTES = 1024 * 1024
CHUNK = 64 * 1024


class ArchiveRefused(ValueError):
    """The upload is not a workbook this server will open; the message says why."""


def check_workbook_archive(data: bytes) -> None:
    """Refuse an .xlsx whose contents are too many, too large or too compressed."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ArchiveRefused(
            _("The file is not a readable .xlsx workbook (%(error)s).", error=error)
        ) from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES:
            raise ArchiveRefused(
                _(
                    "The workbook holds %(parts)s parts; at most %(limit)s are accepted.",
                    parts=len(entries),
                    limit=MAX_ENTRIES,
                )
            )
        declared = 0
        for entry in entries:
            declared += entry.file_size
            _check_sizes(entry.filename, entry.file_size, entry.compress_size, declared)
        total = 0
        for entry in entries:
            total = _inflate_counting(archive, entry, total)


def _check_sizes(name: str, size: int, compressed: int, total: int) -> None:
    if size > MAX_ENTRY_BYTES or total > MAX_TOTAL_BYTES:
        raise ArchiveRefused(
            _(
                "The workbook would unpack to more than %(size)s MB (part %(part)s). An XLSForm "
                "is far smaller: remove pictures and unused sheets.",
                size=MAX_TOTAL_BYTES // (1024 * 1024),
                part=name[:80],
            )
        )
    if size > RATIO_FLOOR_BYTES and size > MAX_RATIO * max(compressed, 1):
        raise ArchiveRefused(
            _(
                "The workbook's part %(part)s is compressed %(ratio)s times; this is not a normal "
                "spreadsheet and was not opened.",
                part=name[:80],
                ratio=size // max(compressed, 1),
            )
        )


def _inflate_counting(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, total: int) -> int:
    """Inflate one entry in chunks, refusing as soon as the real sizes break a limit."""
    size = 0
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                _check_sizes(entry.filename, size, entry.compress_size, total + size)
    except ArchiveRefused:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        raise ArchiveRefused(
            _(
                "The workbook is damaged (part %(part)s: %(error)s).",
                part=entry.filename[:80],
                error=error,
            )
        ) from None
    return total + size
