"""Groups nested at any depth, a group inside a repeat and a name used in two groups (issue 9,
part 3): the web form shows the groups nested, and the answers reach storage and the export
tables the same way from the web form and from ODK Collect."""

from __future__ import annotations

import io
import os
import re
import uuid
import xml.etree.ElementTree as ET  # builds test documents only; parsing uses defusedxml
from collections.abc import Mapping
from typing import Any

import defusedxml.ElementTree as safe_xml
import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.extensions import db
from tests.factories import PASSWORD, csv_export, csv_tables
from tests.survey.instruments.test_structure import NESTED

pytestmark = pytest.mark.sqlite_only

HTTPS = "https://localhost"
XFORMS = "http://www.w3.org/2002/xforms"
XHTML = "http://www.w3.org/1999/xhtml"
JAVAROSA = "http://openrosa.org/javarosa"
RESPONSE = "{http://openrosa.org/http/response}"

# The interview, by XForm path below the instance root (repeat entries as lists).
BY_PATH: dict[str, Any] = {
    "household/village": "Akkol",
    "household/dwelling/rooms": "3",
    "household/dwelling/water/kind": "well",
    "household/member": [
        {"mname": "Aru", "health/age": "34", "health/kind": "polyclinic"},
        {"mname": "Dana", "health/age": "9", "health/kind": "school nurse"},
    ],
}
STORED = {
    "village": "Akkol",
    "rooms": 3,
    "kind": "well",
    "member": [
        {"mname": "Aru", "age": 34, "health_kind": "polyclinic"},
        {"mname": "Dana", "age": 9, "health_kind": "school nurse"},
    ],
}


def web_form_data(instance_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "_instance_id": instance_id,
        "_started_at": "2025-01-10T09:00:00Z",
        "village": "Akkol",
        "rooms": "3",
        "kind": "well",
    }
    for index, entry in enumerate(STORED["member"]):
        data[f"member-{index}-_entry"] = "1"
        data.update({f"member-{index}-{k}": str(v) for k, v in entry.items()})
    return data


def collect_submission(xform: bytes, values: Mapping[str, Any], instance_id: str) -> bytes:
    """The instance ODK Collect writes, filled by path (names repeat across groups)."""
    html = safe_xml.fromstring(xform)
    primary = html.find(f"./{{{XHTML}}}head/{{{XFORMS}}}model/{{{XFORMS}}}instance")[0]
    root = ET.Element(primary.tag.rpartition("}")[2], {"id": primary.get("id")})
    if primary.get("version"):
        root.set("version", primary.get("version"))

    def fill(template: ET.Element, out: ET.Element, prefix: str, values: Mapping) -> None:
        repeated: set[str] = set()
        for child in template:
            name = child.tag.rpartition("}")[2]
            path = f"{prefix}{name}"
            if child.get(f"{{{JAVAROSA}}}template") is not None:
                repeated.add(name)
                for entry in values.get(path, []):
                    fill(child, ET.SubElement(out, name), "", entry)
            elif name in repeated:
                continue
            elif len(child):
                fill(child, ET.SubElement(out, name), f"{path}/", values)
            elif name == "instanceID":
                ET.SubElement(out, name).text = instance_id
            else:
                ET.SubElement(out, name).text = values.get(path)

    fill(primary, root, "", values)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def post_submission(client: Any, document: bytes) -> Any:
    """POST a submission's XML to /submission as ODK Collect does (the volunteer, HTTPS)."""
    return client.post(
        "/submission",
        data={"xml_submission_file": (io.BytesIO(document), "submission.xml", "text/xml")},
        content_type="multipart/form-data",
        auth=("volunteer", PASSWORD),
        headers={"X-OpenRosa-Version": "1.0"},
        base_url=HTTPS,
    )


def send_from_collect(client: Any, values: Mapping[str, Any], instance_id: str) -> Any:
    """Download test_form's XForm and send it filled by path, as ODK Collect does."""
    xform = client.get(
        "/forms/test_form/1/form.xml", auth=("volunteer", PASSWORD), base_url=HTTPS
    ).data
    return post_submission(client, collect_submission(xform, values, instance_id))


