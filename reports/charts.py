"""SVG charts shared by the dashboard and the PDF: horizontal bars with 95% CI whiskers.

Readable in greyscale (one dark fill, black whiskers, values printed), with a title and a
description for screen readers. Input is plain values, never DataFrames of the app.

The SVG is written here, element by element, rather than drawn with matplotlib: a chart of a
few bars is rectangles, lines and text, and writing it directly costs milliseconds where
matplotlib took about a tenth of a second per chart (twice, for its tight layout) plus a third
of a second to import, in every process that drew one. The shapes carry presentation
attributes only, so the dashboards' Content-Security-Policy needs no exception, and WeasyPrint
has a few dozen plain elements to draw per chart instead of several hundred styled ones. Text
stays text (searchable, selectable); only the width of the labels is measured, from the
metrics of DejaVu Sans (Debian's fonts-dejavu-core, installed by the Makefile), to leave them
room on the left.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from reports import formatting

BAR_COLOUR = "#2f4b7c"
GRID_COLOUR = "#cccccc"
FONT_FAMILY = "DejaVu Sans, Liberation Sans, sans-serif"
# Where Debian (fonts-dejavu-core) and other systems keep the font whose widths are measured.
FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)
LABEL_SIZE = 8.0  # points, as the text beside a bar
TICK_SIZE = 7.0
LINE = 1.2  # line height of wrapped labels, in font sizes
PAD = 6.0  # around the whole chart, in points
TICK_LENGTH = 3.5
TICK_PAD = 3.5
CAP = 3.0  # half the height of a whisker's cap
BAR_HEIGHT = 0.6  # of the distance between two bars


@dataclass(frozen=True)
class Bar:
    """One bar: a label, a share 0–1 (or None when suppressed) and its interval."""

    label: str
    estimate: float | None
    low: float | None = None
    high: float | None = None
    note: str = ""


def _wrap(text: str, width: int = 28, most: int = 3) -> list[str]:
    """Lines of at most `width` characters (longer words broken); an ellipsis ends a cut label."""
    words = [word[i : i + width] for word in text.split() for i in range(0, len(word), width)]
    lines, line = [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return lines


def _fit(text: str, size: float, room: float) -> str:
    """The text, shortened with an ellipsis until it is at most `room` points wide."""
    if text_width(text, size) <= room:
        return text
    while text and text_width(text + "…", size) > room:
        text = text[:-1]
    return text.rstrip() + "…"


@lru_cache(maxsize=1)
def _metrics() -> tuple[dict[int, str], dict[str, int], int] | None:
    """DejaVu Sans' character map, advance widths and units per em; None without the font."""
    path = next((Path(name) for name in FONT_FILES if Path(name).is_file()), None)
    if path is None:
        return None
    from fontTools.ttLib import TTFont

    with TTFont(path) as font:  # closes the file once the three tables are read
        widths = {name: advance for name, (advance, _bearing) in font["hmtx"].metrics.items()}
        return font.getBestCmap(), widths, font["head"].unitsPerEm


def text_width(text: str, size: float) -> float:
    """The width of a line of text in DejaVu Sans at `size` points (kerning aside)."""
    metrics = _metrics()
    if metrics is None:
        return 0.62 * size * len(text)  # DejaVu Sans' average advance: a generous guess
    cmap, widths, units = metrics
    # A character DejaVu lacks (CJK, say) is drawn from another font: count a full em for it.
    return sum(widths.get(cmap.get(ord(char), ""), units) for char in text) * size / units


def _finite(value: float | None) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _value_text(value: float, percent: bool, whole: bool, language: str) -> str:
    if percent:
        return formatting.bar_percent(value, language)
    if whole:
        return formatting.count(value, language)
    return formatting.decimal(value, language)


def _ticks(
    low: float, high: float, percent: bool, whole: bool, language: str, sparse: int = 1
) -> list[tuple[float, str]]:
    """The x axis' ticks (value, text) from low to high: quarters of 100% or about five round
    steps, every `sparse`-th step when their texts would touch."""
    if percent:
        step = 25.0 * sparse
    else:
        raw = (high - low) / 5
        magnitude = 10 ** math.floor(math.log10(raw))
        step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * 0.999)
        step = (max(1.0, round(step)) if whole else step) * sparse
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    values = [i * step for i in range(first, last + 1)]
    if percent:
        return [(v, formatting.percent(v / 100, language)) for v in values]
    digits = 0 if float(step).is_integer() else 1 if float(step * 10).is_integer() else 2
    if whole or digits == 0:
        return [(v, formatting.count(v, language)) for v in values]
    return [(v, formatting.decimal(v, language, digits)) for v in values]


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


