"""SVG charts: accessible, greyscale-readable, suppressed bars show no number."""

from __future__ import annotations

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
    ]
    return width, texts, bars


shares = st.floats(min_value=0, max_value=1)


@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=60), st.none() | shares, shares, shares),
        min_size=1,
        max_size=8,
    ),
    st.booleans(),
    st.sampled_from(["en", "ru", "kk"]),
)
@settings(max_examples=60, deadline=None)
def test_every_text_and_bar_stays_inside_the_chart(
    rows: list[tuple[str, float | None, float, float]], percent: bool, language: str
) -> None:
    scale = 1.0 if percent else 1234.5
    bars = []
    for label, estimate, one, other in rows:
        if estimate is None:
            bars.append(Bar(label, None))
        else:
            high = min(1.0, estimate + abs(one - other) / 4)
            bars.append(Bar(label, estimate * scale, estimate * scale * 0.9, high * scale))
    svg = bar_chart_svg(bars, title="t", description="d", percent=percent, language=language)
    width, texts, rects = _boxes(svg)
    for _anchor, left, right in texts:
        assert left >= -0.01 and right <= width + 0.01, (left, right, width)
    axis = min((left for left, _right in rects), default=None)
    for left, right in rects:
        assert left <= right <= width
    if axis is not None:  # labels end left of the bars: a long label never runs under them
        assert all(right <= axis for anchor, _left, right in texts if anchor == "end")
