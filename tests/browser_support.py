"""Real-browser test support: Debian's headless Chromium driven by Playwright, a live server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from playwright import sync_api as playwright_api
from werkzeug.serving import make_server

from tests.factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
PHONE = {"width": 360, "height": 740}
playwright_api.expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class SlowPosts:
    """WSGI middleware: POSTs take `delay` seconds, like a phone on a slow network."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app
        self.delay = 0.0

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "POST" and self.delay:
            time.sleep(self.delay)
        return self.wsgi_app(environ, start_response)


@dataclass
class LiveServer:
    url: str
    network: SlowPosts


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The app served over HTTP on a free port, in a thread (SQLite only).

    What the browser sees does not depend on the database; PostgreSQL is exercised by every
    other test, so running each browser test twice would only lengthen CI.
    """
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("browser tests run on SQLite")
    network = SlowPosts(app)
    server = make_server("127.0.0.1", 0, network, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", network)
    server.shutdown()
    server.server_close()
    thread.join(5)


def new_page(browser: Any, base: str, username: str, **options: Any) -> Any:
    """A phone-sized page, logged in through the real login form."""
    context = browser.new_context(viewport=PHONE, **options)
    # The browser tests share two cores with the rest of the suite (Makefile): generous waits.
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors  # type: ignore[attr-defined]
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form.narrow button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def open_menu(page: Any) -> None:
    """Unfold the header's menu when a phone-sized page shows it folded behind "Menu"."""
    # After a click on a link the new page may have committed without having run menu.js yet:
    # the toggle would still be hidden, or the page would be replaced after it was unfolded.
    page.wait_for_load_state()
    toggle = page.locator("#menu-toggle")
    if toggle.count() and toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
