"""Form attachments: the CSV, GeoJSON, XML and media files an XLSForm refers to.

An instrument is imported either as one .zip (the workbook plus its files, in any folder of the
archive, as ODK tools package a form with its `<form>-media` folder) or as the workbook plus the
files uploaded beside it. The files are stored per instrument version, in the database
(InstrumentAttachment), so that the version, its XForm and the files ODK Collect downloads
(through the manifest) never drift apart, and a backup of the database holds them all.

At import, the choices of `select_*_from_file` questions are read from their file into the
spec's choice lists, so the web form, the checks and the exports use them like any other list;
the CSV tables `pulldata()` reads are put into the spec too (InstrumentSpec.lookup_tables).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import json
import mimetypes
import re
import unicodedata
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

import charset_normalizer
from defusedxml import ElementTree
from flask_babel import gettext as _

from survey.instruments.archive import ArchiveRefused
from survey.instruments.languages import language_code
from survey.instruments.spec import Choice

WORKBOOK_SUFFIXES = (".xlsx", ".xls", ".xlsm")
# What a form may carry: data for choices and pulldata(), and the media of labels and choices.
ALLOWED_SUFFIXES = frozenset(
    {
        ".csv",
        ".geojson",
        ".xml",
        ".json",
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".svg",
        ".mp3",
        ".wav",
        ".ogg",
        ".m4a",
        ".amr",
        ".mp4",
        ".3gp",
        ".webm",
        ".pdf",
    }
)
MAX_FILES = 200
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_PACKAGE_BYTES = 60 * 1024 * 1024
MAX_RATIO = 150
RATIO_FLOOR_BYTES = 1024 * 1024
CHUNK = 64 * 1024
# A choice list read from a file is shown as one <select>; beyond this it is not a form question.
MAX_FILE_CHOICES = 20000


class AttachmentError(ValueError):
    """An attachment cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class FormPackage:
    """A workbook and the files that come with it."""

    workbook: bytes
    filename: str
    files: Mapping[str, bytes]


def md5_of(data: bytes) -> str:
    """The hash OpenRosa manifests give (md5:<hex>), without the prefix."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def content_type(filename: str) -> str:
    """The media type an attachment is served with."""
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix == ".geojson":
        return "application/geo+json"
    if suffix == ".csv":
        return "text/csv"
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def is_form_package(data: bytes, filename: str) -> bool:
    """Whether an upload is a .zip of a form and its files (an .xlsx is a zip too)."""
    if not filename.lower().endswith(".zip"):
        return False
    return zipfile.is_zipfile(io.BytesIO(data))


def _clean_name(name: str) -> str | None:
    """The file name an attachment is known by (its base name), or None for archive clutter."""
    path = PurePosixPath(name.replace("\\", "/"))
    if not path.name or path.name.startswith(".") or "__MACOSX" in path.parts:
        return None
    return path.name


def check_attachment(name: str, data: bytes) -> None:
    """Refuse a file a form cannot carry (type, size)."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise AttachmentError(
            _(
                "The attachment '%(name)s' is not a kind of file a form uses (CSV, GeoJSON, XML, "
                "pictures, audio, video, PDF).",
                name=name[:120],
            )
        )
    if len(data) > MAX_FILE_BYTES:
        raise AttachmentError(
            _(
                "The attachment '%(name)s' is larger than %(size)s MB.",
                name=name[:120],
                size=MAX_FILE_BYTES // (1024 * 1024),
            )
        )


