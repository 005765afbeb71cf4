"""Kept papers: the rendered PDF of a paper's settings and snapshot, kept in the instance folder.

Why: drawing the charts and laying out the PDF cost about three CPU-seconds of a cold
`survey report` (WeasyPrint, its import included). The PDF is a pure function of
the settings, the data snapshot and the code that writes and renders it (the history's
byte-for-byte regeneration rests on this), so a paper asked for again with the same settings on
the same data (a second coordinator, a second language run, a retry) is read from disk instead.
The first paper of a data state is rendered as before; nothing else changes.

The file is named by a digest of the settings, the snapshot (the data as published: any new,
corrected, reviewed or withdrawn interview, any approved quote changes it), the sources of the
paper's writer and renderer (reports/, survey/reporting/, the templates and catalogues) and the
versions of the libraries that draw and lay it out; a change of one of them names another file.
Regenerating a filed paper (the history's check) always renders: it is what proves the bytes.
Storage and checks are survey/dashboards/cube_store.py's (header, checksum, atomic rename).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from flask import current_app

from reports.charts import FONT_FILES
from survey.dashboards import cube_store

FOLDER = "kept"
SUFFIX = ".paper"
KEEP = 16  # papers kept (other settings, languages, data states); the oldest go first
CHARTS = "charts"
KEEP_CHARTS = 256  # SVGs of about 30 kB: a few papers' worth
_ROOT = Path(__file__).resolve().parent.parent.parent
# What writes and renders a paper: any change to these files names new kept papers.
_SOURCES = ("reports", "survey/reporting", "survey/translations")
_PATTERNS = ("*.py", "*.html", "*.css", "*.mo")
_LIBRARIES = ("weasyprint", "pydyf", "fonttools", "babel", "jinja2", "tinycss2")


@dataclass(frozen=True)
class KeptPaper:
    """A rendered paper as kept: its PDF, pages, typed words and labels without translation."""

    pdf: bytes
    pages: int
    words: int
    missing: tuple[str, ...]


@cache
def render_version() -> str:
    """A digest of the code and libraries that turn settings and a snapshot into a PDF."""
    digest = hashlib.sha256()
    for library in _LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(f"{library}=={metadata.version(library)};".encode())
    # The charts measure their labels with this font (or a guess without it): another font
    # file lays them out differently.
    font = next((Path(name) for name in FONT_FILES if Path(name).is_file()), None)
    digest.update(font.read_bytes() if font is not None else b"no chart font")
    for source in _SOURCES:
        for pattern in _PATTERNS:
            for path in sorted((_ROOT / source).rglob(pattern)):
                digest.update(path.relative_to(_ROOT).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()


def paper_digest(settings_json: Mapping[str, Any], snapshot: Mapping[str, Any]) -> bytes:
    """The 32-byte digest naming the kept paper of these settings and this snapshot."""
    text = json.dumps(
        [render_version(), settings_json, snapshot],
        sort_keys=True,
        ensure_ascii=True,
        allow_nan=False,
    )
    return hashlib.sha256(text.encode("utf-8")).digest()


def enabled() -> bool:
    """Whether papers are kept (REPORT_KEPT_PAPERS, on by default)."""
    return bool(current_app.config.get("REPORT_KEPT_PAPERS", True))


def folder() -> Path:
    """instance/reports/kept/."""
    return Path(current_app.instance_path) / "reports" / FOLDER


def _path(digest: bytes) -> Path:
    return folder() / f"{digest.hex()[:40]}{SUFFIX}"


def find(digest: bytes) -> KeptPaper | None:
    """The kept paper of this digest, or None (none kept, cut short, corrupted, another key)."""
    found = cube_store.read(_path(digest), digest)
    return found if isinstance(found, KeptPaper) else None


def keep(digest: bytes, paper: KeptPaper) -> None:
    """Keep a rendered paper under its digest; a full disk only means it is not kept."""
    _keep(_path(digest), digest, paper, KEEP)


def chart(parts: list[Any], draw: Callable[[], str]) -> str:
    """A chart's SVG from the kept charts, else drawn and kept: the same bars, titles and
    language draw the same SVG, so a paper on the same data (other words, another process, a
    regeneration) reads its charts instead of drawing them again."""
    text = json.dumps([render_version(), parts], sort_keys=True, ensure_ascii=True)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    path = folder() / CHARTS / f"{digest.hex()[:40]}.svg"
    found = cube_store.read(path, digest)
    if isinstance(found, str):
        return found
    svg = draw()
    _keep(path, digest, svg, KEEP_CHARTS)
    return svg


def _keep(path: Path, digest: bytes, value: Any, limit: int) -> None:
    """Write value under digest at path, then keep the newest `limit` files of its folder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        cube_store.write(path, digest, value)
    except OSError:
        current_app.logger.exception("Cannot keep %s", path)
        return
    kept = []
    for other in path.parent.glob(f"*{path.suffix}"):
        with contextlib.suppress(FileNotFoundError):
            kept.append((other.stat().st_mtime, other))
    kept.sort(reverse=True)
    for _mtime, old in kept[limit:]:
        if old != path:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
