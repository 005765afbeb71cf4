"""The working paper PDF, read back with pypdf: masthead, running heads, numbering, scripts,
fonts, PDF/UA tags and metadata, Markdown safety, drafts, paper sizes and word counts."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from io import BytesIO
from typing import Any

import pyphen  # WeasyPrint's hyphenation dictionaries
import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from reports.charts import Bar, bar_chart_svg
from reports.languages import PAPER_LANGUAGES
from reports.render import (
    TEMPLATE_DIR,
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
    render_html,
    render_pdf,
    word_count,
)
from reports.render import pdf as pdf_module

SYMBOL = "TPNW/MSP/2025/NGO/23"
MEETING = "Third Meeting of States Parties to the Treaty on the Prohibition of Nuclear Weapons"
# All nine Kazakh-only letters: ә ғ қ ң ө ұ ү һ і (the last one Cyrillic U+0456).
KAZAKH_QUOTE = "Біздің шаһарымызда дәрігер жоқ, ұрпағымыз да ауырады, көмек күтеміз."
RUSSIAN_QUOTE = "Мы годами ждём обследования, а наши внуки болеют так же, как мы."
EVIL_MARKDOWN = (
    "States parties should support the **international trust fund** proposed by Kazakhstan "
    "and Kiribati.\n\n"
    "<script>alert(1)</script>\n\n"
    "![x](http://evil.example/x.png)\n\n"
    "- fund remediation of contaminated land ([details](javascript:alert(1)));\n"
    "- share *data* with affected communities, see [TPNW](https://www.un.org/disarmament/).\n"
)

TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "chapters": ("Introduction", "Background", "Methodology", "Findings", "Recommendations"),
        "findings": (
            "Profile of respondents",
            "Status and benefits",
            "Health",
            "Functioning and disability",
            "Psychological well-being",
            "Socioeconomic inclusion",
            "Environment",
            "Intergenerational impacts",
            "Gender and age",
        ),
        "to": (
            "To the Government of Kazakhstan",
            "To States parties",
            "To international organizations",
        ),
        "sentences": (
            "Of the {n} respondents, {p} per cent reported at least one unmet need for medical "
            "care in the past 12 months.",
            "Survivors living in the zones of maximum and increased radiation risk described "
            "long journeys to Semey for specialist examinations.",
            "Descendants of survivors are covered by the 1992 law only if they are disabled and "
            "a genetic link is proven, which most respondents could not obtain.",
            "The results are unweighted and come from a convenience sample; they are not "
            "statistically representative of all affected people.",
            "Respondents in Abai, Ayagoz and Beskaragai districts most often named medicines, "
            "rehabilitation and psychological support as priorities.",
            "Women more often than men reported caring for a family member with a disability "
            "or a chronic illness.",
        ),
        "lead": "The coalition recommends that the Government of Kazakhstan:",
        "items": (
            "Extend the status of affected persons to the children and grandchildren of "
            "survivors without requiring proof of a genetic link;",
            "Provide free annual medical examinations in district hospitals;",
            "Publish the settlement zone register and its sources.",
        ),
        "districts": ("Semey", "Abai", "Ayagoz", "Beskaragai", "Kokpekti"),
        "byline": "Working paper submitted by Qazaq Youth for Nuclear Justice",
        "date": "3 March 2025",
        "title": "Victim assistance and environmental remediation in the Semipalatinsk region",
        "quote": KAZAKH_QUOTE,
        "meeting": MEETING,
        "place": "New York, 3–7 March 2025",
        "item": "Item 10 of the provisional agenda",
        "agenda": "Consideration of the status and operation of the Treaty",
    },
    "ru": {
        "chapters": ("Введение", "Общие сведения", "Методология", "Выводы", "Рекомендации"),
        "findings": (
            "Профиль респондентов",
            "Статус и льготы",
            "Здоровье",
            "Функционирование и инвалидность",
            "Психологическое благополучие",
            "Социально-экономическая интеграция",
            "Окружающая среда",
            "Последствия для следующих поколений",
            "Гендер и возраст",
        ),
        "to": ("Правительству Казахстана", "Государствам-участникам", "Международным организациям"),
        "sentences": (
            "Из {n} респондентов {p} процента сообщили хотя бы об одной неудовлетворённой "
            "потребности в медицинской помощи за последние 12 месяцев.",
            "Пострадавшие, проживающие в зонах максимального и повышенного радиационного "
            "риска, рассказали о долгих поездках в Семей на обследования к специалистам.",
            "Потомки пострадавших охвачены законом 1992 года только при инвалидности и "
            "доказанной генетической связи, которую большинство респондентов доказать не смогли.",
            "Результаты не взвешены и получены на удобной выборке; они не являются "
            "статистически репрезентативными.",
            "Респонденты Абайского, Аягозского и Бескарагайского районов чаще всего называли "
            "приоритетами лекарства, реабилитацию и психологическую поддержку.",
            "Женщины чаще мужчин сообщали, что ухаживают за членом семьи с инвалидностью или "
            "хроническим заболеванием.",
        ),
        "lead": "Коалиция рекомендует Правительству Казахстана:",
        "items": (
            "распространить статус пострадавших на детей и внуков пострадавших без "
            "доказательства генетической связи;",
            "обеспечить ежегодные бесплатные медицинские обследования в районных больницах;",
            "опубликовать реестр зон по населённым пунктам и его источники.",
        ),
        "districts": ("Семей", "Абай", "Аягоз", "Бескарагай", "Кокпекты"),
        "byline": "Рабочий документ, представленный Qazaq Youth for Nuclear Justice",
        "date": "3 марта 2025 г.",
        "title": "Помощь пострадавшим и экологическая реабилитация в Семипалатинском регионе",
        "quote": RUSSIAN_QUOTE,
        "meeting": "Третье совещание государств — участников Договора о запрещении ядерного оружия",
        "place": "Нью-Йорк, 3–7 марта 2025 года",
        "item": "Пункт 10 предварительной повестки дня",
        "agenda": "Рассмотрение состояния и действия Договора",
    },
    "kk": {
        "chapters": ("Кіріспе", "Жалпы мәліметтер", "Әдістеме", "Қорытындылар", "Ұсынымдар"),
        "findings": (
            "Респонденттердің сипаттамасы",
            "Мәртебе және жеңілдіктер",
            "Денсаулық",
            "Тіршілік әрекеті және мүгедектік",
            "Психологиялық әл-ауқат",
            "Әлеуметтік-экономикалық интеграция",
            "Қоршаған орта",
            "Ұрпақтарға әсері",
            "Жыныс және жас",
        ),
        "to": ("Қазақстан Үкіметіне", "Қатысушы мемлекеттерге", "Халықаралық ұйымдарға"),
        "sentences": (
            "{n} респонденттің {p} пайызы соңғы 12 айда медициналық көмекке кемінде бір "
            "қанағаттандырылмаған қажеттілік болғанын хабарлады.",
            "Радиациялық қатері ең жоғары және жоғары аймақтарда тұратын зардап шеккендер "
            "маман тексеруіне Семейге ұзақ жол жүретінін айтты.",
            "Зардап шеккендердің ұрпақтары 1992 жылғы заңмен мүгедектігі болып, генетикалық "
            "байланысы дәлелденген жағдайда ғана қамтылады.",
            "Нәтижелер салмақталмаған және ыңғайлы іріктемеден алынған; олар статистикалық "
            "тұрғыдан репрезентативті емес.",
            "Абай, Аягөз және Бесқарағай аудандарының респонденттері басымдық ретінде "
            "дәрі-дәрмекті, оңалтуды және психологиялық қолдауды жиі атады.",
            "Әйелдер ерлерге қарағанда мүгедектігі немесе созылмалы ауруы бар отбасы мүшесіне "
            "жиі күтім жасайтынын айтты.",
        ),
        "lead": "Коалиция Қазақстан Үкіметіне мыналарды ұсынады:",
        "items": (
            "зардап шеккендердің балалары мен немерелеріне генетикалық байланысты дәлелдеусіз "
            "мәртебе беру;",
            "аудандық ауруханаларда жыл сайын тегін медициналық тексеру жүргізу;",
            "елді мекендер бойынша аймақтар тізілімін және оның дереккөздерін жариялау.",
        ),
        "districts": ("Семей", "Абай", "Аягөз", "Бесқарағай", "Көкпекті"),
        "byline": "Qazaq Youth for Nuclear Justice ұсынған жұмыс құжаты",
        "date": "2025 жылғы 3 наурыз",
        "title": "Семей өңіріндегі зардап шеккендерге көмек және қоршаған ортаны оңалту",
        "quote": KAZAKH_QUOTE,
        "meeting": "Ядролық қаруға тыйым салу туралы шартқа қатысушы мемлекеттердің үшінші кеңесі",
        "place": "Нью-Йорк, 2025 жылғы 3–7 наурыз",
        "item": "Уақытша күн тәртібінің 10-тармағы",
        "agenda": "Шарттың жай-күйі мен жұмысын қарау",
    },
}


@cache
def chart(language: str, index: int) -> str:
    """A small chart per language (cached: a paper uses each several times)."""
    districts = TEXT[language]["districts"]
    bars = [
        Bar(districts[0], 0.62, 0.55, 0.69),
        Bar(districts[2], 0.41 + index / 100, 0.35, 0.52),
        Bar(districts[3], None),
    ]
    return bar_chart_svg(
        bars,
        title=f"Chart {index}",
        description="Unmet need by district",
        suppressed_text="<5",
        width_inches=5.2,
    )


def paragraphs(language: str, start: int, count: int) -> list[Paragraph]:
    """`count` distinct paragraphs of two sentences each."""
    sentences = TEXT[language]["sentences"]
    out = []
    for index in range(start, start + count):
        first = sentences[index % len(sentences)].format(n=400 + index, p=30 + index)
        second = sentences[(index + 3) % len(sentences)].format(n=400 + index, p=30 + index)
        out.append(Paragraph(f"{first} {second}"))
    return out


def build_paper(
    language: str = "en", *, symbol: str | None = SYMBOL, paper_size: str = "A4"
) -> Paper:
    """A realistic paper: 5 chapters, 40+ paragraphs, 3 figures, tables, recommendations."""
    text = TEXT[language]
    titles = text["chapters"]
    districts = text["districts"]
    district_table = Table(
        caption="Respondents by district",
        columns=("District", "n", "%", "95% CI"),
        rows=(
            (districts[0], "210", "51.0", "46.1–55.8"),
            (districts[1], "64", "15.5", "12.3–19.4"),
            (districts[2], "38", "9.2", "6.8–12.4"),
            (districts[3], "<5", "–", "–"),
            (districts[4], "97", "23.5", "19.7–27.9"),
        ),
        notes=("Note: cells with fewer than five respondents are suppressed (<5).",),
    )
    findings: list[Any] = []
    for index, title in enumerate(text["findings"]):
        findings.append(SubHeading(f"{'ABCDEFGHI'[index]}.", title))
        findings.extend(paragraphs(language, 20 + 3 * index, 3 if index < 4 else 2))
        if index in (0, 2, 5):
            figure_number = (0, 2, 5).index(index) + 1
            findings.append(
                Figure(
                    chart(language, figure_number),
                    caption=f"Unmet need for medical care by district ({figure_number})",
                    alt=f"Bar chart {figure_number}: unmet need by district; one suppressed.",
                )
            )
        if index == 1:
            findings.append(district_table)
    chapters = (
        Chapter(
            "I.",
            titles[0],
            (
                Paragraph(
                    paragraphs(language, 0, 1)[0].text,
                    footnotes=("See https://www.un.org/disarmament/ for the Treaty text.",),
                ),
                *paragraphs(language, 1, 4),
            ),
        ),
        Chapter(
            "II.",
            titles[1],
            (
                *paragraphs(language, 4, 3),
                Quote(text["quote"], "58, Аягөз"),
                *paragraphs(language, 7, 2),
            ),
        ),
        Chapter("III.", titles[2], tuple(paragraphs(language, 9, 6))),
        Chapter("IV.", titles[3], tuple(findings)),
        Chapter(
            "V.",
            titles[4],
            (
                SubHeading("A.", text["to"][0]),
                Paragraph(text["lead"]),
                Recommendations(text["items"]),
                SubHeading("B.", text["to"][1]),
                Markdown(EVIL_MARKDOWN),
                SubHeading("C.", text["to"][2]),
                Recommendations(text["items"][:2], lead=text["lead"]),
            ),
        ),
    )
    masthead = Masthead(
        symbol=symbol,
        date=dt.date(2025, 3, 3),
        title=text["title"],
        submitted_by="Qazaq Youth for Nuclear Justice",
        meeting=text["meeting"],
        place_and_dates=text["place"],
        agenda_item=text["item"],
        agenda_title=text["agenda"],
    )
    annex = Annex("Indicator tables", (replace(district_table, caption="Indicators"),))
    return Paper(
        masthead,
        language=language,  # type: ignore[arg-type]
        paper_size=paper_size,  # type: ignore[arg-type]
        chapters=chapters,
        annexes=(annex,),
    )


def small_paper(**masthead_changes: Any) -> Paper:
    """Two pages or so: enough for a running header, cheap to render."""
    fields = {
        "date": dt.date(2025, 3, 3),
        "title": "A short paper",
        "submitted_by": "Birge",
        "agenda_title": "Victim assistance",
    }
    masthead = Masthead(**{**fields, **masthead_changes})
    return Paper(
        masthead, chapters=(Chapter("I.", "Introduction", tuple(paragraphs("en", 0, 16))),)
    )


@dataclass(frozen=True)
class Rendered:
    """A rendered paper, read back."""

    paper: Paper
    data: bytes
    reader: PdfReader
    pages: list[str]
    fetched: list[str]


def read(paper: Paper) -> Rendered:
    """Render while recording every URL WeasyPrint asks the fetcher for."""
    fetched: list[str] = []
    original = pdf_module.ReportURLFetcher.fetch

    def recording_fetch(self: Any, url: str, headers: Any = None) -> Any:
        fetched.append(url)
        return original(self, url, headers)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pdf_module.ReportURLFetcher, "fetch", recording_fetch)
        data = render_pdf(paper)
    reader = PdfReader(BytesIO(data))
    return Rendered(paper, data, reader, [p.extract_text() for p in reader.pages], fetched)


@pytest.fixture(scope="module")
def english() -> Rendered:
    """The realistic paper in English."""
    return read(build_paper("en"))


@pytest.fixture(scope="module", params=["ru", "kk"])
def translated(request: pytest.FixtureRequest) -> Rendered:
    """The same paper in Russian and in Kazakh."""
    return read(build_paper(request.param))


def flat(text: str) -> str:
    """Text with line breaks and runs of spaces as single spaces."""
    return re.sub(r"\s+", " ", text)


def test_first_page_has_the_masthead(english: Rendered) -> None:
    first = flat(english.pages[0])
    for expected in (
        SYMBOL,
        "Distr.: General",
        "3 March 2025",
        "Original: English",
        MEETING,
        "New York, 3–7 March 2025",
        "Item 10 of the provisional agenda",
        "TPNW/MSP/2025/1.",
        "Consideration of the status and operation of the Treaty",
        TEXT["en"]["title"],
        "Working paper submitted by Qazaq Youth for Nuclear Justice",
    ):
        assert expected in first, expected
    assert len(english.reader.pages) >= 3


def test_later_pages_carry_symbol_and_page_of_total(english: Rendered) -> None:
    total = len(english.pages)
    for number, text in enumerate(english.pages[1:], start=2):
        assert SYMBOL in text, number
        assert f"{number}/{total}" in text, number
    assert f"1/{total}" not in english.pages[0]


def body_text(rendered: Rendered) -> str:
    """The text before the annex (annex paragraphs are numbered anew, UN style)."""
    text = "\n".join(rendered.pages)
    return text[: text.rindex("Annex")] if "Annex" in text else text


def test_paragraphs_are_numbered_once_in_order_across_chapters(english: Rendered) -> None:
    numbers = [int(n) for n in re.findall(r"(?m)^(\d{1,3})\.\s", body_text(english))]
    assert len(numbers) >= 40
    assert numbers == list(range(1, len(numbers) + 1))
    # Recommendations are lettered inside their numbered paragraph.
    body = flat(body_text(english))
    for label, item in zip(("(a)", "(b)", "(c)"), TEXT["en"]["items"], strict=True):
        assert f"{label} {item[:30]}" in body


def test_chapters_and_subheadings_become_bookmarks(english: Rendered) -> None:
    outline = english.reader.outline
    titles = [item.title for item in outline if not isinstance(item, list)]
    assert titles == [
        "I. Introduction",
        "II. Background",
        "III. Methodology",
        "IV. Findings",
        "V. Recommendations",
        "Annex Indicator tables",
    ]


def test_kazakh_and_russian_text_extract_intact(english: Rendered, translated: Rendered) -> None:
    assert KAZAKH_QUOTE in flat(body_text(english))  # Kazakh words set in a fallback font
    text = flat(body_text(translated))
    language = translated.paper.language
    assert TEXT[language]["quote"] in text
    first = flat(translated.pages[0])
    assert TEXT[language]["date"] in first
    assert TEXT[language]["byline"] in first
    assert TEXT[language]["meeting"] in first and TEXT[language]["item"] in first
    assert "Distr.: General" in first and "Original: English" in first
    if language == "kk":
        assert all(letter in text for letter in "әғқңөұүһі")
        assert "\u0456" in text  # Cyrillic і, not Latin i
        for district in TEXT["kk"]["districts"]:
            assert district in text


def fonts(resources: Any, seen: set[int]) -> Iterator[DictionaryObject]:
    """Every font dictionary in some resources, SVG figures' form XObjects included."""
    resources = resources.get_object() if resources is not None else None
    if not resources:
        return
    for font in (resources.get("/Font") or {}).values():
        yield font.get_object()
    for xobject in (resources.get("/XObject") or {}).values():
        key = xobject.idnum if isinstance(xobject, IndirectObject) else id(xobject)
        if key not in seen:
            seen.add(key)
            yield from fonts(xobject.get_object().get("/Resources"), seen)


