"""A working paper described as plain values: masthead, chapters of blocks, annexes.

Nothing here knows about HTML layout or PDF; `reports.render.pdf` turns a `Paper` into both.
Advocate-written Markdown is read here too, into `Run`s of plain text with a bold/italic/link
flag, so that counting words and rendering work from the same sanitised content.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal

import nh3
from markdown_it import MarkdownIt

from reports.languages import PAPER_LANGUAGES as LANGUAGES
from reports.languages import Language

PAPER_SIZES = ("A4", "Letter")
WORD_WARNING = 2500  # DOMAIN §7: NGO papers run 4–10 pages; warn above ~2,500 narrative words
PAGE_WARNING = 10  # DOMAIN §7: the longest usual NGO paper


@dataclass(frozen=True, kw_only=True)
class Masthead:
    """The first-page block of a UN working paper; `symbol=None` prints "Draft"."""

    date: dt.date
    title: str
    submitted_by: str
    agenda_title: str
    symbol: str | None = None
    distribution: str = "General"
    original_language: str = "English"
    meeting: str = (
        "Third Meeting of States Parties to the Treaty on the Prohibition of Nuclear Weapons"
    )
    place_and_dates: str = "New York, 3–7 March 2025"
    agenda_item: str = "Item 10 of the provisional agenda"
    agenda_footnote: str = "TPNW/MSP/2025/1."


@dataclass(frozen=True)
class Paragraph:
    """A numbered paragraph of plain text, with optional footnotes called at its end."""

    text: str
    footnotes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubHeading:
    """A lettered sub-heading inside a chapter, e.g. label "A.", title "Profile"."""

    label: str
    title: str


@dataclass(frozen=True)
class Figure:
    """An SVG chart (from `reports.charts`) with its caption and a text alternative."""

    svg: str
    caption: str
    alt: str


@dataclass(frozen=True)
class Table:
    """A table of strings as published: suppressed cells already hold their mark, e.g. "<5"."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse ragged rows: a shifted cell would publish a number under the wrong header."""
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.caption!r}: row {row!r} does not fit the columns")


@dataclass(frozen=True)
class Recommendations:
    """Lettered sub-paragraphs (a), (b)… inside a numbered paragraph.

    With a `lead` ("The Government should:") they form a paragraph of their own; without one
    they continue the numbered paragraph just before them, else open a new one.
    """

    items: tuple[str, ...]
    lead: str = ""


@dataclass(frozen=True)
class Quote:
    """A survivor's words (approved for publication), set off and attributed."""

    text: str
    attribution: str


@dataclass(frozen=True)
class Markdown:
    """Advocate-written text: each top-level paragraph is numbered, lists become (a), (b)…"""

    source: str


Block = Paragraph | SubHeading | Figure | Table | Recommendations | Quote | Markdown


@dataclass(frozen=True)
class Chapter:
    """A numbered chapter, e.g. number "I.", title "Introduction"."""

    number: str
    title: str
    blocks: tuple[Block, ...] = ()


@dataclass(frozen=True)
class Annex:
    """Material after the end rule, typically indicator tables; paragraphs numbered anew."""

    title: str
    blocks: tuple[Block, ...] = ()


@dataclass(frozen=True)
class Paper:
    """A whole working paper, ready to render."""

    masthead: Masthead
    language: Language = "en"
    paper_size: Literal["A4", "Letter"] = "A4"
    chapters: tuple[Chapter, ...] = ()
    annexes: tuple[Annex, ...] = ()
    closing_rule: bool = True

    def __post_init__(self) -> None:
        """Refuse a language or paper size the templates do not know."""
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, not {self.language!r}")
        if self.paper_size not in PAPER_SIZES:
            raise ValueError(f"paper size must be one of {PAPER_SIZES}, not {self.paper_size!r}")


# --- Advocate-written Markdown, read into plain runs ---------------------------------------


@dataclass(frozen=True)
class Run:
    """A piece of inline text; `href` is an http(s) URL or empty; "\\n" alone is a line break."""

    text: str
    strong: bool = False
    em: bool = False
    href: str = ""


@dataclass(frozen=True)
class MarkdownParagraph:
    """A top-level paragraph of Markdown: becomes one numbered paragraph."""

    runs: tuple[Run, ...]


@dataclass(frozen=True)
class MarkdownItem:
    """One list item, with the items of a list nested in it, if any."""

    runs: tuple[Run, ...]
    subitems: tuple[tuple[Run, ...], ...] = ()


@dataclass(frozen=True)
class MarkdownList:
    """A top-level list: becomes lettered sub-paragraphs (a), (b)…"""

    items: tuple[MarkdownItem, ...]


