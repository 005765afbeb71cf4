"""A repeat inside a repeat (issue 9, part 3): imported, checked by the rules in both evaluators,
filled on the web form without JavaScript and sent by ODK Collect, stored as entries holding
entries."""

from __future__ import annotations

import html as html_module
import io
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.extensions import db
from survey.instruments import expressions as ex
from survey.instruments.rules import evaluate_answers
from survey.instruments.spec import InstrumentSpec
from survey.instruments.xlsform import load_xlsform
from tests.factories import PASSWORD, csv_export, csv_tables, xlsform_bytes
from tests.survey.collection.test_nested_groups import (
    HTTPS,
    post_submission,
    send_from_collect,
)

HEADER = ["type", "name", "label", "calculation", "relevant"]
NESTED = [
    HEADER,
    ["text", "village", "Village", "", ""],
    ["begin_repeat", "household", "Household", "", ""],
    ["text", "head", "Head", "", ""],
    ["begin_repeat", "member", "Member", "", ""],
    ["integer", "age", "Age", "", ""],
    ["calculate", "number", "", "position(..)", ""],
    ["text", "school", "School", "", "../age < 18"],
    ["calculate", "head_of", "", "../../head", ""],
    ["end_repeat", "", "", "", ""],
    ["calculate", "members", "", "count(${member})", ""],
    ["calculate", "oldest", "", "max(${age})", ""],
    ["end_repeat", "", "", "", ""],
    ["calculate", "people", "", "count(${member})", ""],
    ["calculate", "second_age", "", "indexed-repeat(${age}, ${household}, 2, ${member}, 1)", ""],
]
# Each outer entry holds its own list of inner entries; calculations are the server's.
STORED = {
    "village": "Akkol",
    "household": [
        {
            "head": "Aru",
            "member": [
                {"age": 40, "number": 1, "head_of": "Aru"},
                {"age": 9, "number": 2, "school": "No. 4", "head_of": "Aru"},
            ],
            "members": 2,
            "oldest": 40,
        },
        {
            "head": "Dana",
            "member": [{"age": 70, "number": 1, "head_of": "Dana"}],
            "members": 1,
            "oldest": 70,
        },
    ],
    "people": 3,
    "second_age": 70,
}


@pytest.fixture(scope="module")
def spec() -> InstrumentSpec:
    return load_xlsform(xlsform_bytes(NESTED)).spec


@pytest.mark.sqlite_only
def test_the_inner_repeat_is_imported_inside_its_repeat(spec: InstrumentSpec) -> None:
    outer = spec.repeats_by_name["household"]
    inner = spec.repeats_by_name["member"]
    assert [r.name for r in outer.repeats] == ["member"]
    assert (inner.repeat, inner.path, inner.after) == ("household", "household/member", 1)
    assert spec.questions_by_name["age"].repeat == "member"
    assert [getattr(i, "name", None) for i in outer.entry_items()][:2] == ["head", "member"]
    again = InstrumentSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert again.repeats_by_name["member"].repeat == "household"
    assert [q.name for q in again.repeats_by_name["member"].questions] == [
        "age",
        "number",
        "school",
        "head_of",
    ]


@pytest.mark.sqlite_only
def test_rules_clean_each_inner_entry_and_count_over_them(spec: InstrumentSpec) -> None:
    raw = {
        "village": "Akkol",
        "household": [
            {
                "head": "Aru",
                "member": [{"age": 40, "school": "dropped: not relevant"}, {"age": 9}],
            },
            {"head": "Dana", "member": [{"age": 70}]},
        ],
        "people": 99,  # forged: recomputed
    }
    raw["household"][0]["member"][1]["school"] = "No. 4"
    outcome = evaluate_answers(spec, raw)
    assert outcome.errors == {}
    assert outcome.answers == STORED