def read_package(data: bytes) -> FormPackage:
    """The workbook and files of a .zip, checked for bombs while inflating (archive.py's way)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise AttachmentError(
            _("The .zip file could not be read (%(error)s).", error=error)
        ) from None
    workbooks: list[tuple[str, bytes]] = []
    files: dict[str, bytes] = {}
    with archive:
        entries = [e for e in archive.infolist() if not e.is_dir()]
        if len(entries) > MAX_FILES:
            raise AttachmentError(
                _(
                    "The .zip file holds %(count)s files; at most %(limit)s are accepted.",
                    count=len(entries),
                    limit=MAX_FILES,
                )
            )
        if sum(e.file_size for e in entries) > MAX_PACKAGE_BYTES:
            raise AttachmentError(_package_too_large())
        total = 0
        for entry in entries:
            name = _clean_name(entry.filename)
            if name is None:
                continue
            content = _inflate(archive, entry, total)
            total += len(content)
            if name.lower().endswith(WORKBOOK_SUFFIXES):
                workbooks.append((name, content))
                continue
            if name in files:
                raise AttachmentError(
                    _(
                        "The .zip file holds two files named '%(name)s'; a form refers to its "
                        "files by name only.",
                        name=name[:120],
                    )
                )
            check_attachment(name, content)
            files[name] = content
    if len(workbooks) != 1:
        raise AttachmentError(
            _(
                "The .zip file must hold exactly one XLSForm workbook (.xlsx or .xls); it holds "
                "%(count)s.",
                count=len(workbooks),
            )
        )
    return FormPackage(workbook=workbooks[0][1], filename=workbooks[0][0], files=files)


def _package_too_large() -> str:
    return _(
        "The .zip file would unpack to more than %(size)s MB.",
        size=MAX_PACKAGE_BYTES // (1024 * 1024),
    )


def _inflate(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, total: int) -> bytes:
    """One entry, inflated in chunks and stopped as soon as a limit is passed."""
    out = bytearray()
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(CHUNK):
                out.extend(chunk)
                if total + len(out) > MAX_PACKAGE_BYTES:
                    raise ArchiveRefused(_package_too_large())
                if len(out) > MAX_FILE_BYTES:
                    raise ArchiveRefused(
                        _(
                            "The file '%(name)s' in the .zip is larger than %(size)s MB.",
                            name=entry.filename[:120],
                            size=MAX_FILE_BYTES // (1024 * 1024),
                        )
                    )
                if len(out) > RATIO_FLOOR_BYTES and len(out) > MAX_RATIO * max(
                    entry.compress_size, 1
                ):
                    raise ArchiveRefused(
                        _(
                            "The file '%(name)s' in the .zip is compressed far more than any "
                            "real file; it was not opened.",
                            name=entry.filename[:120],
                        )
                    )
    except ArchiveRefused as error:
        raise AttachmentError(str(error)) from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        raise AttachmentError(
            _(
                "The .zip file is damaged (%(name)s: %(error)s).",
                name=entry.filename[:120],
                error=error,
            )
        ) from None
    return bytes(out)


# -- choices and tables from files ----------------------------------------------------------


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if b"\x00" in data:
            raise AttachmentError(
                _("The file holds binary data, not text, so it is not a CSV file.")
            ) from None
        raise AttachmentError(
            _(
                "The file is not UTF-8 text, as ODK reads it; save it as 'CSV UTF-8' (or UTF-8 "
                "text) and import again."
            )
        ) from None


# What spreadsheet programs write a CSV in when it is not UTF-8, most used first: the Windows
# code pages (Western, Cyrillic, Central European, Greek, Turkish, Arabic), the DOS ones of
# Excel's "CSV (MS-DOS)" (Western, Cyrillic), and Mac Roman. charset-normalizer adds its own
# guesses after these; on a short file its first guess is often wrong (it reads the 'à' and
# 'é' of HOT's towns.csv, DOS code page 850, as the '…' and '‚' of Windows-1250).
LEGACY_ENCODINGS = {
    "cp1252": "Windows-1252 (Western European)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "cp850": "DOS code page 850 (Western European, Excel's 'CSV (MS-DOS)')",
    "cp866": "DOS code page 866 (Cyrillic, Excel's 'CSV (MS-DOS)')",
    "cp1250": "Windows-1250 (Central European)",
    "cp1253": "Windows-1253 (Greek)",
    "cp1254": "Windows-1254 (Turkish)",
    "cp1256": "Windows-1256 (Arabic)",
    "mac_roman": "Mac Roman",
}
_WORD = re.compile(r"[^\W\d_]+")


def _implausible(text: str) -> int:
    """How many places of a decoded text no real text has: control characters, punctuation
    inside a word ('pr‚ciser'), a word mixing scripts or changing to capitals inside it, a Latin
    word without one unaccented letter ('Ìîñêâà', Russian read as Western European)."""
    bad = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\r\n")

    def symbol(ch: str) -> bool:  # non-ASCII, neither letter nor space: '€', '«', '¬', '‚'
        return ord(ch) > 127 and not ch.isalpha() and not ch.isspace()

    for index, ch in enumerate(text):
        if symbol(ch):
            before = text[index - 1] if index else " "
            after = text[index + 1] if index + 1 < len(text) else " "
            bad += before.isalpha() and after.isalpha()
            # Two such signs side by side ('€«¬', Cyrillic in DOS code page 866 read as
            # Windows-1252), or a currency or mathematical sign stuck to a letter ('‘¥¬').
            bad += symbol(after)
            bad += unicodedata.category(ch) in {"Sc", "Sm", "So"} and (
                before.isalpha() or after.isalpha()
            )
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        scripts = {unicodedata.name(ch, "?").split()[0] for ch in word}
        bad += len(scripts) > 1
        bad += any(a.islower() and b.isupper() for a, b in itertools.pairwise(word))
        bad += "LATIN" in scripts and len(word) >= 3 and not any(ch.isascii() for ch in word)
    return bad


def decode_legacy(data: bytes) -> tuple[str, str]:
    """Text that is not UTF-8, decoded with the encoding under which it reads as real text:
    (text, codec name). Raises AttachmentError for binary data or an encoding not found."""
    undecided = AttachmentError(
        _(
            "The file is not UTF-8 text, as ODK reads it, and its encoding could not be told "
            "for sure; save it as 'CSV UTF-8' (or UTF-8 text) and import again."
        )
    )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf_16"
        except UnicodeDecodeError:
            raise undecided from None  # marked as UTF-16 (Excel's 'Unicode text'), but broken
    if b"\x00" in data:
        raise AttachmentError(_("The file holds binary data, not text, so it is not a CSV file."))
    guesses = [m.encoding for m in charset_normalizer.from_bytes(data[: 1024 * 1024])]
    best: tuple[tuple[int, int], str, str] | None = None
    for encoding in dict.fromkeys([*LEGACY_ENCODINGS, *guesses]):
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        # Fewest impossible places first; among readings with none, the one that makes the most
        # of the bytes letters (the others turn some letters into signs).
        letters = sum(1 for ch in text if ord(ch) > 127 and ch.isalpha())
        score = (_implausible(text), -letters)
        if best is None or score < best[0]:
            best = (score, encoding, text)
    if best is None or best[0][0] > 0:
        raise undecided
    return best[2], best[1]


def encoding_name(codec: str) -> str:
    """A codec's name as an admin knows it ('Windows-1252 (Western European)')."""
    return LEGACY_ENCODINGS.get(codec, "UTF-16" if codec == "utf_16" else codec)


