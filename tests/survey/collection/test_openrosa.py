"""OpenRosa 1.0 as ODK Collect speaks it: form list, form download, HEAD handshake, submission.

Requests follow docs.getodk.org "Form List API", "Form Submission API", "HTTP Requests and
Responses" and "Authentication API"; submissions are built from the downloaded XForm's primary
instance, the way Collect writes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import shutil
import uuid
import xml.etree.ElementTree as ET  # builds test documents only; parsing uses defusedxml
from collections.abc import Mapping
from typing import Any

import defusedxml.ElementTree as safe_xml
import pytest
from sqlalchemy import func, select

from survey.collection import openrosa
from survey.collection.models import Refusal, Submission
from survey.extensions import db
from survey.instruments import services as instruments
from survey.users.models import AuditEntry, User
from tests.factories import PASSWORD

# Interview dates must lie within the round the fixtures open around today.
TODAY = dt.date.today().isoformat()

HTTPS = "https://localhost"
XFORMS = "http://www.w3.org/2002/xforms"
XHTML = "http://www.w3.org/1999/xhtml"
JAVAROSA = "http://openrosa.org/javarosa"
ORX = "http://openrosa.org/xforms"
LIST = "{http://openrosa.org/xforms/xformsList}"
RESPONSE = "{http://openrosa.org/http/response}"
OPENROSA_HEADERS = {"X-OpenRosa-Version": "1.0"}

# One interview of the shipped instrument, as typed; the household roster has two members.
INTERVIEW: dict[str, Any] = {
    "interview_language": "ru",
    "interview_mode": "in_person",
    "region": "abai",
    "district": "semey_city",
    "interview_date": TODAY,
    "consent": "yes",
    "age": "67",
    "sex": "female",
    "education": "higher",
    "main_activity": "retired",
    "urban_rural": "urban",
    "settlement": "semey",
    "self_in_territory": "no",
    "self_presence": ["lived"],  # not relevant after "no": both channels must drop it
    "test_participant": "no",
    "mother_in_territory": "yes",
    "father_in_territory": "dnk",
    "grandparents_in_territory": "pnta",
    "zone_self_reported": "maximum",
    "certificate_status": "refused",
    "certificate_refusal_reasons": ["archive_missing", "other"],
    "certificate_refusal_other": "Lost papers",
    "benefits_received": ["one_time_compensation", "monthly_payment"],
    "benefits_adequacy": "2",
    "household_size": "3",
    "member": [
        {
            "relationship": "spouse",
            "member_sex": "male",
            "member_age": "70",
            "member_generation": "g1",
            "member_wg_seeing": "some_difficulty",
            "member_wg_hearing": "a_lot",
            "member_conditions": ["thyroid", "cardiovascular"],
        },
        {
            "relationship": "grandchild",
            "member_sex": "female",
            "member_age": "12",
            "member_generation": "g3",
            "member_school": "yes",
            "member_conditions": ["none"],
        },
    ],
    "conditions": ["thyroid"],
    "unmet_need": "yes",
    "care_barriers": ["cost_medicines", "distance"],
    "wg_seeing": "a_lot",
    "phq_nervous": "2",
    "phq_worry": "1",
    "phq_interest": "0",
    "phq_down": "1",
    "income_band": "100k_200k",
    "income_sources": ["pension", "test_site_payments"],
    "env_priorities": ["water_testing", "health_monitoring"],
    "need_1": "medical_care",
    "need_2": "medicines",
    "reform_descendants_status": "strongly_agree",
    # Decomposed "é" and padding: both channels store NFC, stripped.
    "message_to_states": "  Cafe\u0301 and clinics, please.  ",
}
# Collect also writes the values of calculations; the server recomputes them anyway.
CALCULATED = {"age_band": "60_74", "generation": "g2"}
MINIMAL = {
    "interview_language": "kk",
    "interview_mode": "phone",
    "region": "abai",
    "district": "semey_city",
    "interview_date": TODAY,
    "consent": "yes",
    "age": "45",
    "sex": "male",
    "urban_rural": "rural",
    "household_size": "1",
}


# -- helpers ---------------------------------------------------------------------------------


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def collect_submission(xform: bytes, values: Mapping[str, Any], **meta: str) -> bytes:
    """The instance ODK Collect writes: the form's primary instance filled, repeats repeated."""
    html = safe_xml.fromstring(xform)
    primary = html.find(f"./{{{XHTML}}}head/{{{XFORMS}}}model/{{{XFORMS}}}instance")[0]
    root = ET.Element(local(primary.tag), {k: v for k, v in primary.attrib.items() if "}" not in k})
    root.set("xmlns:jr", JAVAROSA)
    root.set("xmlns:orx", ORX)
    _fill(primary, root, values)
    # meta/instanceID is in the form; Collect adds meta/deprecatedID itself to an edited copy.
    meta_element = root.find("meta")
    for name, value in meta.items():
        item = meta_element.find(name)
        if item is None:
            item = ET.SubElement(meta_element, name)
        item.text = value
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _fill(template: ET.Element, out: ET.Element, values: Mapping[str, Any]) -> None:
    repeated: set[str] = set()
    for child in template:
        name = local(child.tag)
        if child.get(f"{{{JAVAROSA}}}template") is not None:
            repeated.add(name)
            for entry in values.get(name, []):
                _fill(child, ET.SubElement(out, name), entry)
        elif name in repeated:
            continue  # pyxform's default first entry: Collect writes only the real entries
        elif len(child):
            _fill(child, ET.SubElement(out, name), values)
        else:
            value = values.get(name)
            ET.SubElement(out, name).text = (
                " ".join(value) if isinstance(value, list) else None if value is None else value
            )