def test_nested_groups_from_the_web_form_and_from_collect_reach_the_export(
    client, auth, create_instrument, survey_round
) -> None:
    version = create_instrument(survey=NESTED)
    auth.login("volunteer")
    page = client.get(f"/collect/v/{version.id}").text
    # Each group opens inside the one that holds it, and closes before the next item.
    dwelling, water, rooms, member = (
        page.index('data-group="dwelling"'),
        page.index('data-group="water"'),
        page.index('data-question="rooms"'),
        page.index('data-repeat="member"'),
    )
    assert dwelling < rooms < water < member
    between = page[water:member]
    assert between.count("<fieldset") == between.count("</fieldset>") - 1
    assert 'data-group="health"' in page.split('id="repeat-template-member"')[1]

    web_id = f"uuid:{uuid.uuid4()}"
    response = client.post(f"/collect/v/{version.id}", data=web_form_data(web_id))
    assert response.status_code == 302, re.findall(r'data-error-for="[^"]+">[^<]+<', response.text)

    odk_id = f"uuid:{uuid.uuid4()}"
    sent = send_from_collect(client, BY_PATH, odk_id)
    assert sent.status_code == 201, sent.text
    stored = {s.instance_id: s.answers for s in db.session.execute(select(Submission)).scalars()}
    assert stored[web_id] == STORED
    assert stored[odk_id] == STORED

    auth.logout()
    auth.login("admin")
    for submission_id in (sid for (sid,) in db.session.execute(select(Submission.id))):
        shown = client.get(f"/submissions/{submission_id}")
        assert shown.status_code == 200 and "polyclinic" in shown.text
        correcting = client.get(f"/submissions/{submission_id}/correct")
        assert correcting.status_code == 200
        assert 'data-group="water"' in correcting.text and 'value="well"' in correcting.text
    tables = csv_tables(csv_export(client, "test_form"))
    assert [(r["village"], r["rooms"], r["kind"]) for r in tables["respondents"]] == [
        ("Akkol", "3", "well")
    ] * 2
    members = sorted(
        (r["_submission_id"], r["_index"], r["mname"], r["age"], r["health_kind"])
        for r in tables["member"]
    )
    ids = sorted(r["_submission_id"] for r in tables["respondents"])
    assert members == [
        (ids[0], "1", "Aru", "34", "polyclinic"),
        (ids[0], "2", "Dana", "9", "school nurse"),
        (ids[1], "1", "Aru", "34", "polyclinic"),
        (ids[1], "2", "Dana", "9", "school nurse"),
    ]


def test_a_nested_groups_relevant_holds_for_its_questions(
    client, auth, create_instrument, survey_round
) -> None:
    version = create_instrument(survey=NESTED)
    auth.login("volunteer")
    data = {**web_form_data(f"uuid:{uuid.uuid4()}"), "village": "none"}
    response = client.post(f"/collect/v/{version.id}", data=data)
    assert response.status_code == 302
    (answers,) = [s.answers for s in db.session.execute(select(Submission)).scalars()]
    # Dwelling is not relevant, so neither are its questions, nor those of the group in it;
    # the member's health group depends on rooms, which is now unanswered.
    assert "rooms" not in answers and "kind" not in answers
    assert answers["member"] == [{"mname": "Aru"}, {"mname": "Dana"}]


def test_odk_engine_fills_the_nested_form_and_the_server_stores_it(
    client, create_user, create_instrument, survey_round
) -> None:
    from tests.odk_engine import engine_missing, fill_form

    missing = engine_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"ODK's engine must run in CI: {missing}")
        pytest.skip(missing)
    create_user("volunteer", "volunteer")
    create_instrument(survey=NESTED)
    xform = client.get("/forms/test_form/1/form.xml", auth=("volunteer", PASSWORD), base_url=HTTPS)
    assert xform.status_code == 200
    answers: dict[str, Any] = {
        "/data/household/village": "Akkol",
        "/data/household/dwelling/rooms": 3,
        "/data/household/dwelling/water/kind": "well",
    }
    for index, entry in enumerate(BY_PATH["household/member"], 1):
        for path, value in entry.items():
            answers[f"/data/household/member[{index}]/{path}"] = value
    result = fill_form(xform.get_data(as_text=True), answers=answers)
    assert result["status"] == "ok", result["errors"]
    sent = post_submission(client, result["submission_xml"].encode())
    assert sent.status_code == 201, sent.text
    (stored,) = [s.answers for s in db.session.execute(select(Submission)).scalars()]
    assert stored == STORED


def test_a_version_stored_before_paths_reads_submissions_as_before(app) -> None:
    """Versions imported before groups could nest have no paths: a question is read at the top
    or in its section, repeat members in their repeat, as then."""
    from survey.collection.openrosa import parse_submission
    from survey.instruments.spec import InstrumentSpec
    from survey.instruments.xlsform import load_xlsform
    from tests.factories import xlsform_bytes

    rows = [
        ["type", "name", "label"],
        ["text", "loose", "Loose"],
        ["begin_group", "sec", "Section"],
        ["integer", "rooms", "Rooms"],
        ["begin_repeat", "member", "Member"],
        ["text", "mname", "Name"],
        ["end_repeat", "", ""],
        ["end_group", "", ""],
    ]
    stored = load_xlsform(xlsform_bytes(rows)).spec.to_json()
    for section in stored["sections"]:
        for item in section["items"]:
            item.pop("path"), item.pop("group")
            for question in item.get("questions", []):
                question.pop("path"), question.pop("group")
    stored.pop("groups")
    old = InstrumentSpec.from_json(stored)
    assert all(q.path is None for q in old.iter_questions())
    document = (
        b"<data id='test_form' version='1'><loose>x</loose><sec><rooms>2</rooms>"
        b"<member><mname>A</mname></member><member><mname>B</mname></member></sec>"
        b"<meta><instanceID>uuid:5a0c3f0e-8d6c-4f43-9d3a-1c2b3a4d5e6f</instanceID></meta></data>"
    )
    parsed = parse_submission(document, old)
    assert parsed.answers == {"loose": "x", "rooms": 2, "member": [{"mname": "A"}, {"mname": "B"}]}
    assert parse_submission(document, InstrumentSpec.from_json(old.to_json())).answers == (
        parsed.answers
    )
