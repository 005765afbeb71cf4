"""Form attachments (issue 9, part 5): a form imported with its CSV/GeoJSON/XML files, choices
from files, select_one_external, pulldata(), and the OpenRosa manifest ODK Collect downloads."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
import zipfile
from typing import Any

import pytest
from defusedxml import ElementTree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from survey.extensions import db
from survey.instruments import attachments as form_files
from survey.instruments.models import InstrumentAttachment
from survey.instruments.xlsform import InstrumentImportError, load_xlsform
from tests.factories import PASSWORD, csv_export, csv_tables, xlsform_bytes

pytestmark = pytest.mark.sqlite_only

HTTPS = "https://localhost"
DISTRICTS = b"name,label,label::Russian (ru)\nnorth,North,Sever\nsouth,South,Yug\n"
VILLAGES = (
    b"name,label,district,population\n"
    b"aul,Aul (north),north,120\n"
    b"kent,Kent (north),north,450\n"
    b"sai,Sai (south),south,75\n"
)
PLACES = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "w1", "title": "Well one"},
                "geometry": {"type": "Point", "coordinates": [76.9, 43.2]},
            },
            {
                "type": "Feature",
                "id": "w2",
                "properties": {"title": "Well two"},
                "geometry": {"type": "Point", "coordinates": [77.0, 43.3]},
            },
        ],
    }
).encode()
SURVEY = [
    ["type", "name", "label", "choice_filter", "calculation"],
    ["select_one_from_file districts.csv", "district", "District", "", ""],
    ["select_one_from_file villages.csv", "village", "Village", "district=${district}", ""],
    ["calculate", "population", "", "", "pulldata('villages', 'population', 'name', ${village})"],
    ["select_one_from_file wells.geojson", "well", "Well", "", ""],
    ["integer", "households", "Households", "", ""],
]


def workbook(external: bool = False) -> bytes:
    """The test form; with `external`, a select_one_external and its external_choices sheet."""
    rows = [list(r) for r in SURVEY]
    if external:
        rows.append(["select_one_external shop", "shop", "Shop", "village=${village}", ""])
    data = xlsform_bytes(rows, settings={"form_id": "villages", "version": "1"})
    if not external:
        return data
    book = load_workbook(io.BytesIO(data))
    sheet = book.create_sheet("external_choices")
    for row in (
        ["list_name", "name", "label", "village"],
        ["shop", "bazaar", "Bazaar", "aul"],
        ["shop", "kiosk", "Kiosk", "kent"],
    ):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


FILES = {"districts.csv": DISTRICTS, "villages.csv": VILLAGES, "wells.geojson": PLACES}


def test_instance_of_a_file_reads_its_rows_by_the_files_stem(app) -> None:
    """instance('wells')/root/item[...] reads wells.geojson, as ODK names the file's secondary
    instance (HOT's forms read a feature's id, title and geometry this way)."""
    from survey.instruments.rules import evaluate_answers

    rows = [list(r) for r in SURVEY] + [
        ["calculate", "where", "", "", "instance('wells')/root/item[id=${well}]/geometry"],
        ["calculate", "well_id", "", "", "instance('wells')/root/item[title=${well_title}]/id"],
        ["text", "well_title", "Title", "", "instance('wells')/root/item[id=${well}]/title"],
    ]
    data = xlsform_bytes(rows, settings={"form_id": "villages", "version": "1"})
    spec = load_xlsform(data, "villages.xlsx", FILES).spec
    outcome = evaluate_answers(spec, {"well": "w2", "well_title": "Well one"})
    assert outcome.answers["where"] == "43.3 77.0"
    assert outcome.answers["well_id"] == "w1"


def package(files: dict[str, bytes], name: str = "villages.xlsx", **extra: bytes) -> bytes:
    """A .zip as ODK tools pack a form: the workbook and a <form>-media folder."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, workbook())
        for filename, content in {**files, **extra}.items():
            archive.writestr(f"villages-media/{filename}", content)
    return out.getvalue()


def upload(client: Any, data: bytes, name: str, attachments: dict[str, bytes] | None = None):
    fields: dict[str, Any] = {"xlsform": (io.BytesIO(data), name)}
    if attachments:
        fields["attachments"] = [(io.BytesIO(v), k) for k, v in attachments.items()]
    return client.post("/admin/instruments/", data=fields, content_type="multipart/form-data")


