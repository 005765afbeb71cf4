"""A `Paper` → a context of plain values → HTML (jinja2, autoescaped) → PDF/UA (WeasyPrint).

WeasyPrint may load only the report's own assets: the stylesheet under `templates/`
and the figures of the paper being rendered, both under the private `birge-report:` scheme.
Every other URL (http, https, file, data, …) is refused, so nothing typed by a person can make
the renderer read the disk or reach the network.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from reports import formatting
from reports.render import TEMPLATE_DIR
from reports.render.libraries import one_library_search

with one_library_search():  # WeasyPrint finds Pango & co. without fifty processes
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher, URLFetcherResponse
from reports.render.document import (
    Annex,
    Block,
    Chapter,
    Figure,
    Markdown,
    MarkdownList,
    MarkdownParagraph,
    MarkdownQuote,
    Paper,
    Paragraph,
    Quote,
    Recommendations,
    Run,
    SubHeading,
    Table,
    read_markdown,
)

SCHEME = "birge-report"
BASE_URL = f"{SCHEME}:/"
# What the fetcher may serve from TEMPLATE_DIR, by suffix; anything else there stays private.
ASSET_TYPES = {
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".otf": "font/otf",
    ".ttf": "font/ttf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}
MAX_ASSET_BYTES = 5_000_000

# Interface words. "Distr.:" and "Original:" stay in English in every language: the UN keeps
# this registry block in English in its Russian documents, and a Kazakh version (the UN has
# none) follows the Russian one. The byline's word order differs in Kazakh.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "draft": "Draft",
        "distribution": "Distr.: {distribution}",
        "original": "Original: {language}",
        "byline": "Working paper submitted by {submitted_by}",
        "annex": "Annex",
        "figure": "Figure",
        "table": "Table",
        "quote_open": "“",
        "quote_close": "”",
    },
    "ru": {
        "draft": "Проект",
        "distribution": "Distr.: {distribution}",
        "original": "Original: {language}",
        "byline": "Рабочий документ, представленный {submitted_by}",
        "annex": "Приложение",
        "figure": "Диаграмма",
        "table": "Таблица",
        "quote_open": "«",
        "quote_close": "»",
    },
    "kk": {
        "draft": "Жоба",
        "distribution": "Distr.: {distribution}",
        "original": "Original: {language}",
        "byline": "{submitted_by} ұсынған жұмыс құжаты",
        "annex": "Қосымша",
        "figure": "Диаграмма",
        "table": "Кесте",
        "quote_open": "«",
        "quote_close": "»",
    },
}

# Letters of Kazakh Cyrillic missing from Liberation Serif 1.07 (Debian's fonts-liberation);
# і/І is there. Text holding them is set in DejaVu Serif whole, not letter by letter.
KAZAKH_ONLY = "ӘәҒғҚқҢңӨөҰұҮүҺһ"
_KAZAKH_WORD = re.compile(rf"\w*[{KAZAKH_ONLY}]\w*")
# In an English paper a Cyrillic phrase is a Kazakh or Russian quotation or name: set the whole
# phrase in one face. In a Russian paper only the Kazakh words (place names, mostly) change.
_CYRILLIC_PHRASE = re.compile(r"[\u0400-\u04ff]+(?:[\s\d,.;:!?«»“”\"'’()–—-]+[\u0400-\u04ff]+)*")


def roman(number: int) -> str:
    """Roman numerals for figure labels (UN style: "Figure I", "Table 1")."""
    values = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"))
    values += ((50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = ""
    for value, letters in values:
        while number >= value:
            out += letters
            number -= value
    return out


def letter(index: int) -> str:
    """(a), (b), … (z), (aa), (bb): UN sub-paragraph labels, 0-based index."""
    return "(" + "abcdefghijklmnopqrstuvwxyz"[index % 26] * (index // 26 + 1) + ")"


def small_roman(index: int) -> str:
    """(i), (ii), …: labels of items nested in a lettered sub-paragraph, 0-based index."""
    return f"({roman(index + 1).lower()})"


# --- The URL fetcher ------------------------------------------------------------------------


class RefusedURLError(ValueError):
    """A URL the report may not load; WeasyPrint logs it and leaves the resource out."""


class ReportURLFetcher(URLFetcher):
    """Serves files under reports/render/templates/ and this render's figures; refuses the rest.

    `data:` URLs are refused too: figures travel as in-memory assets under the private scheme,
    so no data URL is ever needed and none can smuggle content in.
    """

    def __init__(self, assets: Mapping[str, bytes] | None = None, root: Path = TEMPLATE_DIR):
        # No protocol is allowed to urllib: the inherited opener is never used.
        super().__init__(timeout=1, allowed_protocols=(), allow_redirects=False)
        self.assets = dict(assets or {})
        self.root = root.resolve()

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        """The asset at `url`, or RefusedURLError."""
        path = self._asset_path(url)
        suffix = Path(path).suffix.lower()
        if suffix not in ASSET_TYPES:
            raise RefusedURLError(f"not a report asset type: {url}")
        headers_out = {"Content-Type": ASSET_TYPES[suffix]}
        if path in self.assets:
            return URLFetcherResponse(url, self.assets[path], headers_out)
        file = (self.root / path).resolve()
        # resolve() follows symbolic links, so a link pointing out of the folder is refused too.
        if not file.is_relative_to(self.root) or not file.is_file():
            raise RefusedURLError(f"no such report asset: {url}")
        if file.stat().st_size > MAX_ASSET_BYTES:
            raise RefusedURLError(f"report asset too large: {url}")
        return URLFetcherResponse(url, file.read_bytes(), headers_out)

    def _asset_path(self, url: str) -> str:
        """The asset's name under the private scheme, or RefusedURLError."""
        parts = urlsplit(url)
        if parts.scheme.lower() != SCHEME:
            raise RefusedURLError(f"only {SCHEME}: URLs are served, not {url[:80]}")
        if parts.netloc or parts.query:
            raise RefusedURLError(f"unexpected host or query: {url}")
        path = unquote(parts.path)
        segments = path.lstrip("/").split("/")
        if "\\" in path or "\0" in path or any(s in ("", ".", "..") for s in segments):
            raise RefusedURLError(f"unsafe asset path: {url}")
        return "/".join(segments)


