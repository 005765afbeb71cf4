"""SVG charts: accessible, greyscale-readable, suppressed bars show no number."""

from __future__ import annotations

import itertools
import re

import pytest
from defusedxml import ElementTree as ET
from hypothesis import given, settings
from hypothesis import strategies as st

from reports import formatting
from reports.charts import Bar, bar_chart_svg, text_width

SVG = "{http://www.w3.org/2000/svg}"


def test_chart_is_valid_accessible_svg() -> None:
    svg = bar_chart_svg(
        [Bar("Medical care", 0.62, 0.55, 0.69), Bar("Медикаменты & <жалобы>", 0.41, 0.35, 0.48)],
        title="Top needs",
        description="Medical care 62%, medicines 41%.",
    )
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Top needs"
    assert root.find(f"{SVG}desc").text == "Medical care 62%, medicines 41%."
    text = "".join(root.itertext())
    assert "62%" in text and "41%" in text
    assert "Медикаменты &amp; &lt;жалобы&gt;" in svg  # escaped, still readable
    assert "<script" not in svg


def test_suppressed_bar_has_no_number() -> None:
    svg = bar_chart_svg(
        [Bar("Small group", None), Bar("Large group", 0.5, 0.4, 0.6)],
        title="t",
        description="d",
        suppressed_text="<5",
    )
    text = "".join(ET.fromstring(svg).itertext())
    assert "&lt;5" in svg or "<5" in text
    assert "50%" in text


def test_same_input_same_svg() -> None:
    bars = [Bar("A", 0.2, 0.1, 0.3)]
    first = bar_chart_svg(bars, title="t", description="d")
    assert first == bar_chart_svg(bars, title="t", description="d")


def test_means_are_not_percentages() -> None:
    svg = bar_chart_svg([Bar("Score", 2.5, 2.0, 3.0)], title="t", description="d", percent=False)
    assert "2.5" in "".join(ET.fromstring(svg).itertext())


def test_dollar_signs_in_labels_stay_literal() -> None:
    """Matplotlib reads $…$ as mathematics; the paper's charts must print labels as typed."""
    svg = bar_chart_svg([Bar("Costs $5 and $6 a month", 0.5)], title="T", description="D")
    shown = "".join(ET.fromstring(svg).itertext())  # the drawn text
    assert "Costs $5 and $6 a month" in shown


def _texts(svg: str) -> list[str]:
    return [t.strip() for t in ET.fromstring(svg).itertext() if t.strip()]


def test_values_read_as_the_text_of_the_language_says_them() -> None:
    bars = [Bar("Small district", 0.004), Bar("Big district", 0.79), Bar("Nearly all", 0.997)]
    for language in ("en", "ru", "kk"):
        texts = _texts(bar_chart_svg(bars, title="t", description="d", language=language))
        # One format per language: the paper's text and the dashboard's use the same function.
        assert formatting.percent(0.79, language) in texts
        assert formatting.percent(0.5, language) in texts  # the axis too
        # A group of 6 among 1,500 is not "0%", and 99.7% is not everyone.
        assert "<" + formatting.percent(0.01, language) in texts
        assert ">" + formatting.percent(0.99, language) in texts
        assert formatting.percent(0.0, language) in texts  # only the axis' zero
    assert "79\u00a0%" in _texts(bar_chart_svg(bars, title="t", description="d", language="ru"))
    assert "79%" in _texts(bar_chart_svg(bars, title="t", description="d", language="kk"))


def test_counts_are_whole_numbers() -> None:
    svg = bar_chart_svg(
        [Bar("3 December", 8.0), Bar("4 December", 1234.0)],
        title="t",
        description="d",
        percent=False,
        whole=True,
        language="ru",
    )
    texts = _texts(svg)
    assert "8" in texts and "1\u00a0234" in texts
    assert not [t for t in texts if t.endswith(".0") or t.endswith(",0")]


def _boxes(svg: str) -> tuple[float, list[tuple[str, float, float]], list[tuple[float, float]]]:
    """The chart's width, each text's (anchor, left, right) and each bar's (left, right)."""
    root = ET.fromstring(svg)
    _x, _y, width, height = (float(v) for v in root.get("viewBox").split())
    texts = []
    for text in root.iter(f"{SVG}text"):
        measured = text_width(text.text, float(text.get("font-size")))
        x = float(text.get("x"))
        anchor = text.get("text-anchor", "start")
        left = {"end": x - measured, "middle": x - measured / 2}.get(anchor, x)
        texts.append((anchor, left, left + measured))
        assert 0 <= float(text.get("y")) <= height
    bars = [
        (float(rect.get("x")), float(rect.get("x")) + float(rect.get("width")))
        for rect in root.iter(f"{SVG}rect")
        if rect.get("class") != "background"
    ]
    return width, texts, bars


def _placed(svg: str, anchor: str | None = None) -> dict[str, tuple[float, float]]:
    """Each text's (x, y) as written, by its text (only those with this text-anchor, if given)."""
    return {
        t.text: (float(t.get("x")), float(t.get("y")))
        for t in ET.fromstring(svg).iter(f"{SVG}text")
        if anchor is None or t.get("text-anchor") == anchor
    }


