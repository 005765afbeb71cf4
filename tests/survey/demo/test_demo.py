"""Demo data: valid for the rules, reproducible, skewed like the real survey, fast CLI."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from random import Random
from typing import Any

from sqlalchemy import func, select

from survey import demo
from survey.cli import main
from survey.collection.models import Submission
from survey.collection.services import answers_digest, valid_instance_id
from survey.extensions import db
from survey.instruments.rules import evaluate_answers
from survey.instruments.services import spec_for
from survey.instruments.xlsform import load_xlsform
from tests.factories import xlsform_bytes

TODAY = dt.date.today()

# A small instrument with every question type, a three-level cascade, repeats with and
# without repeat_count, calculations over a repeat and constraints that refer to other answers.
GENERIC_SURVEY = [
    ["type", "name", "label", "required", "relevant", "constraint", "calculation",
     "choice_filter", "repeat_count"],
    ["begin_group", "intro", "Intro", "", "", "", "", "", ""],
    ["select_one yn", "consent", "Consent", "yes", "", "", "", "", ""],
    ["integer", "age", "Age", "yes", "${consent} = 'yes'", ". >= 0 and . <= 120", "", "", ""],
    ["end_group", "", "", "", "", "", "", "", ""],
    ["begin_group", "place", "Place", "", "${consent} = 'yes' and ${age} >= 18", "", "", "", ""],
    ["select_one region", "region", "Region", "yes", "", "", "", "", ""],
    ["select_one district", "district", "District", "yes", "", "", "", "region=${region}", ""],
    ["select_one town", "town", "Town", "", "", "", "", "district=${district}", ""],
    ["date", "visit_date", "Visit", "yes", "", ". <= today()", "", "", ""],
    ["decimal", "weight", "Weight", "", "", ". > 2.5 and . < 250", "", "", ""],
    ["text", "remark", "Remark", "", "", "", "", "", ""],
    ["select_multiple fruit", "fruits", "Fruits", "", "",
     "count-selected(.) <= 2 and not(selected(., 'none') and count-selected(.) > 1)", "", "",
     ""],
    ["text", "fruit_other", "Other fruit", "yes", "selected(${fruits}, 'other')", "", "", "",
     ""],
    ["acknowledge", "ack", "Understood", "", "", "", "", "", ""],
    ["integer", "children", "Children", "yes", "", ". >= 0 and . <= 5", "", "", ""],
    ["begin_repeat", "child", "Child", "", "", "", "", "", "${children}"],
    ["integer", "child_age", "Child age", "yes", "", ". >= 0 and . <= 17 and . < ${age}", "",
     "", ""],
    ["select_one yn", "child_school", "School", "yes", "${child_age} >= 6", "", "", "", ""],
    ["calculate", "child_double", "", "", "", "", "${child_age} * 2", "", ""],
    ["end_repeat", "", "", "", "", "", "", "", ""],
    ["begin_repeat", "pet", "Pet", "", "${age} > 30", "", "", "", ""],
    ["select_one yn", "pet_vaccinated", "Vaccinated", "yes", "", "", "", "", ""],
    ["end_repeat", "", "", "", "", "", "", "", ""],
    ["calculate", "ages_total", "", "", "", "", "sum(${child_age})", "", ""],
    ["calculate", "pets", "", "", "", "", "count(${pet})", "", ""],
    ["note", "done", "Thanks", "", "", "", "", "", ""],
    ["end_group", "", "", "", "", "", "", "", ""],
]  # fmt: skip
GENERIC_CHOICES = [
    ["list_name", "name", "label", "region", "district"],
    ["yn", "yes", "Yes", "", ""],
    ["yn", "no", "No", "", ""],
    ["region", "north", "North", "", ""],
    ["region", "south", "South", "", ""],
    ["district", "n1", "N1", "north", ""],
    ["district", "n2", "N2", "north", ""],
    ["district", "s1", "S1", "south", ""],
    ["town", "n1a", "N1a", "", "n1"],
    ["town", "n1b", "N1b", "", "n1"],
    ["town", "s1a", "S1a", "", "s1"],
    ["fruit", "apple", "Apple", "", ""],
    ["fruit", "pear", "Pear", "", ""],
    ["fruit", "other", "Other", "", ""],
    ["fruit", "none", "None", "", ""],
]


def sample(spec: Any, n: int, seed: int = 1) -> list[dict[str, Any]]:
    """n answers for interviews spread over the last 60 days."""
    rng = Random(seed)
    profile = demo.profile_for(spec)
    return [
        demo.generate_answers(
            spec, rng, profile=profile, day=TODAY - dt.timedelta(days=rng.randrange(60))
        )
        for _ in range(n)
    ]


def assert_stored_unchanged(spec: Any, answers: dict[str, Any]) -> None:
    outcome = evaluate_answers(spec, answers)
    assert outcome.errors == {}
    assert outcome.answers == answers


def test_same_seed_same_answers(default_instrument: Any) -> None:
    spec = spec_for(default_instrument)
    assert sample(spec, 30, seed=5) == sample(spec, 30, seed=5)
    assert sample(spec, 30, seed=5) != sample(spec, 30, seed=6)


def test_default_instrument_answers_pass_the_rules(default_instrument: Any) -> None:
    spec = spec_for(default_instrument)
    answers = sample(spec, 200)
    for one in answers:
        assert_stored_unchanged(spec, one)
        demo.check_answers(spec, one)  # also the types the web form stores
    # Every question type the instrument uses appears somewhere in the sample.
    seen = {name for one in answers for name in one} | {
        name for one in answers for entry in one.get("member", []) for name in entry
    }
    asked = {q.name for q in spec.iter_questions() if q.type not in {"note"}}
    assert len(asked - seen) <= 3, asked - seen  # a few rare branches may not show up in 200


def test_any_instrument_gets_valid_answers(create_instrument: Any, make_xlsform: Any) -> None:
    version = create_instrument(
        make_xlsform(
            GENERIC_SURVEY,
            GENERIC_CHOICES,
            {"form_id": "generic_demo", "consent_question": "consent", "age_question": "age"},
        )
    )
    spec = spec_for(version)
    answers = sample(spec, 200)
    for one in answers:
        assert_stored_unchanged(spec, one)
        demo.check_answers(spec, one)
        assert one["consent"] == "yes" and one["age"] >= 18  # demo data are never refusals
        assert len(one.get("child", [])) == one["children"]
        assert one["visit_date"] <= TODAY.isoformat()
    towns = Counter(one.get("town") for one in answers)
    assert {"n1a", "n1b", "s1a"} <= set(towns)  # the cascade offers what the district allows
    assert any("fruit_other" in one for one in answers)
    assert any(one.get("pet") for one in answers)


def test_default_instrument_skews(default_instrument: Any) -> None:
    answers = sample(spec_for(default_instrument), 1500, seed=11)
    by_generation = Counter(a["generation"] for a in answers)
    assert set(by_generation) == {"g1", "g2", "g3", "none"}
    assert by_generation["g1"] > by_generation["g3"] > by_generation["none"]
    g1 = [a for a in answers if a["generation"] == "g1"]
    assert sum(a["age"] >= 60 for a in g1) / len(g1) > 0.8
    sexes = Counter(a["sex"] for a in answers)
    assert sexes["female"] > sexes["male"]
    assert sum(a["region"] == "abai" for a in answers) / len(answers) > 0.6
    districts = Counter(a["district"] for a in answers if a["region"] == "abai")
    assert districts.most_common(1)[0][0] == "semey_city"

    def share(group: list[dict], test: Any) -> float:
        return sum(1 for a in group if test(a)) / len(group)

    descendants = [a for a in answers if a["generation"] in {"g2", "g3"}]
    certified = {"paper", "digital"}
    assert share(descendants, lambda a: a.get("certificate_status") not in certified) > 0.6
    assert share(g1, lambda a: a.get("certificate_status") in certified) > 0.5

    def chronic(a: dict) -> bool:
        return any(c not in {"none", "dnk", "pnta"} for c in a.get("conditions", []))

    def disabled(a: dict) -> bool:
        return a.get("wg_disability") == "yes"

    g3 = [a for a in answers if a["generation"] == "g3"]
    assert share(g1, chronic) > share(g3, chronic) + 0.15
    assert share(g1, disabled) > share(g3, disabled)

    scored = [a for a in answers if "phq4_anxiety" in a and a.get("radiation_worry", "").isdigit()]
    phq = [a["phq4_anxiety"] + a.get("phq4_depression", 0) for a in scored]
    worry = [int(a["radiation_worry"]) for a in scored]
    assert statistics.correlation(phq, worry) > 0.2

    first_need = Counter(a.get("need_1") for a in answers)
    assert {code for code, _ in first_need.most_common(3)} <= {
        "medical_care",
        "medicines",
        "status_descendants",
    }
    sensitive = Counter(v for a in answers for v in a.get("repro_outcomes", []))
    assert sensitive["pnta"] > 0 and sensitive["dnk"] > 0
    for a in answers:
        assert len(a.get("member", [])) == a["household_size"] - 1
    sizes = Counter(a["household_size"] for a in answers)
    assert 2 <= statistics.mean(a["household_size"] for a in answers) <= 5
    assert sizes[1] > 0 and max(sizes) >= 7


def test_workers_make_the_same_rows(default_instrument: Any, survey_round: Any) -> None:
    def rows(workers: int) -> list[dict]:
        made = demo.iter_demo_rows(default_instrument, survey_round, 600, 3, workers=workers)
        return list(made)

    alone = rows(1)
    assert rows(2) == alone
    assert len({r["instance_id"] for r in alone}) == 600


def test_cli_writes_demo_submissions(
    runner: Any, default_instrument: Any, survey_round: Any
) -> None:
    result = runner.invoke(main, ["demo-data", "--n", "120", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "Wrote 120 demo submissions" in result.output
    rows = db.session.execute(select(Submission)).scalars().all()
    assert len(rows) == 120
    assert all(r.is_demo for r in rows)
    assert len({r.instance_id for r in rows}) == 120
    assert all(valid_instance_id(r.instance_id) == r.instance_id for r in rows)
    assert len({r.receipt_code for r in rows}) == 120
    spec = spec_for(default_instrument)
    for row in rows:
        assert row.instrument_version_id == default_instrument.id
        assert row.round_id == survey_round.id
        assert row.answers_sha256 == answers_digest(default_instrument.id, row.answers)
        assert row.district == row.answers["district"]
        assert row.language in spec.languages
        minutes = (row.ended_at - row.started_at).total_seconds() / 60
        assert 0 < minutes <= 60
        assert survey_round.starts_on <= row.started_at.date() + dt.timedelta(days=1)
        assert row.answers["interview_date"] <= TODAY.isoformat()
        assert_stored_unchanged(spec, row.answers)  # as read back from the database
    languages = Counter(r.language for r in rows)
    assert languages["ru"] + languages["kk"] > 0.9 * len(rows)

    again = runner.invoke(main, ["demo-data", "--n", "120", "--seed", "4"])
    assert again.exit_code == 0, again.output
    assert "Wrote 0 demo submissions" in again.output
    assert db.session.execute(select(func.count(Submission.id))).scalar() == 120


BAD_ARGUMENTS = [
    (["--n", "0", "--seed", "1"], "0 is not in the range"),
    (["--n", "2000001", "--seed", "1"], "2000001 is not in the range"),
    (["--n", "ten", "--seed", "1"], "is not a valid integer"),
    (["--n", "5"], "Missing option '--seed'"),
    (["--n", "5", "--seed", "1", "--form-id", "nope"], "No instrument with form id 'nope'"),
    (["--n", "5", "--seed", "1", "--round", "1999"], "No survey round named '1999'"),
]


def test_cli_refuses_bad_arguments(runner: Any, default_instrument: Any, survey_round: Any) -> None:
    for args, message in BAD_ARGUMENTS:  # one app for all cases: setting it up is the slow part
        result = runner.invoke(main, ["demo-data", *args])
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    assert db.session.execute(select(func.count(Submission.id))).scalar() == 0


def test_cli_needs_a_round(runner: Any, default_instrument: Any) -> None:
    result = runner.invoke(main, ["demo-data", "--n", "5", "--seed", "1"])
    assert result.exit_code != 0
    assert "No survey round has started" in result.output


PULLDATA_SURVEY = [
    ["type", "name", "label", "required", "constraint", "calculation"],
    ["select_one village", "village", "Village", "yes", "", ""],
    ["calculate", "population", "", "", "",
     "pulldata('villages', 'population', 'name', ${village})"],
    ["integer", "households", "Households", "yes",
     ". >= 1 and . <= pulldata('villages', 'population', 'name', ${village})", ""],
]  # fmt: skip


def test_demo_answers_read_the_forms_csv_attachments() -> None:
    """pulldata() in the demo walk reads the form's tables, as the rules that check it do."""
    data = xlsform_bytes(
        PULLDATA_SURVEY,
        [["list_name", "name", "label"], ["village", "aul", "Aul"], ["village", "kent", "Kent"]],
        {"form_id": "pulldata_demo", "version": "1"},
    )
    villages = b"name,population\naul,3\nkent,450\n"
    spec = load_xlsform(data, "pulldata_demo.xlsx", {"villages.csv": villages}).spec
    answers = sample(spec, 20)
    for one in answers:
        assert_stored_unchanged(spec, one)
        assert one["population"] == {"aul": "3", "kent": "450"}[one["village"]]
    assert any(one["village"] == "aul" for one in answers)