def test_every_font_is_embedded(english: Rendered) -> None:
    seen: set[int] = set()
    checked = 0
    for page in english.reader.pages:
        for font in fonts(page.get("/Resources"), seen):
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            descriptor = target["/FontDescriptor"].get_object()
            assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), font
            checked += 1
    assert checked >= 3  # serif body, bold, and the charts' sans serif


def structure(node: Any) -> Iterator[DictionaryObject]:
    """All structure elements under a node of the structure tree."""
    stack = [node]
    while stack:
        item = stack.pop()
        item = item.get_object() if isinstance(item, IndirectObject) else item
        if isinstance(item, ArrayObject):
            stack.extend(item)
        elif isinstance(item, DictionaryObject):
            if item.get("/Type") == "/StructElem" or "/S" in item:
                yield item
            if "/K" in item:
                stack.append(item["/K"])


def test_pdf_ua_tags_and_metadata(english: Rendered) -> None:
    root = english.reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data()
    assert b"pdfuaid" in xmp and re.search(rb'pdfuaid:part(="|>)1', xmp)
    assert bool(root["/MarkInfo"]["/Marked"]) is True
    assert "/StructTreeRoot" in root
    assert root["/Lang"] == "en"
    metadata = english.reader.metadata
    assert metadata.title == TEXT["en"]["title"]
    assert metadata.author == "Qazaq Youth for Nuclear Justice"
    assert metadata["/CreationDate"].startswith("D:20250303")
    elements = list(structure(root["/StructTreeRoot"]))
    kinds = {str(element["/S"]) for element in elements}
    assert {"/H1", "/H2", "/H3", "/P", "/Table", "/TH", "/TD", "/Figure"} <= kinds
    alts = {str(element["/Alt"]) for element in elements if "/Alt" in element}
    assert "Bar chart 1: unmet need by district; one suppressed." in alts
    assert sum(alt.startswith("Bar chart") for alt in alts) == 3
    assert "62%" in "".join(english.pages)  # the charts are drawn, their text kept as text