@dataclass(frozen=True)
class MarkdownQuote:
    """A block quote: set off, not numbered."""

    runs: tuple[Run, ...]


MarkdownBlock = MarkdownParagraph | MarkdownList | MarkdownQuote

ALLOWED_TAGS = {"p", "ol", "ul", "li", "em", "strong", "a", "blockquote", "br"}


def _markdown_parser() -> MarkdownIt:
    """CommonMark that recognises raw HTML (for nh3 to strip) and passes every link on."""
    # html=True only so that raw HTML is *recognised* as HTML and then stripped by nh3 below
    # (script and style with their content). With html=False it would survive as visible text,
    # "<script>…</script>" printed in a UN paper. Nothing of it reaches WeasyPrint as markup.
    parser = MarkdownIt("commonmark", {"html": True})
    # Let every link through the parser: a refused "javascript:" link would otherwise stay as
    # its literal source text; nh3 drops the unsafe href and keeps only the link's words.
    parser.validateLink = lambda url: True
    return parser


_PARSER = _markdown_parser()


def sanitise_markdown(source: str) -> str:
    """Markdown → HTML with only p, ol, ul, li, em, strong, a[href http(s)], blockquote, br."""
    html = _PARSER.render(source)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes={"a": {"href"}},
        url_schemes={"http", "https"},
        link_rel=None,
        strip_comments=True,
    )


def read_markdown(source: str) -> tuple[MarkdownBlock, ...]:
    """The top-level paragraphs, lists and quotes of advocate-written Markdown."""
    reader = _SanitisedHTMLReader()
    reader.feed(sanitise_markdown(source))
    reader.close()
    return tuple(reader.blocks)


class _SanitisedHTMLReader(HTMLParser):
    """Reads nh3's output (allow-listed tags only) into Markdown blocks of runs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[MarkdownBlock] = []
        self._lists = 0  # depth of open lists outside quotes
        self._quotes = 0  # depth of open block quotes
        self._strong = 0
        self._em = 0
        self._href: list[str] = []
        self._runs: list[Run] = []  # runs of the paragraph, item or quote being read
        self._items: list[MarkdownItem] = []  # items of the open top-level list
        self._item_runs: list[Run] = []  # an item's own runs, kept while its sublist is read
        self._subitems: list[tuple[Run, ...]] = []
        self._nested = False  # the current item holds a nested list

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open a block or an inline style."""
        if tag == "strong":
            self._strong += 1
        elif tag == "em":
            self._em += 1
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            # nh3 keeps relative URLs; a paper read on paper needs a full http(s) address.
            self._href.append(href if re.match(r"https?://", href, re.IGNORECASE) else "")
        elif tag == "br":
            self._runs.append(Run("\n"))
        elif self._quotes or tag == "blockquote":
            # Inside a quote, paragraphs and lists run on as one text.
            if tag == "blockquote" and not self._quotes and not self._lists:
                self._flush_paragraph()
            self._quotes += tag == "blockquote"
            self._add_space()
        elif tag in ("ul", "ol"):
            if self._lists == 0:
                self._flush_paragraph()
            elif self._lists == 1 and not self._nested:
                self._item_runs, self._runs, self._nested = self._runs, [], True
            self._lists += 1
        elif tag == "li" and self._lists > 1:
            self._flush_subitem()

    def handle_endtag(self, tag: str) -> None:
        """Close a block or an inline style."""
        if tag == "strong":
            self._strong = max(0, self._strong - 1)
        elif tag == "em":
            self._em = max(0, self._em - 1)
        elif tag == "a":
            if self._href:
                self._href.pop()
        elif self._quotes:
            if tag == "blockquote":
                self._quotes -= 1
                if not self._quotes and not self._lists:
                    runs = _trim(self._runs)
                    if runs:
                        self.blocks.append(MarkdownQuote(runs))
                    self._runs = []
            else:
                self._add_space()
        elif tag == "p":
            if self._lists:
                self._add_space()  # paragraphs of a loose list item run on
            else:
                self._flush_paragraph()
        elif tag == "li" and self._lists == 1:
            own = _trim(self._item_runs if self._nested else self._runs)
            if own or self._subitems:
                self._items.append(MarkdownItem(own, tuple(self._subitems)))
            self._runs, self._item_runs, self._subitems, self._nested = [], [], [], False
        elif tag == "li" and self._lists > 1:
            self._flush_subitem()
        elif tag in ("ul", "ol") and self._lists:
            self._lists -= 1
            if self._lists == 0:
                if self._items:
                    self.blocks.append(MarkdownList(tuple(self._items)))
                self._items = []
            else:
                self._flush_subitem()

    def _flush_subitem(self) -> None:
        """End a nested item."""
        runs = _trim(self._runs)
        if runs:
            self._subitems.append(runs)
        self._runs = []

    def _flush_paragraph(self) -> None:
        """End a top-level paragraph; an empty one takes no number."""
        runs = _trim(self._runs)
        if runs:
            self.blocks.append(MarkdownParagraph(runs))
        self._runs = []

    def _add_space(self) -> None:
        """Separate block texts that run on into one."""
        if self._runs and not self._runs[-1].text.endswith((" ", "\n")):
            self._runs.append(Run(" "))

    def handle_data(self, data: str) -> None:
        """Collect text with the current style; text outside any block is a paragraph."""
        text = re.sub(r"\s+", " ", data)
        if (self._runs and self._runs[-1].text.endswith((" ", "\n"))) or not self._runs:
            text = text.lstrip()  # HTML collapses white space; so do we
        if not text:
            return
        href = self._href[-1] if self._href else ""
        self._runs.append(Run(text, self._strong > 0, self._em > 0, href))

    def close(self) -> None:
        """Keep text left outside any block (e.g. from stripped raw HTML) as a paragraph."""
        super().close()
        self._flush_paragraph()


