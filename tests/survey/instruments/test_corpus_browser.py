"""Real corpus forms filled in a real browser (issue 9): a complete interview of valid answers,
typed and clicked through the web form's own widgets, submitted, and found in the CSV export.

The answers are those of the complete-interview test (test_corpus.py): generated from each
form's own rules, so every question they answer must be shown by the page's live rules when
its turn comes, and every section must let the volunteer move on.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from flask import Flask

from tests.browser_support import LiveServer, new_page
from tests.factories import csv_export, csv_tables
from tests.survey.instruments.corpus.survey_corpus import CORPUS
from tests.survey.instruments.test_corpus import IMPORTED, CompleteInterview, _exported

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

FORMS = {
    # REACH's data-cleaning example: 8 sections, 174 relevance rules, 81 constraints,
    # select_multiple, a geopoint
    "reach/cleaningtools_form.xlsx": "sections, relevance, constraints",
    # UNHCR's template: groups, a geopoint, dates, regex constraints, a choice filter
    "unhcr-koboloader/XLSform_template.xlsx": "geopoint and constraints",
    # a loop (a group per choice) inside a group, select_multiple driving relevance
    "kobocat/transportation.xls": "nested groups and select_multiple",
    # a repeat holding a geopoint
    "kobocat/group_names_must_be_unique.xls": "a geopoint in a repeat",
    # time, dateTime, decimal, date, geopoint
    "kobocat/test_data_types.xls": "the data types",
    # a repeat with relevance and constraints inside its entries
    "pyxform/example_xls/tutorial.xls": "a repeat",
    # choices filtered by earlier answers
    "pyxform/example_xls/cascading_select_test_equivalent.xls": "choice filters",
}
RECEIPT = re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$")
TYPED = {"text", "textarea", "integer", "decimal", "date", "time", "datetime", "range",
         "geopoint", "geoline", "numbers"}  # fmt: skip


def test_the_forms_filled_here_are_forms_the_importer_takes() -> None:
    assert set(FORMS) <= set(IMPORTED), set(FORMS) - set(IMPORTED)


def _posted(value: Any) -> str:
    return _exported(value) if not isinstance(value, str) else value


def fill_question(block: Any, question: Any, value: Any) -> None:
    """Answer one question through its widget, as a volunteer would; it must be shown."""
    from survey.instruments.registry import widget_for

    try:
        _fill(block, widget_for(question), value)
    except playwright_api.TimeoutError as error:  # Playwright waits for it to be shown
        raise AssertionError(f"{question.name} is answered but not shown: {error}") from None


def _fill(block: Any, widget: str, value: Any) -> None:
    if widget in ("select_one", "acknowledge"):
        block.locator(f"input[value='{value}']").check()
    elif widget == "select_multiple":
        ticked = block.locator("input:checked").evaluate_all("els => els.map(e => e.value)")
        for code in set(ticked) ^ set(value):  # the answers' codes, and defaults they drop
            block.locator(f"input[value='{code}']").set_checked(code in value)
    elif widget == "dropdown":
        block.locator("select").select_option(value)
    elif widget == "rank":
        for position, code in enumerate(value):
            block.locator("select").nth(position).select_option(code)
    elif widget in TYPED:
        block.locator("input, textarea").first.fill(_posted(value))
    else:
        raise AssertionError(f"no way to fill a {widget} question")


def fill_interview(page: Any, spec: Any, answers: dict[str, Any]) -> None:
    """Every answered question, section by section, in the order of the page."""
    from survey.instruments.spec import Repeat

    for section in spec.sections:
        wanted = [
            item
            for item in section.items
            if (isinstance(item, Repeat) and answers.get(item.name))
            or (not isinstance(item, Repeat) and item.has_input and item.name in answers)
        ]
        if not wanted:
            continue
        shown = page.locator(f"#section-{section.name}")
        for _step in range(len(spec.sections)):
            if shown.is_visible():
                break
            page.click("[data-nav=next]")
        assert shown.is_visible(), f"section {section.name} is not reached"
        for item in wanted:
            if isinstance(item, Repeat):
                fill_repeat(page, item, answers[item.name])
            else:
                block = page.locator(f"section.form-section [data-key='{item.name}']")
                fill_question(block, item, answers[item.name])
    # Sections left with nothing to answer (notes only) still stand between here and Submit.
    for _step in range(len(spec.sections)):
        if not page.locator("[data-nav=next]").is_visible():
            break
        page.click("[data-nav=next]")


def fill_repeat(page: Any, repeat: Any, entries: list[dict[str, Any]]) -> None:
    """Add the entries (unless the form counts them itself) and answer their questions."""
    holder = page.locator(f"fieldset.repeat[data-repeat='{repeat.name}']")
    for index, entry in enumerate(entries):
        if not repeat.repeat_count:
            holder.locator("> button.add-entry").click()
        shown = holder.locator(f".repeat-entry[data-index='{index}']")
        assert shown.is_visible(), f"{repeat.name} entry {index} is not shown"
        for question in repeat.questions:
            if question.has_input and question.name in entry:
                block = shown.locator(f"[data-question='{question.name}']")
                fill_question(block, question, entry[question.name])


def assert_found(row: dict[str, str], question: Any, value: Any, where: str) -> None:
    """One answer in an exported row, written as the export writes it."""
    from survey.collection.services import LOCATION_TYPES, coarsened_location
    from survey.instruments.registry import parser_for

    name = question.name
    if question.type == "select_multiple":
        for code in value:
            assert row.get(f"{name}/{code}") in ("true", "1", "True"), (where, name, code)
    elif question.type in LOCATION_TYPES:
        # Stored on the ~1 km grid: the admin did not confirm precise locations.
        expected = coarsened_location(parser_for(question)(value))
        assert row.get(name) == expected, (where, name, value, row.get(name))
    else:
        assert row.get(name) == _exported(value), (where, name, value, row.get(name))


@pytest.mark.parametrize("form", list(FORMS))
def test_a_complete_interview_typed_in_the_browser_reaches_the_export(
    form: str,
    app: Flask,
    browser: Any,
    live_server: LiveServer,
    client: Any,
    auth: Any,
    create_user: Any,
    survey_round: Any,
) -> None:
    from survey.demo.walker import generate_answers
    from survey.extensions import db
    from survey.instruments.services import import_instrument, spec_for

    path = CORPUS / form
    version, _summary = import_instrument(path.read_bytes(), path.name)
    db.session.commit()
    spec = spec_for(version)
    answers = generate_answers(spec, random.Random(form), profile=CompleteInterview())
    create_user("vol", "volunteer")

    page = new_page(browser, live_server.url, "vol")
    page.goto(f"{live_server.url}/collect/v/{version.id}")
    fill_interview(page, spec, answers)
    page.click("[data-nav=submit]")
    page.wait_for_url(re.compile(r"/collect/saved/"))
    assert RECEIPT.match(page.locator("#receipt-code").inner_text().strip())
    assert page.js_errors == []
    page.context.close()
    auth.login("admin")
    tables = csv_tables(csv_export(client, spec.form_id))
    (row,) = tables["respondents"]
    for question in spec.iter_questions():
        if question.has_input and question.repeat is None and question.name in answers:
            assert_found(row, question, answers[question.name], "respondents.csv")
    for repeat in spec.iter_repeats():
        entries = answers.get(repeat.name) or []
        if not entries:
            continue
        (table,) = [name for name in tables if name.startswith(repeat.name)]
        assert len(tables[table]) == len(entries), table
        for index, (exported, entry) in enumerate(zip(tables[table], entries, strict=True)):
            for question in repeat.questions:
                if question.has_input and question.name in entry:
                    assert_found(exported, question, entry[question.name], f"{table}[{index}]")