@pytest.mark.sqlite_only
def test_indexed_repeat_over_two_levels_agrees_in_python_and_javascript() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = Path(__file__).resolve().parents[3] / "survey" / "static" / "js" / "expressions.js"
    # entries(name, outer): the values of a question in the inner entries the pairs choose.
    table = {"1": [10.0, 11.0], "2": [20.0]}
    cases = [
        "indexed-repeat(${age}, ${household}, 1, ${member}, 2)",
        "indexed-repeat(${age}, ${household}, 2, ${member}, 1)",
        "indexed-repeat(${age}, ${household}, 2, ${member}, 2)",
        "indexed-repeat(${age}, ${household}, 1 + 1, ${member}, 1) * 2",
    ]

    def entries(name: str, outer: tuple = ()) -> list:
        return table.get(str(int(outer[0][1])), []) if outer else []

    expected = [
        ex.value_to_json(
            ex.evaluate(ex.parse(text), ex.EvalContext(lookup={}.get, entries=entries))
        )
        for text in cases
    ]
    assert expected == [11.0, 20.0, "", 40.0]
    runner = (
        "const E = require(process.argv[1]);"
        "const table = " + json.dumps(table) + ";"
        "const asts = JSON.parse(process.argv[2]);"
        "const ctx = {lookup: () => null,"
        " entries: (n, outer) => (outer ? table[String(outer[0][1])] || [] : [])};"
        "console.log(JSON.stringify(asts.map((a) => E.encode(E.evaluate(a, ctx)))));"
    )
    asts = json.dumps([ex.to_json(ex.parse(text)) for text in cases])
    done = subprocess.run(
        [node, "-e", runner, str(script), asts], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == expected


@pytest.mark.sqlite_only
def test_relative_paths_name_the_question_they_end_with() -> None:
    assert ex.parse("./age < 18") == ex.parse("${age} < 18")
    assert ex.parse("../../head") == ex.parse("${head}")


@pytest.mark.sqlite_only
def test_indexed_repeat_needs_a_number_for_each_repeat() -> None:
    with pytest.raises(ex.ExpressionError, match="for each repeat"):
        ex.parse("indexed-repeat(${age}, ${household}, 1, ${member})")


def web_form_data(instance_id: str) -> dict[str, str]:
    data = {"_instance_id": instance_id, "_started_at": "2025-01-10T09:00:00Z"}
    data["village"] = "Akkol"
    for i, household in enumerate(STORED["household"]):
        data[f"household-{i}-_entry"] = "1"
        data[f"household-{i}-head"] = household["head"]
        for j, member in enumerate(household["member"]):
            data[f"household-{i}-member-{j}-_entry"] = "1"
            data[f"household-{i}-member-{j}-age"] = str(member["age"])
            if "school" in member:
                data[f"household-{i}-member-{j}-school"] = member["school"]
    return data


@pytest.mark.sqlite_only
def test_inner_entries_are_added_without_javascript_and_stored_from_web_and_collect(
    client, auth, create_instrument, survey_round
) -> None:
    version = create_instrument(survey=NESTED)
    auth.login("volunteer")
    page = client.get(f"/collect/v/{version.id}").text
    assert 'value="add:household"' in page

    # "Add member" in the first household: the page comes back with an inner entry there.
    data = web_form_data(f"uuid:{uuid.uuid4()}")
    added = client.post(
        f"/collect/v/{version.id}", data={**data, "_action": "add:household-0-member"}
    )
    assert added.status_code == 200
    assert 'name="household-0-member-2-age"' in added.text
    assert 'name="household-1-member-1-age"' not in added.text
    assert 'value="remove:household-0-member:2"' in added.text

    web_id = f"uuid:{uuid.uuid4()}"
    response = client.post(f"/collect/v/{version.id}", data=web_form_data(web_id))
    assert response.status_code == 302, re.findall(r'data-error-for="[^"]+">[^<]+<', response.text)

    odk_id = f"uuid:{uuid.uuid4()}"
    by_path = {
        "village": "Akkol",
        "household": [
            {
                "head": h["head"],
                "member": [
                    {"age": str(m["age"]), **({"school": m["school"]} if "school" in m else {})}
                    for m in h["member"]
                ],
            }
            for h in STORED["household"]
        ],
    }
    sent = send_from_collect(client, by_path, odk_id)
    assert sent.status_code == 201, sent.text
    stored = {s.instance_id: s.answers for s in db.session.execute(select(Submission)).scalars()}
    assert stored[web_id] == STORED
    assert stored[odk_id] == STORED

    auth.logout()
    auth.login("admin")
    (web,) = db.session.execute(select(Submission).filter_by(instance_id=web_id)).scalars()
    shown = client.get(f"/submissions/{web.id}").text
    assert "Household 1, Member 2: School" in shown and "No. 4" in shown
    correcting = client.get(f"/submissions/{web.id}/correct").text
    assert re.search(r'name="household-0-member-1-school"[^>]*value="No. 4"', correcting)


@pytest.mark.sqlite_only
def test_identifiers_in_inner_entries_are_screened(
    client, auth, create_instrument, survey_round
) -> None:
    version = create_instrument(survey=NESTED)
    auth.login("volunteer")
    data = web_form_data(f"uuid:{uuid.uuid4()}")
    data["household-0-member-1-school"] = "call +7 701 234 5678"
    response = client.post(f"/collect/v/{version.id}", data=data)
    assert response.status_code == 422
    assert 'data-error-for="household-0-member-1-school"' in response.text


# Runs on PostgreSQL too: the entries of entries are read back from its JSON column.
def test_the_dataset_and_the_csv_export_have_one_table_per_repeat_level(
    app, client, auth, create_instrument, survey_round
) -> None:
    from survey.datasets.dataset import load_dataset

    version = create_instrument(survey=NESTED)
    auth.login("volunteer")
    for _ in range(2):
        response = client.post(
            f"/collect/v/{version.id}", data=web_form_data(f"uuid:{uuid.uuid4()}")
        )
        assert response.status_code == 302
    auth.logout()
    auth.login("admin")
    # From the columnar snapshot and from the answers' JSON alike.
    for from_database in (False, True):
        dataset = load_dataset([version], review_statuses=("pending",), from_database=from_database)
        households, members = dataset.repeats["household"], dataset.repeats["member"]
        assert list(households["_index"]) == [1, 2, 1, 2]
        assert "_parent_index" not in households.columns
        # Entries are numbered through the submission; _parent_index is the household's _index.
        assert list(members["_index"]) == [1, 2, 3, 1, 2, 3]
        assert list(members["_parent_index"]) == [1, 1, 2, 1, 1, 2]
        assert list(members["age"]) == [40, 9, 70, 40, 9, 70]
        assert members["_submission_id"].nunique() == 2

    tables = csv_tables(csv_export(client, "test_form"))
    assert {"respondents", "household", "member"} <= set(tables)
    rows = tables["member"]
    assert [(r["_index"], r["_parent_index"], r["age"]) for r in rows[:3]] == [
        ("1", "1", "40"),
        ("2", "1", "9"),
        ("3", "2", "70"),
    ]
    assert [r["head"] for r in tables["household"][:2]] == ["Aru", "Dana"]


@pytest.mark.sqlite_only
def test_odk_engine_fills_inner_entries_and_the_server_stores_them(
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
    answers: dict[str, object] = {"/data/village": "Akkol"}
    for i, household in enumerate(STORED["household"], 1):
        answers[f"/data/household[{i}]/head"] = household["head"]
        for j, member in enumerate(household["member"], 1):
            for name in ("age", "school"):
                if name in member:
                    answers[f"/data/household[{i}]/member[{j}]/{name}"] = member[name]
    result = fill_form(xform.get_data(as_text=True), answers=answers)
    assert result["status"] == "ok", result["errors"]
    sent = post_submission(client, result["submission_xml"].encode())
    assert sent.status_code == 201, sent.text
    (stored,) = [s.answers for s in db.session.execute(select(Submission)).scalars()]
    assert stored == STORED


VISITS = [
    HEADER,
    ["begin_repeat", "visit", "Visit", "", ""],
    ["integer", "rooms", "Rooms", "", ""],
    ["begin_repeat", "person", "Person", "", ""],
    ["integer", "years", "Years", "", ""],
    ["end_repeat", "", "", "", ""],
    ["end_repeat", "", "", "", ""],
]


@pytest.mark.sqlite_only
def test_the_questions_page_tabulates_a_question_of_an_inner_repeat(
    client, auth, create_instrument, survey_round
) -> None:
    version = create_instrument(survey=VISITS)
    for number in range(6):
        db.session.add(
            Submission(
                instance_id=f"uuid:visit-{number}",
                receipt_code=f"VISIT{number:04d}",
                instrument_version_id=version.id,
                round_id=survey_round.id,
                answers={"visit": [{"rooms": 2, "person": [{"years": 30}, {"years": 40}]}]},
                answers_sha256="0" * 64,
                language="en",
            )
        )
    db.session.commit()
    auth.login("coordinator")
    html = client.get("/dashboard/questions?question=years").text
    assert "is not in the data" not in html
    assert "Mean" in html and "35" in html


@pytest.mark.sqlite_only
def test_indexed_repeat_must_name_the_repeats_that_hold_the_question(client, auth) -> None:
    from tests.survey.instruments.test_views import upload, versions

    bad = [
        *NESTED[:-1],
        ["calculate", "wrong_repeat", "", "indexed-repeat(${age}, ${household}, 1)", ""],
        [
            "calculate",
            "wrong_order",
            "",
            "indexed-repeat(${age}, ${member}, 1, ${household}, 2)",
            "",
        ],
        ["calculate", "no_repeat", "", "indexed-repeat(${village}, ${household}, 1)", ""],
    ]
    auth.login("admin")
    response = upload(client, xlsform_bytes(bad))
    assert response.status_code == 422
    text = response.text.replace("&#39;", "'")
    for row, given in ((15, "household"), (16, "member/household")):
        assert (
            f"Sheet 'survey', row {row}, column 'calculation': indexed-repeat() must name "
            f"repeats that hold 'age', outermost first, the last being its own "
            f"(household/member), not {given}."
        ) in text
    assert (
        "Sheet 'survey', row 17, column 'calculation': indexed-repeat() reads a question of a "
        "repeat, and 'village' is in none."
    ) in text
    assert versions() == 0


def test_collect_is_told_which_inner_entry_to_correct(app) -> None:
    # Review finding: an error on an inner field was reported as "Household 1: member-1-age".
    from survey.collection.openrosa_views import _field_label

    spec = load_xlsform(xlsform_bytes(NESTED)).spec
    with app.test_request_context():
        assert _field_label(spec, "household-1-member-0-age") == "Household 2, Member 1: Age [age]"
        assert _field_label(spec, "household-0-head") == "Household 1: Head [head]"
        assert _field_label(spec, "village") == "Village [village]"


ILLNESSES = [
    ["type", "name", "label"],
    ["select_one sex", "sex", "Sex"],
    ["begin_repeat", "member", "Member"],
    ["integer", "age", "Age"],
    ["begin_repeat", "illness", "Illness"],
    ["select_one yn", "treated", "Treated?"],
    ["end_repeat", "", ""],
    ["end_repeat", "", ""],
]
ILLNESS_CHOICES = [
    ["list_name", "name", "label"],
    ["sex", "female", "Female"],
    ["sex", "male", "Male"],
    ["yn", "yes", "Yes"],
    ["yn", "no", "No"],
]
# Four illnesses in three households: two treated, both in women's households (2 of 3); the
# man's household has one, untreated; the third household's member was never ill.
HOUSEHOLDS = [
    {
        "sex": "female",
        "member": [
            {"age": 40, "illness": [{"treated": "yes"}, {"treated": "no"}]},
            {"age": 9, "illness": [{"treated": "yes"}]},
        ],
    },
    {"sex": "male", "member": [{"age": 70, "illness": [{"treated": "no"}]}]},
    {"sex": "female", "member": [{"age": 30}]},
]


@pytest.mark.sqlite_only
def test_the_analysis_plan_reads_an_inner_repeat_from_its_own_table(
    client, auth, create_instrument, survey_round
) -> None:
    from openpyxl import load_workbook

    from survey.dashboards.estimates import plan_of, run_estimates
    from survey.dashboards.filters import Filters, instrument_dataset, select_rows

    workbook = load_workbook(io.BytesIO(xlsform_bytes(ILLNESSES, ILLNESS_CHOICES)))
    sheet = workbook.create_sheet("analysis")
    sheet.append(["id", "type", "label::English (en)", "numerator", "answered", "unit"])
    sheet.append(
        ["treated", "proportion", "Illnesses treated", "treated in (yes)", "treated", "illness"]
    )
    sheet.append(["adults", "proportion", "Adult members", "age >= 18", "age", "member"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    version = create_instrument(buffer.getvalue())
    for number, answers in enumerate(HOUSEHOLDS):
        db.session.add(
            Submission(
                instance_id=f"uuid:ill-{number}",
                receipt_code=f"ILL{number:05d}",
                instrument_version_id=version.id,
                round_id=survey_round.id,
                answers=answers,
                answers_sha256="0" * 64,
                language="en",
            )
        )
    db.session.commit()

    dataset = instrument_dataset(version.instrument)
    plan, problems = plan_of(dataset.spec)
    assert problems == ()
    selection = select_rows(dataset, Filters(statuses=("pending",)))
    table, problems = run_estimates(selection, plan, dataset.spec, ("sex",))
    assert problems == []
    rows = {
        (r.indicator, r.group_var, r.group): (r.count, r.n, r.estimate) for r in table.itertuples()
    }
    assert rows[("treated", "", "")] == (2, 4, pytest.approx(0.5))
    assert rows[("treated", "respondent.sex", "female")] == (2, 3, pytest.approx(2 / 3))
    assert rows[("treated", "respondent.sex", "male")] == (0, 1, pytest.approx(0.0))
    # The roster indicator is computed as before: three adults of four members.
    assert rows[("adults", "", "")] == (3, 4, pytest.approx(0.75))

    auth.login("coordinator")
    html = client.get("/dashboard/indicators").text
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    # The table of all indicators: share, interval, n (4 illnesses), don't know, prefer not.
    assert "Illnesses treated All 50.0% * 15.0–85.0 4 0 0" in text
    assert "is not in the data" not in text
    auth.logout()
    # Advocates read the protected star, which has populations of respondents and members only.
    auth.login("advocate")
    page = html_module.unescape(client.get("/dashboard/indicators").text)
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "Indicator 'treated': entries of repeat 'illness' are not published." in text