def test_suppressed_cells_print_as_given(english: Rendered) -> None:
    body = flat(body_text(english))
    assert "Beskaragai <5 – –" in body
    assert "Note: cells with fewer than five respondents are suppressed (<5)." in body


def test_markdown_cannot_script_fetch_or_link_javascript(english: Rendered) -> None:
    text = flat("\n".join(english.pages))
    assert "international trust fund" in text
    assert "(https://www.un.org/disarmament/)" in text  # a link prints its address
    # The list continues the Markdown paragraph before it as lettered sub-paragraphs.
    assert "(a) fund remediation of contaminated land (details);" in text
    assert "(b) share data with affected communities" in text
    for forbidden in ("<script", "alert", "javascript", "evil.example"):
        assert forbidden not in text
    assert english.fetched, "the stylesheet at least is fetched"
    assert all(url.startswith("birge-report:/") for url in english.fetched), english.fetched
    html = render_html(english.paper)
    for forbidden in ("<script", "alert(", "javascript:", "evil.example", '<img src="http'):
        assert forbidden not in html


def test_user_text_is_escaped_in_html() -> None:
    paper = small_paper(title='<b onload="x()">A & B</b>')
    html = render_html(paper)
    assert "&lt;b onload=&#34;x()&#34;&gt;A &amp; B&lt;/b&gt;" in html
    assert "<b onload" not in html


