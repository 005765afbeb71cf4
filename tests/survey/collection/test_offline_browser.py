"""The form offline in a real browser (Debian's headless Chromium): the service worker serves the
form, interviews submitted offline wait encrypted in IndexedDB and are sent once when the
connection returns; another user of the same browser cannot read them; logout warns first."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.extensions import db
from tests.browser_support import LiveServer, new_page, open_menu
from tests.factories import PASSWORD

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

SURVEY = [
    ["type", "name", "label", "required", "relevant"],
    ["begin_group", "intro", "Introduction"],
    ["select_one yes_no", "consent", "Do you agree to take part?", "yes"],
    ["integer", "age", "Age in years", "yes", "${consent} = 'yes'"],
    ["end_group"],
    ["begin_group", "details", "Details"],
    ["text", "comment", "Anything to add?"],
    ["begin_repeat", "member", "Household member"],
    ["text", "member_name", "First name of the member"],
    ["end_repeat"],
    ["end_group"],
]
CHOICES = [["list_name", "name", "label"], ["yes_no", "yes", "Yes"], ["yes_no", "no", "No"]]

# Reads the queue as offline.js stores it; `key` (base64) is tried on every entry, with the
# entry's own user id and with `other` as the additional data.
# A script's body that sets `aes` (the AES key of base64 `key`) and `entries` (the queue).
QUEUE_AND_KEY = """
  const raw = Uint8Array.from(atob(key), (c) => c.charCodeAt(0));
  const aes = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['decrypt']);
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open('birge-queue');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const entries = await new Promise((resolve) => {
    const request = db.transaction('entries').objectStore('entries').getAll();
    request.onsuccess = () => resolve(request.result);
  });
  db.close();"""
TRY_DECRYPT = (
    """async ([key, other]) => {"""
    + QUEUE_AND_KEY
    + """
  const results = [];
  for (const entry of entries) {
    for (const user of [entry.user, other]) {
      try {
        const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: entry.iv,
          additionalData: new TextEncoder().encode(user) }, aes, entry.data);
        results.push(JSON.parse(new TextDecoder().decode(plain)).body);
      } catch (error) {
        results.push('refused');
      }
    }
  }
  return { users: entries.map((e) => e.user), results: results };
}"""
)
DERIVE = """async ([username, password]) => {
  const text = new TextEncoder();
  const material = await crypto.subtle.importKey('raw', text.encode(password), 'PBKDF2', false,
    ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256',
    salt: text.encode('birge:' + username), iterations: 200000 }, material, 256);
  return btoa(String.fromCharCode.apply(null, new Uint8Array(bits)));
}"""
DUPLICATE_ENTRY = """() => new Promise((resolve, reject) => {
  const request = indexedDB.open('birge-queue');
  request.onsuccess = () => {
    const store = request.result.transaction('entries', 'readwrite').objectStore('entries');
    const all = store.getAll();
    all.onsuccess = () => {
      const copy = Object.assign({}, all.result[0]);
      delete copy.id;
      store.add(copy).onsuccess = () => { request.result.close(); resolve(all.result.length); };
    };
  };
  request.onerror = () => reject(request.error);
})"""


@pytest.fixture
def small_form(create_instrument: Any, make_xlsform: Any, survey_round: Any) -> Any:
    """The small instrument of these tests, imported, with a round open today."""
    return create_instrument(
        make_xlsform(SURVEY, CHOICES, {"consent_question": "consent", "age_question": "age"})
    )


def submissions() -> list[Submission]:
    db.session.rollback()
    return list(db.session.execute(select(Submission).order_by(Submission.id)).scalars())


def wait_until(page: Any, condition: Any, timeout: float = 15.0) -> None:
    """Poll; waiting through Playwright so that its events (dialogs) are handled meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(100)


def open_form_for_offline(page: Any, url: str) -> None:
    """Open the form, and wait until the service worker controls it and keeps a copy."""
    page.goto(url)
    assert page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)")
    page.reload()
    assert page.evaluate("!!navigator.serviceWorker.controller")
    cached = "caches.keys().then(n => Promise.all(n.map(k => caches.open(k)"
    cached += ".then(c => c.match(location.pathname))))).then(r => r.some(Boolean))"
    wait_until(page, lambda: page.evaluate(cached))


