"""The columnar snapshot equals the database: after any sequence of writes, after a kill -9."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from survey.collection.models import ANALYSED_STATUSES, REVIEW_STATUSES, Submission
from survey.collection.review import correct_submission, review_submission, withdraw_submission
from survey.datasets.dataset import load_dataset
from survey.datasets.snapshot import (
    Store,
    catch_up,
    change_feed_installed,
    new_epoch,
    process_snapshot,
    snapshot_folder,
)
from survey.extensions import db
from survey.instruments.services import spec_for

EVERY = {"review_statuses": REVIEW_STATUSES, "include_demo": True}


def assert_same_dataset(left: Any, right: Any) -> None:
    """Two datasets hold the same frames (columns, order, dtypes, categories, values)."""
    pd.testing.assert_frame_equal(left.respondents, right.respondents)
    assert list(left.repeats) == list(right.repeats)
    for name in left.repeats:
        pd.testing.assert_frame_equal(left.repeats[name], right.repeats[name])
    assert dict(left.excluded) == dict(right.excluded)


def assert_snapshot_equals_database(version: Any, **filters: Any) -> None:
    versions = list(version.instrument.versions)
    from_snapshot = load_dataset(versions, **filters)
    from_database = load_dataset(versions, from_database=True, **filters)
    assert_same_dataset(from_snapshot, from_database)


def add_submission(version: Any, survey_round: Any, answers: dict[str, Any], **fields: Any):
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
    from survey.demo import write_demo_data

    write_demo_data(default_instrument, survey_round, 12, seed=3)
    return default_instrument


def _answer_pool(version: Any) -> list[dict[str, Any]]:
    """The demo interviews' answers, and odd variants the bridge must keep as they are: codes
    no version lists, a calculate that is sometimes text, free text, an empty roster."""
    spec = spec_for(version)
    rows = db.session.execute(select(Submission.answers).order_by(Submission.id)).scalars()
    pool = [dict(a) for a in rows]
    top = [q for q in spec.iter_questions() if q.repeat is None]
    single = next(q.name for q in top if q.type == "select_one" and q.name != "district")
    multiple = next(q.name for q in top if q.type == "select_multiple")
    calculate = next(q.name for q in top if q.type == "calculate")
    text = next(q.name for q in top if q.type == "text")
    odd = []
    for number, answers in enumerate(pool[:6]):
        changed = copy.deepcopy(answers)
        changed[single] = f"unlisted_{number % 3}"
        changed[multiple] = ["unlisted_x", f"unlisted_{number % 2}"]
        changed[calculate] = ["text", 3, 3.5, "3.50", None, True][number]
        changed[text] = f"note {number}"
        if number % 2:
            for name in spec.repeats_by_name:
                changed[name] = []
        odd.append(changed)
    return pool + odd


@pytest.fixture
def world(app: Flask, demo, survey_round, create_user, tmp_path: Path) -> dict[str, Any]:
    return {
        "version": demo,
        "round": survey_round,
        "pool": _answer_pool(demo),
        "user": create_user("coordinator", role="coordinator"),
        "backup": None,
        "tmp": tmp_path,
    }


_OPERATION = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 99), st.booleans(), st.integers(0, 3)),
    st.tuples(st.just("correct"), st.integers(0, 99), st.integers(0, 99)),
    st.tuples(st.just("review"), st.integers(0, 99), st.sampled_from(REVIEW_STATUSES)),
    st.tuples(st.just("withdraw"), st.integers(0, 99)),
    st.tuples(st.just("backup")),
    st.tuples(st.just("restore")),
    st.tuples(st.just("check"), st.integers(0, 3)),
)

_FILTERS = [
    EVERY,
    {},  # the analysed statuses, demo data included
    {"review_statuses": ANALYSED_STATUSES, "include_demo": False},
    {"review_statuses": ("approved", "rejected"), "include_demo": True},
]


def _stored() -> list[Submission]:
    return list(db.session.execute(select(Submission).order_by(Submission.id)).scalars())


def _apply(app: Flask, world: dict[str, Any], operation: tuple) -> None:
    from survey.backup import backup, restore

    kind = operation[0]
    rows = _stored()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if kind == "submit":
        _kind, number, demo, district = operation
        answers = dict(world["pool"][number % len(world["pool"])])
        answers["district"] = ["semey", "kurchatov", "abai", "urzhar"][district]
        add_submission(world["version"], world["round"], answers, is_demo=demo)
    elif kind == "correct" and rows:
        target = rows[operation[1] % len(rows)]
        answers = dict(world["pool"][operation[2] % len(world["pool"])])
        correct_submission(target, answers, "a test correction", world["user"])
        db.session.commit()
    elif kind == "review" and rows:
        target = rows[operation[1] % len(rows)]
        review_submission(target, operation[2], "checked", world["user"])
        db.session.commit()
    elif kind == "withdraw" and rows:
        withdraw_submission(rows[operation[1] % len(rows)], world["user"])
        db.session.commit()
    elif kind == "backup" and world["backup"] is None:
        world["backup"] = world["tmp"] / f"backup-{uuid.uuid4().hex}.dump"
        backup(url, world["backup"])
    elif kind == "restore" and world["backup"] is not None:
        db.session.remove()
        db.engine.dispose()
        with app.extensions["test_peer"].app_context():
            db.engine.dispose()
        restore(url, world["backup"], world["tmp"] / "safety")
        new_epoch()
        db.session.commit()
        world["version"] = db.session.merge(world["version"])
        world["round"] = db.session.merge(world["round"])
        world["user"] = db.session.merge(world["user"])
    elif kind == "check":
        assert_snapshot_equals_database(world["version"], **_FILTERS[operation[1]])


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(_OPERATION, min_size=1, max_size=14))
def test_snapshot_equals_database_after_any_sequence(app, world, operations) -> None:
    """Submit, correct, review, withdraw, restore a backup, in any order: at every check and at
    the end, datasets read from the snapshot equal datasets read from the answers' JSON."""
    for operation in operations:
        _apply(app, world, operation)
    for filters in _FILTERS:
        assert_snapshot_equals_database(world["version"], **filters)