def test_a_draft_says_draft_on_page_one_and_in_headers() -> None:
    rendered = read(small_paper(symbol=None))
    assert len(rendered.pages) >= 2
    assert "Draft" in rendered.pages[0].split("\n")[0]
    for text in rendered.pages[1:]:
        assert "Draft" in text
    assert "TPNW/MSP/2025/NGO" not in "".join(rendered.pages)


def test_letter_size_and_identical_output_for_identical_input() -> None:
    paper = replace(small_paper(symbol=SYMBOL), paper_size="Letter")
    first = render_pdf(paper)
    reader = PdfReader(BytesIO(first))
    for page in reader.pages:
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (
            612,
            792,
        )
    assert render_pdf(paper) == first  # a past report can be regenerated byte for byte


def test_a4_is_the_default(english: Rendered) -> None:
    box = english.reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_word_count_covers_the_narrative_only() -> None:
    paper = Paper(
        Masthead(
            date=dt.date(2025, 3, 3),
            title="Many words in a title",
            submitted_by="B",
            agenda_title="x",
        ),
        chapters=(
            Chapter(
                "I.",
                "Introduction has words",
                (
                    Paragraph("One two three.", footnotes=("Four five.",)),
                    SubHeading("A.", "Not counted"),
                    Recommendations(("Six seven;", "eight."), lead="Nine:"),
                    Quote("Ten eleven", "not counted"),
                    Markdown(
                        "**Twelve** [thirteen](https://example.org)\n\n- fourteen\n\n<b>x</b>"
                    ),
                    Table("Not counted", ("a",), (("b",),)),
                ),
            ),
        ),
        annexes=(Annex("Not counted", (Paragraph("not counted either"),)),),
    )
    assert word_count(paper) == 15  # "x" from stripped raw HTML is a word too
    assert word_count(build_paper("en")) > 1000


def test_justified_only_in_languages_with_a_hyphenation_dictionary() -> None:
    css = (TEMPLATE_DIR / "paper.css").read_text(encoding="utf-8")
    left = set(re.findall(r"html:lang\((\w+)\) body[^{]*\{[^}]*text-align: left", css))
    for language in PAPER_LANGUAGES:
        # Justified text without hyphenation leaves wide gaps between long words.
        assert language in pyphen.LANGUAGES or language in left, language
