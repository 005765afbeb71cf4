"""The volunteer's form through the Flask test client: save once, refuse clearly, keep input."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from survey.collection.models import Refusal, Submission
from survey.extensions import db

SURVEY = [
    [
        "type",
        "name",
        "label::English (en)",
        "label::Russian (ru)",
        "label::Kazakh (kk)",
        "required",
        "relevant",
        "constraint",
        "constraint_message::English (en)",
        "constraint_message::Russian (ru)",
        "calculation",
        "appearance",
    ],
    ["begin_group", "intro", "Interview", "Интервью", "Сұхбат", "", "", "", "", "", "", ""],
    [
        "select_one district",
        "district",
        "District",
        "Район",
        "Аудан",
        "yes",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
    ["select_one yn", "consent", "Consent", "Согласие", "Келісім", "yes", "", "", "", "", "", ""],
    [
        "integer",
        "age",
        "Age",
        "Возраст",
        "Жасы",
        "yes",
        "${consent} = 'yes'",
        ". <= 120",
        "Too old",
        "Слишком много",
        "",
        "",
    ],
    ["end_group", "", "", "", "", "", "", "", "", "", "", ""],
    [
        "begin_group",
        "main",
        "Main",
        "Основное",
        "Негізгі",
        "",
        "${consent} = 'yes' and ${age} >= 18",
        "",
        "",
        "",
        "",
        "",
    ],
    [
        "select_multiple fruit or_other",
        "fruits",
        "Fruits",
        "Фрукты",
        "Жемістер",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
    ["text", "message", "Message", "Сообщение", "Хабар", "", "", "", "", "", "", "multiline"],
    ["calculate", "age_next", "", "", "", "", "", "", "", "", "${age} + 1", ""],
    ["begin_repeat", "member", "Member", "Член семьи", "Мүше", "", "", "", "", "", "", ""],
    [
        "integer",
        "member_age",
        "Member age",
        "Возраст члена",
        "Мүшенің жасы",
        "yes",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
    ["end_repeat", "", "", "", "", "", "", "", "", "", "", ""],
    ["end_group", "", "", "", "", "", "", "", "", "", "", ""],
]
CHOICES = [
    ["list_name", "name", "label::English (en)", "label::Russian (ru)", "label::Kazakh (kk)"],
    ["yn", "yes", "Yes", "Да", "Иә"],
    ["yn", "no", "No", "Нет", "Жоқ"],
    ["district", "semey", "Semey", "Семей", "Семей"],
    ["district", "urzhar", "Urzhar", "Урджар", "Үржар"],
    ["fruit", "apple", "Apple", "Яблоко", "Алма"],
]
SETTINGS = {
    "default_language": "English (en)",
    "form_id": "mini",
    "version": "1",
    "consent_question": "consent",
    "age_question": "age",
    "district_question": "district",
}


@pytest.fixture
def version(create_instrument, survey_round):
    return create_instrument(survey=SURVEY, choices=CHOICES, settings=SETTINGS)


@pytest.fixture
def volunteer(auth):
    return auth.login("volunteer")


def post(client, version, data, **extra):
    payload = {"_instance_id": f"uuid:{uuid.uuid4()}", "_started_at": "2025-01-10T10:00:00+00:00"}
    payload.update(data)
    return client.post(f"/collect/v/{version.id}", data=payload, **extra)


VALID = {
    "district": "semey",
    "consent": "yes",
    "age": "67",
    "fruits": ["apple", "other"],
    "fruits_other": "plums",
    "message": "We need doctors",
    "member-0-_entry": "1",
    "member-0-member_age": "40",
}


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_form_renders_in_each_language(client, version, volunteer) -> None:
    for lang, word in (("en", "Consent"), ("ru", "Согласие"), ("kk", "Келісім")):
        page = client.get(f"/collect/v/{version.id}?lang={lang}")
        assert page.status_code == 200
        assert word in page.text
        assert f'<html lang="{lang}">' in page.text
    assert 'name="_instance_id" type="hidden" value="uuid:' in page.text


def test_valid_submission_is_saved_with_receipt(client, version, volunteer) -> None:
    response = post(client, version, VALID)
    assert response.status_code == 302
    assert "/collect/saved/" in response.headers["Location"]
    submission = db.session.execute(select(Submission)).scalar_one()
    assert submission.answers == {
        "district": "semey",
        "consent": "yes",
        "age": 67,
        "fruits": ["apple", "other"],
        "fruits_other": "plums",
        "message": "We need doctors",
        "age_next": 68,
        "member": [{"member_age": 40}],
    }
    assert submission.instrument_version_id == version.id
    assert submission.entered_by_id == volunteer.id
    assert submission.district == "semey"
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", submission.receipt_code)
    page = client.get(response.headers["Location"])
    assert submission.receipt_code in page.text


def test_resend_is_acknowledged_once_and_conflict_refused(client, version, volunteer) -> None:
    data = {**VALID, "_instance_id": f"uuid:{uuid.uuid4()}"}
    first = post(client, version, data)
    second = post(client, version, data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert count(Submission) == 1
    changed = post(client, version, {**data, "age": "68"})
    assert changed.status_code == 409
    assert "already saved with different answers" in changed.text
    assert 'value="68"' in changed.text  # what was typed is kept
    assert db.session.execute(select(Submission.answers)).scalar_one()["age"] == 67


def test_errors_are_shown_next_to_fields_and_input_kept(client, version, volunteer) -> None:
    response = post(client, version, {**VALID, "age": "200", "message": "Hello <b>x</b>"})
    assert response.status_code == 422
    assert "Too old" in response.text
    assert 'value="200"' in response.text
    assert "Hello &lt;b&gt;x&lt;/b&gt;" in response.text
    assert count(Submission) == 0
    russian = post(client, version, {**VALID, "age": "abc"}, query_string={"lang": "ru"})
    assert russian.status_code == 422
    assert 'value="abc"' in russian.text


def test_required_in_relevant_section_only(client, version, volunteer) -> None:
    response = post(
        client,
        version,
        {"district": "semey", "consent": "yes", "age": "30", "member-0-_entry": "1"},
    )
    assert response.status_code == 422
    assert 'data-error-for="member-0-member_age">This question requires an answer.' in response.text


def test_consent_refused_stores_only_a_refusal(client, version, volunteer) -> None:
    response = post(client, version, {"district": "urzhar", "consent": "no", "age": "abc"})
    assert response.status_code == 302
    assert "/collect/refusal/" in response.headers["Location"]
    assert count(Submission) == 0
    refusal = db.session.execute(select(Refusal)).scalar_one()
    assert (refusal.district, refusal.reason) == ("urzhar", "no_consent")


def test_under_age_stores_only_a_refusal(client, version, volunteer) -> None:
    response = post(client, version, {**VALID, "age": "15", "_discard": "1"})
    assert response.status_code == 302
    assert count(Submission) == 0
    assert db.session.execute(select(Refusal.reason)).scalar_one() == "under_age"


def test_a_refusal_that_discards_answers_is_confirmed_first(client, version, volunteer) -> None:
    """Correcting the age to 15 at the end must not lose the interview with one tap."""
    response = post(client, version, {**VALID, "age": "15"})
    assert response.status_code == 409
    assert count(Submission) == 0 and count(Refusal) == 0
    assert "4 answers given after it will be discarded" in response.text
    assert "<strong>Fruits</strong>: Apple, Other" in response.text
    assert "<strong>Message</strong>: We need doctors" in response.text
    assert "<strong>Member 1: Member age</strong>: 40" in response.text
    assert 'value="15"' in response.text and "We need doctors" in response.text  # all kept
    assert 'name="_discard" value="1"' in response.text
    json_answer = post(
        client, version, {**VALID, "age": "15"}, headers={"Accept": "application/json"}
    )
    assert json_answer.status_code == 409 and json_answer.json["status"] == "confirm_discard"
    confirmed = post(client, version, {**VALID, "age": "15", "_discard": ["", "1"]})
    assert confirmed.status_code == 302
    assert count(Submission) == 0 and count(Refusal) == 1


def test_a_refusal_at_consent_with_nothing_after_it_needs_no_confirmation(
    client, version, volunteer
) -> None:
    response = post(client, version, {"district": "urzhar", "consent": "no"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("my IIN is 850101300123", "ID number"),
        ("call +7 (701) 123-45-67", "phone number"),
        ("call 8 701 123 45 67", "phone number"),
        ("write to aigul@example.kz", "e-mail address"),
    ],
)
def test_identifiers_in_free_text_are_refused(client, version, volunteer, text, kind) -> None:
    data = {**VALID, "message": text}
    response = post(client, version, data)
    assert response.status_code == 422
    assert f"seems to contain {'an' if kind != 'phone number' else 'a'} {kind}" in response.text
    assert count(Submission) == 0
    fixed = post(client, version, {**data, "message": "We need doctors"})
    assert fixed.status_code == 302


def test_identifier_in_other_text_is_refused(client, version, volunteer) -> None:
    response = post(client, version, {**VALID, "fruits_other": "ask 87011234567"})
    assert response.status_code == 422
    assert count(Submission) == 0


def test_forged_values_and_unknown_fields(client, version, volunteer) -> None:
    response = post(client, version, {**VALID, "district": "moscow", "is_admin": "1"})
    assert response.status_code == 422
    assert "Choose one of the options shown." in response.text
    ok = post(client, version, {**VALID, "is_admin": "1", "age_next": "1000"})
    assert ok.status_code == 302
    assert db.session.execute(select(Submission.answers)).scalar_one()["age_next"] == 68


def test_bad_instance_id_is_refused(client, version, volunteer) -> None:
    response = post(client, version, {**VALID, "_instance_id": "robert'); drop table"})
    assert response.status_code == 400
    assert count(Submission) == 0


def test_add_and_remove_members_without_javascript(client, version, volunteer) -> None:
    data = {**VALID, "member-1-_entry": "1", "member-1-member_age": "12"}
    added = post(client, version, {**data, "_action": "add:member"})
    assert added.status_code == 200
    assert 'name="member-2-_entry"' in added.text
    removed = post(client, version, {**data, "_action": "remove:member:0"})
    assert 'name="member-1-_entry"' not in removed.text
    assert re.search(r'name="member-0-member_age" id="[^"]+" value="12"', removed.text)
    assert count(Submission) == 0


def test_older_version_stays_pinned(client, version, volunteer, create_instrument) -> None:
    newer = create_instrument(survey=SURVEY, choices=CHOICES, settings={**SETTINGS, "version": "2"})
    assert newer.id != version.id
    start = client.get("/collect/mini")
    assert start.headers["Location"].endswith(f"/collect/v/{newer.id}")
    response = post(client, version, VALID)  # a form opened before the new import
    assert response.status_code == 302
    submission = db.session.execute(select(Submission)).scalar_one()
    assert submission.instrument_version_id == version.id
    shown = client.get(f"/submissions/{submission.id}")
    assert shown.status_code == 200 and "Semey" in shown.text


def test_other_volunteers_cannot_see_a_submission(client, version, auth) -> None:
    auth.login("volunteer", "first")
    post(client, version, VALID)
    submission = db.session.execute(select(Submission)).scalar_one()
    auth.logout()
    auth.login("volunteer", "second")
    assert client.get(f"/submissions/{submission.id}").status_code == 404
    assert client.get(f"/collect/saved/{submission.instance_id}").status_code == 404
    assert submission.receipt_code not in client.get("/submissions").text


def test_roles_and_anonymous(client, version, auth) -> None:
    anonymous = client.get(f"/collect/v/{version.id}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    auth.login("advocate")
    assert client.get(f"/collect/v/{version.id}").status_code == 403
    assert client.get("/submissions").status_code == 403


def test_unknown_version_is_404(client, version, volunteer) -> None:
    assert client.get("/collect/v/99999").status_code == 404
    assert client.get("/collect/nope").status_code == 404


def test_no_open_round(client, create_instrument, auth) -> None:
    version = create_instrument(survey=SURVEY, choices=CHOICES, settings=SETTINGS)
    auth.login("volunteer")
    response = post(client, version, VALID)
    assert response.status_code == 409
    assert "No survey round is open" in response.text


@pytest.mark.app_config({"WTF_CSRF_ENABLED": True})
def test_expired_form_token_keeps_the_answers(client, version, create_user) -> None:
    from tests.factories import PASSWORD

    create_user("vol", "volunteer")
    page = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"username": "vol", "password": PASSWORD, "csrf_token": token})
    response = post(client, version, {**VALID, "csrf_token": "forged"})
    assert response.status_code == 400
    assert "Your answers are still here" in response.text
    assert (
        'value="We need doctors"' in response.text or "We need doctors</textarea>" in response.text
    )
    assert count(Submission) == 0
    fresh = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.text).group(1)
    instance = re.search(r'name="_instance_id" type="hidden" value="([^"]+)"', response.text)
    saved = client.post(
        f"/collect/v/{version.id}",
        data={**VALID, "csrf_token": fresh, "_instance_id": instance.group(1)},
    )
    assert saved.status_code == 302
    assert count(Submission) == 1


# -- acknowledgements under a race (issue 11 part 5): decided like OpenRosa's 409 -------------

RACERS = 20


def logged_in_clients(app, auth, usernames):
    """One test client per name, each logged in as that volunteer (created when needed)."""
    from tests.factories import PASSWORD

    clients = []
    for username in usernames:
        auth.login("volunteer", username)  # creates the account once
        other = app.extensions["test_peer"].test_client()
        response = other.post("/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302, response.text
        clients.append(other)
    return clients


def race(clients, version, payloads):
    """Post every payload at once (one thread per client), as offline.js does: JSON answers."""
    import threading
    import traceback

    url = f"/collect/v/{version.id}"  # read here: the threads have no database session
    barrier = threading.Barrier(len(clients))
    answers: list = [None] * len(clients)

    def send(index: int) -> None:
        barrier.wait()
        try:
            response = clients[index].post(
                url,
                data=payloads[index],
                headers={"Accept": "application/json"},
            )
            answers[index] = (response.status_code, response.get_json())
        except Exception:  # reported by the assertions of the test
            answers[index] = (None, {"status": traceback.format_exc()})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(answer is not None for answer in answers), answers
    return answers


def test_racing_posts_with_different_answers_acknowledge_exactly_one(
    app, client, version, auth
) -> None:
    clients = logged_in_clients(app, auth, ["racer"] * RACERS)
    instance_id = f"uuid:{uuid.uuid4()}"
    started = "2025-01-10T10:00:00+00:00"
    payloads = [
        {**VALID, "age": str(20 + i), "_instance_id": instance_id, "_started_at": started}
        for i in range(RACERS)
    ]
    answers = race(clients, version, payloads)
    saved = [(status, body) for status, body in answers if body["status"] == "saved"]
    assert len(saved) == 1, answers
    stored = db.session.execute(select(Submission)).scalar_one()
    assert saved[0][1]["receipt_code"] == stored.receipt_code
    winner = answers.index(saved[0])
    assert stored.answers["age"] == 20 + winner
    losers = [answer for index, answer in enumerate(answers) if index != winner]
    for status, body in losers:
        assert (status, body["status"]) == (409, "conflict"), answers
        assert body["receipt_code"] is None
        assert "different answers" in body["message"]
    assert count(Submission) == 1


def test_racing_resends_by_another_volunteer_never_get_the_receipt(
    app, client, version, auth
) -> None:
    names = ["first", "second"] * (RACERS // 2)
    clients = logged_in_clients(app, auth, names)
    payload = {**VALID, "_instance_id": f"uuid:{uuid.uuid4()}", "_started_at": "2025-01-10"}
    answers = race(clients, version, [payload] * RACERS)
    assert count(Submission) == 1
    stored = db.session.execute(select(Submission)).scalar_one()
    owner = stored.entered_by.username
    assert sum(body["status"] == "saved" for _status, body in answers) == 1, answers
    for name, (_status, body) in zip(names, answers, strict=True):
        assert body["status"] in {"saved", "duplicate"}, answers  # the same answers: no conflict
        if name == owner:
            assert body["receipt_code"] == stored.receipt_code
        else:
            assert body["receipt_code"] is None, answers
            assert stored.receipt_code not in str(body)


def test_racing_resends_from_a_device_with_its_own_code_are_acknowledged(
    app, client, version, auth
) -> None:
    """An offline queue sends the code the device gave the respondent: the racing inserts then
    clash on the receipt code as well as the instanceID, whichever the database checks first."""
    from survey.collection.privacy import device_receipt_code

    clients = logged_in_clients(app, auth, ["racer"] * RACERS)
    instance_id = f"uuid:{uuid.uuid4()}"
    payload = {
        **VALID,
        "_instance_id": instance_id,
        "_started_at": "2025-01-10",
        "_receipt_code": device_receipt_code(instance_id),
    }
    answers = race(clients, version, [payload] * RACERS)
    assert count(Submission) == 1
    assert sum(body["status"] == "saved" for _status, body in answers) == 1, answers
    assert all(body["status"] in {"saved", "duplicate"} for _status, body in answers), answers
    stored = db.session.execute(select(Submission)).scalar_one()
    assert stored.receipt_code == device_receipt_code(instance_id)


def test_a_resend_that_loses_the_race_on_its_receipt_code_is_a_duplicate(
    client, version, auth, monkeypatch
) -> None:
    """The other request committed between this one's look-up and its insert: the insert then
    clashes on the device's code (or the instanceID), and the interview is decided again."""
    from survey.collection import services
    from survey.collection.privacy import device_receipt_code

    instance_id = f"uuid:{uuid.uuid4()}"
    payload = {
        **VALID,
        "_instance_id": instance_id,
        "_receipt_code": device_receipt_code(instance_id),
    }
    auth.login("volunteer")
    assert post(client, version, payload).status_code == 302
    looked = services._arrival
    calls: list[int] = []

    def not_yet_committed(*args):
        calls.append(1)
        return (None, None, False) if len(calls) == 1 else looked(*args)

    monkeypatch.setattr(services, "_arrival", not_yet_committed)
    again = post(client, version, payload, headers={"Accept": "application/json"})
    assert again.get_json()["status"] == "duplicate", again.text
    assert len(calls) == 2 and count(Submission) == 1