def test_change_feed_is_installed(app) -> None:
    assert change_feed_installed()


def test_every_change_is_numbered_in_order(app, demo, survey_round, create_user) -> None:
    rows = _stored()
    numbers = [s.change_seq for s in rows]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers) and numbers[0] > 0
    user = create_user("coordinator", role="coordinator")
    review_submission(rows[0], "approved", "", user)
    db.session.commit()
    db.session.refresh(rows[0])
    assert rows[0].change_seq > max(numbers)
    withdraw_submission(rows[1], user)
    db.session.commit()
    from survey.collection.models import SnapshotSequence, SubmissionRemoval

    removal = db.session.execute(select(SubmissionRemoval)).scalar_one()
    assert removal.submission_id == rows[1].id
    assert removal.seq == db.session.get(SnapshotSequence, 1).value > rows[0].change_seq


def test_withdrawal_leaves_every_cached_dataset_at_once(app, demo, create_user) -> None:
    versions = list(demo.instrument.versions)
    before = load_dataset(versions, **EVERY)
    target = _stored()[3]
    withdraw_submission(target, create_user("coordinator", role="coordinator"))
    db.session.commit()
    after = load_dataset(versions, **EVERY)
    assert target.id in set(before.respondents["_submission_id"])
    assert target.id not in set(after.respondents["_submission_id"])
    for frame in after.repeats.values():
        assert target.id not in set(frame["_submission_id"])


def test_a_questions_options_share_one_read_only_mask(app, demo) -> None:
    """One missing-mask per select_multiple in a snapshot's dataset, which nothing can write."""
    dataset = load_dataset(list(demo.instrument.versions), **EVERY)
    frame = dataset.respondents
    by_question: dict[str, list[str]] = {}
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.BooleanDtype) and "/" in column:
            by_question.setdefault(column.split("/")[0], []).append(column)
    shared = [columns for columns in by_question.values() if len(columns) > 1]
    assert shared
    for columns in shared:
        masks = {id(frame[column].array._mask) for column in columns}
        assert len(masks) == 1
        with pytest.raises(ValueError, match="read-only"):
            frame[columns[0]].array[0] = True
    assert_snapshot_equals_database(demo, **EVERY)


def test_deltas_are_compacted_and_stray_files_removed(app, demo, survey_round) -> None:
    versions = list(demo.instrument.versions)
    load_dataset(versions, **EVERY)
    store = Store(snapshot_folder())
    (store.folder / "delta-000000000001-deadbeef.respondents.arrow").write_bytes(b"half a file")
    pool = _answer_pool(demo)
    for number in range(12):
        add_submission(demo, survey_round, pool[number % len(pool)])
        load_dataset(versions, **EVERY)
        parts = store.read_manifest().instruments[str(demo.instrument_id)].parts
        assert len(parts) <= 9
    assert not (store.folder / "delta-000000000001-deadbeef.respondents.arrow").exists()
    assert_snapshot_equals_database(demo, **EVERY)
    assert process_snapshot().stats["catch_ups"] >= 12


def test_a_new_version_rebuilds_the_instrument(app, demo, survey_round) -> None:
    versions = list(demo.instrument.versions)
    load_dataset(versions, **EVERY)
    store = Store(snapshot_folder())
    catch_up(store, demo.instrument_id, rebuild=True)
    assert_snapshot_equals_database(demo, **EVERY)
    assert len(store.read_manifest().instruments[str(demo.instrument_id)].parts) == 1