def interview(page: Any, age: str, comment: str, member: str) -> None:
    """Answer both sections and submit."""
    page.check("input[name=consent][value=yes]")
    page.fill("#age", age)
    page.click("[data-nav=next]")
    page.fill("#comment", comment)
    page.click("button.add-entry")
    page.fill("[name=member-0-member_name]", member)
    page.click("[data-nav=submit]")


def count_text(page: Any) -> str:
    return page.locator("#offline-count").inner_text()


def test_interviews_submitted_offline_are_sent_once_back_online(
    browser: Any, live_server: LiveServer, create_user: Any, small_form: Any, tmp_path: Path
) -> None:
    create_user("vol", "volunteer")
    page = new_page(browser, live_server.url, "vol", accept_downloads=True)
    form_url = f"{live_server.url}/collect/v/{small_form.id}"
    open_form_for_offline(page, form_url)
    assert not page.locator("#offline-banner").is_visible()
    first_id = page.input_value("[name=_instance_id]")

    expect = playwright_api.expect
    page.context.set_offline(True)
    expect(page.locator("#offline-banner")).to_be_visible()
    interview(page, "30", "First", "Aigul")
    expect(page.locator("#offline-count")).to_have_text("1 interview waiting to be sent")
    assert "saved on this device" in page.locator("#offline-message").inner_text()
    # A blank form for the next interview, with its own instanceID, at the first step.
    assert page.input_value("#age") == ""
    assert not page.locator("input[name=consent][value=yes]").is_checked()
    assert page.locator(".repeat-entry").count() == 0
    assert page.locator("[data-nav=submit]").is_enabled()
    second_id = page.input_value("[name=_instance_id]")
    assert second_id != first_id
    assert second_id.startswith("uuid:")
    interview(page, "41", "Second", "Bolat")
    expect(page.locator("#offline-count")).to_have_text("2 interviews waiting to be sent")
    assert page.input_value("[name=_instance_id]") not in {first_id, second_id}

    # Reopened offline: the service worker serves the form, with a new instanceID.
    page.reload()
    expect(page.locator("#offline-count")).to_have_text("2 interviews waiting to be sent")
    assert page.evaluate("document.documentElement.dataset.offlineCopy") == "1"
    assert page.input_value("[name=_instance_id]") not in {first_id, second_id}
    expect(page.locator("#offline-banner")).to_be_visible()

    # The last resort: the decrypted queue as a file.
    with page.expect_download() as download:
        page.click("#offline-export")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert "answers" in exported["warning"]
    assert exported["user"] == "vol"
    fields = [dict(item["fields"]) for item in exported["interviews"]]
    assert [(f["_instance_id"], f["comment"]) for f in fields] == [
        (first_id, "First"),
        (second_id, "Second"),
    ]
    assert submissions() == []

    page.context.set_offline(False)
    expect(page.locator("#offline-count")).to_have_text("", timeout=15000)
    expect(page.locator("#offline-message")).to_have_text("All waiting interviews were sent.")
    saved = submissions()
    assert [s.instance_id for s in saved] == [first_id, second_id]
    assert [s.answers for s in saved] == [
        {"consent": "yes", "age": 30, "comment": "First", "member": [{"member_name": "Aigul"}]},
        {"consent": "yes", "age": 41, "comment": "Second", "member": [{"member_name": "Bolat"}]},
    ]
    assert all(s.entered_by.username == "vol" for s in saved)

    # Online, the form is sent at once and the receipt shown, as before.
    page.reload()
    interview(page, "52", "Third", "Dana")
    page.wait_for_url(f"{live_server.url}/collect/saved/**")
    assert len(submissions()) == 3
    assert page.js_errors == []
    page.context.close()


def test_the_same_queued_interview_sent_twice_is_stored_once(
    browser: Any, live_server: LiveServer, create_user: Any, small_form: Any
) -> None:
    create_user("vol", "volunteer")
    page = new_page(browser, live_server.url, "vol")
    form_url = f"{live_server.url}/collect/v/{small_form.id}"
    open_form_for_offline(page, form_url)
    other = page.context.new_page()  # a second tab: both try to send when the network returns
    other.goto(form_url)
    page.context.set_offline(True)
    interview(page, "30", "Once", "Aigul")
    expect = playwright_api.expect
    expect(page.locator("#offline-count")).to_have_text("1 interview waiting to be sent")
    assert page.evaluate(DUPLICATE_ENTRY) == 1  # the same entry, twice in the queue
    page.reload()
    expect(page.locator("#offline-count")).to_have_text("2 interviews waiting to be sent")

    page.context.set_offline(False)  # both tabs start sending ('online'); and "Send now" too
    for tab in (page, other):
        tab.locator("#offline-send").evaluate("b => b.click()")
    expect(page.locator("#offline-count")).to_have_text("", timeout=15000)
    other.reload()
    expect(other.locator("#offline-count")).to_have_text("")
    saved = submissions()
    assert len(saved) == 1
    assert saved[0].answers["comment"] == "Once"
    assert page.js_errors == []
    page.context.close()


