"""Answers of image, audio, video and file questions: what is accepted, and how it is cleaned.

A form has media questions only where the admin confirmed at import that it collects them
(identifying data, issue 9 part 6). The files stay on the server (SubmissionMedia): no export,
dashboard or report carries them; the answer itself is the stored file's name, as in ODK.

Pictures are decoded and re-encoded with Pillow, so that what is stored is pixels only: EXIF
(camera, time, GPS position), XMP, comments and anything appended to the file are dropped. The
picture is turned upright first (EXIF orientation), since the orientation tag goes too.
Audio, video and other files are kept as sent, checked by type and size.
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from flask import current_app, has_app_context
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MEDIA_TYPES = ("image", "audio", "video", "file")
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
# Pictures are re-encoded at most 2048 px, so a phone's original (often 5 to 12 MB) is taken.
DEFAULT_MAX_IMAGE_BYTES = 15 * 1024 * 1024
# A media question in a repeat (a photo per household member) is allowed this many files at
# full size in one post; smaller files leave room for more entries.
REPEAT_FILES = 5
# What a form post carries besides its files (answers, token, hidden fields).
FORM_FIELDS_ALLOWANCE = 1024 * 1024
# Larger pictures are scaled down: enough for any survey photo, and a bound on memory.
MAX_IMAGE_SIDE = 2048
MAX_IMAGE_PIXELS = 50_000_000
# Formats decoded whole (PNG, WebP, ...): about 100 MB of memory at most.
MAX_DECODED_PIXELS = 24_000_000
# Question names have no length limit (nested groups join names); the stored file name, which
# must fit its column, starts with at most this much of it.
NAME_PREFIX_LENGTH = 80
IMAGE_FORMATS = {"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "MPO", "HEIF"}
SUFFIXES = {
    "audio": {".mp3", ".m4a", ".aac", ".amr", ".ogg", ".oga", ".opus", ".wav", ".3gp", ".webm"},
    "video": {".mp4", ".3gp", ".webm", ".mov", ".mkv", ".ogv"},
    "file": {".pdf", ".txt", ".csv", ".xlsx", ".xls", ".docx", ".odt", ".ods", ".zip"},
}
CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".amr": "audio/amr",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/opus",
    ".wav": "audio/wav",
    ".3gp": "video/3gpp",
    ".webm": "video/webm",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".ogv": "video/ogg",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".csv": "text/csv",
}


class MediaRefused(ValueError):
    """An upload that is not stored; the message tells the volunteer why."""


@dataclass(frozen=True)
class MediaFile:
    """A cleaned upload, ready to store: the answer is its name."""

    question: str
    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        """The digest of the stored bytes."""
        return hashlib.sha256(self.data).hexdigest()


def max_bytes(kind: str | None = None) -> int:
    """The largest file a media question of this kind accepts (MEDIA_MAX_IMAGE_BYTES for
    pictures, MEDIA_MAX_BYTES for the rest); without a kind, the largest of both."""
    config = current_app.config if has_app_context() else {}
    files = int(config.get("MEDIA_MAX_BYTES") or DEFAULT_MAX_BYTES)
    images = int(config.get("MEDIA_MAX_IMAGE_BYTES") or DEFAULT_MAX_IMAGE_BYTES)
    if kind == "image":
        return images
    return files if kind is not None else max(files, images)


def request_allowance(spec: Any) -> int:
    """The request size a post of this form may need: each media question's file at its limit
    (REPEAT_FILES of them in a repeat), plus the other answers; 0 without media questions."""
    in_repeats = {q.name for r in spec.repeats_by_name.values() for q in r.questions}
    total = sum(
        max_bytes(q.type) * (REPEAT_FILES if q.name in in_repeats else 1)
        for q in spec.questions_by_name.values()
        if q.type in MEDIA_TYPES
    )
    return total + FORM_FIELDS_ALLOWANCE if total else 0


class CappedUpload:
    """Where the form parser writes one uploaded file: the first `keep` bytes are kept (spooled
    to disk when large) and the rest only counted, so a file over its limit is refused with a
    message on its question while the rest of the post (the answers) is still read.

    `budget` is shared by the files of one post: what each keeps is taken from it, so the
    files together keep no more than the allowance."""

    def __init__(self, keep: int, budget: list[int]) -> None:
        self.keep = keep
        self.budget = budget
        self.overflowed = False
        self._file = tempfile.SpooledTemporaryFile(max_size=512 * 1024)  # noqa: SIM115

    def write(self, data: bytes) -> int:
        """Keep what fits; count the rest as overflow."""
        room = max(0, min(self.keep - self._file.tell(), self.budget[0]))
        if len(data) > room:
            self.overflowed = True
        if room > 0:
            kept = data[:room]
            self._file.write(kept)
            self.budget[0] -= len(kept)
        return len(data)

    def close(self) -> None:
        """Drop the kept bytes (and their temporary file)."""
        self._file.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def capped_stream_factory(budget: int) -> Callable[..., CappedUpload]:
    """A Werkzeug stream factory keeping at most max_bytes()+1 of each file and `budget` bytes
    of all files together, whatever the request's size."""
    left = [budget]

    def factory(*_args: Any, **_kwargs: Any) -> CappedUpload:
        return CappedUpload(max_bytes() + 1, left)

    return factory


