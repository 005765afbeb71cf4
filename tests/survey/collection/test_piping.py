"""Answers inside labels, hints, notes and messages ('${name}', <output value="…"/>): filled in
on the page without script from the answers known so far, always as text."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from markupsafe import Markup

from survey.instruments import expressions, piping

pytestmark = pytest.mark.sqlite_only

SURVEY = [
    ["type", "name", "label", "hint", "constraint", "constraint_message", "appearance"],
    ["text", "who", "Who answers?"],
    ["integer", "age", "How old is ${who}?", "Ask ${who} directly", ". < 130",
     "${who} cannot be ${age}"],
    ["note", "greet", "Hello ${who}, next year <output value=\"${age} + 1\"/>"],
    ["select_one place", "place", "Where?"],
    ["select_one place", "place_list", "Where (list)?", "", "", "", "minimal"],
    ["begin_repeat", "member", "Member"],
    ["text", "member_name", "Name of member <output value='position(..)'/> of ${who}"],
    ["end_repeat"],
]  # fmt: skip
SETTINGS = {"form_id": "piping", "version": "1"}
CHOICES = [
    ["list_name", "name", "label"],
    ["place", "home", "At home"],
    ["place", "theirs", "At ${who}'s home"],
]


def context(values: dict) -> expressions.EvalContext:
    return expressions.EvalContext(lookup=values.get, today=dt.date(2024, 3, 1))


def test_parts_split_names_and_outputs() -> None:
    node = expressions.parse("${a} + 1")
    assert piping.parts('Hi ${a}, <output value="${a} + 1"/>!') == (
        "Hi ",
        expressions.Ref("a"),
        ", ",
        node,
        "!",
    )
    assert piping.parts("<OUTPUT value='${a}'>") == (expressions.Ref("a"),)
    assert piping.parts("plain") == ("plain",)
    assert piping.parts('a <output value="1 +"/> b') == ('a <output value="1 +"/> b',)
    assert not piping.has_pieces("no ${ pieces") and not piping.has_pieces(None)


def test_answers_are_text_never_markup() -> None:
    html = piping.render("Hello ${a} & <b>${b}</b>", context({"a": "<img src=x onerror=alert(1)>"}))
    assert isinstance(html, Markup)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&amp; &lt;b&gt;" in html  # the label's own text is escaped too
    assert html.count('<span class="piped" data-expr="') == 2
    assert piping.render("plain <b>", context({})) == "plain <b>"  # autoescaped by Jinja
    assert piping.fill("${a} is ${n}", context({"a": "Ann", "n": 2.5})) == "Ann is 2.5"
    assert piping.fill("${a}", None) == ""
    assert piping.to_json("x ${a}") == ["x ", {"e": {"t": "ref", "n": "a"}}]
    assert piping.to_json("x") is None


@pytest.fixture
def version(create_instrument, survey_round):
    return create_instrument(survey=SURVEY, choices=CHOICES, settings=SETTINGS)


def post(client, version, data):
    payload = {"_instance_id": f"uuid:{uuid.uuid4()}", "_started_at": "2025-01-10T10:00:00+00:00"}
    return client.post(f"/collect/v/{version.id}", data={**payload, **data})


def test_page_without_script_shows_the_answers_known_so_far(client, auth, version) -> None:
    auth.login("volunteer")
    empty = client.get(f"/collect/v/{version.id}").text
    assert 'How old is <span class="piped" data-expr="' in empty
    assert '&#34;who&#34;}"></span>?' in empty  # nothing answered yet
    data = {
        "who": "<b>Ann</b>",
        "age": "40",
        "member-0-_entry": "1",
        "member-0-member_name": "Bo",
        "_action": "add:member",
    }
    page = post(client, version, data).text
    assert "<b>Ann</b>" not in page.replace('value="&lt;b&gt;Ann&lt;/b&gt;"', "")
    who = 'data-expr="{&#34;t&#34;:&#34;ref&#34;,&#34;n&#34;:&#34;who&#34;}"'
    assert f"{who}>&lt;b&gt;Ann&lt;/b&gt;</span>?" in page
    assert "Ask <span" in page
    assert f'At <span class="piped" {who}>&lt;b&gt;Ann&lt;/b&gt;</span>&#39;s home' in page
    assert "At &lt;b&gt;Ann&lt;/b&gt;&#39;s home</option>" in page  # options hold text only
    assert 'next year <span class="piped" data-expr="' in page and '">41</span>' in page
    assert '&#34;t&#34;:&#34;pos&#34;}">1</span> of' in page  # the first entry
    assert '&#34;t&#34;:&#34;pos&#34;}">2</span> of' in page  # the entry just added
    # The model carries the message's parts for the page's script.
    assert (
        '"constraintParts": [{"e": {"n": "who", "t": "ref"}}' in page or "constraintParts" in page
    )


def test_constraint_message_shows_the_answers(client, auth, version) -> None:
    auth.login("volunteer")
    page = post(client, version, {"who": "Ann", "age": "200"})
    assert page.status_code == 422
    assert "Ann cannot be 200" in page.text


def test_submission_pages_show_labels_with_the_answers(app) -> None:
    from survey.collection.lists import readable_answers
    from survey.instruments.xlsform import load_xlsform
    from tests.factories import xlsform_bytes

    spec = load_xlsform(xlsform_bytes(SURVEY, CHOICES, SETTINGS)).spec
    answers = {"who": "Ann", "age": 40, "member": [{"member_name": "Bo"}]}
    labels = [label for _section, label, _text in readable_answers(spec, answers, "default")]
    assert labels == ["Who answers?", "How old is Ann?", "Member 1: Name of member 1 of Ann"]


# Nested groups (branch 'nest') with answers in their labels, at the top and in repeat entries.
NESTED_PIPED = [
    ["type", "name", "label", "hint"],
    ["begin_group", "household", "Household"],
    ["text", "who", "Who answers?"],
    ["begin_group", "home", "Home of ${who}", "Rooms ${who} lives in"],
    ["integer", "rooms", "Rooms"],
    ["end_group"],
    ["begin_repeat", "member", "Member"],
    ["text", "mname", "Name"],
    ["begin_group", "health", "Health of ${mname}, member <output value='position(..)'/>"],
    ["begin_group", "clinic_group", "Clinic of ${mname} near ${who}"],
    ["text", "clinic", "Clinic"],
    ["end_group"],
    ["end_group"],
    ["end_repeat"],
    ["end_group"],
]  # fmt: skip


def test_nested_group_labels_show_answers_in_each_repeat_entry(
    client, auth, create_instrument, survey_round
) -> None:
    version = create_instrument(survey=NESTED_PIPED, settings={"form_id": "nested_piped"})
    auth.login("volunteer")
    data = {
        "who": "<b>Ann</b>",
        "member-0-_entry": "1",
        "member-0-mname": "Bo",
        "member-1-_entry": "1",
        "member-1-mname": "Cy",
        "_action": "add:member",
    }
    page = post(client, version, data).text

    def legends(group: str) -> list[str]:
        found = re.findall(
            rf'<fieldset class="question-group" data-group="{group}">\s*<legend>(.*?)</legend>',
            page,
            re.S,
        )
        return [re.sub(r"<[^>]+>", "", legend) for legend in found]

    assert legends("home") == ["Home of &lt;b&gt;Ann&lt;/b&gt;"]
    assert "Rooms <span" in page  # the group's hint
    # Two entries answered, the one just added, and the template the script clones.
    assert legends("health") == [
        "Health of Bo, member 1",
        "Health of Cy, member 2",
        "Health of , member 3",
        "Health of , member 1",
    ]
    assert legends("clinic_group") == [
        "Clinic of Bo near &lt;b&gt;Ann&lt;/b&gt;",
        "Clinic of Cy near &lt;b&gt;Ann&lt;/b&gt;",
        "Clinic of  near &lt;b&gt;Ann&lt;/b&gt;",
        "Clinic of  near &lt;b&gt;Ann&lt;/b&gt;",
    ]
    assert "<b>Ann</b>" not in page.replace('value="&lt;b&gt;Ann&lt;/b&gt;"', "")
    assert 'data-group="health">\n  <legend>Health of <span class="piped" data-expr=' in page


def test_nested_group_label_outputs_are_checked_at_import() -> None:
    from survey.instruments.xlsform import InstrumentImportError, load_xlsform
    from tests.factories import xlsform_bytes

    survey = [row[:3] for row in NESTED_PIPED]
    survey[3] = ["begin_group", "home", "Home of <output value='${who} +'/>"]
    with pytest.raises(InstrumentImportError) as refused:
        load_xlsform(xlsform_bytes(survey, None, {"form_id": "bad_output"}))
    assert any("row 4, column 'label'" in p for p in refused.value.problems)
