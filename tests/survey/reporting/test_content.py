"""The paper's content from a hand-made snapshot: no database, no PDF."""

from __future__ import annotations

import datetime as dt
from typing import Any

from reports.render import Figure, Markdown, Paragraph, Quote, Recommendations, SubHeading, Table
from survey.reporting.content import build_paper
from survey.reporting.settings import settings_from_mapping

COLUMNS = [
    "indicator",
    "kind",
    "chapter",
    "group_var",
    "group",
    "category",
    "estimate",
    "ci_low",
    "ci_high",
    "n",
    "count",
    "indicative",
    "points",
    "suppressed",
]


def row(indicator: str, kind: str, chapter: str, **values: Any) -> list[Any]:
    """A table row; unnamed fields empty (None), as a hidden cell would be."""
    base = {"group_var": "", "group": "", "category": "", "indicative": False}
    base.update(values)
    base.setdefault("suppressed", False)
    return [indicator, kind, chapter] + [base.get(name) for name in COLUMNS[3:]]


def snapshot() -> dict[str, Any]:
    """Two indicators of one chapter, one with a hidden group; a mean in a chapter of its own."""
    rows = [
        row("unmet", "proportion", "health", estimate=0.372, ci_low=0.33, ci_high=0.42, n=473),
        row(
            "unmet",
            "proportion",
            "health",
            group_var="sex",
            group="female",
            estimate=0.391,
            ci_low=0.34,
            ci_high=0.44,
            n=289,
        ),
        row(
            "unmet",
            "proportion",
            "health",
            group_var="sex",
            group="male",
            estimate=0.351,
            ci_low=0.28,
            ci_high=0.42,
            n=184,
        ),
        row(
            "unmet",
            "proportion",
            "health",
            group_var="district",
            group="tiny",
            n=3,
            count=None,
            suppressed=True,
        ),
        row("cancer", "proportion", "health", estimate=0.057, ci_low=0.04, ci_high=0.08, n=472),
        row("spend", "mean", "costs", estimate=1234.56, ci_low=1100.0, ci_high=1300.5, n=120),
    ]
    return {
        "k": 5,
        "data": {
            "respondents": 500,
            "members": 1358,
            "period": ["2025-01-10", "2025-02-20"],
            "rounds": ["2025"],
            "demo": False,
            "review_statuses": ["approved"],
            "excluded": 0,
            "refusals": {"total": 12, "no_consent": 9, "under_age": None},
            "filters": {"generations": [], "sexes": [], "age_bands": []},
            "districts": [],
        },
        "weighted": False,
        "min_age": 18,
        "district_question": "district",
        "indicators": [
            {"id": "unmet", "kind": "proportion", "unit": "respondent", "chapter": "health",
             "theme": "Art. 6(1) medical care", "column": "", "columns": [],
             "labels": {"en": "Unmet need for care", "ru": "Неудовлетворённая потребность"}},
            {"id": "cancer", "kind": "proportion", "unit": "respondent", "chapter": "health",
             "theme": "Art. 9 something new", "column": "", "columns": [],
             "labels": {"en": "Diagnosed with cancer", "ru": "Рак", "kk": "Қатерлі ісік"}},
            {"id": "spend", "kind": "mean", "unit": "respondent", "chapter": "costs",
             "theme": "", "column": "spend", "columns": [], "labels": {"en": "Spending"}},
        ],
        "sectors": {},
        "labels": {"en": {"district": {"tiny": "Tiny district"}}, "ru": {}, "kk": {}},
        "table": {"columns": COLUMNS, "rows": rows},
        "quotes": [{"text": "Помогите нам.", "language": "ru", "generation": "g2"}],
        "problems": [],
    }  # fmt: skip


def settings(**changes: Any) -> Any:
    """Settings for the hand-made snapshot."""
    data = {"title": "T", "submitted_by": "Coalition", "date": dt.date(2025, 3, 3), **changes}
    return settings_from_mapping(data)


def texts(content: Any) -> str:
    """Every text of the chapters, tables and quotes, joined."""
    out = []
    for chapter in content.paper.chapters:
        out.append(chapter.title)
        for block in chapter.blocks:
            if isinstance(block, Paragraph):
                out += [block.text, *block.footnotes]
            elif isinstance(block, Recommendations):
                out += [block.lead, *block.items]
            elif isinstance(block, Table):
                out += [block.caption, *(" ".join(r) for r in block.rows), *block.notes]
            elif isinstance(block, SubHeading | Figure):
                out.append(getattr(block, "title", "") or block.caption)  # type: ignore[union-attr]
            elif isinstance(block, Quote):
                out += [block.text, block.attribution]
            elif isinstance(block, Markdown):
                out.append(block.source)
    return "\n".join(out).replace("\u2060", "")


def test_sentences_tables_and_charts_state_the_snapshot_s_figures() -> None:
    content = build_paper(settings(), snapshot())
    text = texts(content)
    assert "Unmet need for care: 37% of the 473 respondents who answered" in text
    assert "(95 per cent confidence interval 33–42%)" in text
    assert "Unmet need for care 37 33–42 473" in text  # the section table
    assert "Unmet need for care: by sex, from 35% (Men) to 39% (Women)." in text
    assert "Spending (mean) 1,234.6 1,100.0–1,300.5 120" in text
    assert "Spending: mean 1,234.6" in text
    assert "People who declined to take part or were younger than 18: 12." in text
    figures = [b for c in content.paper.chapters for b in c.blocks if isinstance(b, Figure)]
    assert figures and "Women 39%; Men 35%" in figures[0].alt  # two shares: by group