def web_form_data(values: Mapping[str, Any], instance_id: str) -> dict[str, Any]:
    """The same interview as the web form posts it (field names, repeat entries numbered)."""
    data: dict[str, Any] = {"_instance_id": instance_id, "_started_at": "2025-01-10T09:00:00Z"}
    for name, value in values.items():
        if name == "member":
            for index, entry in enumerate(value):
                data[f"member-{index}-_entry"] = "1"
                data.update({f"member-{index}-{k}": v for k, v in entry.items()})
        else:
            data[name] = value
    return data


def new_instance_id() -> str:
    return f"uuid:{uuid.uuid4()}"


def send(client, document: bytes, auth=("volunteer", PASSWORD), extra_parts=None, **kwargs):
    """POST a submission as Collect does: multipart/form-data, part xml_submission_file."""
    data: dict[str, Any] = {
        "xml_submission_file": (io.BytesIO(document), "submission.xml", "text/xml")
    }
    data.update(extra_parts or {})
    return client.post(
        "/submission",
        data=data,
        content_type="multipart/form-data",
        auth=auth,
        headers=kwargs.pop("headers", OPENROSA_HEADERS),
        base_url=kwargs.pop("base_url", HTTPS),
        **kwargs,
    )


def message(response) -> str:
    """The text of an OpenRosaResponse, checking the envelope and the OpenRosa headers."""
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert int(response.headers["X-OpenRosa-Accept-Content-Length"]) > 0
    root = safe_xml.fromstring(response.data)
    assert root.tag == f"{RESPONSE}OpenRosaResponse"
    item = root.find(f"{RESPONSE}message")
    assert item is not None
    return item.text or ""


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def volunteer(create_user) -> User:
    return create_user("volunteer", "volunteer")


@pytest.fixture
def form(client, default_instrument, survey_round, volunteer) -> bytes:
    """The default instrument's XForm as Collect downloads it."""
    response = client.get(
        f"/forms/birge_needs_assessment/{default_instrument.version}/form.xml",
        auth=("volunteer", PASSWORD),
        base_url=HTTPS,
    )
    assert response.status_code == 200
    return response.data


# -- form list and download ------------------------------------------------------------------


MINI_SURVEY = [["type", "name", "label"], ["text", "a", "A"]]