def test_choices_come_from_csv_geojson_and_the_external_choices_sheet(app) -> None:
    imported = load_xlsform(workbook(external=True), "villages.xlsx", FILES)
    spec = imported.spec
    districts = spec.choices["districts.csv"]
    assert [c.name for c in districts] == ["north", "south"]
    assert districts[0].labels == {"en": "North", "ru": "Sever"}
    villages = spec.choices["villages.csv"]
    assert [(c.name, c.filters["district"]) for c in villages][:2] == [
        ("aul", "north"),
        ("kent", "north"),
    ]
    wells = spec.choices["wells.geojson"]
    assert [(c.name, spec.label(c.labels, "en")) for c in wells] == [
        ("w1", "Well one"),
        ("w2", "Well two"),
    ]
    assert spec.questions_by_name["shop"].type == "select_one"
    assert [c.name for c in spec.choices["shop"]] == ["bazaar", "kiosk"]
    assert spec.lookup_tables["villages"][2]["population"] == "75"
    # ODK clients read select_one_external's choices from itemsets.csv, written at import.
    itemsets = list(csv.DictReader(io.StringIO(imported.files["itemsets.csv"].decode())))
    assert itemsets[1] == {
        "list_name": "shop",
        "name": "kiosk",
        "label": "Kiosk",
        "village": "kent",
    }
    assert set(imported.files) == {*FILES, "itemsets.csv"}


def test_missing_and_unreadable_files_are_named_at_their_row(app) -> None:
    with pytest.raises(InstrumentImportError) as refused:
        load_xlsform(
            workbook(), "villages.xlsx", {"districts.csv": b"\xff\xfename\n", "wells.geojson": b"{"}
        )
    problems = refused.value.problems
    assert any(
        "row 2, column 'type'" in p and "'districts.csv'" in p and "UTF-8" in p for p in problems
    ), problems
    assert any(
        "row 3, column 'type'" in p and "'villages.csv', which was not uploaded" in p
        for p in problems
    ), problems
    assert any("row 4, column 'calculation'" in p and "villages.csv" in p for p in problems)
    assert any("row 5" in p and "GeoJSON file is not readable" in p for p in problems)
    # Each missing list is reported once, not again as missing from the choices sheet.
    assert not any("is not on the choices sheet" in p for p in problems)


def test_a_csv_without_the_value_column_is_refused_with_its_columns(app) -> None:
    with pytest.raises(InstrumentImportError) as refused:
        load_xlsform(workbook(), "villages.xlsx", {**FILES, "villages.csv": b"code,text\na,A\n"})
    assert any("no column 'name'" in p and "code, text" in p for p in refused.value.problems)


def test_packages_are_checked_before_anything_is_read() -> None:
    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.xlsx", b"x")
        archive.writestr("b.xlsx", b"y")
    with pytest.raises(form_files.AttachmentError, match="exactly one XLSForm"):
        form_files.read_package(two.getvalue())
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("form.xlsx", b"x")
        archive.writestr("media/zeros.csv", b"0" * (5 * 1024 * 1024))
    with pytest.raises(form_files.AttachmentError, match="compressed far more"):
        form_files.read_package(bomb.getvalue())
    odd = io.BytesIO()
    with zipfile.ZipFile(odd, "w") as archive:
        archive.writestr("form.xlsx", b"x")
        archive.writestr("run.exe", b"MZ")
    with pytest.raises(form_files.AttachmentError, match=r"'run\.exe' is not a kind of file"):
        form_files.read_package(odd.getvalue())


