"""Shuffled choices in the browser (issue 9 part 2): ODK's seeded order, re-drawn when the
seed's answer changes; the answer is stored as the code chosen."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_support import LiveServer, new_page
from tests.survey.collection.test_offline_browser import submissions
from tests.survey.collection.test_shuffled_choices import CHOICES, CODES, SURVEY, _randomize

pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

RANKED = [*SURVEY, ["rank fruit", "ranked", "Rank them", "randomize=true seed=${n}", ""]]


def test_the_page_shows_the_seeded_order_and_redraws_it_when_the_seed_changes(
    browser: Any, live_server: LiveServer, create_user: Any, create_instrument: Any,
    survey_round: Any,
) -> None:  # fmt: skip
    create_user("vol", "volunteer")
    version = create_instrument(survey=RANKED, choices=CHOICES, settings={"form_id": "shuffle"})
    page = new_page(browser, live_server.url, "vol")
    page.goto(f"{live_server.url}/collect/v/{version.id}")

    def shown(name: str, within: str = "label[data-choice]") -> list[str]:
        block = page.locator(f"[data-question={name}] {within}")
        return block.evaluate_all("els => els.map(e => e.getAttribute('data-choice'))")

    assert shown("fixed") == _randomize("42")
    # Its seed not answered yet: NaN, as in ODK (seed 0), the same on the server and the page.
    page.wait_for_load_state("networkidle")
    assert shown("picked") == _randomize("''") != CODES
    page.fill("[name=n]", "7")
    page.locator("[name=n]").blur()
    page.wait_for_function(
        "order => [...document.querySelectorAll('[data-question=picked] [data-choice]')]"
        ".map(e => e.dataset.choice).join() === order",
        arg=",".join(_randomize("7")),
    )
    assert shown("ranked", "select[id$='-0'] option[data-choice]") == _randomize("7")
    page.fill("[name=n]", "8")
    page.locator("[name=n]").blur()
    page.wait_for_function(
        "order => [...document.querySelectorAll('[data-question=picked] [data-choice]')]"
        ".map(e => e.dataset.choice).join() === order",
        arg=",".join(_randomize("8")),
    )
    assert _randomize("8") != _randomize("7")
    assert shown("ranked", "select[id$='-2'] option[data-choice]") == _randomize("8")
    assert shown("fixed") == _randomize("42")  # its seed is a number: it never moves
    shown_picked = shown("picked")
    assert shown_picked.index("cherry") < shown_picked.index("apple")  # posted in this order
    page.check("[data-question=picked] input[value=apple]")
    page.check("[data-question=picked] input[value=cherry]")
    page.check("[data-question=fixed] input[value=banana]")
    page.check("[data-question=plain] input[value=date]")
    page.click("[data-nav=submit]")
    page.wait_for_url(f"{live_server.url}/collect/saved/**")
    answers = submissions()[0].answers
    # Stored as the codes chosen, a select_multiple's in the choices sheet's order.
    assert answers["picked"] == ["apple", "cherry"]
    assert (answers["n"], answers["fixed"], answers["plain"]) == (8, "banana", "date")
    assert page.js_errors == []
    page.context.close()