PATTERN_SURVEY = [
    ["type", "name", "label", "required", "constraint"],
    ["text", "plot", "Plot", "yes", "regex(., '^[A-Z]{3}-[0-9]{4}$') and string-length(.) = 8"],
    ["text", "mail", "E-mail", "", "regex(., '^[a-z]+@[a-z]+\\.kz$')"],
    ["text", "leader_phone", "Phone", "yes", "regex(., '^8 7[0-9]{2} [0-9]{3} [0-9]{4}$')"],
]  # fmt: skip


def test_demo_text_matches_regex_constraints_and_passes_the_screening() -> None:
    """A text question whose constraint is a regex() gets text drawn from the pattern; what the
    screening of free text refuses (e-mails, phone numbers not confirmed) is never generated."""
    import dataclasses

    import pytest

    from survey.collection.services import identifiers_in_answers
    from survey.demo.walker import DemoDataError

    data = xlsform_bytes(PATTERN_SURVEY, settings={"form_id": "patterns", "version": "1"})
    spec = load_xlsform(data, "patterns.xlsx").spec
    with pytest.raises(DemoDataError):  # every phone number would be refused: none is made up
        sample(spec, 1)
    kept = dataclasses.replace(spec, identifying_kept=("phone_numbers",))
    answers = sample(kept, 30)
    for one in answers:
        assert_stored_unchanged(kept, one)
        assert identifiers_in_answers(kept, one) == {}
        assert "mail" not in one  # an e-mail address is refused: the optional question stays empty
    assert len({one["plot"] for one in answers}) > 20
    assert all(one["leader_phone"].startswith("8 7") for one in answers)
