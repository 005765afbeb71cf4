"""Every page of every role on a 360 px phone: nothing wider than the screen, and no serious or
critical accessibility violation (axe-core), in English and Kazakh."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.demo import write_demo_data
from survey.extensions import db
from tests.browser_support import PHONE, LiveServer, new_page

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

COMMON = ["/", "/account/password"]
ENTERING = ["/submissions"]
COORDINATOR = [
    "/review",
    "/review?status=all",
    "/withdrawal",
    "/exports",
    "/admin/users",
    "/audit",
    "/dashboard/",
    "/dashboard/needs",
    "/dashboard/indicators",
    "/dashboard/questions",
    "/dashboard/quality",
    "/reports/",
    "/reports/quotes",
    "/reports/history",
]
ADVOCATE = [
    "/dashboard/",
    "/dashboard/needs",
    "/dashboard/indicators",
    "/dashboard/questions",
    "/reports/",
    "/reports/history",
]
ADMIN = ["/admin/instruments/", "/admin/rounds"]


@pytest.fixture
def site(create_user: Any, default_instrument: Any, survey_round: Any) -> dict[str, list[str]]:
    """Accounts of each role, demo interviews and one of the volunteer's own; the pages each
    role reaches."""
    write_demo_data(default_instrument, survey_round, 120, seed=3)
    for role in ("volunteer", "coordinator", "advocate", "admin"):
        create_user(role, role)
    submission = db.session.execute(select(Submission).limit(1)).scalar_one()
    own = [f"/submissions/{submission.id}"]
    form = [f"/collect/v/{default_instrument.id}"]
    review = [f"/review/{submission.id}"]
    return {
        "volunteer": COMMON + ENTERING + form,
        "coordinator": COMMON + ENTERING + COORDINATOR + own + review,
        "advocate": COMMON + ADVOCATE,
        "admin": COMMON + ADMIN + ["/admin/users", "/audit"],
    }


def too_wide(page: Any) -> list[str]:
    """The elements that stick out past the right edge of the screen."""
    return page.evaluate(
        """(width) => Array.from(document.querySelectorAll('body *'))
          .filter((el) => {
            const box = el.getBoundingClientRect();
            if (!box.width || box.right <= width + 1) return false;
            for (let p = el.parentElement; p; p = p.parentElement) {  // inside a scroller: fine
              const style = getComputedStyle(p);
              const scrolls = /(auto|scroll|hidden)/.test(style.overflowX);
              if (scrolls && p.clientWidth <= width) return false;
            }
            return true;
          })
          .slice(0, 5)
          .map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' ' +
            String(el.className).split(' ')[0] + ' ' +
            Math.round(el.getBoundingClientRect().right))""",
        PHONE["width"],
    )


@pytest.mark.parametrize("role", ["volunteer", "coordinator", "advocate", "admin"])
def test_every_page_fits_a_phone_and_passes_axe(
    browser: Any, live_server: LiveServer, site: dict[str, list[str]], role: str
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page = new_page(browser, live_server.url, role)
    problems = []
    for language in ("en", "kk"):
        page.goto(f"{live_server.url}/?lang={language}", timeout=60000)
        for path in site[role]:
            response = page.goto(f"{live_server.url}{path}", timeout=60000)
            assert response is not None and response.status == 200, (path, response.status)
            header = page.evaluate("document.querySelector('.site-header').offsetHeight")
            if header > 110:  # the menu folds away: the page starts near the top
                problems.append(f"{language} {path}: header {header} px high")
            cards = page.evaluate(
                "Array.from(document.querySelectorAll('table.stack td'))"
                ".filter((td) => getComputedStyle(td).display !== 'block').length"
            )
            if cards:
                problems.append(f"{language} {path}: {cards} cells not shown as cards")
            width = page.evaluate("document.scrollingElement.scrollWidth")
            if width > PHONE["width"]:
                problems.append(f"{language} {path}: {width} px wide: {too_wide(page)}")
            violations = axe.run(page).response["violations"]
            serious = [
                f"{v['id']} {[n['target'] for n in v['nodes']][:3]}"
                for v in violations
                if v["impact"] in ("serious", "critical")
            ]
            if serious:
                problems.append(f"{language} {path}: axe {serious}")
    assert problems == [], "\n".join(problems)
    assert page.js_errors == []  # type: ignore[attr-defined]