def test_form_list_follows_the_specification(
    client, default_instrument, create_instrument, volunteer, monkeypatch
) -> None:
    monkeypatch.undo()  # default_instrument stubs the XLSForm reader; these need the real one
    create_instrument(survey=MINI_SURVEY, settings={"form_id": "mini", "version": "1"})
    create_instrument(survey=MINI_SURVEY, settings={"form_id": "mini", "version": "2"})
    response = client.get(
        "/formList", auth=("volunteer", PASSWORD), headers=OPENROSA_HEADERS, base_url=HTTPS
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert response.headers["X-OpenRosa-Accept-Content-Length"] == str(5 * 1024 * 1024)
    root = safe_xml.fromstring(response.data)
    assert root.tag == f"{LIST}xforms"
    entries = root.findall(f"{LIST}xform")
    assert len(entries) == 2
    listed = {}
    for entry in entries:
        # Exactly one of each required element, and nothing optional (no verbose, no media).
        assert sorted(local(c.tag) for c in entry) == sorted(
            ["formID", "name", "version", "hash", "downloadUrl"]
        )
        assert all(c.tag.startswith(LIST) for c in entry)
        listed[entry.findtext(f"{LIST}formID")] = {local(c.tag): c.text for c in entry}
    assert listed["mini"]["version"] == "2"  # the latest version only
    default = listed["birge_needs_assessment"]
    assert default["version"] == default_instrument.version == "2025.1"
    assert default["name"] == default_instrument.title
    assert default["downloadUrl"] == (
        "https://localhost/forms/birge_needs_assessment/2025.1/form.xml"
    )
    for entry in listed.values():
        download = client.get(entry["downloadUrl"], auth=("volunteer", PASSWORD))
        assert download.status_code == 200
        assert download.headers["Content-Type"] == "text/xml; charset=utf-8"
        assert download.headers["X-OpenRosa-Version"] == "1.0"
        # The hash is the MD5 of exactly the bytes served, so Collect sees no false update.
        assert entry["hash"] == "md5:" + hashlib.md5(download.data).hexdigest()  # noqa: S324
        assert entry["hash"] == openrosa.xform_hash(download.data)


def test_form_list_filter_by_form_id(client, default_instrument, volunteer) -> None:
    def form_ids(query: str) -> list[str]:
        response = client.get(f"/formList{query}", auth=("volunteer", PASSWORD), base_url=HTTPS)
        assert response.status_code == 200
        root = safe_xml.fromstring(response.data)
        return [e.findtext(f"{LIST}formID") for e in root.findall(f"{LIST}xform")]

    assert form_ids("?formID=birge_needs_assessment") == ["birge_needs_assessment"]
    assert form_ids("?formID=nothing_like_it") == []
    assert form_ids("?deviceID=collect:abc123") == ["birge_needs_assessment"]


def test_unknown_form_download_is_404(client, default_instrument, volunteer) -> None:
    for url in ("/forms/nope/1/form.xml", "/forms/birge_needs_assessment/1999/form.xml"):
        response = client.get(url, auth=("volunteer", PASSWORD), base_url=HTTPS)
        assert response.status_code == 404
        assert "nope" in message(response) or "1999" in message(response)


@pytest.mark.skipif(shutil.which("java") is None, reason="ODK Validate needs Java")
def test_downloaded_form_passes_odk_validate(form, tmp_path) -> None:
    from pyxform.validators.odk_validate import check_xform

    path = tmp_path / "form.xml"
    path.write_bytes(form)
    warnings = check_xform(str(path))  # raises ODKValidateError when the form is invalid
    assert not [w for w in warnings if "took to long" in w]


# -- handshake and authentication ------------------------------------------------------------


def test_head_submission_is_204_with_openrosa_headers(client, volunteer) -> None:
    for method in (client.head, client.get):
        response = method(
            "/submission", auth=("volunteer", PASSWORD), headers=OPENROSA_HEADERS, base_url=HTTPS
        )
        assert response.status_code == 204
        assert response.headers["X-OpenRosa-Version"] == "1.0"
        assert response.headers["X-OpenRosa-Accept-Content-Length"] == str(5 * 1024 * 1024)
        assert not response.data
        assert "Set-Cookie" not in response.headers  # no browser session is created


def test_missing_and_wrong_credentials_are_401(client, volunteer) -> None:
    for auth in (None, ("volunteer", "not the password"), ("nobody", PASSWORD)):
        for url in ("/formList", "/submission"):
            response = client.head(url, auth=auth, base_url=HTTPS)
            assert response.status_code == 401, (url, auth)
            assert response.headers["WWW-Authenticate"] == 'Basic realm="Birge"'
    response = client.get("/formList", base_url=HTTPS)
    assert "username and password" in message(response)
    wrong = client.get("/formList", auth=("volunteer", "nope"), base_url=HTTPS)
    assert message(wrong) == "Wrong username or password."
    failed = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "login_failed")
    ).scalars()
    # Failed names are kept as keyed hashes, with whether they matched an account.
    assert {(e.target, e.details["known_account"], e.details["via"]) for e in failed} == {
        (None, True, "openrosa"),
        (None, False, "openrosa"),
    }