# -- a writer killed at any point -------------------------------------------------------------

_KILLED_WRITER = """
import io, os, signal, sys
from survey import create_app
from survey.datasets import snapshot, snapshot_files

url, instance, point, instrument_id = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
app = create_app(
    {"TESTING": True, "SECRET_KEY": "test-secret-key-not-for-production", "DATABASE_URL": url},
    instance_path=instance,
)
original = snapshot_files._write_atomically
written = []


def half_then_die(path, write):
    buffer = io.BytesIO()
    write(buffer)
    data = buffer.getvalue()
    path.with_name(f".{path.name}.{os.getpid()}.tmp").write_bytes(data[: len(data) // 2])
    os.kill(os.getpid(), signal.SIGKILL)


def crashing(path, write):
    is_manifest = path.name == "manifest.json"
    if point == "mid_table" and not is_manifest:
        half_then_die(path, write)
    if point == "mid_manifest" and is_manifest:
        half_then_die(path, write)
    if point == "before_manifest" and is_manifest:
        os.kill(os.getpid(), signal.SIGKILL)
    original(path, write)
    written.append(path)
    if point == "after_first_table" and not is_manifest:
        os.kill(os.getpid(), signal.SIGKILL)


snapshot_files._write_atomically = crashing
with app.app_context():
    snapshot.catch_up(snapshot.Store(snapshot.snapshot_folder()), instrument_id)
print("not killed")
"""


@pytest.mark.parametrize(
    "point", ["mid_table", "after_first_table", "before_manifest", "mid_manifest"]
)
@pytest.mark.parametrize("rebuild", [False, True], ids=["delta", "rebuild"])
def test_kill_9_during_an_update_then_catch_up(
    app, demo, survey_round, create_user, point, rebuild
) -> None:
    import subprocess
    import sys

    versions = list(demo.instrument.versions)
    load_dataset(versions, **EVERY)
    store = Store(snapshot_folder())
    before = store.read_manifest()
    pool = _answer_pool(demo)
    user = create_user("coordinator", role="coordinator")
    for number in range(3):
        add_submission(demo, survey_round, pool[-number - 1])
    rows = _stored()
    review_submission(rows[0], "rejected", "unclear", user)
    withdraw_submission(rows[2], user)
    db.session.commit()
    if rebuild:  # a new epoch: the killed writer was rebuilding the whole instrument
        new_epoch()
        db.session.commit()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _KILLED_WRITER,
            app.config["SQLALCHEMY_DATABASE_URI"],
            app.instance_path,
            point,
            str(demo.instrument_id),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert result.returncode == -9, result.stderr[-2000:]
    # The killed writer left the manifest it found, and the files it names, readable.
    assert store.read_manifest().as_json() == before.as_json()
    assert any(
        p.name.endswith(".tmp") or p.name.startswith(("delta", "base"))
        for p in store.folder.iterdir()
    )
    app.extensions.pop("birge_snapshot", None)  # as a new process would see it
    assert_snapshot_equals_database(demo, **EVERY)
    manifest = store.read_manifest()
    named = {
        f"{p.name}.{t}.arrow"
        for e in manifest.instruments.values()
        for p in e.parts
        for t in e.tables
    }
    assert {p.name for p in store.folder.iterdir()} == named | {"manifest.json", ".lock"}


def test_a_damaged_snapshot_is_rebuilt(app, demo, caplog) -> None:
    versions = list(demo.instrument.versions)
    load_dataset(versions, **EVERY)
    store = Store(snapshot_folder())
    manifest = store.read_manifest()
    for part in manifest.instruments[str(demo.instrument_id)].parts:
        store.table_path(part.name, "respondents").write_bytes(b"not an arrow file")
    app.extensions.pop("birge_snapshot", None)
    from_snapshot = load_dataset(versions, **EVERY)
    assert "Snapshot unusable" in caplog.text
    assert_same_dataset(from_snapshot, load_dataset(versions, from_database=True, **EVERY))
    assert process_snapshot().stats["derived"] == 1  # answered from the rebuilt snapshot


def test_a_snapshot_that_cannot_be_written_falls_back_to_the_answers(app, demo, caplog) -> None:
    app.config["SNAPSHOT_FOLDER"] = str(Path(app.instance_path) / "not-a-folder")
    Path(app.config["SNAPSHOT_FOLDER"]).write_text("a file where the folder should be")
    versions = list(demo.instrument.versions)
    from_json = load_dataset(versions, **EVERY)
    assert "reading the answers instead" in caplog.text
    assert_same_dataset(from_json, load_dataset(versions, from_database=True, **EVERY))
