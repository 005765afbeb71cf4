"""A working paper for the TPNW Meeting of States Parties: plain values → HTML → PDF/UA."""

from typing import TYPE_CHECKING

from reports.render.document import (
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
    word_count,
)

if TYPE_CHECKING:
    from reports.render.pdf import render_html, render_pdf, report_url_fetcher

_RENDERERS = ("render_html", "render_pdf", "report_url_fetcher")


def __getattr__(name: str) -> object:
    """Load WeasyPrint (about 1.5 s) only when a paper is rendered, not to count its words."""
    if name in _RENDERERS:
        from reports.render import pdf

        return getattr(pdf, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
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
    "render_html",
    "render_pdf",
    "report_url_fetcher",
    "word_count",
]
