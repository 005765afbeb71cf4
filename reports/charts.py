"""SVG charts shared by the dashboard and the PDF: horizontal bars with 95% CI whiskers.

Readable in greyscale (one dark fill, black whiskers, values printed), with a title and a
description for screen readers. Input is plain values, never DataFrames of the app.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reports import formatting

BAR_COLOUR = "#2f4b7c"
RC = {
    "svg.fonttype": "none",  # keep text as text: searchable, selectable, small
    "svg.hashsalt": "birge",  # stable ids: the same data gives the same file
    "font.family": ["DejaVu Sans", "Liberation Sans", "sans-serif"],
}


@dataclass(frozen=True)
class Bar:
    """One bar: a label, a share 0–1 (or None when suppressed) and its interval."""

    label: str
    estimate: float | None
    low: float | None = None
    high: float | None = None
    note: str = ""


def _wrap(text: str, width: int = 28) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines[:3])


def _literal(text: str) -> str:
    """Matplotlib reads $…$ as mathematics: keep dollar signs in labels as typed."""
    return text.replace("$", r"\$")


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
    # Imported here: matplotlib takes about a second to load, and most processes that know
    # about bars (the dashboards' page models, the CLI) never draw one.
    import matplotlib

    with matplotlib.rc_context(RC):
        return _draw(
            bars, title, description, percent, suppressed_text, width_inches, language, whole
        )


def _value_text(value: float, percent: bool, whole: bool, language: str) -> str:
    if percent:
        return formatting.bar_percent(value, language)
    if whole:
        return formatting.count(value, language)
    return formatting.decimal(value, language)


def _draw(
    bars: Sequence[Bar],
    title: str,
    description: str,
    percent: bool,
    suppressed_text: str,
    width_inches: float,
    language: str,
    whole: bool,
) -> str:
    from matplotlib.figure import Figure

    height = 0.9 + 0.42 * max(1, len(bars))
    figure = Figure(figsize=(width_inches, height), dpi=100)
    axes = figure.add_subplot(1, 1, 1)
    scale = 100.0 if percent else 1.0
    positions = list(range(len(bars)))[::-1]
    top = 0.0
    for position, bar in zip(positions, bars, strict=True):
        if bar.estimate is None or (isinstance(bar.estimate, float) and math.isnan(bar.estimate)):
            axes.text(0, position, f"  {suppressed_text}", va="center", fontsize=8, style="italic")
            continue
        value = bar.estimate * scale
        axes.barh(position, value, color=BAR_COLOUR, height=0.6)
        label = _value_text(bar.estimate, percent, whole, language)
        right = value
        if bar.low is not None and bar.high is not None and not math.isnan(bar.low):
            low, high = bar.low * scale, bar.high * scale
            axes.errorbar(
                value,
                position,
                xerr=[[value - low], [high - value]],
                fmt="none",
                ecolor="black",
                elinewidth=1,
                capsize=3,
            )
            right = high
        # Clear of the whisker's cap, so the value never collides with it.
        gap = 1.5 if percent else 0.02 * max(right, 1.0)
        axes.text(right + gap, position, f"{label}{bar.note}", va="center", fontsize=8)
        top = max(top, right)
    axes.set_yticks(positions, [_literal(_wrap(b.label)) for b in bars], fontsize=8)
    axes.set_ylim(-0.6, len(bars) - 0.4)
    axes.set_xlim(0, 100 if percent else max(1.0, top * 1.25))
    if percent:
        ticks = [0, 25, 50, 75, 100]
        axes.set_xticks(ticks, [formatting.percent(t / 100, language) for t in ticks], fontsize=7)
    axes.tick_params(axis="y", length=0)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.grid(axis="x", color="#cccccc", linewidth=0.5)
    axes.set_axisbelow(True)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return _accessible(buffer.getvalue(), title, description)


def _accessible(svg: str, title: str, description: str) -> str:
    """Drop the XML prolog, add role, <title> and <desc> so the chart can be read aloud."""
    key = "chart-" + hashlib.sha1(f"{title}\n{description}".encode()).hexdigest()[:10]  # noqa: S324
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = svg.replace("<svg ", f'<svg role="img" aria-labelledby="{key}-title {key}-desc" ', 1)
    head = (
        f'<title id="{key}-title">{escape(title)}</title>'
        f'<desc id="{key}-desc">{escape(description)}</desc>'
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
    """Matplotlib's inline styles as SVG presentation attributes.

    The site's Content-Security-Policy (style-src 'self') blocks style attributes and <style>
    elements, which would paint every shape black; presentation attributes are not styles.
    The values come from matplotlib (numbers, colours, font names), never from user text.
    """
    svg = _STYLE_ELEMENT.sub("", svg)
    svg = svg.replace("<svg ", '<svg stroke-linejoin="round" stroke-linecap="butt" ', 1)
    return _STYLE_ATTRIBUTE.sub(_presentation_attributes, svg)