def test_another_user_cannot_read_the_queue_and_logout_warns(
    browser: Any, live_server: LiveServer, create_user: Any, small_form: Any
) -> None:
    first = create_user("vol", "volunteer")
    second = create_user("other", "volunteer")
    page = new_page(browser, live_server.url, "vol")
    form_url = f"{live_server.url}/collect/v/{small_form.id}"
    key = json.loads(page.evaluate("sessionStorage.getItem('birge-offline-key')"))
    assert key["user"] == "vol"
    assert key["key"] == page.evaluate(DERIVE, ["vol", PASSWORD])
    open_form_for_offline(page, form_url)
    page.context.set_offline(True)
    interview(page, "30", "Private", "Aigul")
    expect = playwright_api.expect
    expect(page.locator("#offline-count")).to_have_text("1 interview waiting to be sent")

    # The browser was closed and reopened: the key is gone, the login (a cookie) is not.
    page.evaluate("sessionStorage.removeItem('birge-offline-key')")
    page.context.set_offline(False)
    page.reload()
    expect(page.locator("#offline-message")).to_contain_text("Log out and log in again")
    expect(page.locator("#offline-count")).to_have_text("1 interview waiting to be sent")

    # Logging out warns first; cancelling stays logged in.
    dialogs: list[str] = []

    def answer(dialog: Any, accept: bool) -> None:
        dialogs.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    open_menu(page)
    page.click(".main-nav form button")
    wait_until(page, lambda: dialogs)
    assert dialogs[0] == (
        "1 interview has not been sent yet. It will stay on this device, locked until you log "
        "in again. Log out anyway?"
    )
    assert page.url == form_url
    page.once("dialog", lambda d: answer(d, True))
    open_menu(page)
    page.click(".main-nav form button")
    page.wait_for_url(f"{live_server.url}/login")
    assert len(dialogs) == 2
    assert page.evaluate("sessionStorage.getItem('birge-offline-key')") is None
    assert not [n for n in page.evaluate("caches.keys()") if n.endswith("-pages")]

    # Someone else logs in on the same browser.
    page.fill("#username", "other")
    page.fill("#password", PASSWORD)
    page.click("form.narrow button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(form_url)
    expect(page.locator("#offline-queue")).to_have_attribute("data-count", "0")
    assert count_text(page) == ""
    other_key = json.loads(page.evaluate("sessionStorage.getItem('birge-offline-key')"))["key"]
    assert other_key != key["key"]
    found = page.evaluate(TRY_DECRYPT, [other_key, str(second.id)])
    assert found == {"users": [str(first.id)], "results": ["refused", "refused"]}
    # (The first user's key does open it: the check above is not vacuous.)
    opened = page.evaluate(TRY_DECRYPT, [key["key"], str(second.id)])
    assert "comment=Private" in opened["results"][0]
    assert opened["results"][1] == "refused"  # bound to its user id
    open_menu(page)
    page.click(".main-nav form button")  # nothing of theirs waits: no warning
    page.wait_for_url(f"{live_server.url}/login")
    assert len(dialogs) == 2

    # The first user logs in again: the interview is sent.
    page.fill("#username", "vol")
    page.fill("#password", PASSWORD)
    page.click("form.narrow button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(form_url)
    expect(page.locator("#offline-count")).to_have_text("", timeout=15000)
    saved = submissions()
    assert [s.answers["comment"] for s in saved] == ["Private"]
    assert page.js_errors == []
    page.context.close()


def test_an_interview_the_server_refuses_is_kept_and_opened_to_fix(
    browser: Any, live_server: LiveServer, create_user: Any, small_form: Any
) -> None:
    create_user("vol", "volunteer")
    page = new_page(browser, live_server.url, "vol")
    form_url = f"{live_server.url}/collect/v/{small_form.id}"
    open_form_for_offline(page, form_url)
    page.context.set_offline(True)
    instance_id = page.input_value("[name=_instance_id]")
    interview(page, "30", "Call me on +7 (701) 123-45-67", "Aigul")
    expect = playwright_api.expect
    expect(page.locator("#offline-count")).to_have_text("1 interview waiting to be sent")

    page.context.set_offline(False)  # sent, refused: a phone number in a free text
    problem = page.locator("#offline-problems li")
    expect(problem).to_contain_text("Not sent, needs fixing")
    expect(problem).to_contain_text("seems to contain a phone number")
    expect(page.locator("#offline-count")).to_have_text("1 interview waiting to be sent")
    page.click("#offline-send")  # a refused interview is not sent again as it is
    expect(page.locator("#offline-count")).to_have_text("1 interview waiting to be sent")
    assert submissions() == []

    problem.locator("button").click()  # the form is blank: nothing to replace, no question
    expect(page.locator("#offline-message")).to_contain_text(
        "Anything to add?: This answer seems to contain a phone number."
    )
    assert page.locator("input[name=consent][value=yes]").is_checked()
    assert page.input_value("#age") == "30"
    assert page.input_value("[name=_instance_id]") == instance_id
    page.click("[data-nav=next]")
    assert page.input_value("#comment") == "Call me on +7 (701) 123-45-67"
    assert page.input_value("[name=member-0-member_name]") == "Aigul"
    page.fill("#comment", "Nothing to add")
    page.click("[data-nav=submit]")
    page.wait_for_url(f"{live_server.url}/collect/saved/**")
    saved = submissions()
    assert [(s.instance_id, s.answers["comment"]) for s in saved] == [
        (instance_id, "Nothing to add")
    ]
    page.goto(form_url)
    expect(page.locator("#offline-queue")).to_have_attribute("data-count", "0")
    assert page.js_errors == []
    page.context.close()


def test_an_expired_login_at_submit_loses_nothing(
    browser: Any, live_server: LiveServer, create_user: Any, small_form: Any
) -> None:
    create_user("vol", "volunteer")
    page = new_page(browser, live_server.url, "vol")
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    form_url = f"{live_server.url}/collect/v/{small_form.id}"
    open_form_for_offline(page, form_url)
    page.wait_for_load_state("networkidle")  # no answer left to set the cookie again
    page.context.clear_cookies()  # the session ended (idle timeout) during the interview
    interview(page, "30", "Kept", "Aigul")
    expect = playwright_api.expect
    expect(page.locator("#offline-count")).to_have_text("1 interview waiting to be sent")
    page.click("#offline-send")
    expect(page.locator("#offline-message")).to_have_text(
        "Log in again to send the waiting interviews. They stay on this device."
    )
    assert submissions() == []

    page.goto(f"{live_server.url}/login")
    page.fill("#username", "vol")
    page.fill("#password", PASSWORD)
    page.click("form.narrow button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")  # any page of the site sends the queue
    page.goto(form_url)
    expect(page.locator("#offline-queue")).to_have_attribute("data-count", "0", timeout=15000)
    assert [s.answers["comment"] for s in submissions()] == ["Kept"]
    assert not [text for text in console if "Content Security Policy" in text]
    assert page.js_errors == []
    page.context.close()


def test_a_submit_lost_on_the_network_is_queued_even_without_a_service_worker(
    browser: Any, live_server: LiveServer, create_user: Any, small_form: Any
) -> None:
    create_user("vol", "volunteer")
    page = new_page(browser, live_server.url, "vol", service_workers="block")
    page.goto(f"{live_server.url}/collect/v/{small_form.id}")
    instance_id = page.input_value("[name=_instance_id]")

    def lose_posts(route: Any) -> None:
        if route.request.method == "POST":
            route.abort("connectionreset")  # the browser still believes it is online
        else:
            route.continue_()

    page.route("**/collect/v/*", lose_posts)
    interview(page, "30", "Lost", "Aigul")
    expect = playwright_api.expect
    expect(page.locator("#offline-count")).to_have_text("1 interview waiting to be sent")
    expect(page.locator("#offline-banner")).to_be_visible()
    assert page.input_value("[name=_instance_id]") != instance_id
    assert submissions() == []
    page.unroute("**/collect/v/*")
    page.click("#offline-send")
    expect(page.locator("#offline-count")).to_have_text("")
    assert [(s.instance_id, s.answers["comment"]) for s in submissions()] == [(instance_id, "Lost")]
    assert page.js_errors == []
    page.context.close()
