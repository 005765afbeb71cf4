"""The dashboard in a real browser (Debian's headless Chromium): filters change the numbers,
charts draw under the Content-Security-Policy, and phones never scroll sideways."""

from __future__ import annotations

import re
from typing import Any

import pytest

from survey.demo import write_demo_data
from tests.browser_support import LiveServer, new_page

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

ANALYSED = re.compile(r"Submissions analysed: (\d+)")


@pytest.fixture
def coordinator(create_user: Any, default_instrument: Any, survey_round: Any) -> str:
    """A coordinator and 250 demo interviews; returns the username."""
    write_demo_data(default_instrument, survey_round, 250, seed=31)
    create_user("coord", "coordinator")
    return "coord"


def chosen_estimates(page: Any) -> list[str]:
    """The estimate cells of the chosen indicator's table view."""
    return page.locator("#chosen table.data tbody td.num").all_text_contents()


def open_filters(page: Any) -> None:
    """Unfold the filters (they are already open when the address sets one, demo data say)."""
    if page.locator("details.filters").get_attribute("open") is None:
        page.click(".filters > summary")


def test_changing_a_filter_changes_the_numbers(
    browser: Any, live_server: LiveServer, coordinator: str
) -> None:
    page = new_page(browser, live_server.url, coordinator)
    page.goto(f"{live_server.url}/dashboard/indicators?demo=include&lang=en")
    before_total = int(ANALYSED.search(page.inner_text(".data-summary")).group(1))
    before = chosen_estimates(page)
    assert before_total == 250 and before and all(before)
    open_filters(page)
    page.select_option("#sex", "female")
    with page.expect_navigation():
        page.click(".dashboard-controls button[type=submit]")
    assert "sex=female" in page.url
    after_total = int(ANALYSED.search(page.inner_text(".data-summary")).group(1))
    after = chosen_estimates(page)
    assert 0 < after_total < before_total
    assert after != before
    assert page.locator("#sex").input_value() == "female"
    assert page.js_errors == []


def test_charts_are_drawn_not_blacked_out(
    browser: Any, live_server: LiveServer, coordinator: str
) -> None:
    """Under the site's CSP (no inline styles) the bars keep their colour and the page its white."""
    page = new_page(browser, live_server.url, coordinator)
    page.goto(f"{live_server.url}/dashboard/needs?demo=include&lang=en")
    svg = page.locator("figure.chart svg").first
    background = svg.evaluate("s => getComputedStyle(s.querySelector('rect.background')).fill")
    assert background in {"rgb(255, 255, 255)", "#ffffff"}
    bars = svg.evaluate(
        "s => [...s.querySelectorAll('rect, path')].filter(p => getComputedStyle(p).fill"
        " === 'rgb(47, 75, 124)').length"
    )
    assert bars > 3
    page.click("figure.chart .table-view > summary")
    assert page.locator("figure.chart .table-view table").first.is_visible()


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/?demo=include",
        "/dashboard/needs?by=generation&demo=include",
        "/dashboard/indicators?by=district&demo=include",
        "/dashboard/questions?by=age_band&demo=include",
        "/dashboard/quality?demo=include",
    ],
)
def test_no_sideways_scrolling_on_a_phone(
    browser: Any, live_server: LiveServer, coordinator: str, path: str
) -> None:
    page = new_page(browser, live_server.url, coordinator)
    for language in ("kk", "ru", "en"):
        page.goto(f"{live_server.url}{path}{'&' if '?' in path else '?'}lang={language}")
        open_filters(page)
        for details in page.locator("details.table-view > summary").all()[:3]:
            details.click()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, (path, language)
        # Anything wider than the screen must sit inside a horizontally scrolling .table-wrap.
        wide = page.evaluate(
            """() => [...document.querySelectorAll('main *')].filter(e => {
                 const r = e.getBoundingClientRect();
                 return r.width > 0 && (r.right > 361 || r.left < -1) && !e.closest('.table-wrap');
               }).map(e => e.tagName + '.' + e.className).slice(0, 5)"""
        )
        assert wide == [], (path, language, wide)
    assert page.js_errors == []


def test_demo_data_are_left_out_until_the_coordinator_asks(
    browser: Any, live_server: LiveServer, coordinator: str
) -> None:
    page = new_page(browser, live_server.url, coordinator)
    page.goto(f"{live_server.url}/dashboard/?lang=en")
    summary = page.inner_text(".data-summary")
    assert int(ANALYSED.search(summary).group(1)) == 0  # every interview is a demo one
    assert "choose “Include demo data” under Filters" in page.inner_text("main")
    open_filters(page)
    assert page.locator("#demo").input_value() == "exclude"
    page.select_option("#demo", "include")
    with page.expect_navigation():
        page.click(".dashboard-controls button[type=submit]")
    assert "demo=include" in page.url
    assert int(ANALYSED.search(page.inner_text(".data-summary")).group(1)) == 250
    assert "demo submissions" in page.inner_text("main")
    # Counts are whole numbers wherever a chart prints them (it printed "8.0")
    labels = page.locator("figure.chart svg text").all_text_contents()
    assert labels and not [text for text in labels if re.fullmatch(r"\d+\.0", text.strip())]
    assert page.js_errors == []