report_url_fetcher = ReportURLFetcher()


# --- Paper → context of plain values --------------------------------------------------------


def _nfc(text: str) -> str:
    """NFC, as DOMAIN §8 asks: "ә" typed as a + combining mark must print as one letter."""
    return unicodedata.normalize("NFC", text)


def _runs(runs: tuple[Run, ...]) -> list[dict[str, Any]]:
    """Runs as the template reads them."""
    return [{"text": _nfc(r.text), "strong": r.strong, "em": r.em, "href": r.href} for r in runs]


def _plain(text: str) -> list[dict[str, Any]]:
    """Plain text as one run; line breaks typed in a form field are only spaces."""
    return _runs((Run(" ".join(text.split())),))


_NUMERIC = re.compile(r"^[<>≤≥~±–—−+-]?\s*[\d.,\s%–—−-]*\d[\d.,\s%–—()−-]*\*?$|^[–—-]$|^$")


@dataclass
class _Numbers:
    """Numbering that runs through the document (paragraphs restart in each annex)."""

    paragraph: int = 0
    footnote: int = 0
    figure: int = 0
    table: int = 0


class _ContextBuilder:
    """Turns blocks into dicts the template reads; numbers everything on the way."""

    def __init__(self, paper: Paper) -> None:
        self.paper = paper
        self.words = WORDS[paper.language]
        self.counters = _Numbers()
        self.assets: dict[str, bytes] = {}  # figures, served to WeasyPrint by name

    def blocks(self, blocks: tuple[Block, ...]) -> list[dict[str, Any]]:
        """Context entries for a chapter's or annex's blocks."""
        out: list[dict[str, Any]] = []
        for block in blocks:
            self._add(block, out)
        return out

    def _add(self, block: Block, out: list[dict[str, Any]]) -> None:
        """Append the entries for one block (Markdown may give several)."""
        if isinstance(block, Paragraph):
            out.append(self._paragraph(_plain(block.text), block.footnotes))
        elif isinstance(block, SubHeading):
            out.append(
                {"kind": "subheading", "label": _nfc(block.label), "title": _nfc(block.title)}
            )
        elif isinstance(block, Recommendations):
            items = [{"runs": _plain(item), "subitems": []} for item in block.items]
            if block.lead:
                out.append(self._paragraph(_plain(block.lead), ()))
            self._attach(items, out)
        elif isinstance(block, Quote):
            out.append(self._quote(_plain(block.text), block.attribution))
        elif isinstance(block, Markdown):
            self._markdown(block, out)
        elif isinstance(block, Figure):
            out.append(self._figure(block))
        elif isinstance(block, Table):
            out.append(self._table(block))
        else:  # pragma: no cover - the Block union is closed
            raise TypeError(f"not a block: {block!r}")

    def _paragraph(self, runs: list[dict[str, Any]], notes: tuple[str, ...]) -> dict[str, Any]:
        """The next numbered paragraph, its footnotes numbered on through the document."""
        self.counters.paragraph += 1
        footnotes = []
        for note in notes:
            self.counters.footnote += 1
            footnotes.append({"mark": str(self.counters.footnote), "text": _nfc(note)})
        return {
            "kind": "paragraph",
            "number": f"{self.counters.paragraph}.",
            "runs": runs,
            "footnotes": footnotes,
            "items": [],
        }

    def _attach(self, items: list[dict[str, Any]], out: list[dict[str, Any]]) -> None:
        """Lettered items continue the numbered paragraph just before, else open one."""
        if not (out and out[-1]["kind"] == "paragraph"):
            out.append(self._paragraph([], ()))
        paragraph = out[-1]
        start = len(paragraph["items"])
        for index, item in enumerate(items, start):
            item["label"] = letter(index)
            for sub_index, sub in enumerate(item["subitems"]):
                sub["label"] = small_roman(sub_index)
            paragraph["items"].append(item)

    def _quote(self, runs: list[dict[str, Any]], attribution: str) -> dict[str, Any]:
        """A quotation in the paper's quotation marks."""
        return {
            "kind": "quote",
            "runs": runs,
            "attribution": _nfc(attribution),
            "open": self.words["quote_open"],
            "close": self.words["quote_close"],
        }

    def _markdown(self, block: Markdown, out: list[dict[str, Any]]) -> None:
        """Numbered paragraphs, lettered items and quotes from advocate-written Markdown."""
        for part in read_markdown(_nfc(block.source)):
            if isinstance(part, MarkdownParagraph):
                out.append(self._paragraph(_runs(part.runs), ()))
            elif isinstance(part, MarkdownList):
                items = [
                    {
                        "runs": _runs(item.runs),
                        "subitems": [{"runs": _runs(sub)} for sub in item.subitems],
                    }
                    for item in part.items
                ]
                self._attach(items, out)
            elif isinstance(part, MarkdownQuote):
                out.append(self._quote(_runs(part.runs), ""))

    def _figure(self, block: Figure) -> dict[str, Any]:
        """A figure labelled "Figure I", its SVG kept aside as an asset for the fetcher."""
        self.counters.figure += 1
        name = f"figures/figure-{self.counters.figure}.svg"
        self.assets[name] = _nfc(block.svg).encode("utf-8")
        return {
            "kind": "figure",
            "label": f"{self.words['figure']} {roman(self.counters.figure)}",
            "caption": _nfc(block.caption),
            "alt": _nfc(block.alt),
            "src": BASE_URL + name,
        }

    def _table(self, block: Table) -> dict[str, Any]:
        """A table labelled "Table 1", with its numeric columns marked for right alignment."""
        self.counters.table += 1
        rows = [[_nfc(cell) for cell in row] for row in block.rows]
        # Right-align a column whose every cell reads as a number, a share or a marked cell.
        numeric = [
            index > 0 and all(_NUMERIC.match(row[index].strip()) for row in rows)
            for index in range(len(block.columns))
        ]
        return {
            "kind": "table",
            "label": f"{self.words['table']} {self.counters.table}",
            "caption": _nfc(block.caption),
            "columns": [_nfc(column) for column in block.columns],
            "numeric": numeric,
            "rows": rows,
            "notes": [_nfc(note) for note in block.notes],
        }

    def chapter(self, chapter: Chapter) -> dict[str, Any]:
        """A chapter's heading and blocks."""
        return {
            "number": _nfc(chapter.number),
            "title": _nfc(chapter.title),
            "blocks": self.blocks(chapter.blocks),
        }

    def annex(self, annex: Annex, index: int, count: int) -> dict[str, Any]:
        """An annex, numbered "Annex I", "Annex II" only when there are several."""
        self.counters.paragraph = 0  # UN annexes number their paragraphs anew
        label = self.words["annex"] + (f" {roman(index + 1)}" if count > 1 else "")
        return {"label": label, "title": _nfc(annex.title), "blocks": self.blocks(annex.blocks)}


