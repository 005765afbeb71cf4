"""The working paper from a few hundred demo interviews, read back from the PDF with pypdf.

One database and three papers (English and Russian from the service, Kazakh from the `survey
report` command with a TOML file) are made once for the module: rendering takes seconds.
Expected figures are computed here again with reports.analysis, independently of the snapshot.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from io import BytesIO
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from pypdf import PdfReader
from pypdf.generic import DictionaryObject, IndirectObject
from sqlalchemy import select

from reports import formatting
from reports.analysis import apply_to_estimates, run_plan
from reports.render import render_html
from survey import create_app, demo
from survey.collection.models import Submission
from survey.collection.review import withdraw_submission
from survey.collection.rounds import create_round
from survey.datasets.dataset import load_dataset
from survey.demo import birge
from survey.extensions import db
from survey.instruments import services as instrument_services
from survey.instruments import xlsform
from survey.instruments.analysis_plan import build_plan
from survey.reporting import sentences, services
from survey.reporting.commands import report_command
from survey.reporting.content import build_paper
from survey.reporting.models import GeneratedReport
from survey.reporting.settings import settings_from_mapping
from survey.reporting.snapshot import build_snapshot
from survey.users.models import AuditEntry
from survey.users.services import create_user
from tests.factories import PASSWORD

SYMBOL = "TPNW/MSP/2025/NGO/23"
TITLE = {
    "en": "Needs of survivors of nuclear testing in the Semipalatinsk region",
    "ru": "Потребности людей, пострадавших от ядерных испытаний в Семипалатинском регионе",
    "kk": "Семей өңіріндегі ядролық сынақтардан зардап шеккендердің қажеттіліктері",
}
ORGANIZATION = "Qazaq Youth for Nuclear Justice"
# All nine Kazakh-only letters: ә ғ қ ң ө ұ ү һ і (the last one Cyrillic U+0456).
APPROVED_QUOTE = "Біздің ауылда дәрігер жоқ, ұрпағымыз да ауырады, көмек күтеміз: шаһар алыс."
UNAPPROVED_QUOTE = "Этот ответ никто не одобрял, и он не должен попасть в доклад."
WITHDRAWN_QUOTE = "Эту цитату одобрили, но респондент потом отозвал своё интервью."
EVIL_MARKDOWN = (
    "States parties should support the **international trust fund** for victims.\n\n"
    "<script>alert(1)</script>\n\n"
    "![x](http://evil.example/x.png)\n\n"
    "- fund remediation ([details](javascript:alert(1)));\n"
    "- share *data* with affected communities."
)
SMALL_DISTRICT = "may_district"
SMALL_DISTRICT_LABEL = {"en": "May district", "ru": "Майский район", "kk": "Май ауданы"}
BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-not-for-production",
    "WTF_CSRF_ENABLED": False,
    "RATELIMIT_ENABLED": False,
}


@dataclass
class Paper:
    """One generated paper, read back."""

    report: GeneratedReport
    pdf: bytes
    reader: PdfReader
    pages: list[str]
    settings: Any

    @property
    def text(self) -> str:
        """All pages as one flat text (no-break spaces as spaces)."""
        return flat("\n".join(self.pages))

    def body(self) -> str:
        """The text before the annex (annex paragraphs are numbered anew)."""
        text = "\n".join(self.pages)
        marker = {"en": "\nAnnex", "ru": "\nПриложение", "kk": "\nҚосымша"}[self.report.language]
        return text[: text.index(marker)] if marker in text else text


@dataclass
class World:
    """The module's database and papers."""

    app: Flask
    papers: dict[str, Paper] = field(default_factory=dict)
    expected: pd.DataFrame | None = None
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    quote_ids: dict[str, int] = field(default_factory=dict)
    snapshot_after_withdrawal: dict[str, Any] = field(default_factory=dict)
    cli_output: str = ""


def flat(text: str) -> str:
    """Line breaks, runs of spaces and no-break spaces as single spaces."""
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2060", "")
    return re.sub(r"\s+", " ", text)


def read(report: GeneratedReport, pdf: bytes) -> Paper:
    """A paper read back with pypdf."""
    reader = PdfReader(BytesIO(pdf))
    settings = settings_from_mapping(report.settings)
    return Paper(report, pdf, reader, [page.extract_text() for page in reader.pages], settings)


