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
from dataclasses import dataclass
from pathlib import PurePosixPath

from flask import current_app, has_app_context
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MEDIA_TYPES = ("image", "audio", "video", "file")
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
# Larger pictures are scaled down: enough for any survey photo, and a bound on memory.
MAX_IMAGE_SIDE = 2048
MAX_IMAGE_PIXELS = 50_000_000
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


def max_bytes() -> int:
    """The largest file a media question accepts (MEDIA_MAX_BYTES)."""
    configured = current_app.config.get("MEDIA_MAX_BYTES") if has_app_context() else None
    return int(configured or DEFAULT_MAX_BYTES)


def too_large_message(limit: int) -> str:
    """What a volunteer is told about a file above the limit."""
    size = f"{limit / (1024 * 1024):.3g} MB" if limit >= 1024 * 1024 else f"{limit / 1024:.3g} kB"
    return _(
        "The file is larger than %(size)s and was not saved. Choose a smaller file (or a "
        "photo taken at a lower resolution); your other answers are kept.",
        size=size,
    )


def is_stored_name(question: str, name: str) -> bool:
    """Whether a name is one clean_upload() gives a file of this question."""
    return re.fullmatch(rf"{re.escape(question)}-[0-9a-f]{{20}}\.[a-z0-9]{{1,5}}", name) is not None


def accept_attribute(kind: str) -> str:
    """The file input's accept attribute for a media question."""
    if kind == "image":
        return "image/*"
    if kind in ("audio", "video"):
        return f"{kind}/*," + ",".join(sorted(SUFFIXES[kind]))
    return ",".join(sorted(SUFFIXES["file"]))


def clean_upload(question: str, kind: str, filename: str, data: bytes) -> MediaFile:
    """Check an upload against its question's kind and the size limit; re-encode pictures."""
    limit = max_bytes()
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
        filename=f"{question}-{digest}{suffix}",
        content_type=content_type,
        data=cleaned,
    )


def _clean_image(data: bytes) -> tuple[bytes, str, str]:
    """Pixels only, upright, at most MAX_IMAGE_SIDE wide or high: JPEG, or PNG with alpha."""
    try:
        with Image.open(io.BytesIO(data)) as source:
            if source.format not in IMAGE_FORMATS:
                raise MediaRefused(_("This file is not a picture."))
            if source.width * source.height > MAX_IMAGE_PIXELS:
                raise MediaRefused(_("The picture has too many pixels."))
            source.seek(0)
            picture = ImageOps.exif_transpose(source)
            picture.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
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
