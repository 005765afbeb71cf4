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


def _wrap(text: str, width: int = 28) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return lines[:3]


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
    missing = widths.get(".notdef", units // 2)
    return sum(widths.get(cmap.get(ord(char), ".notdef"), missing) for char in text) * size / units


def _value_text(value: float, percent: bool, whole: bool, language: str) -> str:
    if percent:
        return formatting.bar_percent(value, language)
    if whole:
        return formatting.count(value, language)
    return formatting.decimal(value, language)


def _ticks(top: float, percent: bool, whole: bool, language: str) -> list[tuple[float, str]]:
    """The x axis' ticks (value, text): quarters of 100%, or about five round steps."""
    if percent:
        return [(t, formatting.percent(t / 100, language)) for t in (0, 25, 50, 75, 100)]
    raw = top / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * 0.999)
    if whole:
        step = max(1.0, round(step))
    digits = 0 if float(step).is_integer() else 1 if float(step * 10).is_integer() else 2
    count = math.floor(top / step + 1e-9)
    values = [i * step for i in range(count + 1)]
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
    scale = 100.0 if percent else 1.0
    rows = max(1, len(bars))
    width, height = width_inches * 72, (0.9 + 0.42 * rows) * 72

    # What each bar shows, in data units: the bar, its whisker and the text after them.
    drawn: list[tuple[int, float | None, tuple[float, float] | None, str]] = []
    top = 0.0
    for index, bar in enumerate(bars):
        if bar.estimate is None or (isinstance(bar.estimate, float) and math.isnan(bar.estimate)):
            drawn.append((index, None, None, suppressed_text))
            continue
        value = bar.estimate * scale
        whisker = None
        right = value
        if bar.low is not None and bar.high is not None and not math.isnan(bar.low):
            whisker = (bar.low * scale, bar.high * scale)
            right = whisker[1]
        top = max(top, right)
        text = f"{_value_text(bar.estimate, percent, whole, language)}{bar.note}"
        drawn.append((index, value, whisker, text))
    limit = 100.0 if percent else max(1.0, top * 1.25)
    ticks = _ticks(limit, percent, whole, language)

    # The plot area: labels' room on the left, the axis' on the bottom, the values' on the right.
    labels = [_wrap(bar.label) for bar in bars]
    label_room = max(
        (text_width(line, LABEL_SIZE) for lines in labels for line in lines), default=0
    )
    left = PAD + label_room + TICK_PAD
    right = width - PAD - text_width(ticks[-1][1], TICK_SIZE) / 2
    for _index, value, whisker, text in drawn:
        if value is None:
            continue
        end = (whisker[1] if whisker else value) + (1.5 if percent else 0.02 * max(top, 1.0))
        room = width - PAD - left - text_width(" " + text, LABEL_SIZE)
        if end > 0 and room > 0:
            right = min(right, left + room * limit / end)
    right = max(right, left + 0.3 * (width - left))
    bottom = height - PAD - TICK_SIZE * LINE - TICK_LENGTH - TICK_PAD
    top_edge = PAD

    def x_of(value: float) -> float:
        return left + (right - left) * value / limit

    def y_of(position: float) -> float:  # bar 0 at the top, as it is read
        return top_edge + (bottom - top_edge) * (position + 0.4 + 0.2) / (rows + 0.2)

    parts = []
    for value, _text_value in ticks:
        x = x_of(value)
        parts.append(
            f'<path d="M{_number(x)} {_number(top_edge)}V{_number(bottom)}" '
            f'stroke="{GRID_COLOUR}" stroke-width="0.5"/>'
        )
    half = (bottom - top_edge) / (rows + 0.2) * BAR_HEIGHT / 2
    for index, value, whisker, text in drawn:
        y = y_of(index)
        baseline = y + LABEL_SIZE * 0.36
        if value is None:
            indent = left + text_width("  ", LABEL_SIZE)
            parts.append(_text(indent, baseline, text, LABEL_SIZE, font_style="italic"))
            continue
        parts.append(
            f'<rect x="{_number(left)}" y="{_number(y - half)}" '
            f'width="{_number(x_of(value) - left)}" height="{_number(2 * half)}" '
            f'fill="{BAR_COLOUR}"/>'
        )
        end = value
        if whisker is not None:
            low, high = x_of(whisker[0]), x_of(whisker[1])
            parts.append(
                f'<path d="M{_number(low)} {_number(y)}H{_number(high)}'
                f"M{_number(low)} {_number(y - CAP)}V{_number(y + CAP)}"
                f'M{_number(high)} {_number(y - CAP)}V{_number(y + CAP)}" '
                'stroke="#000000" stroke-width="1" fill="none"/>'
            )
            end = whisker[1]
        gap = 1.5 if percent else 0.02 * max(top, 1.0)  # clear of the whisker's cap
        parts.append(_text(x_of(end + gap), baseline, text, LABEL_SIZE))
    for index, lines in enumerate(labels):
        first = y_of(index) - (len(lines) - 1) * LABEL_SIZE * LINE / 2 + LABEL_SIZE * 0.36
        for number, line in enumerate(lines):
            y = first + number * LABEL_SIZE * LINE
            parts.append(_text(left - TICK_PAD, y, line, LABEL_SIZE, anchor="end"))
    axis = f"M{_number(left)} {_number(top_edge)}V{_number(bottom)}H{_number(right)}" + "".join(
        f"M{_number(x_of(v))} {_number(bottom)}v{TICK_LENGTH}" for v, _t in ticks
    )
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


_STYLE_ATTRIBUTE = re.compile(r' style="([^"]*)"')
_STYLE_ELEMENT = re.compile(r"<style[^>]*>(.*?)</style>", re.S)


def _presentation_attributes(match: re.Match[str]) -> str:
    """One style attribute as the equivalent presentation attributes."""
    parts = []
    for declaration in match.group(1).split(";"):
        name, _colon, value = declaration.partition(":")
        if name.strip() and value.strip():
            parts.append(f' {name.strip()}="{value.strip()}"')
    return "".join(parts)


def csp_safe_svg(svg: str) -> str:
    """Any inline styles of an SVG as presentation attributes.

    The site's Content-Security-Policy (style-src 'self') blocks style attributes and <style>
    elements, which would paint every shape black; presentation attributes are not styles.
    The charts of this module carry none; an SVG from elsewhere is made safe the same way.
    """
    svg = _STYLE_ELEMENT.sub("", svg)
    return _STYLE_ATTRIBUTE.sub(_presentation_attributes, svg)