def test_zip_import_fill_choose_from_csv_and_export(
    client, auth, survey_round, create_user
) -> None:
    auth.login("admin")
    response = upload(client, package(FILES), "villages.zip")
    assert response.status_code == 302, response.text
    page = client.get("/admin/instruments/")
    assert "Attachments: districts.csv, villages.csv, wells.geojson." in page.text
    stored = db.session.execute(select(InstrumentAttachment)).scalars().all()
    assert {(a.filename, a.md5) for a in stored} == {
        (name, form_files.md5_of(data)) for name, data in FILES.items()
    }
    version_id = stored[0].version_id
    auth.logout()

    auth.login("volunteer")
    form_page = client.get(f"/collect/v/{version_id}")
    assert form_page.status_code == 200
    assert "Kent (north)" in form_page.text and "Well two" in form_page.text
    # pulldata()'s table for the browser, with only the columns the form's calls read.
    assert '"tables": {"villages": [{"name": "aul", "population": "120"}, ' in form_page.text
    answers = {"district": "north", "village": "sai", "well": "w2", "households": "3"}
    fields = {
        "_instance_id": f"uuid:{uuid.uuid4()}",
        "_started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    refused = client.post(f"/collect/v/{version_id}", data={**fields, **answers})
    assert refused.status_code == 422  # 'sai' is a village of the south: the filter holds
    answers["village"] = "kent"
    saved = client.post(f"/collect/v/{version_id}", data={**fields, **answers})
    assert saved.status_code == 302, saved.text[:500]
    auth.logout()

    auth.login("admin")
    body = csv_export(client, "villages")
    rows = csv_tables(body)["respondents"]
    assert rows[0]["village"] == "kent"
    assert rows[0]["district"] == "north"
    assert rows[0]["well"] == "w2"
    assert rows[0]["population"] == "450"  # pulldata() on the server


def test_workbook_plus_files_on_the_page(client, auth) -> None:
    auth.login("admin")
    missing = upload(client, workbook(), "villages.xlsx", {"districts.csv": DISTRICTS})
    assert missing.status_code == 422
    assert "which was not uploaded with the form" in missing.text
    response = upload(client, workbook(), "villages.xlsx", FILES)
    assert response.status_code == 302, response.text
    assert db.session.execute(select(InstrumentAttachment)).scalars().all()


def test_manifest_lists_md5s_and_collect_downloads_the_files(
    app, client, create_instrument, create_user
) -> None:
    from survey.instruments.services import import_instrument

    create_user("volunteer", "volunteer")
    version, _summary = import_instrument(
        workbook(external=True), "villages.xlsx", attachments=FILES
    )
    plain = create_instrument(xlsform_bytes([["type", "name", "label"], ["text", "a", "A"]]))
    db.session.commit()
    credentials = ("volunteer", PASSWORD)
    listing = client.get("/formList", auth=credentials, base_url=HTTPS)
    assert listing.status_code == 200
    root = ElementTree.fromstring(listing.data)
    ns = {"x": "http://openrosa.org/xforms/xformsList"}
    manifests = {
        entry.findtext("x:formID", namespaces=ns): entry.findtext("x:manifestUrl", namespaces=ns)
        for entry in root.findall("x:xform", ns)
    }
    assert manifests[plain.instrument.form_id] is None  # no attachments, no manifest
    url = manifests["villages"]
    assert url == f"{HTTPS}/forms/villages/{version.version}/manifest"
    manifest = client.get(url, auth=credentials)
    assert manifest.status_code == 200
    assert manifest.headers["X-OpenRosa-Version"] == "1.0"
    mns = {"m": "http://openrosa.org/xforms/xformsManifest"}
    files = {
        media.findtext("m:filename", namespaces=mns): (
            media.findtext("m:hash", namespaces=mns),
            media.findtext("m:downloadUrl", namespaces=mns),
        )
        for media in ElementTree.fromstring(manifest.data).findall("m:mediaFile", mns)
    }
    assert set(files) == {*FILES, "itemsets.csv"}
    for name, (digest, download) in files.items():
        got = client.get(download, auth=credentials)
        assert got.status_code == 200
        assert digest == "md5:" + form_files.md5_of(got.data)
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        if name in FILES:
            assert got.data == FILES[name]
    # The XForm refers to the same names ODK Collect stores the files under.
    xform = client.get(
        f"/forms/villages/{version.version}/form.xml", auth=credentials, base_url=HTTPS
    ).text
    assert "jr://file-csv/villages.csv" in xform and "jr://file/wells.geojson" in xform
    unknown = client.get(
        f"/forms/villages/{version.version}/media/other.csv", auth=credentials, base_url=HTTPS
    )
    assert unknown.status_code == 404
    assert client.get(url).status_code == 401  # credentials, as for the form itself


def test_cli_imports_a_workbook_with_attached_files(runner, tmp_path) -> None:
    from survey.cli import main

    form = tmp_path / "villages.xlsx"
    form.write_bytes(workbook())
    arguments = ["instruments", "import", str(form)]
    for name, content in FILES.items():
        (tmp_path / name).write_bytes(content)
        arguments += ["--attach", str(tmp_path / name)]
    result = runner.invoke(main, arguments)
    assert result.exit_code == 0, result.output
    assert "Imported villages version 1." in result.output
    with runner.app.app_context():
        names = db.session.execute(select(InstrumentAttachment.filename)).scalars().all()
    assert sorted(names) == sorted(FILES)
    form.write_bytes(xlsform_bytes(SURVEY, settings={"form_id": "villages", "version": "2"}))
    missing = runner.invoke(main, ["instruments", "import", str(form)])
    assert missing.exit_code != 0 and "which was not uploaded with the form" in missing.output


PULLDATA_CASES = [
    ("pulldata('villages', 'population', 'name', ${v})", {"v": "kent"}, "450"),
    ("pulldata('villages.csv', 'label', 'name', ${v})", {"v": "sai"}, "Sai (south)"),
    ("pulldata('villages', 'population', 'name', ${v})", {"v": "nowhere"}, ""),
    ("pulldata('villages', 'no_column', 'name', ${v})", {"v": "aul"}, ""),
    ("pulldata('other', 'population', 'name', ${v})", {"v": "aul"}, ""),
    ("pulldata('villages', 'population', 'name', ${v}) * 2", {"v": "aul"}, 240.0),
]


def test_pulldata_agrees_in_python_and_in_the_browser(tmp_path) -> None:
    import shutil
    import subprocess
    from pathlib import Path

    from survey.instruments import expressions as ex

    tables = {"villages": form_files.csv_rows(VILLAGES)}
    cases = []
    for text, values, expected in PULLDATA_CASES:
        node = ex.parse(text)
        got = ex.evaluate(node, ex.EvalContext(lookup=values.get, tables=tables))
        assert got == expected, text
        cases.append({"ast": ex.to_json(node), "values": values, "expected": expected})
    assert ex.pulldata_files(ex.parse(PULLDATA_CASES[0][0])) == {"villages"}
    node_binary = shutil.which("node")
    if node_binary is None:
        pytest.skip("node is not installed")
    script = Path(__file__).resolve().parents[3] / "survey" / "static" / "js" / "expressions.js"
    runner = tmp_path / "runner.js"
    runner.write_text(
        "const E = require(process.argv[2]);\n"
        "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        "console.log(JSON.stringify(input.cases.map((c) => E.evaluate(c.ast, "
        "{lookup: (n) => c.values[n], tables: input.tables}))));\n",
        encoding="utf-8",
    )
    completed = subprocess.run(
        [node_binary, str(runner), str(script)],
        input=json.dumps({"cases": cases, "tables": tables}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(completed.stdout) == [c["expected"] for c in cases]


def test_odk_engine_downloads_the_files_fills_the_form_and_the_server_stores_it(
    client, create_user, survey_round, tmp_path
) -> None:
    """ODK's own engine as ODK Collect: form list, manifest, files, form, fill, submit (201)."""
    import base64

    from survey.collection.models import Submission, SubmissionMedia
    from survey.instruments.services import import_instrument
    from tests.odk_engine import engine_missing, fill_form

    if engine_missing():
        pytest.skip(engine_missing())
    rows = [*SURVEY, ["image", "photo", "Photo", "", ""]]
    form = xlsform_bytes(rows, settings={"form_id": "villages", "version": "1"})
    # ODK Web Forms' engine reads no translated label columns (label::Russian (ru)) in a CSV.
    files = {**FILES, "districts.csv": b"name,label\nnorth,North\nsouth,South\n"}
    import_instrument(form, "villages.xlsx", attachments=files, keep=("media",))
    create_user("volunteer", "volunteer")
    db.session.commit()
    credentials = ("volunteer", PASSWORD)
    listing = ElementTree.fromstring(client.get("/formList", auth=credentials, base_url=HTTPS).data)
    ns = {"x": "http://openrosa.org/xforms/xformsList"}
    (entry,) = listing.findall("x:xform", ns)
    manifest = client.get(entry.findtext("x:manifestUrl", namespaces=ns), auth=credentials)
    mns = {"m": "http://openrosa.org/xforms/xformsManifest"}
    for media in ElementTree.fromstring(manifest.data).findall("m:mediaFile", mns):
        name = media.findtext("m:filename", namespaces=mns)
        got = client.get(media.findtext("m:downloadUrl", namespaces=mns), auth=credentials)
        (tmp_path / name).write_bytes(got.data)
    xform = client.get(entry.findtext("x:downloadUrl", namespaces=ns), auth=credentials).text
    result = fill_form(
        xform,
        answers={
            "/data/district": "north",
            "/data/village": "kent",
            "/data/well": "w1",
            "/data/photo": "photo.png",
        },
        attachments=tmp_path,
    )
    assert result["status"] == "ok", result["errors"]
    assert sorted(result["form_attachments_used"]) == [
        "districts.csv",
        "villages.csv",
        "wells.geojson",
    ]
    (photo,) = result["attachments"]
    response = client.post(
        "/submission",
        data={
            "xml_submission_file": (
                io.BytesIO(result["submission_xml"].encode()),
                "submission.xml",
                "text/xml",
            ),
            photo["name"]: (io.BytesIO(base64.b64decode(photo["base64"])), photo["name"]),
        },
        content_type="multipart/form-data",
        auth=credentials,
        headers={"X-OpenRosa-Version": "1.0"},
        base_url=HTTPS,
    )
    assert response.status_code == 201, response.text
    submission = db.session.execute(select(Submission)).scalar_one()
    assert submission.answers["village"] == "kent"
    assert submission.answers["well"] == "w1"
    assert submission.answers["population"] == "450"  # pulldata(), as the web form computes it
    stored = db.session.execute(select(SubmissionMedia)).scalar_one()
    assert submission.answers["photo"] == stored.filename


def test_xml_items_and_the_value_and_label_parameters() -> None:
    xml = (
        b"<root><item><name>a</name><label>Alpha</label><zone>n</zone></item>"
        b"<item><name>b</name><label>Beta</label><zone>s</zone></item></root>"
    )
    choices = form_files.choices_from_file("list.xml", xml, {}, "en")
    assert [(c.name, c.labels["en"], c.filters["zone"]) for c in choices] == [
        ("a", "Alpha", "n"),
        ("b", "Beta", "s"),
    ]
    csv_data = b"code;title;name\nx1;First;ignored\nx2;Second;ignored\nx1;Again;dup\n"
    chosen = form_files.choices_from_file(
        "codes.csv", csv_data, {"value": "code", "label": "title"}, "ru"
    )
    # Semicolons are read too; the first of a repeated value wins, as in ODK.
    assert [(c.name, c.labels) for c in chosen] == [
        ("x1", {"ru": "First"}),
        ("x2", {"ru": "Second"}),
    ]
    with pytest.raises(form_files.AttachmentError, match="XML file is not readable"):
        form_files.choices_from_file(
            "bomb.xml", b'<!DOCTYPE r [<!ENTITY a "aaaa">]><root>&a;</root>', {}, "en"
        )


def test_pulldata_in_labels_and_choice_filters_reads_its_files() -> None:
    """Tables read only by a label's <output> or by a choice filter are imported too."""
    import datetime

    from survey.instruments import piping, rules

    shown = "Population: <output value=\"pulldata('sizes', 'population', 'name', ${village})\"/>"
    rows = [
        ["type", "name", "label", "choice_filter"],
        ["begin_group", "outer", "Outer", ""],
        ["begin_group", "inner", "Inner", ""],
        ["select_one village", "village", "Village", ""],
        ["note", "size_note", shown, ""],
        ["select_one band", "band", "Band", "name = pulldata('bands', 'band', 'name', ${village})"],
        ["end_group", "", "", ""],
        ["end_group", "", "", ""],
    ]
    choices = [
        ["list_name", "name", "label"],
        *(["village", v, v.title()] for v in ("aul", "kent")),
        *(["band", b, b.title()] for b in ("small", "large")),
    ]
    data = xlsform_bytes(rows, choices, {"form_id": "shown_pulldata", "version": "1"})
    with pytest.raises(InstrumentImportError) as refused:
        load_xlsform(data, "shown.xlsx", {})
    problems = refused.value.problems
    assert any("row 5, column 'label'" in p and "'sizes.csv'" in p for p in problems), problems
    assert any("row 6, column 'choice_filter'" in p and "'bands.csv'" in p for p in problems)

    files = {
        "sizes.csv": b"name,population\naul,120\nkent,450\n",
        "bands.csv": b"name,band\naul,small\nkent,large\n",
    }
    spec = load_xlsform(data, "shown.xlsx", files).spec
    assert set(spec.lookup_tables) == {"sizes", "bands"}
    today = datetime.date.today()
    note = spec.questions_by_name["size_note"]
    context = rules.text_context(spec, {"village": "kent"}, "en", today)
    assert piping.fill(spec.label(note.labels, "en"), context) == "Population: 450"
    band = spec.questions_by_name["band"]
    offered = rules.allowed_choices(spec, band, {"village": "aul"}.get, today)
    assert [c.name for c in offered] == ["small"]


MALFORMED = [
    ("places.geojson", b'{"type":"FeatureCollection","features":[{"id":1,"properties":[1]}]}'),
    ("places.geojson", b'{"type":"FeatureCollection","features":[{"id":1,"geometry":[1]}]}'),
    (
        "places.geojson",
        b'{"type":"FeatureCollection","features":[{"id":1,"geometry":'
        b'{"type":"Point","coordinates":5}}]}',
    ),
    ("places.geojson", b"[" * 100_000 + b"]" * 100_000),
    ("places.csv", b"name,label\na," + b"x" * 200_000 + b"\n"),
    ("places.xml", b"<a>" * 100_000 + b"</a>" * 100_000),
]


@pytest.mark.parametrize(("filename", "content"), MALFORMED)
def test_a_malformed_attachment_is_refused_with_a_message(filename: str, content: bytes) -> None:
    with pytest.raises(form_files.AttachmentError) as refused:
        form_files.choices_from_file(filename, content, {}, "en")
    assert "Traceback" not in str(refused.value) and str(refused.value)


@pytest.mark.parametrize(("filename", "content"), MALFORMED[:1] + MALFORMED[4:5])
def test_a_malformed_attachment_gets_a_message_at_its_row_not_a_500(
    client, auth, filename: str, content: bytes
) -> None:
    survey = [["type", "name", "label"], [f"select_one_from_file {filename}", "place", "Place"]]
    form = xlsform_bytes(survey, settings={"form_id": "places", "version": "1"})
    auth.login("admin")
    response = upload(client, form, "places.xlsx", {filename: content})
    assert response.status_code == 422, response.status_code
    assert "row 2, column &#39;type&#39;" in response.text
    assert f"&#39;{filename}&#39;" in response.text


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)
FEATURE_KEYS = st.sampled_from(["type", "properties", "geometry", "id", "coordinates"])
FEATURE_LIKE = st.recursive(
    JSON_VALUES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FEATURE_KEYS, inner, max_size=4),
    max_leaves=12,
)
GEOJSON_LIKE = st.fixed_dictionaries(
    {"type": st.just("FeatureCollection"), "features": st.lists(FEATURE_LIKE, max_size=4)}
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    suffix=st.sampled_from([".csv", ".geojson", ".xml"]),
    content=st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | GEOJSON_LIKE.map(lambda v: json.dumps(v).encode()),
)
def test_any_bytes_as_an_attachment_give_choices_or_an_attachment_error(
    suffix: str, content: bytes
) -> None:
    """Whatever a file holds, reading it gives choices or AttachmentError, never a crash."""
    readers = [lambda: form_files.choices_from_file(f"list{suffix}", content, {}, "en")]
    if suffix == ".csv":
        readers.append(lambda: form_files.csv_rows(content))
    for read in readers:
        message = "read"
        try:
            read()
        except form_files.AttachmentError as error:
            message = str(error)
        assert message


def test_pulldata_anywhere_an_expression_is_checked_demands_its_file(app) -> None:
    """Each expression column the importer checks loads the tables its pulldata() calls read,
    a required (or read_only) expression too."""
    columns = [
        "type", "name", "label", "hint", "relevant", "calculation", "constraint",
        "constraint_message", "required", "required_message", "choice_filter", "repeat_count",
    ]  # fmt: skip

    def call(stem: str) -> str:
        return f"pulldata('{stem}', 'b', 'a', ${{v}})"

    def shown(stem: str) -> str:
        return f'<output value="{call(stem)}"/>'

    def row(**cells: str) -> list[str]:
        return [cells.get(c, "") for c in columns]

    rows = [
        columns,
        row(type="text", name="v", label="V"),
        row(type="begin_repeat", name="r", label=shown("r_label"), relevant=call("r_relevant") +
            " = 'x'", repeat_count=call("r_count")),
        row(type="text", name="a", label=shown("label"), hint=shown("hint"),
            relevant=call("relevant") + " = 'x'", constraint=call("constraint") + " = .",
            constraint_message=shown("constraint_message"), required="yes",
            required_message=shown("required_message")),
        row(type="calculate", name="c", calculation=call("calculation")),
        row(type="select_one l", name="s", label="S", choice_filter="name = " + call("filter")),
        row(type="text", name="q", label="Q", required=call("required") + " = 'x'"),
        row(type="end_repeat"),
    ]  # fmt: skip
    choices = [["list_name", "name", "label"], ["l", "x", "X"]]
    data = xlsform_bytes(rows, choices, {"form_id": "everywhere", "version": "1"})
    with pytest.raises(InstrumentImportError) as refused:
        load_xlsform(data, "everywhere.xlsx", {})
    problems = refused.value.problems
    expected = {
        "r_label": (3, "label"),
        "r_relevant": (3, "relevant"),
        # pyxform moves a repeat_count expression into a calculate of its own, before the row.
        "r_count": (None, "calculation"),
        "label": (4, "label"),
        "hint": (4, "label"),  # a question's texts are read together, reported at its label
        "relevant": (4, "relevant"),
        "constraint": (4, "constraint"),
        "constraint_message": (4, "label"),
        "required_message": (4, "label"),
        "calculation": (5, "calculation"),
        "filter": (6, "choice_filter"),
        "required": (7, "required"),
    }
    for stem, (line, column) in expected.items():
        assert any(
            f"{f'row {line}, ' if line else ''}column '{column}'" in p and f"'{stem}.csv'" in p
            for p in problems
        ), (stem, "\n".join(p[16:100] for p in problems))

    files = {f"{stem}.csv": b"a,b\nk,x\n" for stem in expected}
    imported = load_xlsform(data, "everywhere.xlsx", files)
    assert set(imported.spec.lookup_tables) == set(expected)
    question = imported.spec.questions_by_name["q"]
    assert question.required_if == call("required") + " = 'x'" and not question.required


def test_the_page_gets_only_the_columns_pulldata_reads(app) -> None:
    """A table's other columns (a phone number) never reach the browser, unless a call names
    its column or file with an expression, when any of them may be read."""
    from survey.collection.page import form_model
    from survey.instruments.rules import Messages

    people = b"name,age,phone,district\nasel,34,+77010000000,north\nbek,51,+77020000000,south\n"

    def tables(*calculations: str) -> dict:
        rows = [["type", "name", "label", "calculation"], ["text", "who", "Who", ""]]
        rows += [["calculate", f"c{i}", "", c] for i, c in enumerate(calculations)]
        data = xlsform_bytes(rows, settings={"form_id": "people", "version": "1"})
        files = {"people.csv": people, "other.csv": b"k,v,secret\na,b,c\n"}
        spec = load_xlsform(data, "people.xlsx", files).spec
        return form_model(spec, "en", Messages())["tables"]

    literal = tables(
        "pulldata('people', 'age', 'name', ${who})", "pulldata('people.csv', 'age', 'name', 'x')"
    )
    assert literal == {"people": [{"name": "asel", "age": "34"}, {"name": "bek", "age": "51"}]}
    assert "+7701" not in json.dumps(literal)
    whole = tables("pulldata('people', ${who}, 'name', 'asel')", "pulldata('other', 'v', 'k', 'a')")
    assert whole["people"][0]["phone"] == "+77010000000"
    assert whole["other"] == [{"k": "a", "v": "b"}]
    both = tables("pulldata(${who}, 'age', 'name', 'asel')", "pulldata('other', 'v', 'k', 'a')")
    assert both["other"] == [{"k": "a", "v": "b", "secret": "c"}]


# The bytes of HOT's towns.csv line (hotosm/waste-media): DOS code page 850, 'à' and 'é'.
TOWNS_LINE = b"autre,Autre (\x85 pr\x82ciser),fakara\n"


@pytest.mark.parametrize(
    ("data", "codec", "example"),
    [
        (b"name,label,municipality\n" + TOWNS_LINE, "cp850", "Autre (à préciser)"),
        ("name,label\nmsk,Москва\nala,Алматы\n".encode("cp1251"), "cp1251", "Москва"),
        ("name,label\nmsk,Москва\nala,Алматы\n".encode("cp866"), "cp866", "Москва"),
        # Read as Windows-1252 these give signs side by side ('€«¬ âë'), not words (review).
        ("name,label\nalmaty,Алматы\nsemey,Семей\n".encode("cp866"), "cp866", "Алматы"),
        ("name,label\nsemey,«Семей»\n".encode("cp1251"), "cp1251", "«Семей»"),
        ("name,label\ncafe,Café crème\n".encode("cp1252"), "cp1252", "Café crème"),
        ("name,label\nlodz,Łódź\n".encode("cp1250"), "cp1250", "Łódź"),
        ("name,label\nbgd,بغداد\nbsr,البصرة\nmsl,الموصل\n".encode("cp1256"), "cp1256", "بغداد"),
        ("name,label\nala,Алматы\n".encode("utf-16"), "utf_16", "Алматы"),
        ("name,label\nala,Алматы\n".encode(), None, ""),
    ],
)
def test_a_csv_in_a_legacy_encoding_is_read_as_the_text_it_is(
    app, data: bytes, codec: str | None, example: str
) -> None:
    recoded, found, shown = form_files.recoded_csv(data)
    assert (found, shown) == (codec, example)
    assert recoded.decode("utf-8").endswith("\n")
    if codec is None:
        assert recoded is data


def test_a_csv_not_in_utf8_is_stored_as_utf8_and_the_admin_told(app) -> None:
    survey = [["type", "name", "label"], ["select_one_from_file towns.csv", "town", "Town"]]
    data = xlsform_bytes(survey, settings={"form_id": "towns", "version": "1"})
    towns = b"name,label\nniamey,Niamey\n" + TOWNS_LINE
    imported = load_xlsform(data, "towns.xlsx", {"towns.csv": towns})
    assert imported.files["towns.csv"] == towns.decode("cp850").encode("utf-8")
    labels = [imported.spec.label(c.labels, "en") for c in imported.spec.choices["towns.csv"]]
    assert labels == ["Niamey", "Autre (à préciser)"]
    assert (
        "'towns.csv' was not UTF-8 text: it was read as DOS code page 850 (Western European, "
        "Excel's 'CSV (MS-DOS)') and stored as UTF-8, as ODK reads it. Check that its accented "
        "names read right on the form, for example 'Autre (à préciser)'."
    ) in imported.warnings


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", "binary data, not text"),
        (b"\xff\xfename\n", "its encoding could not be told"),
    ],
)
def test_a_binary_or_undecodable_csv_is_refused_clearly(app, content: bytes, fragment: str) -> None:
    survey = [["type", "name", "label"], ["select_one_from_file towns.csv", "town", "Town"]]
    data = xlsform_bytes(survey, settings={"form_id": "towns", "version": "1"})
    with pytest.raises(InstrumentImportError) as refused:
        load_xlsform(data, "towns.xlsx", {"towns.csv": content})
    assert any("'towns.csv'" in p and "row 2" in p for p in refused.value.problems)
    with pytest.raises(form_files.AttachmentError, match=fragment):
        form_files.decode_legacy(content)