def test_bars_whiskers_and_labels_sit_where_their_values_and_rows_are() -> None:
    svg = bar_chart_svg(
        [Bar("First", 0.5, 0.25, 0.75), Bar("Second", 0.25)], title="t", description="d"
    )
    root = ET.fromstring(svg)
    ticks, values = _placed(svg, "middle"), _placed(svg, None)
    first, second = (
        (float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height")))
        for r in root.iter(f"{SVG}rect")
        if r.get("class") != "background"
    )
    assert first[0] == pytest.approx(ticks["0%"][0], abs=0.01)  # bars start at zero
    assert first[0] + first[2] == pytest.approx(ticks["50%"][0], abs=0.01)  # and end at the value
    assert second[0] + second[2] == pytest.approx(ticks["25%"][0], abs=0.01)
    whisker = next(p.get("d") for p in root.iter(f"{SVG}path") if p.get("stroke-width") == "1")
    ends = [float(x) for x in re.findall(r"M([\d.]+) ", whisker)]
    assert min(ends) == pytest.approx(ticks["25%"][0], abs=0.01)
    assert max(ends) == pytest.approx(ticks["75%"][0], abs=0.01)
    value_text = [
        float(t.get("x"))
        for t in root.iter(f"{SVG}text")
        if t.text == "50%" and t.get("text-anchor") is None
    ]
    assert value_text and value_text[0] > max(ends)  # the value after the whisker, not on it
    # Each label on its bar's row, the first bar on top.
    for label, (x, y, _w, h) in (("First", first), ("Second", second)):
        assert values[label][1] - 8 * 0.36 == pytest.approx(y + h / 2, abs=0.01)
        assert values[label][0] <= x
    assert first[1] < second[1]


def test_values_below_zero_stay_on_the_chart() -> None:
    """A mean's t-interval may reach below zero, and an answer may be negative."""
    svg = bar_chart_svg(
        [Bar("Days without water", 0.4, -0.71, 1.51), Bar("Change in income", -2.0, -3.0, -1.0)],
        title="t",
        description="d",
        percent=False,
        width_inches=4.4,
    )
    width, texts, rects = _boxes(svg)
    assert all(left >= 0 and right <= width for _a, left, right in texts)
    assert all(0 <= left <= right <= width for left, right in rects)
    shown = _texts(svg)
    assert "0.4" in shown and "-2.0" in shown
    labels_end = max(right for anchor, _left, right in texts if anchor == "end")
    assert labels_end <= min(left for left, _right in rects)  # nothing runs under the labels


def test_numbers_that_are_not_finite_are_not_drawn_as_values() -> None:
    svg = bar_chart_svg(
        [Bar("a", float("nan")), Bar("b", float("inf")), Bar("c", 0.5, 0.4, float("nan"))],
        title="t",
        description="d",
        suppressed_text="not published",
        percent=False,
    )
    assert "nan" not in svg.lower() and "inf" not in svg.lower()
    assert _texts(svg).count("not published") == 2 and "0.5" in _texts(svg)


def test_long_labels_are_cut_with_an_ellipsis_and_long_words_broken() -> None:
    label = (
        "Households headed by a woman with three or more children under five years of age "
        "and no income"
    )
    word = "household_head_female_with_children_under_five_years_of_age"
    svg = bar_chart_svg([Bar(label, 0.3), Bar(word, 0.6)], title="t", description="d")
    shown = _texts(svg)
    assert "under five years of age and…" in shown  # the cut is shown, not silent
    assert all(len(t) <= 28 for t in shown)
    assert "household_head_female_with_" in "".join(shown)
    width, texts, _rects = _boxes(svg)
    assert all(left >= 0 and right <= width for _a, left, right in texts)


def test_a_broken_character_in_a_title_or_label_does_not_break_the_chart() -> None:
    svg = bar_chart_svg([Bar("a\ud800b\x07", 0.5)], title="t\ud800", description="d\x00")
    assert ET.fromstring(svg).find(f"{SVG}title").text == "t"
    assert "ab" in _texts(svg)


shares = st.floats(min_value=0, max_value=1)
labels = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), min_size=1, max_size=90
)


@given(
    st.lists(st.tuples(labels, st.none() | shares, shares, shares), min_size=1, max_size=12),
    st.booleans(),
    st.sampled_from([-0.5, 0.0, 1.0, 1234.5]),
    st.sampled_from(["en", "ru", "kk"]),
    st.sampled_from([4.4, 5.6, 6.3]),
)
@settings(max_examples=80)
def test_every_text_and_bar_stays_inside_the_chart(
    rows: list[tuple[str, float | None, float, float]],
    percent: bool,
    scale: float,
    language: str,
    inches: float,
) -> None:
    scale = 1.0 if percent else scale
    bars = []
    for label, estimate, one, other in rows:
        if estimate is None:
            bars.append(Bar(label, None))
        else:
            spread = abs(one - other) / 4
            low, high = max(0.0, estimate - spread), min(1.0, estimate + spread)
            if not percent:  # a mean's interval may reach below zero
                low = estimate - 2 * spread
            bars.append(Bar(label, estimate * scale, low * scale, high * scale))
    svg = bar_chart_svg(
        bars,
        title="t",
        description="d",
        percent=percent,
        language=language,
        width_inches=inches,
        suppressed_text="скрыто (малые числа)",
    )
    width, texts, rects = _boxes(svg)
    for _anchor, left, right in texts:
        assert left >= -0.01 and right <= width + 0.01, (left, right, width)
    axis = min((left for left, _right in rects), default=None)
    for left, right in rects:
        assert 0 <= left <= right <= width
    if axis is not None:  # labels end left of the bars: a long label never runs under them
        assert all(right <= axis + 0.01 for anchor, _left, right in texts if anchor == "end")
    ticks = sorted((left, right) for anchor, left, right in texts if anchor == "middle")
    assert all(one[1] < two[0] for one, two in itertools.pairwise(ticks))