def build_context(paper: Paper) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The template's context (plain values only) and the figures it refers to."""
    builder = _ContextBuilder(paper)
    words = builder.words
    masthead = paper.masthead
    symbol = _nfc(masthead.symbol) if masthead.symbol else words["draft"]
    title = _nfc(masthead.title)
    submitted_by = _nfc(masthead.submitted_by)
    chapters = [builder.chapter(chapter) for chapter in paper.chapters]
    annexes = [
        builder.annex(annex, index, len(paper.annexes)) for index, annex in enumerate(paper.annexes)
    ]
    context = {
        "lang": paper.language,
        "page_size": paper.paper_size,
        "stylesheet": BASE_URL + "paper.css",
        "title": title,
        "author": submitted_by,
        "description": f"{symbol}: {_nfc(masthead.meeting)}",
        "created": masthead.date.isoformat(),
        "symbol": symbol,
        "is_draft": masthead.symbol is None,
        "distribution": words["distribution"].format(distribution=_nfc(masthead.distribution)),
        "date": formatting.date(masthead.date, paper.language),
        "original": words["original"].format(language=_nfc(masthead.original_language)),
        "meeting": _nfc(masthead.meeting),
        "place_and_dates": _nfc(masthead.place_and_dates),
        "agenda_item": _nfc(masthead.agenda_item),
        "agenda_title": _nfc(masthead.agenda_title),
        "agenda_footnote": _nfc(masthead.agenda_footnote),
        "byline": words["byline"].format(submitted_by=submitted_by),
        "chapters": chapters,
        "closing_rule": paper.closing_rule,
        "annexes": annexes,
    }
    return context, builder.assets