def _trim(runs: list[Run]) -> tuple[Run, ...]:
    """Merge neighbouring runs of one style and strip outer spaces."""
    merged: list[Run] = []
    for run in runs:
        if merged and run.text != "\n" and merged[-1].text != "\n":
            last = merged[-1]
            if (last.strong, last.em, last.href) == (run.strong, run.em, run.href):
                merged[-1] = Run(last.text + run.text, last.strong, last.em, last.href)
                continue
        merged.append(run)
    while merged and not merged[0].text.strip():
        merged.pop(0)
    while merged and not merged[-1].text.strip():
        merged.pop()
    if merged:
        first, last = merged[0], merged[-1]
        merged[0] = Run(first.text.lstrip(), first.strong, first.em, first.href)
        last = merged[-1]
        merged[-1] = Run(last.text.rstrip(), last.strong, last.em, last.href)
    return tuple(merged)


def runs_text(runs: tuple[Run, ...]) -> str:
    """The plain text of some runs."""
    return "".join(run.text for run in runs)


# --- Word count -----------------------------------------------------------------------------

_WORD = re.compile(r"\w+(?:[-'’.]\w+)*")


def count_words(text: str) -> int:
    """Words as a reader counts them: "Semey-based" and "3.5" are one word each."""
    return len(_WORD.findall(text))


def _block_words(block: Block) -> int:
    """The narrative words of one block."""
    if isinstance(block, Paragraph):
        return count_words(block.text) + sum(count_words(note) for note in block.footnotes)
    if isinstance(block, Recommendations):
        return count_words(block.lead) + sum(count_words(item) for item in block.items)
    if isinstance(block, Quote):
        return count_words(block.text)
    if isinstance(block, Markdown):
        return sum(count_words(text) for text in _markdown_texts(block))
    return 0  # headings, figures and tables are not narrative


def _markdown_texts(block: Markdown) -> list[str]:
    """The visible texts of advocate-written Markdown, after sanitising."""
    texts: list[str] = []
    for part in read_markdown(block.source):
        if isinstance(part, MarkdownList):
            for item in part.items:
                texts.append(runs_text(item.runs))
                texts.extend(runs_text(sub) for sub in item.subitems)
        else:
            texts.append(runs_text(part.runs))
    return texts


def markdown_words(source: str) -> int:
    """The words a reader sees of advocate-written Markdown (after sanitising)."""
    return sum(count_words(text) for text in _markdown_texts(Markdown(source)))


def word_count(paper: Paper) -> int:
    """Narrative words of the chapters (not headings, figures, tables, masthead or annexes)."""
    return sum(_block_words(block) for chapter in paper.chapters for block in chapter.blocks)


__all__ = [
    "PAGE_WARNING",
    "WORD_WARNING",
    "Annex",
    "Block",
    "Chapter",
    "Figure",
    "Markdown",
    "MarkdownBlock",
    "MarkdownItem",
    "MarkdownList",
    "MarkdownParagraph",
    "MarkdownQuote",
    "Masthead",
    "Paper",
    "Paragraph",
    "Quote",
    "Recommendations",
    "Run",
    "SubHeading",
    "Table",
    "read_markdown",
    "runs_text",
    "sanitise_markdown",
    "word_count",
]
