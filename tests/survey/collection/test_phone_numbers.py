"""Phone numbers in free text (issue 9, part 6): refused unless the admin confirms at import that
the form needs them ('phone_numbers'), and then kept on the server only."""

from __future__ import annotations

import io
import uuid
import zipfile
from typing import Any

import pytest
from sqlalchemy import func, select

from survey.collection.models import Submission
from survey.collection.services import identifier_in_answer
from survey.extensions import db
from survey.instruments.services import (
    find_instrument,
    import_instrument,
    phone_number_questions,
    spec_for,
)
from survey.instruments.xlsform import IDENTIFYING_KINDS, load_xlsform
from survey.users.models import AuditEntry
from tests.factories import csv_export, csv_tables, xlsform_bytes

PHONE = "+7 701 123 45 67"
VALID_IIN = "850101300124"  # a made-up number with a correct check digit
SURVEY = [
    ["type", "name", "label", "constraint"],
    ["text", "leader_phone", "The leader's phone number", ""],
    ["text", "remarks", "Remarks", ""],
]


def phone_form(form_id: str) -> bytes:
    return xlsform_bytes(SURVEY, settings={"form_id": form_id, "version": "1"})


def post(client: Any, version: Any, **answers: str) -> Any:
    return client.post(
        f"/collect/v/{version.id}", data={"_instance_id": f"uuid:{uuid.uuid4()}", **answers}
    )


def stored() -> int:
    return db.session.execute(select(func.count()).select_from(Submission)).scalar_one()


def test_phone_numbers_are_refused_unless_confirmed_at_import(
    app, client, auth, survey_round
) -> None:
    refused, summary = import_instrument(phone_form("refused"), "f.xlsx")
    kept, kept_summary = import_instrument(phone_form("kept"), "f.xlsx", keep=("phone_numbers",))
    db.session.commit()
    assert spec_for(refused).identifying_kept == ()
    assert spec_for(kept).identifying_kept == ("phone_numbers",)
    assert any(
        "Phone numbers (leader_phone): these questions seem to ask for one" in line
        for line in summary
    )
    assert any(
        line.startswith("Phone numbers in free text (leader_phone): kept") for line in kept_summary
    )
    auth.login("volunteer")
    response = post(client, refused, leader_phone=PHONE)
    assert response.status_code == 422
    assert "seems to contain a phone number" in response.text
    assert stored() == 0
    # Confirmed: the number is stored in the question that asks for it...
    assert post(client, kept, leader_phone=PHONE).status_code == 302
    assert db.session.execute(select(Submission.answers)).scalar_one() == {"leader_phone": PHONE}
    # ...but not in other free text, and IINs and e-mail addresses are refused everywhere.
    for answers in (
        {"leader_phone": PHONE, "remarks": f"or call {PHONE}"},
        {"leader_phone": f"{PHONE}, IIN {VALID_IIN}"},
        {"leader_phone": f"{PHONE} or aigul@example.kz"},
    ):
        response = post(client, kept, **answers)
        assert response.status_code == 422, answers
    assert stored() == 1


def test_phone_numbers_pass_every_text_question_when_none_asks_for_one(app) -> None:
    survey = [["type", "name", "label"], ["text", "contact", "How to reach the leader"]]
    spec = load_xlsform(xlsform_bytes(survey)).spec
    assert phone_number_questions(spec) == ("contact",)
    assert identifier_in_answer(spec, "contact", PHONE) == "phone"
    version, _ = import_instrument(xlsform_bytes(survey), "f.xlsx", keep=["phone_numbers"])
    confirmed = spec_for(version)
    assert confirmed.identifying_kept == ("phone_numbers",)
    assert identifier_in_answer(confirmed, "contact", PHONE) is None
    assert identifier_in_answer(confirmed, "contact", f"IIN {VALID_IIN}") == "iin"


def test_phone_numbers_are_not_kept_by_a_form_without_free_text(app) -> None:
    survey = [["type", "name", "label"], ["integer", "n", "How many"]]
    version, _ = import_instrument(xlsform_bytes(survey), "f.xlsx", keep=["phone_numbers"])
    assert spec_for(version).identifying_kept == ()


def audit_details() -> dict[str, Any]:
    entry = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "export_made").order_by(AuditEntry.id.desc())
    ).scalars()
    return next(iter(entry)).details