def recoded_csv(data: bytes) -> tuple[bytes, str | None, str]:
    """A CSV attachment as UTF-8, as ODK reads it: (bytes, the codec it was converted from or
    None when it was UTF-8 already, an example of its non-ASCII text for the admin to check)."""
    try:
        data.decode("utf-8-sig")
        return data, None, ""
    except UnicodeDecodeError:
        pass
    text, codec = decode_legacy(data)
    example = next(
        (
            cell.strip()
            for line in text.splitlines()
            for cell in line.split(",")
            if not cell.isascii()
        ),
        "",
    )
    return text.encode("utf-8"), codec, example[:80]


def csv_rows(data: bytes) -> list[dict[str, str]]:
    """The rows of a CSV attachment, keyed by its header (cells stripped)."""
    text = _text(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    try:
        if not reader.fieldnames:
            raise AttachmentError(_("The CSV file has no header row."))
        return [
            {str(k).strip(): (v or "").strip() for k, v in row.items() if k is not None}
            for row in reader
        ]
    except csv.Error as error:
        # csv refuses cells over csv.field_size_limit() (131,072 characters) and NUL bytes in
        # quoted text; the limit is process-wide, so it is kept and the file refused instead.
        raise AttachmentError(
            _(
                "The CSV file is not readable at line %(line)s (%(error)s).",
                line=reader.line_num,
                error=error,
            )
        ) from None


def _labels(row: Mapping[str, str], label_column: str, language: str) -> dict[str, str]:
    """Labels of one row: the label column, and label::<language> columns (ODK's CSV form)."""
    labels = {}
    for key, value in row.items():
        if not value:
            continue
        if key == label_column:
            labels[language] = value
        elif key.lower().startswith(label_column.lower() + "::"):
            labels[language_code(key.split("::", 1)[1])] = value
    return labels


def _xml_rows(data: bytes) -> list[dict[str, str]]:
    try:
        root = ElementTree.fromstring(data)
    except Exception as error:  # defusedxml raises parse errors and its own refusals
        raise AttachmentError(_("The XML file is not readable (%(error)s).", error=error)) from None
    rows = []
    for item in root.iter("item"):
        rows.append({child.tag: (child.text or "").strip() for child in item})
    return rows


def _geojson_rows(data: bytes) -> list[dict[str, str]]:
    text = _text(data)
    try:
        return _features(json.loads(text))
    except ValueError as error:  # AttachmentError is one, with its message already
        if isinstance(error, AttachmentError):
            raise
        raise AttachmentError(
            _("The GeoJSON file is not readable (%(error)s).", error=error)
        ) from None
    except RecursionError:
        # json reads (and writes) nested arrays recursively; no real map is this deep.
        raise AttachmentError(_("The GeoJSON file is nested too deeply to be read.")) from None


def _features(document: object) -> list[dict[str, str]]:
    """The rows of a parsed GeoJSON FeatureCollection: properties, id and Point geometry."""
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise AttachmentError(_("The GeoJSON file is not a FeatureCollection."))
    rows = []
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict):
            continue
        properties = feature.get("properties") or {}
        geometry = feature.get("geometry") or {}
        if not isinstance(properties, dict) or not isinstance(geometry, dict):
            raise AttachmentError(
                _(
                    "Feature %(number)s of the GeoJSON file has 'properties' or 'geometry' that "
                    "is not an object.",
                    number=number,
                )
            )
        row = {str(k): _json_text(v) for k, v in properties.items()}
        if feature.get("id") is not None:
            row.setdefault("id", _json_text(feature["id"]))
        if geometry.get("type") == "Point":
            coordinates = geometry.get("coordinates", [])
            if not isinstance(coordinates, list):
                raise AttachmentError(
                    _(
                        "Feature %(number)s of the GeoJSON file is a Point whose 'coordinates' "
                        "are not a list of numbers.",
                        number=number,
                    )
                )
            lon, lat, *_rest = [*coordinates, None, None]
            row["geometry"] = f"{_json_text(lat)} {_json_text(lon)}"
        rows.append(row)
    return rows


