"""A working paper for the TPNW Meeting of States Parties: plain values → HTML → PDF/UA."""

from pathlib import Path
from typing import TYPE_CHECKING

from reports.render.document import (
    PAGE_WARNING,
    WORD_WARNING,
    Annex,
    Chapter,
    Figure,
    Markdown,
    Masthead,
    Paper,
    Paragraph,
    Quote,
    Recommendations,
    SubHeading,
    Table,
    markdown_words,
    word_count,
)

if TYPE_CHECKING:
    from reports.render.pdf import render_html, render_paper, render_pdf, report_url_fetcher

_RENDERERS = ("render_html", "render_paper", "render_pdf", "report_url_fetcher")
# The paper's templates and stylesheet live in the package that renders them.
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def stylesheet() -> str:
    """The paper's CSS (page rules, fonts), e.g. for reading a preview in a browser."""
    return (TEMPLATE_DIR / "paper.css").read_text(encoding="utf-8")


def __getattr__(name: str) -> object:
    """Load WeasyPrint (about 1.5 s) only when a paper is rendered, not to count its words."""
    if name in _RENDERERS:
        from reports.render import pdf

        return getattr(pdf, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PAGE_WARNING",
    "TEMPLATE_DIR",
    "WORD_WARNING",
    "Annex",
    "Chapter",
    "Figure",
    "Markdown",
    "Masthead",
    "Paper",
    "Paragraph",
    "Quote",
    "Recommendations",
    "SubHeading",
    "Table",
    "markdown_words",
    "render_html",
    "render_paper",
    "render_pdf",
    "report_url_fetcher",
    "stylesheet",
    "word_count",
]