def too_large_message(limit: int) -> str:
    """What a volunteer is told about a file above the limit."""
    size = f"{limit / (1024 * 1024):.3g} MB" if limit >= 1024 * 1024 else f"{limit / 1024:.3g} kB"
    return _(
        "The file is larger than %(size)s and was not saved. Choose a smaller file (or a "
        "photo taken at a lower resolution); your other answers are kept.",
        size=size,
    )


def together_too_large_message() -> str:
    """What a volunteer is told about a file cut short because all files together were too many."""
    return _(
        "The files chosen are together too large and this one was not saved. Send fewer or "
        "smaller files; your other answers are kept."
    )


def is_stored_name(question: str, name: str) -> bool:
    """Whether a name is one clean_upload() gives a file of this question."""
    prefix = re.escape(question[:NAME_PREFIX_LENGTH])
    return re.fullmatch(rf"{prefix}-[0-9a-f]{{20}}\.[a-z0-9]{{1,5}}", name) is not None


def accept_attribute(kind: str) -> str:
    """The file input's accept attribute for a media question."""
    if kind == "image":
        return "image/*"
    if kind in ("audio", "video"):
        return f"{kind}/*," + ",".join(sorted(SUFFIXES[kind]))
    return ",".join(sorted(SUFFIXES["file"]))


def clean_upload(question: str, kind: str, filename: str, data: bytes) -> MediaFile:
    """Check an upload against its question's kind and the size limit; re-encode pictures."""
    limit = max_bytes(kind)
    if len(data) > limit:
        raise MediaRefused(too_large_message(limit))
    if not data:
        raise MediaRefused(_("The file is empty."))
    if kind == "image":
        cleaned, suffix, content_type = _clean_image(data)
    else:
        suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
        if suffix not in SUFFIXES.get(kind, set()):
            raise MediaRefused(
                _(
                    "This kind of file is not accepted here; accepted: %(kinds)s.",
                    kinds=", ".join(sorted(SUFFIXES.get(kind, set()))),
                )
            )
        cleaned, content_type = data, CONTENT_TYPES.get(suffix, "application/octet-stream")
    digest = hashlib.sha256(cleaned).hexdigest()[:20]
    # A name of the server's making: the volunteer's file name may name the respondent.
    return MediaFile(
        question=question,
        filename=f"{question[:NAME_PREFIX_LENGTH]}-{digest}{suffix}",
        content_type=content_type,
        data=cleaned,
    )


def _clean_image(data: bytes) -> tuple[bytes, str, str]:
    """Pixels only, upright, at most MAX_IMAGE_SIDE wide or high: JPEG, or PNG with alpha."""
    try:
        with Image.open(io.BytesIO(data)) as source:
            if source.format not in IMAGE_FORMATS:
                raise MediaRefused(_("This file is not a picture."))
            pixels = source.width * source.height
            # A JPEG is decoded at 1/2, 1/4 or 1/8 scale (draft); other formats decode whole,
            # at four bytes a pixel, so a small compressed file could cost gigabytes.
            limit = MAX_IMAGE_PIXELS if source.format in ("JPEG", "MPO") else MAX_DECODED_PIXELS
            if pixels > limit:
                raise MediaRefused(
                    _(
                        "The picture has too many pixels (at most %(count)s million). Take it "
                        "at a lower resolution or send it as a JPEG photo.",
                        count=limit // 1_000_000,
                    )
                )
            source.seek(0)
            if source.format in ("JPEG", "MPO"):
                source.draft("RGB", (MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
            # Scaled down before turning it upright, so the copy exif_transpose makes is small;
            # both bounds are equal, so turning it afterwards cannot exceed them.
            source.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
            picture = ImageOps.exif_transpose(source)
            has_alpha = picture.mode in ("RGBA", "LA") or (
                picture.mode == "P" and "transparency" in picture.info
            )
            out = io.BytesIO()
            if has_alpha:
                clean = Image.new("RGBA", picture.size)
                clean.paste(picture.convert("RGBA"))
                clean.save(out, format="PNG", optimize=True)
                return out.getvalue(), ".png", "image/png"
            clean = Image.new("RGB", picture.size)
            clean.paste(picture.convert("RGB"))
            clean.save(out, format="JPEG", quality=85)
            return out.getvalue(), ".jpg", "image/jpeg"
    except MediaRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        raise MediaRefused(_("This file is not a picture that can be read.")) from None