def test_a_hidden_group_prints_no_number() -> None:
    content = build_paper(settings(include_annex=True), snapshot())
    annex = content.paper.annexes[0]
    rows = [r for table in annex.blocks for r in table.rows]
    assert not [r for r in rows if "Tiny district" in r[0]]  # all marks: left out
    # Even a table that (wrongly) kept a count below k would not print it.
    assert "3" not in texts(content).split("Tiny district")[-1][:20]
    assert ("Sex: Women", "39", "34–44", "289") in rows


def test_missing_translations_fall_back_to_english_and_are_listed() -> None:
    content = build_paper(settings(language="kk"), snapshot())
    text = texts(content)
    assert "Unmet need for care: 37%" in text  # Kazakh writes per cents as CLDR and charts do
    assert "Қатерлі ісік: 6" in text
    assert content.missing == (
        "indicator “unmet”",
        "treaty theme “Art. 9 something new”",
        "indicator “spend”",
        "chapter “costs”",
    )
    assert "Art. 9 something new" in text and "Costs" in text
    assert build_paper(settings(language="en"), snapshot()).missing == ()


def test_quotes_keep_their_language_and_say_so() -> None:
    text = texts(build_paper(settings(language="en"), snapshot()))
    assert "Помогите нам." in text
    assert "Respondent, second generation (G2) (in Russian)" in text
    text = texts(build_paper(settings(language="ru"), snapshot()))
    assert "Респондент, второе поколение (G2)" in text and "на русском" not in text


def test_empty_chapters_get_standard_text_and_recommendations_are_lettered() -> None:
    content = build_paper(
        settings(recommendations_states="Support the fund\nShare data"), snapshot()
    )
    chapters = {chapter.number: chapter for chapter in content.paper.chapters}
    assert "Coalition submits this working paper" in chapters["I."].blocks[0].text  # type: ignore[union-attr]
    blocks = chapters["V."].blocks
    assert [b.title for b in blocks if isinstance(b, SubHeading)] == ["To States parties"]
    assert blocks[-1] == Markdown("- Support the fund\n- Share data")
    assert content.paper.masthead.symbol is None  # a draft


def test_a_hidden_row_prints_no_n_either() -> None:
    # A complement hidden to protect a small cell has a large n; printing it beside the marks
    # (as before: "District: Big district x x 40") tells how many answered in that group.
    data = snapshot()
    data["table"]["rows"].append(
        row(
            "unmet",
            "proportion",
            "health",
            group_var="district",
            group="big",
            n=40,
            suppressed=True,
        )
    )
    data["labels"]["en"]["district"]["big"] = "Big district"
    content = build_paper(settings(include_annex=True), data)
    rows = [r for table in content.paper.annexes[0].blocks for r in table.rows]
    assert not [r for r in rows if "Big district" in r[0]]
    assert "40" not in texts(content).split("Big district")[-1][:20]


def test_the_default_meeting_is_never_one_already_held() -> None:
    held = build_paper(settings(), snapshot()).paper.masthead
    assert held.place_and_dates == "New York, 3–7 March 2025"  # the paper of 3 March 2025
    for language in ("en", "ru", "kk"):
        later = build_paper(settings(date=dt.date(2026, 12, 1), language=language), snapshot())
        masthead = later.paper.masthead
        fields = (masthead.meeting, masthead.place_and_dates, masthead.agenda_item)
        assert not [text for text in fields if "2025" in text], language
        assert masthead.agenda_footnote == "" and masthead.meeting  # the body, no ordinal
    typed = build_paper(
        settings(date=dt.date(2026, 12, 1), place_and_dates="Vienna, 1–3 June 2027"), snapshot()
    )
    assert typed.paper.masthead.place_and_dates == "Vienna, 1–3 June 2027"


def test_words_are_those_the_advocate_typed() -> None:
    assert build_paper(settings(), snapshot()).words == 0  # standard texts are not typed
    content = build_paper(
        settings(
            introduction="We met **forty** families in Semey-based groups.",
            recommendations_states="Support the fund\nShare data",
        ),
        snapshot(),
    )
    assert content.words == 7 + 5


def test_a_translated_quote_follows_its_original_in_other_languages() -> None:
    data = snapshot()
    data["quotes"][0]["translations"] = {"en": "Help us.", "kk": "Бізге көмектесіңіз."}
    english = build_paper(settings(language="en"), data)
    quotes = [b for c in english.paper.chapters for b in c.blocks if isinstance(b, Quote)]
    assert [q.text for q in quotes] == ["Помогите нам.", "Help us."]
    assert quotes[1].attribution == "Translation by the submitting organization"
    russian = build_paper(settings(language="ru"), data)  # the respondent's own language
    quotes = [b for c in russian.paper.chapters for b in c.blocks if isinstance(b, Quote)]
    assert [q.text for q in quotes] == ["Помогите нам."]