def make_data(version: Any, survey_round: Any) -> dict[str, int]:
    """Demo interviews, one district with only 3 respondents, and three distinctive quotes."""
    demo.write_demo_data(version, survey_round, 260, seed=11, today=dt.date(2025, 2, 1))
    rows = list(db.session.execute(select(Submission).order_by(Submission.id)).scalars())
    for row in rows:  # the small district has exactly the three chosen below
        if row.district == SMALL_DISTRICT:
            row.district = "semey_city"
            row.answers = {**row.answers, "region": "abai", "district": "semey_city"}
    for row in rows[:3]:
        row.district = SMALL_DISTRICT
        row.answers = {**row.answers, "region": "pavlodar", "district": SMALL_DISTRICT}
    quotes = {"approved": rows[10], "unapproved": rows[11], "withdrawn": rows[12]}
    texts = {"approved": APPROVED_QUOTE, "unapproved": UNAPPROVED_QUOTE}
    texts["withdrawn"] = WITHDRAWN_QUOTE
    for key, row in quotes.items():
        language = "kk" if key == "approved" else "ru"
        row.answers = {**row.answers, "message_to_states": texts[key]}
        row.answers = {**row.answers, "interview_language": language}
    db.session.commit()
    return {key: row.id for key, row in quotes.items()}


def expected_table() -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
    """The analysis layer's own suppressed table for the same data, and the plan's labels."""
    instrument = instrument_services.find_instrument(demo.DEFAULT_FORM_ID)
    assert instrument is not None
    dataset = load_dataset(list(instrument.versions), include_demo=True, use_cache=False)
    plan, _problems = build_plan(dataset.spec)
    table = apply_to_estimates(run_plan(dataset.respondents, dataset.members, plan).table, k=5)
    labels = {i.id: dict(i.labels) for i in plan.indicators}
    return table, labels


def base_settings(language: str) -> dict[str, Any]:
    """Settings shared by the three papers."""
    return {
        "title": TITLE[language],
        "submitted_by": ORGANIZATION,
        "symbol": SYMBOL,
        "date": "2025-03-03",
        "language": language,
        "include_demo": True,
        "recommendations_government": (
            "Extend the status of affected persons to descendants\nFund annual screening"
        ),
        "recommendations_states": EVIL_MARKDOWN,
        "recommendations_organizations": "- Support remediation of contaminated land.",
    }


