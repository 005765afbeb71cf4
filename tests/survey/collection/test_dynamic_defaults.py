"""Defaults given as expressions (issue 9): evaluated once, when the interview or the repeat
entry is created, as ODK does; ${last-saved#name} reads the volunteer's last saved interview."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest

from survey.instruments.rules import default_values
from survey.instruments.xlsform import load_xlsform
from tests.factories import xlsform_bytes

pytestmark = pytest.mark.sqlite_only

SURVEY = [
    ["type", "name", "label", "default"],
    ["select_one yn", "fee", "Is a fee charged?", "${last-saved#fee}"],
    ["text", "village", "Village", "${last-saved#village}"],
    ["date", "visit", "Visit date", "today()"],
    ["date", "fixed", "Fixed date", "2024-01-31"],
    ["integer", "people", "People", ""],
    ["begin_repeat", "member", "Member", ""],
    ["text", "mname", "Name", "concat('member ', position(..))"],
    ["integer", "share", "Share", "${people} * 10"],
    ["end_repeat", "", "", ""],
]
CHOICES = [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]]
SETTINGS = {"form_id": "defaults", "version": "1"}


def form_bytes() -> bytes:
    return xlsform_bytes(SURVEY, CHOICES, SETTINGS)


def test_a_default_expression_is_kept_as_one_and_a_fixed_default_as_a_value(app) -> None:
    spec = load_xlsform(form_bytes()).spec
    questions = spec.questions_by_name
    assert questions["fee"].default_expression == "${last-saved#fee}"
    assert questions["fee"].default is None
    assert questions["visit"].default_expression == "today()"
    # pyxform's rule: a date's '-' is not an operator, so the fixed date stays a value.
    assert questions["fixed"].default == "2024-01-31"
    assert questions["fixed"].default_expression is None


def test_default_values_are_evaluated_at_creation(app) -> None:
    spec = load_xlsform(form_bytes()).spec
    today = dt.date(2025, 3, 4)
    assert default_values(spec, {}, today=today) == {"visit": "2025-03-04"}
    last = {"fee": "no", "village": "Akkol", "visit": "2025-01-01"}
    assert default_values(spec, {}, today=today, last_saved=last) == {
        "fee": "no",
        "village": "Akkol",
        "visit": "2025-03-04",
    }
    entry = default_values(spec, {"people": 3}, today=today, repeat="member", index=1)
    assert entry == {"mname": "member 2", "share": "30"}


def _field_value(page: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', page)
    if match is None:
        return None
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def test_the_page_fills_defaults_and_reads_the_last_saved_interview(
    client, auth, create_instrument, survey_round
) -> None:
    version = create_instrument(form_bytes())
    auth.login("volunteer")
    page = client.get(f"/collect/v/{version.id}").text
    # Without a saved interview, last-saved gives nothing; today() gives today.
    assert _field_value(page, "village") == ""
    assert _field_value(page, "visit") == dt.date.today().isoformat()
    assert not re.search(r'name="fee"[^>]*value="yes"[^>]*checked', page)

    response = client.post(
        f"/collect/v/{version.id}",
        data={
            "_instance_id": f"uuid:{uuid.uuid4()}",
            "_started_at": "2025-01-10T09:00:00Z",
            "fee": "no",
            "village": "Akkol",
            "visit": dt.date.today().isoformat(),
        },
    )
    assert response.status_code == 302, response.text[:500]

    page = client.get(f"/collect/v/{version.id}").text
    assert _field_value(page, "village") == "Akkol"
    assert re.search(r'<input[^>]*value="no"[^>]*checked', page) or re.search(
        r'<input[^>]*checked[^>]*value="no"', page
    )
    # Another volunteer's last interview is theirs: ODK's last-saved is the device's own.
    auth.logout()
    auth.login("coordinator")
    assert _field_value(client.get(f"/collect/v/{version.id}").text, "village") == ""
    auth.logout()
    auth.login("volunteer")
    page = client.get(f"/collect/v/{version.id}").text
    # The page evaluates a new entry's defaults itself, and a new interview's when it starts
    # one again offline: their trees, fixed defaults and last saved values come with the model.
    model = json.loads(re.search(r'id="form-model"[^>]*>(.*?)</script>', page, re.S).group(1))
    questions = model["questions"]
    assert questions["mname"]["default"]["t"] == "fn"
    assert questions["village"]["default"] == {"t": "last", "n": "village"}
    assert questions["fixed"]["fixedDefault"] == "2024-01-31"
    assert "default" not in questions["fixed"] and "fixedDefault" not in questions["visit"]
    assert "default" not in questions["people"] and "fixedDefault" not in questions["people"]
    assert model["lastSaved"] == {"fee": "no", "village": "Akkol"}


def test_an_entry_added_without_script_gets_its_defaults(
    client, auth, create_instrument, survey_round
) -> None:
    version = create_instrument(form_bytes())
    auth.login("volunteer")
    page = client.post(
        f"/collect/v/{version.id}",
        data={"_instance_id": f"uuid:{uuid.uuid4()}", "people": "4", "_action": "add:member"},
    ).text
    assert _field_value(page, "member-0-mname") == "member 1"
    assert _field_value(page, "member-0-share") == "40"


def test_new_entries_read_the_last_saved_interview_in_the_page(app) -> None:
    """A repeat question's ${last-saved#q} reads the first entry of the last interview; the page
    gets only the values such defaults read, for the entries it adds."""
    from survey.collection.page import form_model
    from survey.instruments.rules import Messages

    survey = [
        ["type", "name", "label", "default"],
        ["text", "village", "Village", ""],
        ["begin_repeat", "member", "Member", ""],
        ["text", "role", "Role", "${last-saved#role}"],
        ["end_repeat", "", "", ""],
    ]
    spec = load_xlsform(xlsform_bytes(survey, None, SETTINGS)).spec
    last = {"village": "Akkol", "member": [{"role": "head"}, {"role": "child"}]}
    model = form_model(spec, "en", Messages(), last_saved=last)
    assert model["lastSaved"] == {"role": "head"}
    # Without one, the names still come (the page fills them from an interview queued offline).
    assert form_model(spec, "en", Messages())["lastSaved"] == {"role": None}
    assert model["questions"]["role"]["default"] == {"t": "last", "n": "role"}
    assert default_values(
        spec, {}, today=dt.date(2025, 1, 1), last_saved=last, repeat="member", index=0
    ) == {"role": "head"}


def test_last_saved_outside_a_default_is_said_to_read_as_empty(app) -> None:
    survey = [
        ["type", "name", "label", "calculation"],
        ["text", "village", "Village", ""],
        ["calculate", "before", "", "${last-saved#village}"],
    ]
    imported = load_xlsform(xlsform_bytes(survey, None, SETTINGS))
    assert any(
        "row 3, column 'calculation'" in w and "${last-saved#village}" in w
        for w in imported.warnings
    ), imported.warnings


COUNTED = [
    ["type", "name", "label", "required", "repeat_count", "default"],
    ["integer", "people", "People", "", "", ""],
    ["text", "village", "Village", "${people} > 5", "", ""],
    ["begin_repeat", "member", "Member", "", "${people}", ""],
    ["text", "mname", "Name", "", "", "concat('member ', position(..))"],
    ["integer", "share", "Share", "", "", "${people} * 10"],
    ["end_repeat", "", "", "", "", ""],
]  # fmt: skip


def test_entries_made_by_repeat_count_without_script_get_their_defaults(
    client, auth, create_instrument, survey_round
) -> None:
    version = create_instrument(xlsform_bytes(COUNTED, None, {"form_id": "counted"}))
    auth.login("volunteer")
    # The village is required with more than five people: the page comes back, with the
    # entries repeat_count made, each with its defaults; an entry already posted keeps its own.
    page = client.post(
        f"/collect/v/{version.id}",
        data={
            "_instance_id": f"uuid:{uuid.uuid4()}",
            "people": "7",
            "member-0-mname": "Aigerim",
            "member-0-share": "",
        },
    ).text
    assert _field_value(page, "member-0-mname") == "Aigerim"
    assert _field_value(page, "member-0-share") == ""
    assert _field_value(page, "member-1-mname") == "member 2"
    assert _field_value(page, "member-6-mname") == "member 7"
    assert _field_value(page, "member-6-share") == "70"


def test_entries_made_by_repeat_count_are_saved_with_their_defaults(
    client, auth, create_instrument, survey_round
) -> None:
    from sqlalchemy import select

    from survey.collection.models import Submission
    from survey.extensions import db

    version = create_instrument(xlsform_bytes(COUNTED, None, {"form_id": "counted"}))
    auth.login("volunteer")
    response = client.post(
        f"/collect/v/{version.id}",
        data={"_instance_id": f"uuid:{uuid.uuid4()}", "people": "2"},
    )
    assert response.status_code == 302, response.text[:500]
    (saved,) = db.session.execute(select(Submission)).scalars()
    assert saved.answers["member"] == [
        {"mname": "member 1", "share": 20},
        {"mname": "member 2", "share": 20},
    ]


NESTED_DEFAULTS = [
    ["type", "name", "label", "default"],
    ["text", "village", "Village", ""],
    ["begin_repeat", "household", "Household", ""],
    ["text", "head", "Head", ""],
    ["begin_repeat", "member", "Member", ""],
    ["text", "tag", "Tag", "concat(../../head, '-', position(..), '-', ${village})"],
    ["end_repeat", "", "", ""],
    ["end_repeat", "", "", ""],
]


def test_default_values_of_an_entry_of_a_repeat_inside_a_repeat(app) -> None:
    spec = load_xlsform(xlsform_bytes(NESTED_DEFAULTS)).spec
    answers = {"village": "Akkol", "household": [{"head": "Aru"}, {"head": "Dana"}]}
    path = [("household", 1), ("member", 2)]
    assert default_values(spec, answers, today=dt.date(2025, 1, 1), path=path) == {
        "tag": "Dana-3-Akkol"
    }


def test_an_inner_entry_added_without_script_gets_its_defaults(
    client, auth, create_instrument, survey_round
) -> None:
    version = create_instrument(survey=NESTED_DEFAULTS)
    auth.login("volunteer")
    page = client.post(
        f"/collect/v/{version.id}",
        data={
            "_instance_id": f"uuid:{uuid.uuid4()}",
            "village": "Akkol",
            "household-0-_entry": "1",
            "household-0-head": "Aru",
            "household-1-_entry": "1",
            "household-1-head": "Dana",
            "household-1-member-0-_entry": "1",
            "_action": "add:household-1-member",
        },
    ).text
    # The second member of the second household, as ODK's odk-new-repeat would fill it.
    assert _field_value(page, "household-1-member-1-tag") == "Dana-2-Akkol"
    assert _field_value(page, "household-1-member-0-tag") == ""


NESTED_COUNTED = [
    ["type", "name", "label", "required", "repeat_count", "default"],
    ["text", "village", "Village", "yes", "", ""],
    ["begin_repeat", "household", "Household", "", "", ""],
    ["text", "head", "Head", "", "", ""],
    ["integer", "people", "People", "", "", ""],
    ["begin_repeat", "member", "Member", "", "${people}", ""],
    ["text", "tag", "Tag", "", "", "concat(../../head, '-', position(..))"],
    ["end_repeat", "", "", "", "", ""],
    ["end_repeat", "", "", "", "", ""],
]  # fmt: skip


def test_inner_entries_made_by_repeat_count_without_script_get_their_defaults(
    client, auth, create_instrument, survey_round
) -> None:
    version = create_instrument(xlsform_bytes(NESTED_COUNTED, None, {"form_id": "nested_counted"}))
    auth.login("volunteer")
    # The village is missing: the page comes back with the counted inner entries, filled.
    page = client.post(
        f"/collect/v/{version.id}",
        data={
            "_instance_id": f"uuid:{uuid.uuid4()}",
            "household-0-_entry": "1",
            "household-0-head": "Aru",
            "household-0-people": "2",
        },
    ).text
    assert _field_value(page, "household-0-member-0-tag") == "Aru-1"
    assert _field_value(page, "household-0-member-1-tag") == "Aru-2"