def test_wrong_passwords_lock_the_account(client, volunteer) -> None:
    for _ in range(5):
        response = client.head("/submission", auth=("volunteer", "wrong"), base_url=HTTPS)
        assert response.status_code == 401
    locked = client.get("/formList", auth=("volunteer", PASSWORD), base_url=HTTPS)
    assert locked.status_code == 401  # even the right password waits out the lockout
    assert "Too many failed attempts" in message(locked)


def test_advocate_is_403(client, create_user, default_instrument) -> None:
    create_user("advocate", "advocate")
    for url in ("/formList", "/submission"):
        response = client.get(url, auth=("advocate", PASSWORD), base_url=HTTPS)
        assert response.status_code == 403
        assert "may not" in message(response)
    posted = send(client, b"<data/>", auth=("advocate", PASSWORD))
    assert posted.status_code == 403


def test_browser_session_counts_for_nothing(client, auth) -> None:
    auth.login("volunteer")
    response = client.get("/formList", base_url=HTTPS)
    assert response.status_code == 401


def test_plain_http_is_refused_before_credentials_are_read(client, volunteer) -> None:
    response = client.head("/submission", auth=("volunteer", "wrong"))
    assert response.status_code == 403
    response = client.get("/formList", auth=("volunteer", PASSWORD))
    assert response.status_code == 403
    assert "HTTPS is required" in message(response)
    assert count(AuditEntry) == 0  # the wrong password above was never even checked


@pytest.mark.app_config({"OPENROSA_ALLOW_HTTP": True})
def test_plain_http_allowed_for_local_testing(client, volunteer) -> None:
    response = client.head("/submission", auth=("volunteer", PASSWORD))
    assert response.status_code == 204


@pytest.mark.app_config({"RATELIMIT_ENABLED": True})
def test_refused_credentials_are_rate_limited(client) -> None:
    for _ in range(60):
        assert client.head("/formList", base_url=HTTPS).status_code == 401
    response = client.get("/formList", base_url=HTTPS)
    assert response.status_code == 429
    assert "Too many failed logins" in message(response)


# -- submissions -----------------------------------------------------------------------------


def test_collect_submission_stores_what_the_web_form_stores(
    client, auth, form, default_instrument
) -> None:
    auth.login("volunteer")
    web_id = new_instance_id()
    web = client.post(f"/collect/v/{default_instrument.id}", data=web_form_data(INTERVIEW, web_id))
    assert web.status_code == 302, web.text

    odk_id = new_instance_id()
    document = collect_submission(form, {**INTERVIEW, **CALCULATED}, instanceID=odk_id)
    response = send(client, document)
    assert response.status_code == 201, message(response)
    from_web = db.session.execute(select(Submission).filter_by(instance_id=web_id)).scalar_one()
    from_odk = db.session.execute(select(Submission).filter_by(instance_id=odk_id)).scalar_one()
    assert message(response) == f"Saved. Receipt code: {from_odk.receipt_code}"
    assert from_odk.answers == from_web.answers
    answers = from_odk.answers
    assert answers["age"] == 67
    assert answers["member"][1] == {
        "relationship": "grandchild",
        "member_sex": "female",
        "member_age": 12,
        "member_generation": "g3",
        "member_school": "yes",
        "member_conditions": ["none"],
    }
    assert answers["certificate_refusal_reasons"] == ["archive_missing", "other"]
    assert answers["interview_date"] == TODAY
    assert answers["message_to_states"] == "Caf\u00e9 and clinics, please."
    assert answers["age_band"] == "60_74"
    assert answers["generation"] == "g2"
    assert "self_presence" not in answers
    assert from_odk.source == "openrosa"
    assert from_web.source == "web"
    assert from_odk.entered_by.username == "volunteer"
    assert from_odk.district == "semey_city"
    audit = db.session.execute(
        select(AuditEntry).where(AuditEntry.target == f"submission {from_odk.id}")
    ).scalar_one()
    assert audit.action == "submission_created"
    assert audit.username == "volunteer"
    assert "answers" not in (audit.details or {})


