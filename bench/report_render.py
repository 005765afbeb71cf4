"""How long a working paper takes to render: papers of about 5, 10 and 20 pages.

Run: .venv/bin/python bench/report_render.py [--repeat 3]
Prints, per size, the pages produced, words, HTML time and PDF time (median of the repeats).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pypdf import PdfReader

from reports.charts import Bar, bar_chart_svg
from reports.render import (
    Chapter,
    Figure,
    Markdown,
    Masthead,
    Paper,
    Paragraph,
    Recommendations,
    SubHeading,
    Table,
    render_html,
    render_pdf,
    word_count,
)

SENTENCES = (
    "Of the 412 respondents, 62 per cent reported at least one unmet need for medical care.",
    "Survivors in the zones of maximum radiation risk described long journeys to Semey.",
    "Descendants are covered by the 1992 law only if disabled with a proven genetic link.",
    "The results are unweighted and not statistically representative of all affected people.",
    "Respondents in Аягөз and Бесқарағай districts most often named medicines as a priority.",
)

T = TypeVar("T")

# Paragraphs per findings section that give roughly 5, 10 and 20 pages with one figure and
# one table per section.
SIZES = {5: 2, 10: 9, 20: 26}


def build(paragraphs_per_section: int) -> Paper:
    """A paper whose length grows with the paragraphs in each of the nine findings sections."""
    svg = bar_chart_svg(
        [Bar("Semey", 0.62, 0.55, 0.69), Bar("Ayagoz", 0.41, 0.35, 0.48), Bar("Abai", None)],
        title="Unmet need",
        description="Semey 62%, Ayagoz 41%, Abai suppressed.",
        suppressed_text="<5",
        width_inches=5.2,
    )
    table = Table(
        "Respondents by district",
        ("District", "n", "%", "95% CI"),
        (("Semey", "210", "51.0", "46.1–55.8"), ("Abai", "<5", "–", "–")),
    )
    counter = iter(range(10_000))

    def paragraph() -> Paragraph:
        index = next(counter)
        return Paragraph(" ".join(SENTENCES[(index + k) % len(SENTENCES)] for k in range(3)))

    findings: list[object] = []
    for letter in "ABCDEFGHI":
        findings.append(SubHeading(f"{letter}.", f"Findings section {letter}"))
        findings.extend(paragraph() for _ in range(paragraphs_per_section))
        if letter in "ACEG":
            findings.append(Figure(svg, "Unmet need by district", "Bar chart of unmet need."))
        if letter in "BDF":
            findings.append(table)
    chapters = (
        Chapter("I.", "Introduction", tuple(paragraph() for _ in range(3))),
        Chapter("II.", "Background", tuple(paragraph() for _ in range(3))),
        Chapter("III.", "Methodology", tuple(paragraph() for _ in range(3))),
        Chapter("IV.", "Findings", tuple(findings)),
        Chapter(
            "V.",
            "Recommendations",
            (
                Paragraph("The coalition recommends that the Government of Kazakhstan:"),
                Recommendations(("Extend the status to descendants;", "Fund examinations.")),
                Markdown("States parties should:\n\n- support the **trust fund**;\n- share data."),
            ),
        ),
    )
    masthead = Masthead(
        symbol="TPNW/MSP/2025/NGO/23",
        date=dt.date(2025, 3, 3),
        title="Victim assistance and environmental remediation in the Semipalatinsk region",
        submitted_by="Qazaq Youth for Nuclear Justice",
        agenda_title="Consideration of the status and operation of the Treaty",
    )
    return Paper(masthead, chapters=chapters)


def timed(function: Callable[[Paper], T], paper: Paper) -> tuple[float, T]:
    """Seconds taken by one call, and its result."""
    start = time.perf_counter()
    result = function(paper)
    return time.perf_counter() - start, result


def main() -> None:
    """Print render times for each size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    render_pdf(build(1))  # warm up: fonts and WeasyPrint's caches
    print(f"{'target':>6} {'pages':>5} {'words':>6} {'html s':>7} {'pdf s':>7} {'s/page':>7}")
    for target, per_section in SIZES.items():
        paper = build(per_section)
        html_times, pdf_times = [], []
        data = b""
        for _ in range(args.repeat):
            seconds, _html = timed(render_html, paper)
            html_times.append(seconds)
            seconds, data = timed(render_pdf, paper)
            pdf_times.append(seconds)
        pages = len(PdfReader(BytesIO(data)).pages)
        pdf_seconds = statistics.median(pdf_times)
        print(
            f"{target:>6} {pages:>5} {word_count(paper):>6} "
            f"{statistics.median(html_times):>7.3f} {pdf_seconds:>7.2f} {pdf_seconds / pages:>7.3f}"
        )


if __name__ == "__main__":
    main()