def test_kept_phone_numbers_never_leave_in_a_deidentified_export(
    app, client, auth, survey_round
) -> None:
    version, _ = import_instrument(phone_form("kept"), "f.xlsx", keep=("phone_numbers",))
    db.session.commit()
    auth.login("volunteer")
    for _ in range(6):
        assert post(client, version, leader_phone=PHONE, remarks="Water").status_code == 302
    auth.logout()
    auth.login("admin")
    # The identified export (the admin's own decision) has them, and its audit says so.
    identified = csv_tables(csv_export(client, "kept"))["respondents"]
    # ('+' starts a formula in a spreadsheet: the export neutralises it with a quote.)
    assert {row["leader_phone"] for row in identified} == {f"'{PHONE}"}
    assert audit_details()["identifying_data"] == ["phone_numbers"]
    response = client.post(
        "/exports",
        data={
            "instrument": "kept",
            "file_format": "csv",
            "values": "codes",
            "language": "en",
            "survey_round": "",
            "statuses": ["pending", "approved"],
            "deidentified": "y",
            "confirmed": "yes",
        },
    )
    body = response.get_data()
    response.close()
    assert response.status_code == 200
    rows = csv_tables(body)["respondents"]
    assert len(rows) == 6 and "leader_phone" not in rows[0] and "remarks" not in rows[0]
    archive = zipfile.ZipFile(io.BytesIO(body))
    for name in archive.namelist():
        assert "701 123" not in archive.read(name).decode("utf-8-sig"), name
    assert "identifying_data" not in audit_details()


def test_admin_confirms_phone_numbers_on_the_import_page(client, auth) -> None:
    auth.login("admin")
    page = client.get("/admin/instruments/")
    assert 'name="keep_phone_numbers"' in page.text
    response = client.post(
        "/admin/instruments/",
        data={"xlsform": (io.BytesIO(phone_form("paged")), "f.xlsx"), "keep_phone_numbers": "y"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    instrument = find_instrument("paged")
    assert instrument is not None
    assert spec_for(instrument.versions[-1]).identifying_kept == ("phone_numbers",)
    assert "Phone numbers in free text (leader_phone): kept" in client.get(
        "/admin/instruments/"
    ).text.replace("&#39;", "'")


@pytest.mark.sqlite_only
def test_the_command_line_confirms_every_kind(runner, tmp_path) -> None:
    from survey.cli import main
    from survey.instruments.commands import instruments_import

    choices = next(p for p in instruments_import.params if p.name == "keep").type.choices
    assert tuple(choices) == IDENTIFYING_KINDS
    path = tmp_path / "f.xlsx"
    path.write_bytes(phone_form("cli"))
    result = runner.invoke(main, ["instruments", "import", str(path), "--keep", "phone_numbers"])
    assert result.exit_code == 0, result.output
    assert "Phone numbers in free text (leader_phone): kept" in result.output


@pytest.mark.app_config({"REPORT_QUOTE_QUESTIONS": ["leader_phone"]})
def test_a_kept_phone_number_is_never_quoted_in_a_report(
    app, client, auth, survey_round, create_user
) -> None:
    from survey.reporting.services import ReportError, approve_quote

    version, _ = import_instrument(phone_form("kept"), "f.xlsx", keep=("phone_numbers",))
    db.session.commit()
    auth.login("volunteer")
    assert post(client, version, leader_phone=PHONE).status_code == 302
    submission = db.session.execute(select(Submission)).scalar_one()
    coordinator = create_user("quoting", role="coordinator")
    with pytest.raises(ReportError, match="cannot be quoted"):
        approve_quote(submission.id, "leader_phone", coordinator)


def test_odk_collect_submissions_follow_the_same_confirmation(
    app, client, create_user, survey_round
) -> None:
    from tests.factories import PASSWORD
    from tests.survey.collection.test_openrosa import (
        HTTPS,
        collect_submission,
        message,
        new_instance_id,
        send,
    )

    create_user("volunteer", "volunteer")
    import_instrument(phone_form("refused"), "f.xlsx")
    import_instrument(phone_form("kept"), "f.xlsx", keep=("phone_numbers",))
    db.session.commit()
    for form_id, status in (("refused", 400), ("kept", 201)):
        xform = client.get(
            f"/forms/{form_id}/1/form.xml", auth=("volunteer", PASSWORD), base_url=HTTPS
        ).data
        document = collect_submission(xform, {"leader_phone": PHONE}, instanceID=new_instance_id())
        response = send(client, document)
        assert response.status_code == status, message(response)
    assert db.session.execute(select(Submission.answers)).scalar_one() == {"leader_phone": PHONE}