# Characters XML 1.0 cannot carry, even escaped (a label pasted with a control character).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(x: float, y: float, text: str, size: float, anchor: str = "start", **extra: str) -> str:
    text = _NOT_XML.sub("", text)
    if not text.strip():
        return ""
    attributes = "".join(f' {name.replace("_", "-")}="{value}"' for name, value in extra.items())
    anchor_attribute = "" if anchor == "start" else f' text-anchor="{anchor}"'
    return (
        f'<text x="{_number(x)}" y="{_number(y)}" font-size="{_number(size)}"'
        f"{anchor_attribute}{attributes}>{escape(text)}</text>"
    )


def bar_chart_svg(
    bars: Sequence[Bar],
    *,
    title: str,
    description: str,
    percent: bool = True,
    suppressed_text: str = "suppressed",
    width_inches: float = 6.3,
    language: str = "en",
    whole: bool = False,
) -> str:
    """An accessible SVG bar chart; suppressed bars show a note instead of a value.

    Values are written as reports.formatting writes them in `language` (the text beside the
    chart uses the same functions): shares 0–1 as per cents, else counts (`whole`) or decimals.
    """
    title, description = _NOT_XML.sub("", title), _NOT_XML.sub("", description)
    scale = 100.0 if percent else 1.0
    rows = max(1, len(bars))
    width, height = width_inches * 72, (0.9 + 0.42 * rows) * 72

    # What each bar shows, in data units: the bar, its whisker and the text after them. A value
    # that is not a finite number is shown as not published, never drawn as if it were one.
    drawn: list[tuple[int, float | None, tuple[float, float] | None, str]] = []
    for index, bar in enumerate(bars):
        if not _finite(bar.estimate):
            drawn.append((index, None, None, suppressed_text))
            continue
        value = bar.estimate * scale
        whisker = None
        if _finite(bar.low) and _finite(bar.high):
            whisker = (min(bar.low, bar.high) * scale, max(bar.low, bar.high) * scale)
        text = f"{_value_text(bar.estimate, percent, whole, language)}{bar.note}"
        drawn.append((index, value, whisker, text))
    reached = [0.0] + [x for _i, v, w, _t in drawn if v is not None for x in (v, *(w or ()))]
    if percent:
        low = min(0.0, 25 * math.floor(min(reached) / 25))
        high = max(100.0, 25 * math.ceil(max(reached) / 25))
    else:
        low = min(reached) * 1.25
        high = max(1.0, max(reached) * 1.25) if low > -1.0 else max(reached) * 1.25
    gap = 1.5 if percent else 0.02 * (high - low)  # clear of the whisker's cap

    # The plot area: labels' room on the left (at most 45% of the chart: longer lines are cut
    # with an ellipsis), the axis' on the bottom, the values' on the right.
    label_cap = 0.45 * width
    labels = [
        [_fit(line, LABEL_SIZE, label_cap) for line in _wrap(_NOT_XML.sub("", bar.label))]
        for bar in bars
    ]
    label_room = max(
        (text_width(line, LABEL_SIZE) for lines in labels for line in lines), default=0
    )
    left = PAD + label_room + TICK_PAD
    indent = text_width("  ", LABEL_SIZE)
    notes = _fit(suppressed_text, LABEL_SIZE, max(0.0, width - PAD - left - indent))

    def end_of(value: float, whisker: tuple[float, float] | None) -> float:
        """Where a bar's value text starts, in data units: after the bar, whisker and zero."""
        return max(value, whisker[1] if whisker else value, 0.0) + gap

    sparse = 1
    while True:
        ticks = _ticks(low, high, percent, whole, language, sparse)
        low, high = min(low, ticks[0][0]), max(high, ticks[-1][0])
        left = max(left, PAD + text_width(ticks[0][1], TICK_SIZE) / 2)
        right = width - PAD - text_width(ticks[-1][1], TICK_SIZE) / 2
        for _index, value, whisker, text in drawn:
            if value is None:
                continue
            share = (end_of(value, whisker) - low) / (high - low)
            room = width - PAD - left - text_width(text, LABEL_SIZE)
            if share > 0:
                right = min(right, left + room / share)
        right = max(right, left + 1.0)
        step = ticks[1][0] - ticks[0][0] if len(ticks) > 1 else high - low
        spacing = (right - left) * step / (high - low)
        widest = max(text_width(text, TICK_SIZE) for _v, text in ticks)
        if spacing >= widest + TICK_SIZE or len(ticks) <= 2:
            break
        sparse *= 2
    bottom = height - PAD - TICK_SIZE * LINE - TICK_LENGTH - TICK_PAD
    top_edge = PAD

    def x_of(value: float) -> float:
        return left + (right - left) * (value - low) / (high - low)

    def y_of(position: float) -> float:  # bar 0 at the top, as it is read
        return top_edge + (bottom - top_edge) * (position + 0.4 + 0.2) / (rows + 0.2)

    # White behind the chart, as on paper: legible wherever it is shown (a dark page, the
    # figure opened on its own).
    parts = [
        f'<rect class="background" width="{_number(width)}" height="{_number(height)}" '
        'fill="#ffffff"/>'
    ]
    for value, _text_value in ticks:
        x = x_of(value)
        parts.append(
            f'<path d="M{_number(x)} {_number(top_edge)}V{_number(bottom)}" '
            f'stroke="{GRID_COLOUR}" stroke-width="0.5"/>'
        )
    half = (bottom - top_edge) / (rows + 0.2) * BAR_HEIGHT / 2
    zero = x_of(0.0)
    for index, value, whisker, text in drawn:
        y = y_of(index)
        baseline = y + LABEL_SIZE * 0.36
        if value is None:
            parts.append(_text(left + indent, baseline, notes, LABEL_SIZE, font_style="italic"))
            continue
        start, stop = sorted((zero, x_of(value)))
        parts.append(
            f'<rect x="{_number(start)}" y="{_number(y - half)}" '
            f'width="{_number(stop - start)}" height="{_number(2 * half)}" '
            f'fill="{BAR_COLOUR}"/>'
        )
        if whisker is not None:
            near, far = x_of(whisker[0]), x_of(whisker[1])
            parts.append(
                f'<path d="M{_number(near)} {_number(y)}H{_number(far)}'
                f"M{_number(near)} {_number(y - CAP)}V{_number(y + CAP)}"
                f'M{_number(far)} {_number(y - CAP)}V{_number(y + CAP)}" '
                'stroke="#000000" stroke-width="1" fill="none"/>'
            )
        parts.append(_text(x_of(end_of(value, whisker)), baseline, text, LABEL_SIZE))
    for index, lines in enumerate(labels):
        first = y_of(index) - (len(lines) - 1) * LABEL_SIZE * LINE / 2 + LABEL_SIZE * 0.36
        for number, line in enumerate(lines):
            y = first + number * LABEL_SIZE * LINE
            parts.append(_text(left - TICK_PAD, y, line, LABEL_SIZE, anchor="end"))
    axis = f"M{_number(left)} {_number(top_edge)}V{_number(bottom)}H{_number(right)}" + "".join(
        f"M{_number(x_of(v))} {_number(bottom)}v{TICK_LENGTH}" for v, _t in ticks
    )
    if low < 0:  # the zero line, where the bars start
        axis += f"M{_number(zero)} {_number(top_edge)}V{_number(bottom)}"
    parts.append(f'<path d="{axis}" stroke="#000000" stroke-width="0.8" fill="none"/>')
    tick_baseline = bottom + TICK_LENGTH + TICK_PAD + TICK_SIZE * 0.76
    for value, text in ticks:
        parts.append(_text(x_of(value), tick_baseline, text, TICK_SIZE, anchor="middle"))
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_number(width)}pt" '
        f'height="{_number(height)}pt" viewBox="0 0 {_number(width)} {_number(height)}" '
        f'version="1.1" font-family="{FONT_FAMILY}" stroke-linecap="butt">'
        + "".join(parts)
        + "</svg>"
    )
    return _accessible(svg, title, description)


def _accessible(svg: str, title: str, description: str) -> str:
    """Add role, <title> and <desc> so the chart can be read aloud."""
    key = "chart-" + hashlib.sha1(f"{title}\n{description}".encode()).hexdigest()[:10]  # noqa: S324
    svg = svg.replace("<svg ", f'<svg role="img" aria-labelledby="{key}-title {key}-desc" ', 1)
    head = (
        f'<title id="{key}-title">{escape(_NOT_XML.sub("", title))}</title>'
        f'<desc id="{key}-desc">{escape(_NOT_XML.sub("", description))}</desc>'
    )
    return re.sub(r"(<svg[^>]*>)", r"\1" + head.replace("\\", "\\\\"), svg, count=1)