# --- HTML and PDF ---------------------------------------------------------------------------


@pass_context
def _script(context: Context, value: str) -> Markup:
    """Escape text, setting words with Kazakh-only letters whole in a font that has them."""
    text = str(value)
    if context.get("lang") == "kk":
        return escape(text)  # the whole Kazakh paper is already set in such a font
    pattern = _CYRILLIC_PHRASE if context.get("lang") == "en" else _KAZAKH_WORD
    parts: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        if not any(letter in KAZAKH_ONLY for letter in match.group()):
            continue
        parts.append(str(escape(text[position : match.start()])))
        parts.append(f'<span class="kk">{escape(match.group())}</span>')
        position = match.end()
    parts.append(str(escape(text[position:])))
    return Markup("".join(parts))  # noqa: S704 - every piece above went through escape()


def _environment() -> Environment:
    """Jinja for the report templates: autoescaped, strict about missing values."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["script"] = _script
    return environment


_ENVIRONMENT = _environment()


def render_html(paper: Paper) -> str:
    """The paper as one HTML document (its stylesheet and figures under `birge-report:/`)."""
    context, _ = build_context(paper)
    return _ENVIRONMENT.get_template("paper.html").render(context)


def render_pdf(paper: Paper) -> bytes:
    """The paper as a tagged PDF/UA-1; the same paper gives the same bytes."""
    return render_paper(paper)[0]


def render_paper(paper: Paper) -> tuple[bytes, int]:
    """The paper as render_pdf makes it, and its number of pages (as laid out)."""
    context, assets = build_context(paper)
    html = _ENVIRONMENT.get_template("paper.html").render(context)
    digest = hashlib.sha256(html.encode("utf-8"))
    for name in sorted(assets):
        digest.update(name.encode("utf-8") + b"\0" + assets[name])
    source = HTML(string=html, base_url=BASE_URL, url_fetcher=ReportURLFetcher(assets))
    options = {
        "pdf_variant": "pdf/ua-1",
        # A stable /ID from the content; dates come from the masthead (dcterms.created).
        "pdf_identifier": digest.hexdigest()[:32].encode("ascii"),
    }
    document = source.render(**options)
    return document.write_pdf(**options), len(document.pages)