def _json_text(value: object) -> str:
    """A JSON value as the text of a cell (objects and lists as compact JSON)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def choices_from_file(
    filename: str, data: bytes, parameters: Mapping[str, str], language: str
) -> tuple[Choice, ...]:
    """The choice list a select_*_from_file question reads, as pyxform and ODK define it.

    CSV and XML: the `name` and `label` columns (items); GeoJSON: each feature's `id` and its
    `title` property. The parameters column's `value=` and `label=` name other columns. Every
    other column becomes a filter column, for choice_filter.
    """
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix == ".csv":
        rows, value_column, label_column = csv_rows(data), "name", "label"
    elif suffix == ".xml":
        rows, value_column, label_column = _xml_rows(data), "name", "label"
    elif suffix == ".geojson":
        rows, value_column, label_column = _geojson_rows(data), "id", "title"
    else:
        raise AttachmentError(_("Choices can be read from .csv, .xml and .geojson files only."))
    value_column = parameters.get("value") or value_column
    label_column = parameters.get("label") or label_column
    if len(rows) > MAX_FILE_CHOICES:
        raise AttachmentError(
            _("The file has more than %(count)s choices.", count=MAX_FILE_CHOICES)
        )
    if rows and value_column not in rows[0]:
        raise AttachmentError(
            _(
                "The file has no column '%(column)s' for the choice values (its columns: "
                "%(columns)s).",
                column=value_column,
                columns=", ".join(list(rows[0])[:20]),
            )
        )
    choices = []
    seen: set[str] = set()
    for row in rows:
        value = row.get(value_column, "")
        if not value or value in seen:
            continue  # ODK skips items without a value; the first of a duplicate wins
        seen.add(value)
        labels = _labels(row, label_column, language) or {language: value}
        # Every other column, as instance('file')/root/item reads it: a GeoJSON feature's
        # 'id' and 'title' too, which its choice keeps as value and label.
        filters = {
            k: v
            for k, v in row.items()
            if k not in ("name", "label") and not k.startswith(label_column + "::")
        }
        choices.append(Choice(name=value, labels=labels, filters=filters))
    if not choices:
        raise AttachmentError(_("The file holds no choices."))
    return tuple(choices)


def itemsets_csv(rows: list[Mapping[str, object]]) -> bytes:
    """itemsets.csv from the external_choices sheet, as pyxform's command writes it."""
    columns: list[str] = []
    for row in rows:
        for key in row:
            if str(key) not in columns:
                columns.append(str(key))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else str(row.get(c)) for c in columns])
    return out.getvalue().encode("utf-8")