def test_resend_is_acknowledged_once_and_a_change_is_refused(client, form) -> None:
    instance_id = new_instance_id()
    document = collect_submission(form, MINIMAL, instanceID=instance_id)
    first = send(client, document)
    again = send(client, document)
    assert first.status_code == again.status_code == 201
    assert message(first) == message(again)
    assert count(Submission) == 1
    changed = send(
        client, collect_submission(form, {**MINIMAL, "age": "46"}, instanceID=instance_id)
    )
    assert changed.status_code == 409
    assert "different answers" in message(changed)
    assert db.session.execute(select(Submission.answers)).scalar_one()["age"] == 45


def test_resend_by_someone_else_does_not_show_the_receipt(client, form, create_user) -> None:
    create_user("other", "volunteer")
    document = collect_submission(form, MINIMAL, instanceID=new_instance_id())
    assert send(client, document).status_code == 201
    again = send(client, document, auth=("other", PASSWORD))
    assert again.status_code == 201
    assert message(again) == "Already received."


def test_concurrent_resend_is_answered_like_a_resend(client, form, monkeypatch) -> None:
    from sqlalchemy.exc import IntegrityError

    from survey.collection import services

    real = services.save_submission
    calls: list[str] = []

    def racing(**kwargs: Any) -> Any:
        calls.append(kwargs["instance_id"])
        if len(calls) == 1:  # another request stores the same interview first
            real(**kwargs)
            db.session.commit()
            raise IntegrityError(
                "INSERT", {}, Exception("UNIQUE constraint failed: submissions.instance_id")
            )
        return real(**kwargs)

    monkeypatch.setattr(services, "save_submission", racing)
    response = send(client, collect_submission(form, MINIMAL, instanceID=new_instance_id()))
    assert response.status_code == 201
    stored = db.session.execute(select(Submission)).scalar_one()
    assert message(response) == f"Saved. Receipt code: {stored.receipt_code}"
    assert len(calls) == 2


def test_edited_copy_of_a_stored_interview_is_refused(client, form) -> None:
    first_id = new_instance_id()
    assert send(client, collect_submission(form, MINIMAL, instanceID=first_id)).status_code == 201
    edited = collect_submission(
        form, {**MINIMAL, "age": "50"}, instanceID=new_instance_id(), deprecatedID=first_id
    )
    response = send(client, edited)
    assert response.status_code == 409
    assert count(Submission) == 1


