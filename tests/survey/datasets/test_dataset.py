"""The dataset bridge: shapes, types, categoricals, multi-select flags, rosters, filters, cache."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.datasets import reading as dataset_module
from survey.datasets.cache import cache_stats, invalidate
from survey.datasets.columns import METADATA_COLUMNS, RESPONDENT_PREFIX
from survey.datasets.dataset import load_dataset
from survey.datasets.labels import column_labels, value_labels
from survey.extensions import db
from survey.instruments.services import spec_for


def add_submission(version: Any, survey_round: Any, answers: dict[str, Any], **fields: Any):
    """Store one submission as the web form would (answers already checked)."""
    started = fields.pop("started_at", dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC))
    submission = Submission(
        instance_id=f"uuid:{uuid.uuid4()}",
        receipt_code=uuid.uuid4().hex[:16],
        instrument_version_id=version.id,
        round_id=survey_round.id,
        answers=answers,
        answers_sha256="0" * 64,
        language=fields.pop("language", "en"),
        district=answers.get("district"),
        started_at=started,
        ended_at=started + dt.timedelta(minutes=30),
        **fields,
    )
    db.session.add(submission)
    db.session.commit()
    return submission


@pytest.fixture
def demo(default_instrument, survey_round):
    """Forty synthetic interviews of the default instrument."""
    from survey.demo import write_demo_data

    write_demo_data(default_instrument, survey_round, 40, seed=7)
    return default_instrument


def stored() -> list[Submission]:
    return list(db.session.execute(select(Submission).order_by(Submission.id)).scalars())


def test_respondents_one_row_per_submission_with_metadata(demo) -> None:
    data = load_dataset([demo])
    frame = data.respondents
    assert len(frame) == 40
    assert list(frame.columns[: len(METADATA_COLUMNS)]) == list(METADATA_COLUMNS)
    rows = stored()
    assert frame["_submission_id"].tolist() == [s.id for s in rows]
    assert frame["_version"].dtype == "category"
    assert set(frame["_version"]) == {demo.version}
    assert set(frame["_round"]) == {"Test round"}
    assert frame["_demo"].dtype == bool and frame["_demo"].all()
    assert str(frame["_received_at"].dtype) == "datetime64[us, UTC]"
    assert frame["_duration_min"].between(5, 120).all()
    assert frame["_review_status"].tolist() == ["pending"] * 40
    assert frame["_volunteer"].isna().all()
    assert frame["_district"].tolist() == [s.district for s in rows]


def test_question_columns_are_typed(demo) -> None:
    data = load_dataset([demo])
    frame = data.respondents
    spec = spec_for(demo)
    sex_codes = [c.name for c in spec.choices["sex"]]
    assert frame["sex"].dtype == "category"
    assert list(frame["sex"].cat.categories) == sex_codes
    stigma = spec.questions_by_name["stigma"].choice_list
    assert list(frame["stigma"].cat.categories) == [c.name for c in spec.choices[stigma]]
    assert "pnta" in frame["stigma"].cat.categories  # dnk/pnta stay categories
    assert frame["age"].dtype == np.float64
    assert frame["household_size"].dtype == np.float64
    assert str(frame["interview_date"].dtype).startswith("datetime64")
    assert frame["message_to_states"].dtype == "string"
    # Calculates: numbers when all numeric, categories otherwise.
    assert frame["phq4_anxiety"].dtype == np.float64
    assert frame["age_band"].dtype == "category"
    assert list(frame["age_band"].cat.categories) == sorted(
        frame["age_band"].dropna().unique().tolist()
    )
    # Notes have no column.
    assert "consent_note" not in frame


def test_select_multiple_becomes_one_flag_per_choice(demo) -> None:
    data = load_dataset([demo])
    frame = data.respondents
    spec = spec_for(demo)
    codes = [c.name for c in spec.choices[spec.questions_by_name["benefits_received"].choice_list]]
    assert "benefits_received" not in frame
    columns = data.columns_for("benefits_received")
    assert columns == [f"benefits_received/{c}" for c in codes]
    for column in columns:
        assert frame[column].dtype == "boolean"
    for position, submission in enumerate(stored()):
        chosen = submission.answers.get("benefits_received")
        flags = {c: frame[f"benefits_received/{c}"].iloc[position] for c in codes}
        if chosen is None:
            assert all(pd.isna(v) for v in flags.values())
        else:
            assert {c for c, v in flags.items() if v} == set(chosen)
            assert all(v is not pd.NA for v in flags.values())


def test_values_match_the_stored_answers(demo) -> None:
    frame = load_dataset([demo]).respondents
    for position, submission in enumerate(stored()):
        answers = submission.answers
        assert frame["sex"].iloc[position] == answers["sex"]
        assert frame["age"].iloc[position] == answers["age"]
        assert frame["interview_date"].iloc[position] == pd.Timestamp(answers["interview_date"])
        message = frame["message_to_states"].iloc[position]
        assert (None if pd.isna(message) else message) == answers.get("message_to_states")


def test_members_one_row_per_roster_entry(demo) -> None:
    data = load_dataset([demo])
    members = data.members
    rows = stored()
    expected = [(s.id, i) for s in rows for i in range(1, len(s.answers.get("member", [])) + 1)]
    assert list(zip(members["_submission_id"], members["_index"], strict=True)) == expected
    assert data.repeats["member"] is members
    by_id = {s.id: s for s in rows}
    for row in members.head(30).to_dict("records"):
        entry = by_id[row["_submission_id"]].answers["member"][row["_index"] - 1]
        assert row["member_sex"] == entry["member_sex"]
        assert row["member_age"] == entry["member_age"]
    first = members.iloc[0]
    owner = by_id[int(first["_submission_id"])]
    assert first[RESPONDENT_PREFIX + "sex"] == owner.answers["sex"]
    assert first["_district"] == owner.district
    assert members["member_sex"].dtype == "category"
    assert members[RESPONDENT_PREFIX + "sex"].dtype == "category"
    assert members["member_age"].dtype == np.float64
    assert "member_conditions/cancer" in members and "member_conditions" not in members


def test_excluded_counts_and_status_filters(demo) -> None:
    rows = stored()
    for submission, status in zip(rows[:3], ["rejected", "rejected", "on_hold"], strict=True):
        submission.review_status = status
    rows[3].review_status = "approved"
    db.session.commit()
    data = load_dataset([demo])
    assert len(data.respondents) == 37
    assert data.excluded == {"rejected": 2, "on_hold": 1}
    everything = load_dataset(
        [demo], review_statuses=("pending", "approved", "on_hold", "rejected")
    )
    assert len(everything.respondents) == 40 and everything.excluded == {}
    approved = load_dataset([demo], review_statuses=["approved"])
    assert approved.respondents["_submission_id"].tolist() == [rows[3].id]
    assert approved.excluded == {"rejected": 2, "on_hold": 1, "pending": 36}
    real_only = load_dataset([demo], include_demo=False)
    assert len(real_only.respondents) == 0
    assert real_only.excluded["demo"] == 37
    with pytest.raises(ValueError, match="review status"):
        load_dataset([demo], review_statuses=["lost"])


def test_round_district_and_date_filters(demo, survey_round) -> None:
    from survey.collection.rounds import create_round

    other = create_round("Earlier round", dt.date(2020, 1, 1), dt.date(2020, 12, 31))
    db.session.commit()
    answers = dict(stored()[0].answers)
    answers["district"] = "zharma_district"
    old = add_submission(
        demo,
        other,
        answers,
        received_at=dt.datetime(2020, 6, 1, 12, tzinfo=dt.UTC),
    )
    by_round = load_dataset([demo], rounds=[other])
    assert by_round.respondents["_submission_id"].tolist() == [old.id]
    assert load_dataset([demo], rounds=["Earlier round"]).respondents.shape[0] == 1
    assert load_dataset([demo], rounds=[survey_round.id]).respondents.shape[0] == 40
    with pytest.raises(ValueError, match="Unknown survey round"):
        load_dataset([demo], rounds=["nope"])
    zharma = load_dataset([demo], districts=["zharma_district"]).respondents
    assert old.id in zharma["_submission_id"].tolist()
    assert set(zharma["_district"].dropna()) == {"zharma_district"}
    until = load_dataset([demo], until=dt.date(2020, 6, 1)).respondents
    assert until["_submission_id"].tolist() == [old.id]  # a date `until` includes the day
    since = load_dataset([demo], since=dt.date(2021, 1, 1)).respondents
    assert old.id not in since["_submission_id"].tolist() and len(since) == 40


def small_form(make_xlsform, version: str, extra_choice: bool, extra_question: bool) -> bytes:
    survey = [
        ["type", "name", "label::English (en)", "label::Russian (ru)"],
        ["select_one colour", "colour", "Colour", "Цвет"],
        ["select_multiple fruit", "fruit", "Fruit", "Фрукты"],
        ["integer", "age", "Age", "Возраст"],
        ["text", "note_text", "Free text", "Текст"],
    ]
    if extra_question:
        survey.append(["decimal", "weight", "Weight", "Вес"])
    else:
        survey.append(["text", "old_question", "Old", "Старый"])
    choices = [
        ["list_name", "name", "label::English (en)", "label::Russian (ru)"],
        ["colour", "red", "Red", "Красный"],
        ["colour", "blue", "Blue", "Синий"],
        ["fruit", "apple", "Apple", "Яблоко"],
        ["fruit", "pear", "Pear", "Груша"],
    ]
    if extra_choice:
        choices.insert(1, ["colour", "green", "Green", "Зелёный"])
        choices.append(["fruit", "plum", "Plum", "Слива"])
    return make_xlsform(survey, choices, {"form_id": "small", "version": version})


def test_versions_are_combined_with_the_union_of_columns(
    create_instrument, make_xlsform, survey_round
) -> None:
    first = create_instrument(small_form(make_xlsform, "1", False, False))
    second = create_instrument(small_form(make_xlsform, "2", True, True))
    add_submission(first, survey_round, {"colour": "red", "fruit": ["apple"], "old_question": "x"})
    add_submission(second, survey_round, {"colour": "green", "fruit": ["plum"], "weight": 2.5})
    add_submission(second, survey_round, {"colour": "purple", "age": "41"})  # unknown code kept
    data = load_dataset([second, first])
    frame = data.respondents
    assert frame["_version"].tolist() == ["1", "2", "2"]
    assert list(frame["_version"].cat.categories) == ["1", "2"]
    # The newest version's choice order first, then codes only older data had.
    assert list(frame["colour"].cat.categories) == ["green", "red", "blue", "purple"]
    assert frame["colour"].tolist() == ["red", "green", "purple"]
    assert [c for c in frame.columns if c.startswith("fruit/")] == [
        "fruit/apple",
        "fruit/pear",
        "fruit/plum",
    ]
    assert frame["fruit/plum"].tolist()[:2] == [False, True]
    assert pd.isna(frame["fruit/plum"].iloc[2])
    assert frame["weight"].tolist()[1] == 2.5 and pd.isna(frame["weight"].iloc[0])
    assert frame["old_question"].tolist()[0] == "x"
    assert frame["age"].iloc[2] == 41.0
    assert data.spec.version == "2"
    assert data.repeats == {}
    assert len(data.members) == 0
    labels = data.column_labels("ru")
    assert labels["colour"] == "Цвет"
    assert labels["fruit/plum"] == "Фрукты: Слива"
    assert labels["old_question"] == "Старый"
    assert data.value_labels("en")["colour"]["green"] == "Green"


def test_versions_of_different_instruments_are_refused(create_instrument, make_xlsform) -> None:
    small = create_instrument(small_form(make_xlsform, "1", False, False))
    other = create_instrument(
        survey=[["type", "name", "label"], ["integer", "n", "N"]], settings={"form_id": "other"}
    )
    with pytest.raises(ValueError, match="one instrument"):
        load_dataset([small, other])
    with pytest.raises(ValueError, match="at least one"):
        load_dataset([])


def test_labels_in_three_languages(default_instrument) -> None:
    spec = spec_for(default_instrument)
    for language in ("kk", "ru", "en"):
        columns = column_labels(spec, language)
        values = value_labels(spec, language)
        assert columns["sex"] == spec.label(spec.questions_by_name["sex"].labels, language)
        assert columns["_district"]
        assert values["sex"]["female"] == spec.choice_label("sex", "female", language)
        assert values["_district"] == values["district"]
        assert RESPONDENT_PREFIX + "sex" in columns
        benefit = next(c for c in columns if c.startswith("benefits_received/"))
        assert ": " in columns[benefit]
    assert column_labels(spec, "ru")["_round"] == "Раунд опроса"


@pytest.mark.app_config({"SNAPSHOT_ENABLED": False})  # the JSON path's own cache
def test_cache_appends_new_submissions(demo, survey_round) -> None:
    invalidate()
    first = load_dataset([demo])
    assert cache_stats() == {"hits": 0, "appends": 0, "builds": 1}
    assert load_dataset([demo]) is first
    assert cache_stats()["hits"] == 1
    answers = dict(stored()[0].answers)
    answers["sex"] = "male"
    answers["benefits_received"] = ["pnta"]
    new = add_submission(demo, survey_round, answers)
    second = load_dataset([demo])
    assert cache_stats()["appends"] == 1
    assert len(second.respondents) == 41
    assert second.respondents["_submission_id"].iloc[-1] == new.id
    assert second.respondents["sex"].dtype == "category"
    assert list(second.respondents["sex"].cat.categories) == list(
        first.respondents["sex"].cat.categories
    )
    assert second.respondents["benefits_received/pnta"].iloc[-1]
    assert len(second.members) == len(first.members) + len(answers.get("member", []))
    fresh = load_dataset([demo], use_cache=False)
    pd.testing.assert_frame_equal(second.respondents, fresh.respondents)
    pd.testing.assert_frame_equal(second.members, fresh.members)
    # A new submission that is left out only adds to the counts of what was left out.
    add_submission(demo, survey_round, answers, review_status="rejected")
    third = load_dataset([demo])
    assert cache_stats()["appends"] == 2
    assert len(third.respondents) == 41 and third.excluded == {"rejected": 1}


@pytest.mark.app_config({"SNAPSHOT_ENABLED": False})  # the JSON path's own cache
def test_appended_rows_with_codes_no_version_lists(
    create_instrument, make_xlsform, survey_round
) -> None:
    version = create_instrument(small_form(make_xlsform, "1", False, False))
    invalidate()
    add_submission(version, survey_round, {"colour": "red", "fruit": ["apple", "fig"]})
    add_submission(version, survey_round, {"colour": "blue"})
    load_dataset([version])
    add_submission(version, survey_round, {"colour": "purple", "fruit": ["kiwi"]})
    add_submission(version, survey_round, {"colour": "red", "fruit": "pear fig"})
    appended = load_dataset([version])
    assert cache_stats()["appends"] == 1
    fresh = load_dataset([version], use_cache=False)
    pd.testing.assert_frame_equal(appended.respondents, fresh.respondents)
    # Answered without kiwi: False; not answered: NA.
    assert appended.respondents["fruit/kiwi"].tolist() == [False, pd.NA, True, False]
    assert appended.respondents["fruit/fig"].tolist() == [True, pd.NA, False, True]
    assert list(appended.respondents["colour"].cat.categories) == ["red", "blue", "purple"]


@pytest.mark.app_config({"SNAPSHOT_ENABLED": False})  # the JSON path's own cache
def test_cache_rebuilds_after_correction_review_and_withdrawal(
    demo, survey_round, create_user
) -> None:
    from survey.collection.review import correct_submission, review_submission, withdraw_submission

    coordinator = create_user("coord", "coordinator")
    invalidate()
    load_dataset([demo])
    target = stored()[5]
    answers = dict(target.answers)
    answers["sex"] = "female" if answers["sex"] == "male" else "male"
    correct_submission(target, answers, "typo", coordinator)
    db.session.commit()
    corrected = load_dataset([demo])
    assert cache_stats()["builds"] == 2
    position = corrected.respondents["_submission_id"].tolist().index(target.id)
    assert corrected.respondents["sex"].iloc[position] == answers["sex"]

    review_submission(stored()[6], "rejected", "duplicate", coordinator)
    db.session.commit()
    reviewed = load_dataset([demo])
    assert cache_stats()["builds"] == 3
    assert reviewed.excluded == {"rejected": 1}
    assert len(reviewed.respondents) == 39

    gone = stored()[0]
    gone_id = gone.id
    withdraw_submission(gone)
    db.session.commit()
    after = load_dataset([demo])
    assert cache_stats()["builds"] == 4
    assert gone_id not in after.respondents["_submission_id"].tolist()
    assert gone_id not in after.members["_submission_id"].tolist()
    invalidate()
    load_dataset([demo])
    assert cache_stats()["builds"] == 5  # invalidate() emptied the cache


@pytest.mark.app_config({"SNAPSHOT_ENABLED": False})  # the JSON path's own cache
def test_throttled_full_check_still_sees_corrections(app, demo, create_user) -> None:
    from survey.collection.review import correct_submission, review_submission

    app.config["DATASET_FULL_CHECK_SECONDS"] = 3600
    coordinator = create_user("coord", "coordinator")
    invalidate()
    first = load_dataset([demo])
    review_submission(stored()[1], "rejected", "duplicate", coordinator)
    db.session.commit()
    # Reviews are seen by the (throttled) scan only: the cached frames are kept for now.
    assert load_dataset([demo]) is first
    target = stored()[2]
    answers = dict(target.answers, sex="female" if target.answers["sex"] == "male" else "male")
    correct_submission(target, answers, "typo", coordinator)
    db.session.commit()
    # A correction adds a submission version: seen at once, and the rebuild sees the review.
    rebuilt = load_dataset([demo])
    assert rebuilt is not first and rebuilt.excluded == {"rejected": 1}


@pytest.mark.app_config({"SNAPSHOT_ENABLED": False})  # the JSON path's own cache
def test_cache_keys_include_the_filters(demo) -> None:
    invalidate()
    everything = load_dataset([demo])
    semey = load_dataset([demo], districts=["semey_city"])
    assert semey is not everything
    assert cache_stats()["builds"] == 2
    assert load_dataset([demo], districts=["semey_city"]) is semey


@pytest.mark.app_config({"SNAPSHOT_ENABLED": False})  # the JSON path's own cache
def test_rebuild_when_appended_rows_change_a_column_type(
    create_instrument, make_xlsform, survey_round
) -> None:
    version = create_instrument(
        survey=[
            ["type", "name", "label", "calculation"],
            ["integer", "n", "N", ""],
            ["calculate", "c", "", "${n}"],
        ],
        settings={"form_id": "calc"},
    )
    invalidate()
    add_submission(version, survey_round, {"n": 1, "c": 1})
    assert load_dataset([version]).respondents["c"].dtype == np.float64
    add_submission(version, survey_round, {"n": 2, "c": "many"})
    frame = load_dataset([version]).respondents
    assert frame["c"].dtype == "category"
    assert list(frame["c"].cat.categories) == ["1", "many"]
    assert cache_stats()["builds"] == 2


@pytest.mark.app_config({"SNAPSHOT_ENABLED": False})  # the JSON path's own cache
def test_chunks_join_up(demo, monkeypatch) -> None:
    monkeypatch.setattr(dataset_module, "CHUNK_ROWS", 7)
    small_chunks = load_dataset([demo], use_cache=False)
    monkeypatch.setattr(dataset_module, "CHUNK_ROWS", 5000)
    one_chunk = load_dataset([demo], use_cache=False)
    pd.testing.assert_frame_equal(small_chunks.respondents, one_chunk.respondents)
    pd.testing.assert_frame_equal(small_chunks.members, one_chunk.members)


def test_descriptions_cover_every_question(demo) -> None:
    data = load_dataset([demo])
    names = {d.name for d in data.descriptions}
    assert {"sex", "benefits_received", "member_sex", "message_to_states"} <= names
    assert data.description("message_to_states").measure == "text"
    assert data.description("member_sex").repeat == "member"
    assert data.columns_for("member_conditions")[0].startswith("member_conditions/")
