"""Advocates' publications kept on disk (cube_store): the same cells as a fresh build, never a
stale state, a damaged file rebuilt, and two processes building at once leave one valid file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from survey.collection.models import Submission
from survey.collection.review import withdraw_submission
from survey.dashboards import cube_store
from survey.dashboards import publication as publication_module
from survey.dashboards.cache import page_cache
from survey.dashboards.filters import instrument_dataset
from survey.demo import write_demo_data
from survey.extensions import db

pytestmark = pytest.mark.sqlite_only
ROOT = Path(__file__).resolve().parents[3]


def _fresh(version, round_id):
    """The publication as a new process without files would build it."""
    instrument = version.instrument
    page_cache().clear()
    statuses, demo = publication_module.public_scope()
    return publication_module._build(
        instrument, instrument_dataset(instrument), round_id, 5, statuses, demo
    )


def _kept(version, round_id, k=5):
    """The publication through the page cache and the files, as pages ask for it."""
    instrument = version.instrument
    page_cache().clear()
    return publication_module.publication(instrument, instrument_dataset(instrument), round_id, k)


def _same(found, expected) -> None:
    pd.testing.assert_frame_equal(found.cube.table, expected.cube.table)
    pd.testing.assert_frame_equal(found.cube.population, expected.cube.population)
    pd.testing.assert_frame_equal(found.original, expected.original)
    assert found.submissions == expected.submissions
    assert found.waiting == expected.waiting
    assert dict(found.cube.stats) == dict(expected.cube.stats)


def _files() -> list[Path]:
    return sorted(cube_store.cube_folder().glob(f"*{cube_store.SUFFIX}"))


def test_kept_cells_equal_a_fresh_build_and_follow_every_change(
    app, default_instrument, survey_round
) -> None:
    write_demo_data(default_instrument, survey_round, 60, seed=3)
    reads = cube_store.STATS["reads"]
    first = _kept(default_instrument, survey_round.id)
    assert len(_files()) == 1
    again = _kept(default_instrument, survey_round.id)  # from the file, not built
    assert cube_store.STATS["reads"] == reads + 1
    _same(again, first)
    _same(again, _fresh(default_instrument, survey_round.id))

    # New interviews (5 at least in every group they touch, or the publication waits): the
    # file of the old state is not read; the figures are those of a fresh build.
    write_demo_data(default_instrument, survey_round, 40, seed=4)
    reads = cube_store.STATS["reads"]
    after_submission = _kept(default_instrument, survey_round.id)
    assert cube_store.STATS["reads"] == reads
    _same(after_submission, _fresh(default_instrument, survey_round.id))
    assert len(after_submission.submissions) >= len(first.submissions)

    # A withdrawal takes effect at once: never the cells of the state before it.
    withdrawn = after_submission.submissions[0]
    withdraw_submission(db.session.get(Submission, withdrawn))
    db.session.commit()
    reads = cube_store.STATS["reads"]
    after_withdrawal = _kept(default_instrument, survey_round.id)
    assert cube_store.STATS["reads"] == reads
    assert withdrawn not in after_withdrawal.submissions
    assert len(after_withdrawal.submissions) == len(after_submission.submissions) - 1
    _same(after_withdrawal, _fresh(default_instrument, survey_round.id))
    assert _kept(default_instrument, survey_round.id).submissions == after_withdrawal.submissions


def test_a_partial_or_corrupted_file_is_ignored_and_rebuilt(
    app, default_instrument, survey_round
) -> None:
    write_demo_data(default_instrument, survey_round, 30, seed=5)
    expected = _kept(default_instrument, survey_round.id)
    (path,) = _files()
    whole = path.read_bytes()
    damaged = bytearray(whole)
    damaged[-10] ^= 0xFF
    for broken in (whole[: len(whole) // 2], bytes(damaged), b"", whole[:20]):
        path.write_bytes(broken)
        builds = cube_store.STATS["builds"]
        _same(_kept(default_instrument, survey_round.id), expected)
        assert cube_store.STATS["builds"] == builds + 1
        assert path.read_bytes() == whole  # written again, whole
    # A file stored under another key is not taken for this one
    assert cube_store.read(path, b"\0" * 32) is None


def test_k_is_part_of_the_key(app, default_instrument, survey_round) -> None:
    write_demo_data(default_instrument, survey_round, 30, seed=6)
    five = _kept(default_instrument, survey_round.id)
    ten = _kept(default_instrument, survey_round.id, k=10)
    assert (five.cube.k, ten.cube.k) == (5, 10)
    assert len(_files()) == 2
    reads = cube_store.STATS["reads"]
    _same(_kept(default_instrument, survey_round.id), five)
    assert cube_store.STATS["reads"] == reads + 1


_BUILDER = """
import hashlib, json, sys
from survey import create_app
from survey.dashboards import cube_store
from survey.dashboards.filters import instrument_dataset
from survey.dashboards.publication import publication
from survey.instruments.models import Instrument
from survey.extensions import db

url, instance, round_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
app = create_app(
    {"SECRET_KEY": "x", "DATABASE_URL": url, "PUBLISH_DEMO": True}, instance_path=instance
)
with app.app_context():
    instrument = db.session.execute(db.select(Instrument)).scalars().first()
    dataset = instrument_dataset(instrument)
    found = publication(instrument, dataset, round_id, 5)
    table = found.cube.table.to_csv(index=False).encode()
    digest = hashlib.sha256(table).hexdigest()
    print(json.dumps({"table": digest, "source": dataset.source, **cube_store.STATS}))
"""


def test_two_processes_building_at_once_leave_one_valid_file(
    app, default_instrument, survey_round
) -> None:
    write_demo_data(default_instrument, survey_round, 40, seed=7)
    instrument_dataset(default_instrument.instrument)  # the snapshot is caught up before they start
    arguments = [
        app.config["DATABASE_URL"],
        app.instance_path,
        str(survey_round.id),
    ]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _BUILDER, *arguments],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=240)[0] for p in processes]
    results = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
    assert [p.returncode for p in processes] == [0, 0]
    assert results[0]["table"] == results[1]["table"]
    assert sum(r["builds"] for r in results) == 1  # the other waited and read its file
    (path,) = _files()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    expected = _fresh(default_instrument, survey_round.id)
    page_cache().clear()
    reads = cube_store.STATS["reads"]
    _same(_kept(default_instrument, survey_round.id), expected)
    # This process reads the same file (from the same snapshot parts)
    source = list(instrument_dataset(default_instrument.instrument).source)
    assert [r["source"] for r in results] == [source, source]
    assert cube_store.STATS["reads"] == reads + 1