def test_resend_by_another_volunteer_does_not_show_the_receipt(
    client, version, auth, create_user
) -> None:
    payload = {**VALID, "_instance_id": f"uuid:{uuid.uuid4()}"}
    auth.login("volunteer", "first")
    assert post(client, version, payload).status_code == 302
    stored = db.session.execute(select(Submission)).scalar_one()
    auth.logout()
    auth.login("volunteer", "second")
    as_json = post(client, version, payload, headers={"Accept": "application/json"})
    assert as_json.get_json()["status"] == "duplicate"
    assert stored.receipt_code not in as_json.text
    as_page = post(client, version, payload, follow_redirects=True)
    assert as_page.status_code == 200
    assert stored.receipt_code not in as_page.text
    assert "already received" in as_page.text
    assert count(Submission) == 1


def test_conflict_keeps_the_answers_and_offers_a_new_interview(client, version, volunteer) -> None:
    """A changed resend is refused; submitting the kept answers again saves a new interview."""
    data = {**VALID, "_instance_id": f"uuid:{uuid.uuid4()}"}
    assert post(client, version, data).status_code == 302
    changed = post(client, version, {**data, "age": "68"})
    assert changed.status_code == 409
    fresh = re.search(r'name="_instance_id" type="hidden" value="([^"]+)"', changed.text).group(1)
    assert fresh != data["_instance_id"]
    again = post(client, version, {**data, "age": "68", "_instance_id": fresh})
    assert again.status_code == 302
    ages = sorted(a["age"] for a in db.session.execute(select(Submission.answers)).scalars())
    assert ages == [67, 68]


