"""Exports: de-identification, k-anonymity, formulas, CSV/XLSX/SAV files, web page and CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from reports.anonymization import k_anonymity
from survey.collection.models import Submission
from survey.datasets.commands import export_command
from survey.datasets.dataset import load_dataset
from survey.datasets.deidentify import QUASI_IDENTIFIERS, ExportError, prepare_export
from survey.datasets.exports import export_bundle
from survey.datasets.hxl import export_indicators_hxl
from survey.datasets.spss import export_sav, spss_name
from survey.datasets.writers import export_csv, export_xlsx
from survey.extensions import db
from survey.users.models import AuditEntry

FORMULA = '=HYPERLINK("http://example.org/x","click")'
TRICKY = '+1 call me, "maybe"\nlater'
MEMBER_QIS = [
    "_district",
    "member_sex",
    "member_age_band",
    "member_generation",
    "member_certificate",
    "member_wg_disability",
]


def add_submission(version: Any, survey_round: Any, answers: dict[str, Any], **fields: Any):
    """Store one submission as the web form would (answers already checked)."""
    started = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
    submission = Submission(
        instance_id=f"uuid:{uuid.uuid4()}",
        receipt_code=uuid.uuid4().hex[:16],
        instrument_version_id=version.id,
        round_id=survey_round.id,
        answers=answers,
        answers_sha256="0" * 64,
        language="en",
        district=answers.get("district"),
        started_at=started,
        ended_at=started + dt.timedelta(minutes=30),
        **fields,
    )
    db.session.add(submission)
    db.session.commit()
    return submission


@pytest.fixture
def surveyed(default_instrument, survey_round):
    """Sixty demo interviews and one real one whose free text would be a formula."""
    from survey.demo import write_demo_data

    write_demo_data(default_instrument, survey_round, 60, seed=11)
    first = db.session.execute(select(Submission).order_by(Submission.id)).scalars().first()
    answers = dict(first.answers)
    answers["message_to_states"] = FORMULA
    answers["certificate_status"] = "refused"
    answers["certificate_refusal_other"] = TRICKY
    add_submission(default_instrument, survey_round, answers)
    return default_instrument


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith("\ufeff".encode())  # a BOM, so Excel reads UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def frame_of(rows: list[dict[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, dtype="object")


def write_csvs(dataset: Any, **options: Any) -> tuple[list, list, list, list, Any]:
    out, members, codebook, about = io.BytesIO(), io.BytesIO(), io.BytesIO(), io.BytesIO()
    report = export_csv(
        dataset,
        out,
        repeat_outs={"member": members},
        codebook_out=codebook,
        about_out=about,
        **options,
    )
    return (
        read_csv(out.getvalue()),
        read_csv(members.getvalue()),
        read_csv(codebook.getvalue()),
        read_csv(about.getvalue()),
        report,
    )


# -- de-identified CSV ------------------------------------------------------------------------


def test_deidentified_csv_drops_what_identifies(surveyed) -> None:
    dataset = load_dataset([surveyed])
    rows, members, codebook, about, report = write_csvs(dataset)
    header = set(rows[0])
    for gone in (
        "message_to_states",
        "certificate_refusal_other",
        "settlement",
        "age",
        "_submission_id",
        "_volunteer",
        "_started_at",
        "_received_at",
    ):
        assert gone not in header, gone
    assert {"age_band", "district", "_record", "_received_month"} <= header
    assert "member_age" not in members[0] and "member_age_band" in members[0]
    everything = json.dumps([rows, members, codebook, about])
    assert "HYPERLINK" not in everything and "call me" not in everything
    assert len(rows) + report.checks[0].records_dropped == 61
    records = sorted(int(r["_record"]) for r in rows)
    assert records == list(range(1, len(records) + 1))  # keys of the rows exported
    assert {int(m["_record"]) for m in members if m["_record"]} <= set(records)
    assert all(len(r["_received_month"]) == 7 for r in rows)  # YYYY-MM
    assert all(len(r["interview_date"]) in (0, 7) for r in rows)
    bands = {"", "18_39", "40_59", "60_74", "75_plus", "18_59", "60_plus"}  # wider when needed
    assert all(r["age_band"] in bands for r in rows)
    assert report.dropped_columns[:2] == ("certificate_refusal_other", "message_to_states")
    items = {a["item"]: a["value"] for a in about}
    assert items["deidentified"] == "yes"
    assert int(items["records_at_risk_respondents"]) == report.records_at_risk


def test_deidentified_csv_is_5_anonymous(surveyed) -> None:
    dataset = load_dataset([surveyed])
    rows, members, _codebook, _about, report = write_csvs(dataset)
    respondents = frame_of(rows)
    qis = [q for q in QUASI_IDENTIFIERS if q in respondents.columns]
    assert len(qis) == 8
    assert k_anonymity(respondents, qis, k=5).n_at_risk == 0
    assert k_anonymity(frame_of(members), MEMBER_QIS, k=5).n_at_risk == 0
    check = report.checks[0]
    assert check.table == "respondents" and check.k == 5
    assert check.records_at_risk > 0  # sixty interviews cannot all be 5-anonymous
    assert check.records_suppressed >= check.records_at_risk - check.records_dropped
    assert report.checks[1].table == "member"
    # A suppressed derived value takes its sources along: they would give it away.
    blank_generation = respondents["generation"] == ""
    assert (respondents.loc[blank_generation, "mother_in_territory"] == "").all()
    blank_disability = respondents["wg_disability"] == ""
    assert (respondents.loc[blank_disability, "wg_seeing"] == "").all()
    assert (respondents.loc[respondents["district"] == "", "_district"] == "").all()
    # Roster rows repeat the household's values as exported, suppressed ones included.
    by_record = respondents.set_index("_record")
    for member in [m for m in members if m["_record"]]:
        owner = by_record.loc[member["_record"]]
        assert member["respondent.sex"] == owner["sex"]
        assert member["_district"] == owner["_district"]
    sizes = pd.to_numeric(respondents["household_size"]).dropna()
    assert (sizes <= 6).all()  # top-coded by the instrument's disclosure rules


def test_codebook_describes_every_column(surveyed) -> None:
    dataset = load_dataset([surveyed])
    rows, members, codebook, _about, _report = write_csvs(dataset, language="ru")
    described = {(c["table"], c["column"]) for c in codebook if not c["code"]}
    assert {("respondents", c) for c in rows[0]} | {("member", c) for c in members[0]} == described
    spec = dataset.spec
    sex = [c for c in codebook if c["column"] == "sex" and c["table"] == "respondents"]
    assert sex[0]["label"] == spec.label(spec.questions_by_name["sex"].labels, "ru")
    assert {c["code"]: c["code_label"] for c in sex[1:]}["female"] == spec.choice_label(
        "sex", "female", "ru"
    )
    flags = [c for c in codebook if c["column"] == "benefits_received/none"]
    assert flags[0]["type"] == "select_multiple (0/1)"
    assert {c["code"] for c in flags[1:]} == {"0", "1"}
    household = next(c for c in codebook if c["column"] == "household_size")
    assert "6 or more" in household["note"]


# -- identified exports and formulas ------------------------------------------------------------


def test_identified_csv_keeps_free_text_neutralised(surveyed) -> None:
    dataset = load_dataset([surveyed])
    rows, _members, _codebook, about, report = write_csvs(dataset, deidentify=False)
    assert not report.deidentified
    assert {"settlement", "age", "_submission_id", "message_to_states"} <= set(rows[0])
    risky = rows[-1]
    assert risky["message_to_states"] == "'" + FORMULA
    assert risky["certificate_refusal_other"] == "'" + TRICKY  # quoted, comma and line kept
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value
    assert {a["item"]: a["value"] for a in about}["deidentified"].startswith("NO")


def test_labels_and_headers_are_neutralised(create_instrument, make_xlsform, survey_round) -> None:
    version = create_instrument(
        make_xlsform(
            [
                ["type", "name", "label::English (en)"],
                ["select_one risky", "pick", "@question"],
                ["text", "say", "Say"],
            ],
            [
                ["list_name", "name", "label::English (en)"],
                # openpyxl would store "=…" as a formula: "+" is the same danger in a sheet.
                ["risky", "formula", "+1+2"],
                ["risky", "minus", "-minus"],
            ],
            {"form_id": "risky"},
        )
    )
    for number in range(6):
        add_submission(version, survey_round, {"pick": "formula", "say": f"-{number}"})
    dataset = load_dataset([version])
    rows, _m, codebook, _a, _r = (
        *write_csvs_without_members(dataset, labels=True, deidentify=False),
    )
    assert rows[0]["pick"] == "'+1+2"
    assert rows[0]["say"] == "'-0"
    assert next(c for c in codebook if c["column"] == "pick")["label"] == "'@question"
    assert {c["code_label"] for c in codebook if c["column"] == "pick" and c["code"]} == {
        "'+1+2",
        "'-minus",
    }
    rows, _m, _c, _a, report = write_csvs_without_members(dataset, labels=True)
    assert rows[0]["pick"] == "'+1+2" and "say" not in rows[0]
    assert report.records_at_risk == 0  # no quasi-identifier: one class of six


def write_csvs_without_members(dataset: Any, **options: Any) -> tuple[list, list, list, list, Any]:
    out, codebook, about = io.BytesIO(), io.BytesIO(), io.BytesIO()
    report = export_csv(dataset, out, codebook_out=codebook, about_out=about, **options)
    return (
        read_csv(out.getvalue()),
        [],
        read_csv(codebook.getvalue()),
        read_csv(about.getvalue()),
        report,
    )


def test_too_few_records_are_not_exported_deidentified(
    create_instrument, make_xlsform, survey_round
) -> None:
    version = create_instrument(
        survey=[["type", "name", "label"], ["integer", "n", "N"]], settings={"form_id": "tiny"}
    )
    for n in range(3):
        add_submission(version, survey_round, {"n": n})
    rows, _m, _c, _a, report = write_csvs_without_members(load_dataset([version]))
    assert rows == []  # three people cannot hide among five
    assert report.checks[0].records_dropped == 3


# -- XLSX -----------------------------------------------------------------------------------------


def test_xlsx_sheets_labels_and_no_formulas(surveyed, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    dataset = load_dataset([surveyed])
    path = tmp_path / "export.xlsx"
    report = export_xlsx(dataset, path, labels=True, language="ru", deidentify=False)
    assert report.format == "xlsx"
    book = load_workbook(path)
    assert book.sheetnames == ["respondents", "member", "codebook", "about"]
    sheet = book["respondents"]
    header = [c.value for c in sheet[1]]
    assert header[0] == "_submission_id"
    rows = list(sheet.iter_rows(min_row=2, values_only=False))
    assert len(rows) == 61
    for row in rows:
        for cell in row:
            assert cell.data_type != "f"
    message = rows[-1][header.index("message_to_states")].value
    assert message == "'" + FORMULA
    sexes = {row[header.index("sex")].value for row in rows}
    assert sexes <= {"Женский", "Мужской", None}
    flag = rows[0][header.index("benefits_received/none")].value
    assert flag in (0, 1, None)
    member_rows = book["member"].max_row - 1
    assert member_rows == len(dataset.members)
    codebook = [r for r in book["codebook"].iter_rows(values_only=True)]
    assert codebook[0][:4] == ("table", "column", "label", "type")


def test_xlsx_deidentified_has_no_free_text(surveyed, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "export.xlsx"
    export_xlsx(load_dataset([surveyed]), path)
    book = load_workbook(path, read_only=True)
    header = next(book["respondents"].iter_rows(max_row=1, values_only=True))
    rows = [row for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]
    book.close()  # a read-only workbook keeps its file open until closed
    assert "message_to_states" not in header and "age_band" in header
    for row in rows:
        assert not any(isinstance(v, str) and "HYPERLINK" in v for v in row)


# -- SPSS -----------------------------------------------------------------------------------------


def test_sav_has_variable_and_value_labels(surveyed, tmp_path: Path) -> None:
    import pyreadstat

    dataset = load_dataset([surveyed])
    path, members, codebook = tmp_path / "r.sav", tmp_path / "m.sav", tmp_path / "codebook.csv"
    export_sav(dataset, path, repeat_outs={"member": members}, codebook_out=codebook)
    frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    assert len(frame) == 61 - export_sav(dataset, io.BytesIO()).checks[0].records_dropped
    assert meta.column_names[0] == "meta_record"
    assert "benefits_received_none" in meta.column_names
    assert "message_to_states" not in meta.column_names
    spec = dataset.spec
    assert meta.column_names_to_labels["sex"] == spec.label(
        spec.questions_by_name["sex"].labels, "en"
    )
    assert set(meta.variable_value_labels["sex"].values()) == {"Female", "Male"}
    assert set(frame["sex"].dropna()) <= set(meta.variable_value_labels["sex"])
    stigma = meta.variable_value_labels["stigma"]
    assert stigma[99] == "Prefer not to answer"
    assert {"lo": 99.0, "hi": 99.0} in meta.missing_ranges["stigma"]
    assert meta.variable_value_labels["benefits_received_none"] == {0: "not chosen", 1: "chosen"}
    adequacy = meta.variable_value_labels["benefits_adequacy"]
    assert 1 in adequacy and 5 in adequacy  # integer codes keep their numbers
    _roster, roster_meta = pyreadstat.read_sav(str(members))
    assert roster_meta.column_names[:2] == ["meta_record", "meta_index"]
    rows = read_csv(codebook.read_bytes())
    mapped = {(r["table"], r["column"]): r["spss_name"] for r in rows if not r["code"]}
    assert mapped[("respondents", "_record")] == "meta_record"
    assert mapped[("respondents", "benefits_received/none")] == "benefits_received_none"
    pnta = next(r for r in rows if r["column"] == "stigma" and r["code"] == "pnta")
    assert pnta["spss_value"] == "99"


def test_identified_sav_neutralises_text(surveyed, tmp_path: Path) -> None:
    import pyreadstat

    path = tmp_path / "identified.sav"
    buffer = io.BytesIO()  # a stream works as well as a path
    export_sav(load_dataset([surveyed]), buffer, deidentify=False)
    path.write_bytes(buffer.getvalue())
    frame, meta = pyreadstat.read_sav(str(path))
    assert "meta_submission_id" in meta.column_names
    assert frame["message_to_states"].iloc[-1] == "'" + FORMULA


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("_submission_id", "meta_submission_id"),
        ("benefits_received/none", "benefits_received_none"),
        ("respondent.sex", "respondent_sex"),
        ("1st", "v1st"),
        ("to", "to_v"),
        ("naïve", "na_ve"),
        ("trailing_", "trailing"),
    ],
)
def test_spss_names(column: str, expected: str) -> None:
    assert spss_name(column, set()) == expected


def test_spss_names_are_short_and_unique() -> None:
    taken: set[str] = set()
    long = "q" * 80
    first, second = spss_name(long, taken), spss_name(long, taken)
    assert len(first) == 64 and len(second) == 64 and first != second
    assert spss_name("Sex", taken) == "Sex" and spss_name("sex", taken) == "sex_2"


# -- bundles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "suffix"), [("csv", ".csv"), ("sav", ".sav")])
def test_bundles_hold_every_table(surveyed, fmt: str, suffix: str) -> None:
    buffer = io.BytesIO()
    report = export_bundle(load_dataset([surveyed]), fmt, buffer)
    names = zipfile.ZipFile(buffer).namelist()
    assert names == [f"respondents{suffix}", f"member{suffix}", "codebook.csv", "about.csv"]
    assert report.format == fmt


def test_prepare_export_refuses_bad_options(surveyed) -> None:
    dataset = load_dataset([surveyed])
    with pytest.raises(ExportError):
        prepare_export(dataset, fmt="pdf")
    with pytest.raises(ExportError):
        prepare_export(dataset, language="de")
    with pytest.raises(ExportError):
        prepare_export(dataset, k=1)


# -- HXL ----------------------------------------------------------------------------------------


def indicator_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "indicator": ["with_certificate", "with_certificate", "=cmd"],
            "group": ["sex", "sex", "all"],
            "group_value": ["female", "male", "all"],
            "estimate": [0.42, None, 0.5],
            "ci_low": [0.35, None, 0.4],
            "ci_high": [0.49, None, 0.6],
            "n": [120, None, 200],
            "suppressed": [False, True, False],
        }
    )


def test_hxl_indicator_table(tmp_path: Path) -> None:
    path = tmp_path / "indicators.csv"
    assert export_indicators_hxl(indicator_table(), path) == 3
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[1] == [
        "#indicator",
        "#meta+group",
        "#meta+value",
        "#value+estimate",
        "#value+ci_low",
        "#value+ci_high",
        "#reached",
        "#meta+suppressed",
    ]
    assert rows[2] == ["with_certificate", "sex", "female", "0.42", "0.35", "0.49", "120", "0"]
    assert rows[3][3:] == ["", "", "", "", "1"]
    assert rows[4][0] == "'=cmd"


def test_hxl_refuses_unsuppressed_values() -> None:
    table = indicator_table()
    table.loc[1, "n"] = 3
    with pytest.raises(ExportError, match="suppress first"):
        export_indicators_hxl(table, io.BytesIO())
    renamed = indicator_table().rename(columns={"group_value": "value"})
    buffer = io.BytesIO()
    export_indicators_hxl(renamed, buffer, columns={"value": "group_value"})
    assert b"#meta+value" in buffer.getvalue()


# -- the web page -------------------------------------------------------------------------------


def audit_entries() -> list[AuditEntry]:
    return list(
        db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "export_made").order_by(AuditEntry.id)
        ).scalars()
    )


def post_export(client: Any, **fields: Any) -> Any:
    data = {
        "instrument": "birge_needs_assessment",
        "file_format": "csv",
        "values": "codes",
        "language": "en",
        "survey_round": "",
        "statuses": ["pending", "approved"],
        "include_demo": "y",
        "deidentified": "y",
        # Sixty interviews are mostly blanked at k=5: the page asks to confirm, as here.
        "confirmed": "yes",
        **fields,
    }
    response = client.post("/exports", data={k: v for k, v in data.items() if v is not None})
    response.get_data()  # buffer the streamed file, then close it as a WSGI server would
    response.close()
    return response


def test_coordinator_downloads_a_deidentified_export(surveyed, client, auth) -> None:
    auth.login("coordinator")
    page = client.get("/exports")
    assert page.status_code == 200
    assert 'name="file_format"' in page.text and "always de-identified" in page.text
    # Even with the box unticked, a coordinator's export stays de-identified.
    response = post_export(client, deidentified=None)
    assert response.status_code == 200, response.text[:500]
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and "_deidentified.zip" in disposition
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    rows = read_csv(archive.read("respondents.csv"))
    assert "message_to_states" not in rows[0] and "_record" in rows[0]
    entry = audit_entries()[-1]
    assert entry.username == "coordinator"
    assert entry.details["format"] == "csv" and entry.details["deidentified"] is True
    assert entry.details["via"] == "web" and entry.details["include_demo"] is True
    assert entry.details["review_statuses"] == ["pending", "approved"]
    assert "HYPERLINK" not in json.dumps(entry.details)


def test_admin_may_export_identified_data(surveyed, client, auth) -> None:
    auth.login("admin")
    page = client.get("/exports")
    assert "Only administrators can turn this off" in page.text
    response = post_export(client, deidentified=None, file_format="xlsx", values="labels")
    assert response.status_code == 200
    assert "_IDENTIFIED.xlsx" in response.headers["Content-Disposition"]
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(response.data), read_only=True)
    header = next(book["respondents"].iter_rows(max_row=1, values_only=True))
    book.close()
    assert "message_to_states" in header
    assert audit_entries()[-1].details["deidentified"] is False


def test_web_export_in_spss_and_with_filters(surveyed, client, auth, survey_round) -> None:
    auth.login("coordinator")
    response = post_export(client, file_format="sav", survey_round=str(survey_round.id))
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert "respondents.sav" in names
    details = audit_entries()[-1].details
    assert details["round"] == survey_round.id and details["rows"]["respondents"] > 0


@pytest.mark.parametrize("lang", ["en", "ru", "kk"])
def test_an_empty_export_says_so_and_sends_nothing(
    surveyed, client, auth, survey_round, lang: str
) -> None:
    """Issue 12: one real interview gave a zip with 0 rows and no warning on the page."""
    auth.login("coordinator")
    client.get(f"/exports?lang={lang}")
    response = post_export(client, file_format="sav", include_demo=None)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    expected = {
        "en": "This export would be empty",
        "ru": "Эта выгрузка была бы пустой",
        "kk": "Бұл экспорт бос болар еді",
    }[lang]
    assert expected in response.text
    assert audit_entries() == []  # nothing left the server


def test_check_shows_the_risk_figures_and_the_verdict_before_download(
    surveyed, client, auth
) -> None:
    auth.login("coordinator")
    response = post_export(client, action="check")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'id="disclosure-figures"' in response.text
    assert "Verdict: publishable" in response.text
    for heading in ("Sample uniques", "Global risk", "Kept as answered"):
        assert heading in response.text
    assert audit_entries() == []


def test_invalid_export_form_is_shown_again(surveyed, client, auth) -> None:
    auth.login("coordinator")
    response = post_export(client, statuses=[])
    assert response.status_code == 422
    assert "Choose at least one review status." in response.text
    assert audit_entries() == []


@pytest.mark.parametrize("role", ["advocate", "volunteer"])
def test_other_roles_may_not_export(surveyed, client, auth, role: str) -> None:
    auth.login(role)
    assert client.get("/exports").status_code == 403
    assert post_export(client).status_code == 403
    assert audit_entries() == []


# -- the command line ---------------------------------------------------------------------------


def test_cli_export_writes_files_and_audits(surveyed, runner, tmp_path: Path) -> None:
    out = tmp_path / "birge.csv"
    result = runner.invoke(export_command, ["--format", "csv", "--out", str(out), "--include-demo"])
    assert result.exit_code == 0, result.output
    assert "k-anonymity (k=5) respondents" in result.output
    for name in ("birge.csv", "birge_member.csv", "birge_codebook.csv", "birge_about.csv"):
        assert (tmp_path / name).exists(), name
    assert not list(tmp_path.glob(".export-*"))  # the staging folder is gone
    rows = read_csv(out.read_bytes())
    assert "message_to_states" not in rows[0]
    entry = audit_entries()[-1]
    assert entry.user_id is None and entry.username is None
    assert entry.details["via"] == "cli" and entry.details["format"] == "csv"


def test_cli_export_identified_spss_zip(surveyed, runner, tmp_path: Path) -> None:
    out = tmp_path / "birge.zip"
    result = runner.invoke(
        export_command,
        ["--format", "sav", "--out", str(out), "--identified", "--labels", "--lang", "ru"],
    )
    assert result.exit_code == 0, result.output
    assert "WARNING: identified export" in result.output
    assert "left out: demo: 60" in result.output
    assert zipfile.ZipFile(out).namelist()[0] == "respondents.sav"
    assert audit_entries()[-1].details["deidentified"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xlsx", "--out", "{tmp}/x.csv"], "must end with .xlsx"),
        (["--format", "csv", "--out", "{tmp}/missing/x.csv"], "does not exist"),
        (["--format", "csv", "--out", "{tmp}/x.csv", "--round", "nope"], "No survey round"),
        (["--format", "csv", "--out", "{tmp}/x.csv", "--form-id", "nope"], "No instrument"),
        (["--format", "pdf", "--out", "{tmp}/x.pdf"], "Invalid value"),
        (["--format", "csv", "--out", "{tmp}/x.csv", "--lang", "de"], "Invalid value"),
    ],
)
def test_cli_export_refuses_bad_arguments(
    surveyed, runner, tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(export_command, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code != 0
    assert message in result.output
    assert audit_entries() == []


def test_cli_export_does_not_overwrite_without_force(surveyed, runner, tmp_path: Path) -> None:
    out = tmp_path / "x.xlsx"
    out.write_bytes(b"old")
    result = runner.invoke(export_command, ["--format", "xlsx", "--out", str(out)])
    assert result.exit_code != 0 and "--force" in result.output
    assert out.read_bytes() == b"old"
    result = runner.invoke(
        export_command, ["--format", "xlsx", "--out", str(out), "--force", "--include-demo"]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"PK")


# -- the verdict: risk figures before download, refusal above the limit ---------------------------


@pytest.fixture
def census_rules(monkeypatch):
    """Rules that assume every household of the population was interviewed: each class of five
    then has a re-identification risk of one in five, far above 3%."""
    from dataclasses import replace as replace_rules

    from survey.datasets import deidentify

    real = deidentify.disclosure_rules

    def census(dataset, k=None):
        return replace_rules(real(dataset, k), sampling_fraction=1.0)

    monkeypatch.setattr(deidentify, "disclosure_rules", census)


def test_cli_prints_the_risk_figures_and_the_verdict(surveyed, runner, tmp_path: Path) -> None:
    out = tmp_path / "birge.zip"
    result = runner.invoke(export_command, ["--format", "csv", "--out", str(out), "--include-demo"])
    assert result.exit_code == 0, result.output
    for text in ("sample uniques", "global", "kept district", "verdict: publishable"):
        assert text in result.output, text
    assert result.output.index("verdict:") < result.output.index("wrote ")


def test_a_file_above_the_global_risk_limit_is_refused(
    surveyed, census_rules, runner, client, auth, tmp_path: Path
) -> None:
    out = tmp_path / "birge.zip"
    result = runner.invoke(export_command, ["--format", "csv", "--out", str(out), "--include-demo"])
    assert result.exit_code != 0
    assert "verdict: REFUSED" in result.output and "global_risk" in result.output
    assert not out.exists()
    auth.login("coordinator")
    response = post_export(client)
    assert response.mimetype == "text/html"
    assert "This file cannot be published: the global re-identification risk" in response.text
    assert "above the limit of 3.0%" in response.text
    assert audit_entries() == []


def test_a_mostly_blanked_export_asks_before_it_downloads(surveyed, client, auth) -> None:
    """Issue 10/12: sixty interviews came out mostly blanked with no word on the page."""
    auth.login("coordinator")
    response = post_export(client, confirmed=None)
    assert response.mimetype == "text/html"
    assert "This export would be mostly blanked" in response.text
    assert 'name="confirmed" value="yes"' in response.text and "Download anyway" in response.text
    assert audit_entries() == []
    assert post_export(client).mimetype == "application/zip"  # confirmed


# -- labels in the chosen language --------------------------------------------------------------

LATIN_WORD = __import__("re").compile(r"[A-Za-z]{3,}")


def latin_words(rows: list[dict[str, str]], skip: set[str]) -> set[str]:
    """Words in Latin letters among a table's values (codes or English), columns in `skip` aside."""
    return {
        word
        for row in rows
        for column, value in row.items()
        if column not in skip
        for word in LATIN_WORD.findall(value or "")
    }


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_cli_labels_export_speaks_the_chosen_language(
    surveyed, runner, tmp_path: Path, lang: str
) -> None:
    """Issue 12: the Russian labels export had codes in its cells and an English about file."""
    out = tmp_path / "birge.csv"
    result = runner.invoke(
        export_command,
        ["--format", "csv", "--out", str(out), "--include-demo", "--labels", "--lang", lang],
    )
    assert result.exit_code == 0, result.output
    rows = read_csv(out.read_bytes())
    members = read_csv((tmp_path / "birge_member.csv").read_bytes())
    # The record key is random letters and digits; UTC is a time zone's name.
    assert latin_words(rows, {"_record", "_received_month", "_round"}) - {"UTC"} == set()
    assert latin_words(members, {"_record", "_round"}) == set()
    about = read_csv((tmp_path / "birge_about.csv").read_bytes())
    assert list(about[0])[1:] != ["description", "value"]  # "item" stays: scripts read it
    # The recodings and the verdict's notes too: columns and codes by their labels, in words
    assert "global_recoding" in {row["item"] for row in about}
    shown = [list(row.values())[1:] for row in about]
    text = " ".join(" ".join(row) for row in shown).replace(surveyed.instrument.form_id, "")
    english = set(LATIN_WORD.findall(text)) - {"UTC"}
    assert english == set(), english


def test_web_labels_export_in_kazakh_labels_statuses_and_about(surveyed, client, auth) -> None:
    auth.login("coordinator")
    response = post_export(client, values="labels", language="kk")
    assert response.status_code == 200, response.text[:300]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    rows = read_csv(archive.read("respondents.csv"))
    assert {row["_review_status"] for row in rows} <= {"Тексеруді күтуде", "Мақұлданды", ""}
    about = read_csv(archive.read("about.csv"))
    assert list(about[0]) == ["item", "сипаттама", "мәні"]
    described = {row["item"]: list(row.values())[1:] for row in about}
    assert described["verdict"] == ["Қорытынды", "жариялауға болады"]