def test_unknown_form_and_unknown_version_are_404(client, form) -> None:
    document = collect_submission(form, MINIMAL, instanceID=new_instance_id())
    unknown_form = document.replace(b'id="birge_needs_assessment"', b'id="other_survey"')
    response = send(client, unknown_form)
    assert response.status_code == 404
    assert "other_survey" in message(response)
    unknown_version = document.replace(b'version="2025.1"', b'version="1999.9"')
    response = send(client, unknown_version)
    assert response.status_code == 404
    assert "1999.9" in message(response)
    assert count(Submission) == 0


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE data [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<data id="birge_needs_assessment" version="2025.1"><age>&lol3;</age></data>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<data id="birge_needs_assessment" version="2025.1"><message_to_states>&secret;</message_to_states>
<meta><instanceID>uuid:0b5ba4b4-4b43-4b5a-9d4f-0f3b2b9d3c11</instanceID></meta></data>"""
BARE_DTD = b"""<?xml version="1.0"?><!DOCTYPE data SYSTEM "http://example.org/x.dtd">
<data id="birge_needs_assessment" version="2025.1"/>"""


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b"<data id='birge_needs_assessment' version='2025.1'><age>", "not well-formed"),
        (b"", "not well-formed"),
        (BILLION_LAUGHS, "DTD or entities"),
        (EXTERNAL_ENTITY, "DTD or entities"),
        (BARE_DTD, "DTD or entities"),
        (b"<data version='2025.1'/>", "no 'id' attribute"),
    ],
)
def test_unreadable_documents_are_400(client, form, document, expected) -> None:
    response = send(client, document)
    assert response.status_code == 400
    assert expected in message(response)
    assert count(Submission) == 0


def test_missing_instance_id_is_400(client, form) -> None:
    response = send(client, collect_submission(form, MINIMAL))
    assert response.status_code == 400
    assert "instanceID" in message(response)
    response = send(client, collect_submission(form, MINIMAL, instanceID="uuid:not-a-uuid"))
    assert response.status_code == 400


def test_request_shape_is_checked(client, form) -> None:
    document = collect_submission(form, MINIMAL, instanceID=new_instance_id())
    photo = {"photo.jpg": (io.BytesIO(b"\xff\xd8\xff"), "photo.jpg", "image/jpeg")}
    response = send(client, document, extra_parts=photo)
    assert response.status_code == 400
    assert "no attachments" in message(response)
    assert "photo.jpg" in message(response)
    missing = client.post(
        "/submission",
        data={"other": (io.BytesIO(document), "x.xml")},
        auth=("volunteer", PASSWORD),
        base_url=HTTPS,
    )
    assert missing.status_code == 400
    raw = client.post(
        "/submission",
        data=document,
        content_type="text/xml",
        auth=("volunteer", PASSWORD),
        base_url=HTTPS,
    )
    assert raw.status_code == 400
    assert "multipart/form-data" in message(raw)
    assert count(Submission) == 0


def test_rule_errors_are_listed_with_labels_and_keys(client, form) -> None:
    document = collect_submission(
        form,
        {**MINIMAL, "age": "200", "household_size": "many", "sex": "unknown"},
        instanceID=new_instance_id(),
    )
    response = send(client, document)
    assert response.status_code == 400
    assert response.headers["Content-Language"] == "en"
    text = message(response)
    assert text.startswith("Not stored.")
    assert "[age]" in text
    assert "How old are you" in text
    assert "[household_size]: Enter a whole number" in text
    assert "[sex]: Choose one of the options shown." in text
    assert count(Submission) == 0


def test_messages_reach_the_device_in_its_language_or_the_accounts(client, form) -> None:
    """The person holding the phone reads Russian or Kazakh, as on the web pages: the account's
    own language first, else the one the device asks for."""
    values = {**MINIMAL, "age": "200", "household_size": "many"}
    russian = {**OPENROSA_HEADERS, "Accept-Language": "ru"}
    response = send(
        client, collect_submission(form, values, instanceID=new_instance_id()), headers=russian
    )
    assert response.status_code == 400
    assert response.headers["Content-Language"] == "ru"
    text = message(response)
    assert text.startswith("Не сохранено. Исправьте эти ответы")
    assert "Not stored" not in text and "Enter a whole number" not in text
    assert "[household_size]" in text
    refused = send(client, b"<data/>", auth=("volunteer", "wrong"), headers=russian)
    assert message(refused) == "Неверное имя пользователя или пароль."

    volunteer = db.session.execute(select(User).filter_by(username="volunteer")).scalar_one()
    volunteer.language = "kk"  # the account's language wins over the device's
    db.session.commit()
    saved = send(
        client, collect_submission(form, MINIMAL, instanceID=new_instance_id()), headers=russian
    )
    assert saved.status_code == 201
    assert saved.headers["Content-Language"] == "kk"
    assert message(saved).startswith("Сақталды. Түбіртек коды: ")


def test_errors_inside_the_roster_name_the_member(client, form) -> None:
    values = {**MINIMAL, "household_size": "2", "member": [{"relationship": "spouse"}]}
    response = send(client, collect_submission(form, values, instanceID=new_instance_id()))
    assert response.status_code == 400
    assert "Household member 1: " in message(response)
    assert "[member_sex]" in message(response)


def test_refusal_stores_only_a_refusal(client, form) -> None:
    values = {**MINIMAL, "consent": "no", "age": None, "sex": None, "household_size": None}
    instance_id = new_instance_id()
    response = send(client, collect_submission(form, values, instanceID=instance_id))
    assert response.status_code == 201
    assert message(response) == "Refusal recorded, no answers stored."
    refusal = db.session.execute(select(Refusal)).scalar_one()
    assert (refusal.instance_id, refusal.reason, refusal.district) == (
        instance_id,
        "no_consent",
        "semey_city",
    )
    assert count(Submission) == 0
    assert send(client, collect_submission(form, values, instanceID=instance_id)).status_code == 201
    assert count(Refusal) == 1


def test_under_age_is_a_refusal(client, form) -> None:
    values = {**MINIMAL, "age": "16"}
    response = send(client, collect_submission(form, values, instanceID=new_instance_id()))
    assert response.status_code == 201
    assert db.session.execute(select(Refusal.reason)).scalar_one() == "under_age"
    assert count(Submission) == 0


@pytest.mark.parametrize(
    ("text", "kind"),
    [("Call me: +7 701 234 56 78", "phone number"), ("IIN 650101300123", "ID number")],
)
def test_identifiers_in_free_text_are_refused(client, form, text, kind) -> None:
    values = {**MINIMAL, "message_to_states": text}
    response = send(client, collect_submission(form, values, instanceID=new_instance_id()))
    assert response.status_code == 400
    assert kind in message(response)
    assert "[message_to_states]" in message(response)
    assert "Remove it" in message(response)
    assert count(Submission) == 0


@pytest.mark.app_config({"MAX_CONTENT_LENGTH": 4096})
def test_oversized_submission_is_413(client, form) -> None:
    values = {**MINIMAL, "message_to_states": "x" * 8000}
    response = send(client, collect_submission(form, values, instanceID=new_instance_id()))
    assert response.status_code == 413
    assert "4096" in message(response)
    assert response.headers["X-OpenRosa-Accept-Content-Length"] == "4096"
    assert count(Submission) == 0


@pytest.mark.app_config({"WTF_CSRF_ENABLED": True})
def test_submission_needs_no_csrf_token(client, form) -> None:
    response = send(client, collect_submission(form, MINIMAL, instanceID=new_instance_id()))
    assert response.status_code == 201


def test_no_open_round_is_refused(client, default_instrument, volunteer) -> None:
    # No survey_round fixture here: nothing is open.
    xform = default_instrument.xform.encode()
    response = send(client, collect_submission(xform, MINIMAL, instanceID=new_instance_id()))
    assert response.status_code == 409
    assert "No survey round" in message(response)


# -- the parser alone ------------------------------------------------------------------------


PARSER_SURVEY = [
    ["type", "name", "label", "calculation"],
    ["begin_group", "g", "G", ""],
    ["integer", "n", "N", ""],
    ["decimal", "d", "D", ""],
    ["date", "day", "Day", ""],
    ["select_multiple fruit", "fruits", "Fruits", ""],
    ["select_one fruit", "favourite", "Favourite", ""],
    ["text", "words", "Words", ""],
    ["calculate", "double", "", "${n} * 2"],
    ["note", "info", "Info", ""],
    ["end_group", "", "", ""],
    ["begin_repeat", "kid", "Kid", ""],
    ["integer", "kid_age", "Kid age", ""],
    ["end_repeat", "", "", ""],
    ["acknowledge", "ack", "Ack", ""],
]
PARSER_CHOICES = [
    ["list_name", "name", "label"],
    ["fruit", "apple", "Apple"],
    ["fruit", "pear", "Pear"],
]
UUID = "uuid:6f1e7a2e-3c1b-4a8e-9d0f-2b1f3c4d5e6f"
META = f"<meta><instanceID>{UUID}</instanceID></meta>"


@pytest.fixture
def parser_spec(create_instrument):
    version = create_instrument(
        survey=PARSER_SURVEY, choices=PARSER_CHOICES, settings={"form_id": "p", "version": "3"}
    )
    return instruments.spec_for(version)


def test_parse_types_groups_and_repeats(parser_spec) -> None:
    # A default namespace and a namespaced orx:meta, as some clients write them.
    document = f"""<?xml version='1.0' ?>
    <data xmlns="http://www.w3.org/2002/xforms" xmlns:orx="{ORX}" xmlns:jr="{JAVAROSA}"
          id="p" version="3">
      <g><n> 3 </n><d>2,5</d><day>2025-01-10</day><fruits>pear  apple pear</fruits>
         <favourite>apple</favourite><words>  Cafe\u0301  </words><double>6</double><info/></g>
      <kid jr:template=""><kid_age/></kid>
      <kid><kid_age>4</kid_age></kid>
      <kid><kid_age>7</kid_age></kid>
      <ack>OK</ack>
      <orx:meta>
        <orx:timeStart>2025-01-10T10:00:00.000+06:00</orx:timeStart>
        <orx:timeEnd>2025-01-10T10:30:00Z</orx:timeEnd>
        <orx:instanceID>{UUID}</orx:instanceID>
      </orx:meta>
    </data>""".encode()
    parsed = openrosa.parse_submission(document, parser_spec)
    assert (parsed.form_id, parsed.version, parsed.instance_id) == ("p", "3", UUID)
    assert parsed.answers == {
        "n": 3,
        "d": 2.5,
        "day": "2025-01-10",
        "fruits": ["pear", "apple"],
        "favourite": "apple",
        "words": "Caf\u00e9",
        "kid": [{"kid_age": 4}, {"kid_age": 7}],
        "ack": "OK",
    }
    assert parsed.type_errors == {}
    assert parsed.started_at.isoformat() == "2025-01-10T04:00:00+00:00"
    assert parsed.ended_at.isoformat() == "2025-01-10T10:30:00+00:00"
    assert parsed.deprecated_id is None


def test_parse_keeps_typing_errors_by_field_key(app, parser_spec) -> None:
    document = f"""<data id="p" version="3"><g><n>three</n><day>10/01/2025x</day></g>
      <kid><kid_age>4.5</kid_age></kid><meta><instanceID>{UUID}</instanceID></meta></data>"""
    parsed = openrosa.parse_submission(document.encode(), parser_spec)
    assert set(parsed.type_errors) == {"n", "day", "kid-0-kid_age"}
    assert parsed.answers == {"kid": [{}]}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            f"<data id='p'><g><n>1</n><n>2</n></g>{META}</data>",
            "more than once",
        ),
        (
            f"<data id='p'><g><n><b>1</b></n></g>{META}</data>",
            "holds elements",
        ),
        ("<data id='p'><g><n>1</n></g></data>", "instanceID"),
        ("<data id='p'><g><n>1</n></data>", "not well-formed"),
    ],
)
def test_parse_refuses_ambiguous_documents(parser_spec, document, expected) -> None:
    with pytest.raises(openrosa.SubmissionError, match=expected):
        openrosa.parse_submission(document.encode(), parser_spec)


def test_response_envelope(app) -> None:
    with app.test_request_context():
        response = openrosa.openrosa_response("Saved <&> done", 201)
    assert response.status_code == 201
    root = safe_xml.fromstring(response.data)
    assert root.tag == f"{RESPONSE}OpenRosaResponse"
    item = root.find(f"{RESPONSE}message")
    assert (item.text, item.get("nature")) == ("Saved <&> done", "submit_success")
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert response.headers["X-OpenRosa-Accept-Content-Length"] == str(5 * 1024 * 1024)


def test_form_list_honours_list_all_versions(client, create_instrument, volunteer) -> None:
    create_instrument(survey=MINI_SURVEY, settings={"form_id": "mini", "version": "1"})
    create_instrument(survey=MINI_SURVEY, settings={"form_id": "mini", "version": "2"})

    def versions(query: str) -> list[str]:
        response = client.get(
            f"/formList{query}",
            auth=("volunteer", PASSWORD),
            headers=OPENROSA_HEADERS,
            base_url=HTTPS,
        )
        root = safe_xml.fromstring(response.data)
        return sorted(e.findtext(f"{LIST}version") for e in root.findall(f"{LIST}xform"))

    assert versions("") == ["2"]
    assert versions("?listAllVersions=true") == ["1", "2"]
    assert versions("?formID=mini&listAllVersions=true") == ["1", "2"]
    assert versions("?listAllVersions=false") == ["2"]