DATED_SURVEY = [
    ["type", "name", "label::English (en)", "required"],
    ["date", "interview_date", "Date of the interview", "yes"],
    ["select_one yn", "consent", "Consent", "yes"],
]


def test_interview_date_is_prefilled_and_held_to_the_round(
    client, create_instrument, survey_round, volunteer
) -> None:
    import datetime as dt

    dated = create_instrument(
        survey=DATED_SURVEY,
        choices=CHOICES,
        settings={**SETTINGS, "age_question": "", "district_question": ""},
    )
    page = client.get(f"/collect/v/{dated.id}")
    today = dt.date.today().isoformat()
    assert f'value="{today}"' in page.text
    first = survey_round.starts_on.isoformat()
    assert f'min="{first}" max="{today}"' in page.text
    old = post(client, dated, {"interview_date": "1990-05-01", "consent": "yes"})
    assert old.status_code == 422
    assert "must lie within the survey round Test round" in old.text
    assert count(Submission) == 0
    fine = post(client, dated, {"interview_date": today, "consent": "yes"})
    assert fine.status_code == 302 and count(Submission) == 1


def test_language_chosen_before_login_is_kept_on_the_account(client, create_user) -> None:
    from survey.users.models import User
    from tests.factories import PASSWORD

    create_user("aigerim", "volunteer")
    client.get("/login?lang=kk")
    assert client.get_cookie("birge_lang").value == "kk"
    client.post("/login", data={"username": "aigerim", "password": PASSWORD})
    user = db.session.execute(select(User).where(User.username == "aigerim")).scalar_one()
    assert user.language == "kk"
    assert '<html lang="kk">' in client.get("/").text