@pytest.fixture(scope="module")
def world(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Demo data, approvals, and papers in English, Russian (with annex) and Kazakh (CLI)."""
    folder = tmp_path_factory.mktemp("reporting")
    shutil.copy(sqlite_template, folder / "survey.sqlite3")
    app = create_app(
        {**BASE_CONFIG, "DATABASE_URL": f"sqlite:///{folder / 'survey.sqlite3'}"},
        instance_path=str(folder / "instance"),
    )
    with app.app_context():
        form = xlsform.load_xlsform(instrument_services.DEFAULT_INSTRUMENT.read_bytes())
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(
                instrument_services,
                "load_xlsform",
                lambda data, filename="", attachments=None, **_options: form,
            )
            version = instrument_services.import_default_instrument()
        survey_round = create_round("2025", dt.date(2024, 9, 1), dt.date(2025, 3, 1))
        db.session.commit()
        quote_ids = make_data(version, survey_round)
        advocate = create_user("advocate", PASSWORD, "advocate")
        coordinator = create_user("coordinator", PASSWORD, "coordinator")
        services.approve_quote(quote_ids["approved"], "message_to_states", coordinator)
        services.approve_quote(quote_ids["withdrawn"], "message_to_states", coordinator)
        db.session.commit()
        state = World(app, quote_ids=quote_ids)
        state.expected, state.labels = expected_table()
        for language in ("en", "ru"):
            data = base_settings(language)
            if language == "ru":
                data["paper_size"] = "Letter"
            report, rendered = services.generate_report(settings_from_mapping(data), advocate)
            db.session.commit()
            state.papers[language] = read(report, rendered.pdf)
        toml = folder / "kk.toml"
        toml.write_text(_toml(base_settings("kk")), encoding="utf-8")
        out = folder / "kk.pdf"
        result = app.test_cli_runner().invoke(
            report_command, ["--out", str(out), "--lang", "kk", "--settings", str(toml)]
        )
        assert result.exit_code == 0, result.output
        state.cli_output = result.output
        report = db.session.execute(
            select(GeneratedReport).order_by(GeneratedReport.id.desc()).limit(1)
        ).scalar_one()
        state.papers["kk"] = read(report, out.read_bytes())
        withdrawn = db.session.get(Submission, quote_ids["withdrawn"])
        withdraw_submission(withdrawn)
        db.session.commit()
        state.snapshot_after_withdrawal = build_snapshot(settings_from_mapping(base_settings("en")))
        yield state
        db.session.remove()
        db.engine.dispose()


def _toml(data: dict[str, Any]) -> str:
    """A TOML settings file (strings as TOML literals, the date as a TOML date)."""
    lines = []
    for key, value in data.items():
        if key == "date":
            lines.append(f"{key} = {value}")
        elif isinstance(value, bool):
            lines.append(f"{key} = {str(value).lower()}")
        else:
            escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            lines.append(f'{key} = "{escaped}"')
    return "\n".join(lines) + "\n"


LANGUAGES = ("en", "ru", "kk")
MASTHEAD = {
    "en": ("3 March 2025", "Original: English", "Working paper submitted by " + ORGANIZATION),
    "ru": (
        "3 марта 2025 г.",
        "Original: Russian",
        "Рабочий документ, представленный " + ORGANIZATION,
    ),
    "kk": ("2025 жылғы 3 наурыз", "Original: Kazakh", ORGANIZATION + " ұсынған жұмыс құжаты"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_masthead_fields_are_on_page_one(world: World, language: str) -> None:
    first = flat(world.papers[language].pages[0])
    date, original, byline = MASTHEAD[language]
    texts = sentences.meeting_defaults(language, dt.date(2025, 3, 3))
    for expected in (
        SYMBOL,
        "Distr.: General",
        date,
        original,
        texts["meeting"],
        texts["place_and_dates"],
        texts["agenda_item"],
        texts["agenda_title"],
        "TPNW/MSP/2025/1.",
        TITLE[language],
        byline,
    ):
        assert flat(expected) in first, expected


@pytest.mark.parametrize("language", LANGUAGES)
def test_symbol_and_page_of_total_on_every_later_page(world: World, language: str) -> None:
    pages = world.papers[language].pages
    assert len(pages) >= 6
    for number, text in enumerate(pages[1:], start=2):
        assert SYMBOL in text, number
        assert f"{number}/{len(pages)}" in text, number


@pytest.mark.parametrize("language", LANGUAGES)
def test_paragraphs_are_numbered_consecutively(world: World, language: str) -> None:
    numbers = [int(n) for n in re.findall(r"(?m)^(\d{1,3})\.\s", world.papers[language].body())]
    assert len(numbers) >= 40
    assert numbers == list(range(1, len(numbers) + 1))


def published(row: Any) -> bool:
    """A row the analysis layer lets us print."""
    return not bool(row.suppressed) and bool(pd.notna(row.estimate))


def headline_rows(world: World) -> list[Any]:
    """The published all-respondents rows of the plan's proportions."""
    table = world.expected
    assert table is not None
    rows = table[(table.kind == "proportion") & (table.group_var == "")]
    return [row for row in rows.itertuples() if published(row)]


PROPORTION = {
    "en": "{label}: {pct} of the {n} ",
    "ru": "{label}: {pct} из {n} ",
    "kk": "{label}: {pct} (",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_figure_in_the_text_is_the_analysis_layer_s(world: World, language: str) -> None:
    paper = world.papers[language]
    text = paper.text
    rows = headline_rows(world)
    assert len(rows) >= 25
    for row in rows:
        label = world.labels[row.indicator][language]
        pct = flat(formatting.percent(row.estimate, language))
        n = flat(formatting.count(row.n, language))
        assert flat(PROPORTION[language].format(label=label, pct=pct, n=n)) in text, label
        low, high = formatting.percent_number(row.ci_low), formatting.percent_number(row.ci_high)
        assert f"{low}–{high}" in text, label
    # Every percentage in the findings is an estimate or a bound the analysis published.
    table = world.expected
    assert table is not None
    shown = table[~table.suppressed.astype(bool)]
    allowed = {
        formatting.percent_number(value)
        for column in ("estimate", "ci_low", "ci_high")
        for value in shown[column].dropna()
    }
    findings = text[text.index(_findings_heading(language)) :]
    findings = findings[: findings.index(_recommendations_heading(language))]
    found = re.findall(r"(\d+) ?%", findings)
    assert len(found) > 100
    assert {value for value in found} <= allowed | {"0", "25", "50", "75", "100", "95"}


def _findings_heading(language: str) -> str:
    return "IV. " + sentences.TEXT[language]["findings"]


def _recommendations_heading(language: str) -> str:
    return "V. " + sentences.TEXT[language]["recommendations"]


def test_section_tables_hold_the_analysis_figures(world: World) -> None:
    text = world.papers["en"].text
    for row in headline_rows(world)[:12]:
        label = world.labels[row.indicator]["en"]
        cells = (
            f"{label} {formatting.percent_number(row.estimate)}{'*' if row.indicative else ''} "
            f"{formatting.percent_number(row.ci_low)}–{formatting.percent_number(row.ci_high)} "
            f"{formatting.count(row.n, 'en')}"
        )
        assert cells in text, cells


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_district_of_three_respondents_never_shows_its_count(world: World, language: str) -> None:
    table = world.expected
    assert table is not None
    small = table[(table.group == SMALL_DISTRICT) | (table.category == SMALL_DISTRICT)]
    assert len(small) and small.suppressed.all()  # the analysis layer hides it
    label = SMALL_DISTRICT_LABEL[language]
    lines = [line for page in world.papers[language].pages for line in page.splitlines()]
    shown = [line for line in lines if label in line]
    assert shown, "the district is listed (its figures hidden)"
    for line in shown:
        after = flat(line.split(label, 1)[1])
        assert not re.search(r"(?<![\d,.])[1-4](?![\d,.%+])", after), line
    cells = [flat(line.split(label, 1)[1]).split() for line in shown]
    assert ["x", "x", "x", "x", "x"] in [row[:5] for row in cells]


def test_the_annex_holds_every_indicator_as_published(world: World) -> None:
    """The optional annex: a table per indicator, each figure the analysis layer's, x if hidden."""
    paper = world.papers["en"]
    settings = replace(paper.settings, include_annex=True)
    with world.app.app_context():
        annex = build_paper(settings, paper.report.snapshot).paper.annexes[0]
    tables = {table.caption: table for table in annex.blocks}
    table = world.expected
    assert table is not None
    for indicator in table.indicator.unique():
        assert world.labels[indicator]["en"] in tables, indicator
    unmet = tables[world.labels["unmet_need"]["en"]]
    expected = table[(table.indicator == "unmet_need")]
    by_label = {(_row_label(world, row.group_var, row.group)): row for row in expected.itertuples()}
    assert len(unmet.rows) >= 20
    for label, pct, ci, n in unmet.rows:
        source = by_label[label]
        if published(source):
            mark = "*" if source.indicative else ""
            assert pct == formatting.percent_number(source.estimate) + mark
            low, high = (formatting.percent_number(v) for v in (source.ci_low, source.ci_high))
            assert ci == f"{low}–{high}"
        else:
            assert (pct, ci) == ("x", "x")
        assert n == ("x" if pd.isna(source.n) else formatting.count(source.n, "en"))
    small = [r for t in annex.blocks for r in t.rows if SMALL_DISTRICT_LABEL["en"] in r[0]]
    assert all(not re.search(r"\b[1-4]\b", " ".join(r[1:])) for r in small)


def _row_label(world: World, variable: str, code: str) -> str:
    """How an annex row names a group: "Generation: First generation (G1)"."""
    if not variable:
        return "All respondents"
    name = sentences.VARIABLES[variable]["en"]
    ours = sentences.GROUPS.get(variable, {}).get(code, {}).get("en")
    special = sentences.SPECIAL.get(code, {}).get("en")
    theirs = world.papers["en"].report.snapshot["labels"]["en"].get(variable, {}).get(code)
    return f"{name[:1].upper()}{name[1:]}: {special or ours or theirs or code}"


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_russian_and_kazakh_text_extracts_intact(world: World, language: str) -> None:
    text = world.papers[language].text
    for key in ("section.health", "section.disability", "methodology", "recommendations"):
        assert sentences.TEXT[language][key] in text, key
    assert world.labels["unmet_need"][language] in text
    assert APPROVED_QUOTE in text
    if language == "kk":
        assert all(letter in text for letter in "әғқңөұүһі")
        assert "\u0456" in text
        assert "\u0069\u0306" not in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_font_is_embedded(world: World, language: str) -> None:
    seen: set[int] = set()
    checked = 0
    for page in world.papers[language].reader.pages:
        for font in _fonts(page.get("/Resources"), seen):
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            descriptor = target["/FontDescriptor"].get_object()
            assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), font
            checked += 1
    assert checked >= 3


def _fonts(resources: Any, seen: set[int]) -> Iterator[DictionaryObject]:
    resources = resources.get_object() if resources is not None else None
    if not resources:
        return
    for font in (resources.get("/Font") or {}).values():
        yield font.get_object()
    for xobject in (resources.get("/XObject") or {}).values():
        key = xobject.idnum if isinstance(xobject, IndirectObject) else id(xobject)
        if key not in seen:
            seen.add(key)
            yield from _fonts(xobject.get_object().get("/Resources"), seen)


@pytest.mark.parametrize("language", LANGUAGES)
def test_pdf_ua_identification_and_metadata(world: World, language: str) -> None:
    paper = world.papers[language]
    root = paper.reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data()
    assert re.search(rb'pdfuaid:part(="|>)1', xmp)
    assert bool(root["/MarkInfo"]["/Marked"]) is True
    assert "/StructTreeRoot" in root
    assert root["/Lang"] == language
    assert paper.reader.metadata.title == TITLE[language]
    assert paper.reader.metadata.author == ORGANIZATION


def test_letter_paper_when_chosen(world: World) -> None:
    box = world.papers["ru"].reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    box = world.papers["en"].reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


@pytest.mark.parametrize("language", LANGUAGES)
def test_nothing_of_the_markdown_script_survives(world: World, language: str) -> None:
    paper = world.papers[language]
    text = paper.text
    assert "international trust fund" in text
    assert "share data with affected communities" in text
    for forbidden in ("<script", "alert", "javascript", "evil.example", "x.png"):
        assert forbidden not in text
    with world.app.app_context():
        html = render_html(build_paper(paper.settings, paper.report.snapshot).paper)
    for forbidden in ("<script", "alert(", "javascript:", "evil.example", '<img src="http'):
        assert forbidden not in html


def test_recommendations_are_lettered_under_articles_6_and_7(world: World) -> None:
    text = world.papers["en"].text
    assert "articles 6 and 7 of the Treaty" in text
    assert "A. To the Government of Kazakhstan" in text
    assert "(a) Extend the status of affected persons to descendants" in text
    assert "(b) Fund annual screening" in text
    assert "(a) fund remediation (details);" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_only_approved_quotes_appear(world: World, language: str) -> None:
    text = world.papers[language].text
    assert APPROVED_QUOTE in text
    assert WITHDRAWN_QUOTE in text  # approved, and not yet withdrawn when these were made
    assert UNAPPROVED_QUOTE not in text
    for messages in birge._MESSAGES.values():
        for message in messages:
            assert message not in text  # demo answers nobody approved


def test_a_withdrawn_respondent_is_not_quoted_in_new_reports(world: World) -> None:
    quotes = [q["text"] for q in world.snapshot_after_withdrawal["quotes"]]
    assert APPROVED_QUOTE in quotes
    assert WITHDRAWN_QUOTE not in quotes
    with world.app.app_context():
        remaining = db.session.execute(select(services.ApprovedQuote)).scalars().all()
        assert [q.submission_id for q in remaining] == [world.quote_ids["approved"]]


def test_a_past_report_regenerates_byte_for_byte(world: World) -> None:
    """Even after the data changed (a withdrawal), the filed paper comes back identical."""
    with world.app.app_context():
        report = db.session.get(GeneratedReport, world.papers["en"].report.id)
        assert report is not None
        pdf, identical = services.regenerate(report)
        assert identical
        assert pdf == world.papers["en"].pdf == services.pdf_path(report).read_bytes()
        assert services.sha256(pdf) == report.pdf_sha256


def test_the_command_stores_history_and_audits_without_answers(world: World) -> None:
    assert "kk" in world.cli_output and "SHA-256" in world.cli_output
    with world.app.app_context():
        report = db.session.get(GeneratedReport, world.papers["kk"].report.id)
        assert report is not None
        assert report.created_by_id is None and report.language == "kk"
        # The recommendations typed in base_settings, not the findings written from the data
        assert 20 < report.word_count < 60
        entries = db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "report_generated")
        ).scalars()
        details = [entry.details for entry in entries]
    assert [d["via"] for d in details] == ["web", "web", "cli"]
    for entry in details:
        assert APPROVED_QUOTE not in str(entry) and "recommendations" not in str(entry)


def test_a_meeting_listed_later_leaves_filed_papers_unchanged(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default masthead is chosen when the paper is generated: a meeting added to the list
    afterwards (one that would now be the paper's default) does not change its regeneration."""
    with world.app.app_context():
        report = db.session.get(GeneratedReport, world.papers["en"].report.id)
        assert report is not None
        day = services.settings_of(report).date
        before = sentences.meeting_defaults("en", day)
        added = {
            language: {**texts, "meeting": "Extraordinary Meeting", "place_and_dates": "Vienna"}
            for language, texts in sentences.MEETINGS[0][1].items()
        }
        monkeypatch.setattr(sentences, "MEETINGS", ((day, added), *sentences.MEETINGS))
        assert sentences.meeting_defaults("en", day) != before  # new papers would get it
        pdf, identical = services.regenerate(report)
        assert identical
        assert pdf == world.papers["en"].pdf
